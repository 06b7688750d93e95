"""Figures as people write them, and whether a written figure states a computed value.

A report says "157,685,452원", "157685452", "1.58억 원" or "1억 5,768만" for the same total; the audit
(audit.py) must accept each where the stated precision allows and reject a different number. A written
figure is read as an exact decimal with the scale of its unit word (Korean 조/억/만/천 and their compounds,
English thousand/million/billion) and the number of decimals it was written with; it states a value when
the value, in that unit and rounded to those decimals, is the written number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# Longest first: 천만 before 천 and 만.
SCALES: dict[str, int] = {
    "조": 10**12,
    "천억": 10**11,
    "백억": 10**10,
    "십억": 10**9,
    "억": 10**8,
    "천만": 10**7,
    "백만": 10**6,
    "십만": 10**5,
    "만": 10**4,
    "천": 10**3,
    "billion": 10**9,
    "million": 10**6,
    "thousand": 10**3,
}
_UNIT = "|".join(sorted(SCALES, key=len, reverse=True))
NUMBER = r"[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
# One figure: a number, an optional scale word, and for Korean compounds ("1억 5,768만") a second part.
FIGURE = re.compile(
    rf"(?P<first>{NUMBER})\s*(?P<first_unit>{_UNIT})?"
    rf"(?:\s*(?P<second>{NUMBER})\s*(?P<second_unit>{_UNIT}))?"
    rf"\s*(?P<percent>%|퍼센트|percent)?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Figure:
    """A written figure: its value, and the place value of its last written digit (the precision)."""

    value: Decimal
    step: Decimal
    percent: bool = False
    text: str = ""

    def states(self, computed: Decimal) -> bool:
        """Whether ``computed`` rounds to this figure at its precision (a percentage may be a share 0..1)."""
        candidates = [computed, computed * 100] if self.percent else [computed]
        return any(_rounded(candidate, self.step) == self.value for candidate in candidates)


def _number(text: str) -> Decimal:
    return Decimal(text.replace(",", "").replace("−", "-"))


def _decimals_step(text: str) -> Decimal:
    decimals = len(text.split(".", 1)[1]) if "." in text else 0
    return Decimal(1).scaleb(-decimals)


def _rounded(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step


def read_figure(text: str) -> Figure | None:
    """The figure ``text`` is (surrounding words like 원 or KRW aside), or None if it holds no number."""
    match = FIGURE.search(text)
    return _from_match(match) if match else None


def _from_match(match: re.Match[str]) -> Figure | None:
    try:
        first = _number(match["first"])
    except InvalidOperation:
        return None
    scale = Decimal(SCALES[match["first_unit"].lower()]) if match["first_unit"] else Decimal(1)
    value, step = first * scale, _decimals_step(match["first"]) * scale
    if match["second"]:
        second_scale = Decimal(SCALES[match["second_unit"].lower()])
        value += _number(match["second"]) * second_scale
        step = _decimals_step(match["second"]) * second_scale
    return Figure(value=value, step=step, percent=bool(match["percent"]), text=match[0].strip())


def figures_in(text: str) -> list[tuple[Figure, int, int]]:
    """Every figure written in ``text``, with where it starts and ends."""
    found = []
    for match in FIGURE.finditer(text):
        figure = _from_match(match)
        if figure is not None:
            found.append((figure, match.start(), match.start() + len(match[0].rstrip())))
    return found


def computed_value(text: str) -> Decimal | None:
    """A calculation's recorded value ("157685452", "157,685,452원", 12.5) as an exact decimal."""
    figure = read_figure(str(text))
    return figure.value if figure is not None else None
