"""The physical-name prefix of a stack's resources, valid for every service that gets it.

Pulumi allows stack names of up to 100 letters, digits, ``-``, ``_`` and ``.``. The prefix
``deep-insight-<stack>`` goes into ECR repository names (lowercase letters and digits between single
``.``/``_``/``-`` separators), S3 bucket prefixes (lowercase, at most 37 characters: pulumi-aws appends 26),
and ECS cluster and task-family names (letters, digits, ``_`` and ``-`` only). A stack name that already
fits all of them (lowercase letters and digits in hyphen-separated words, at most 13 characters) is used
as it is, so ``dev`` and ``prod`` keep their names; any other is lowercased, its other characters turned
into hyphens, cut to 6 characters and followed by 6 hex digits of the full name, so two stacks that differ
only in case or punctuation (``Dev``/``dev``, ``a.b``/``a_b``) still get different names.
"""

from __future__ import annotations

import hashlib
import re

PROJECT = "deep-insight"
STEM_MAX = 13
"""``deep-insight-`` + stem + ``-artifacts-`` is at most pulumi-aws's 37-character ``bucket_prefix``."""
_PLAIN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_DIGEST_LENGTH = 6


def resource_stem(stack: str) -> str:
    if len(stack) <= STEM_MAX and _PLAIN.fullmatch(stack):
        return stack
    cleaned = re.sub(r"[^a-z0-9]+", "-", stack.lower()).strip("-")
    head = cleaned[: STEM_MAX - _DIGEST_LENGTH - 1].rstrip("-")
    digest = hashlib.sha256(stack.encode()).hexdigest()[:_DIGEST_LENGTH]
    return f"{head}-{digest}" if head else digest


def resource_prefix(stack: str) -> str:
    """``deep-insight-<stem>``: the start of every name the program gives a resource of this stack."""
    return f"{PROJECT}-{resource_stem(stack)}"
