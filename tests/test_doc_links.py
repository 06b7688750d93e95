"""Relative links between the project's markdown documents point at files (and headings) that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]
DOCUMENTS = sorted(
    [
        PROJECT_DIR / "README.md",
        *(PROJECT_DIR / "docs").glob("*.md"),
        *(PROJECT_DIR / "runtimes").glob("*/README.md"),
        PROJECT_DIR / "policy" / "README.md",
    ]
)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")


def prose(text: str) -> str:
    """The text without fenced code blocks and inline code, where brackets are not links."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def anchors(document: Path) -> set[str]:
    """GitHub's heading ids: lowercase, punctuation dropped, spaces to hyphens, repeats numbered."""
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", FENCE.sub("", document.read_text(encoding="utf-8")), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        if count:
            seen[f"{slug}-{count}"] = 1
    return set(seen)


def relative_links(document: Path) -> list[str]:
    return [
        target
        for target in LINK.findall(prose(document.read_text(encoding="utf-8")))
        if not re.match(r"[a-z][a-z0-9+.-]*:", target)  # https:, mailto:, ...
    ]


def test_the_documents_exist():
    names = {str(d.relative_to(PROJECT_DIR)) for d in DOCUMENTS}
    expected = {"README.md", "docs/configuration.md", "runtimes/executor/README.md", "policy/README.md"}
    assert expected <= names
    assert all(d.is_file() for d in DOCUMENTS)


@pytest.mark.parametrize("document", DOCUMENTS, ids=[str(d.relative_to(PROJECT_DIR)) for d in DOCUMENTS])
def test_relative_links_resolve(document):
    broken = []
    for target in relative_links(document):
        path, _, fragment = target.partition("#")
        linked = (document.parent / path).resolve() if path else document
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
            broken.append(f"{target}: no heading #{fragment} in {linked.relative_to(PROJECT_DIR)}")
    assert not broken, f"{document.relative_to(PROJECT_DIR)}: " + "; ".join(broken)


def test_the_link_finder_sees_links_and_skips_code(tmp_path):
    doc = tmp_path / "a.md"
    doc.write_text(
        "# Title\n\nSee [b](b.md#part), [site](https://example.com) and `[not](x.md)`.\n\n"
        "```\n[nor](y.md)\n```\n\n## Part two\n",
        encoding="utf-8",
    )
    assert relative_links(doc) == ["b.md#part"]
    assert anchors(doc) == {"title", "part-two"}
