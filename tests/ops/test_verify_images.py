"""An ECR Public image has no repository in the stack's account: verify says so and asks AWS nothing."""

from __future__ import annotations

from types import SimpleNamespace

from ops.verify import images

DIGEST = "sha256:" + "c" * 64


def test_an_ecr_public_image_passes_without_an_aws_call():
    def no_client(service: str) -> None:
        raise AssertionError(f"verify asked {service} about an ECR Public image")

    outputs = {"agentImageUri": f"public.ecr.aws/acme/agent@{DIGEST}"}
    (check,) = [c for c in images.CHECKS if c.label == "Agent repository"]
    ok, reason = check.run(SimpleNamespace(outputs=outputs, client=no_client))  # type: ignore[arg-type]
    assert ok, reason
    assert reason == "public.ecr.aws/acme/agent in ECR Public, pinned to sha256:cccccccccccc"
