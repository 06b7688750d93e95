"""Both runtime images start from one base image, pinned by digest: the same reference in both Dockerfiles
(Dependabot updates them together), in the form Docker's reference grammar gives a digest
(``name:tag@sha256:<64 hex>``), and every stage builds FROM it."""

from __future__ import annotations

import re

from tests.dockerfile import instructions
from tests.runtimes.conftest import REPO

REFERENCE = re.compile(r"python:3\.\d+-slim-bookworm@sha256:[0-9a-f]{64}")


def base_images() -> dict[str, str]:
    found = {}
    for runtime in ("agent", "executor"):
        steps = instructions((REPO / "runtimes" / runtime / "Dockerfile").read_text(encoding="utf-8"))
        (argument,) = [s.arguments for s in steps if s.keyword == "ARG" and s.arguments.startswith("PYTHON_IMAGE=")]
        found[runtime] = argument.removeprefix("PYTHON_IMAGE=")
        assert {s.arguments.split()[0] for s in steps if s.keyword == "FROM"} == {"${PYTHON_IMAGE}"}
    return found


def test_one_base_image_pinned_by_digest_for_both_runtimes():
    found = base_images()
    assert len(set(found.values())) == 1, found
    assert REFERENCE.fullmatch(found["agent"]), found["agent"]
