"""Where the Pulumi project lives (``Pulumi.yaml``, ``__main__.py``, the stack files): this checkout's root."""

from __future__ import annotations

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
