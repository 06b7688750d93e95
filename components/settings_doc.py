"""The configuration reference, generated from the schema: ``python -m components.settings_doc``.

Writes docs/configuration.md (``--check`` only compares, exiting 1 when the file is stale);
tests/components/test_settings_doc.py fails when the committed file and the schema disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

from components.settings_aws import FOLLOWED, REFUSED
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


_AWS_HEADER = """
## The AWS provider's settings and the program's own AWS calls

The image builds, the session sweep and the AgentCore log retention are the program's own AWS calls (Pulumi
dynamic resources, boto3). They read these keys of the AWS provider from the stack's configuration each time
they run, not from the stack's state, so they act with the credentials and in the account the AWS provider
uses (a teammate's `pulumi destroy` uses the teammate's settings), and each stops, naming both accounts, if
the credentials act in another account than the stack's. The environment (`AWS_PROFILE`, `AWS_ACCESS_KEY_ID`,
...) applies to both alike. The other keys of the AWS provider (tags, validation skips, rate limits) do not
change whom these calls act as. A refused key stops `pulumi preview`/`up` in one line.

| key | the program's own AWS calls |
|---|---|
"""


def _aws_rows() -> str:
    followed = [f"| `aws:{name}` | {note} |" for name, note in FOLLOWED.items()]
    refused = [f"| `aws:{name}` | refused: {fix} |" for name, fix in REFUSED.items()]
    return "\n".join(followed + refused) + "\n"


def render() -> str:
    """The whole reference document: one table row per key of the schema, then the AWS provider's keys."""
    return _HEADER + "\n".join(_row(s) for s in SCHEMA) + "\n" + _AWS_HEADER + _aws_rows()


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
