"""The configuration reference, generated from the schema: ``python -m components.settings_doc``.

Writes docs/configuration.md (``--check`` only compares, exiting 1 when the file is stale);
tests/components/test_settings_doc.py fails when the committed file and the schema disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

from components.settings_schema import PROJECT, REGION_KEY, SCHEMA, Setting

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"

_HEADER = f"""# Configuration reference

<!-- Generated from components/settings_schema.py by `uv run python -m components.settings_doc`; do not edit. -->

Set keys in `Pulumi.<stack>.yaml` or with `pulumi config set <key> <value>` (flat keys, without `--path`;
the `{PROJECT}:` namespace is the default). Every key is checked before anything is declared: each bad value
is one line naming the key, the value and the fix, and all of them are reported at once.

| key | type / allowed | default | notes |
|---|---|---|---|
| `{REGION_KEY}` | an AWS region botocore knows | — | Required. |
"""


def _row(setting: Setting) -> str:
    default = "—" if setting.default is None else f"`{setting.default}`"
    return f"| `{setting.key}` | {setting.allowed} | {default} | {setting.notes} |"


def render() -> str:
    """The whole reference document, one table row per key of the schema."""
    return _HEADER + "\n".join(_row(s) for s in SCHEMA) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if args == ["--check"]:
        current = DOC_PATH.read_text(encoding="utf-8") if DOC_PATH.exists() else ""
        if current != text:
            print(f"{DOC_PATH} is stale; run: uv run python -m components.settings_doc", file=sys.stderr)
            return 1
        return 0
    if args:
        print("usage: python -m components.settings_doc [--check]", file=sys.stderr)
        return 2
    DOC_PATH.parent.mkdir(exist_ok=True)
    DOC_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {DOC_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
