"""The executor's presigned URLs name the bucket's regional S3 host, the one the region's S3 gateway endpoint
serves: the expectation is botocore's own S3 endpoint rules (the ruleset in .venv, evaluated by botocore's rules
engine with the region, the bucket and no global endpoint), not a host this project writes."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from botocore.endpoint_provider import EndpointProvider
from botocore.loaders import create_loader
from deep_insight_agent.presign import SessionPresigner, s3_client

from tests.conftest import EvaluateStack, key

BUCKET = "deep-insight-dev-artifacts-20260101000000000000000001"
SESSION = "session-0123456789abcdef0123456789abcdef"
KEY = f"sessions/{SESSION}/input/sales.csv"
REGIONS = ("us-west-2", "eu-central-1", "us-east-1")


@pytest.fixture(autouse=True)
def no_endpoint_settings(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Nothing from the environment steers the client: no endpoint override, no shared config's s3 settings."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_S3_US_EAST_1_REGIONAL_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))


def regional_endpoint(region: str, bucket: str) -> str:
    """``scheme://host`` botocore's S3 rules give a virtual-hosted request to ``bucket`` in ``region``."""
    loader = create_loader()
    provider = EndpointProvider(loader.load_service_model("s3", "endpoint-rule-set-1"), loader.load_data("partitions"))
    endpoint = provider.resolve_endpoint(
        Region=region, Bucket=bucket, UseGlobalEndpoint=False, ForcePathStyle=False, Accelerate=False,
        UseFIPS=False, UseDualStack=False,
    )  # fmt: skip
    return endpoint.url


def signed(region: str, method: str = "get") -> str:
    client = s3_client(region, aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="secret")
    presigner = SessionPresigner(client, BUCKET, SESSION)
    return presigner.get(KEY) if method == "get" else presigner.put(KEY.replace("/input/", "/artifacts/"))


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("method", ["get", "put"])
def test_urls_name_the_regional_host_of_botocores_endpoint_rules(region, method):
    url = urlsplit(signed(region, method))
    expected = urlsplit(regional_endpoint(region, BUCKET))
    assert (url.scheme, url.netloc) == (expected.scheme, expected.netloc)
    assert url.netloc == f"{BUCKET}.s3.{region}.amazonaws.com"  # what the rules say, spelled out for the reader
    assert url.path.lstrip("/") == (KEY if method == "get" else KEY.replace("/input/", "/artifacts/"))
    # Signed for that region: a URL signed for another region is refused by S3 (AuthorizationHeaderMalformed).
    assert f"%2F{region}%2Fs3%2Faws4_request" in url.query


def test_the_rules_put_the_global_host_where_the_old_client_signed():
    # The expectation can fail: with the global endpoint the rules answer the legacy host.
    loader = create_loader()
    provider = EndpointProvider(loader.load_service_model("s3", "endpoint-rule-set-1"), loader.load_data("partitions"))
    legacy = provider.resolve_endpoint(Region="us-east-1", Bucket=BUCKET, UseGlobalEndpoint=True)
    assert urlsplit(legacy.url).netloc == f"{BUCKET}.s3.amazonaws.com"


@pytest.mark.parametrize("region", ["us-west-2", "eu-central-1"])
def test_the_s3_gateway_endpoint_of_a_stack_in_that_region_serves_that_host(region, evaluate_stack: EvaluateStack):
    profile = f"{region.split('-')[0]}.anthropic.claude-sonnet-4-5-20250929-v1:0"  # the region's geography
    evaluation = evaluate_stack("dev", {"aws:region": region, key("agent.modelId"): profile})
    assert evaluation.error is None, evaluation.error
    (gateway,) = [
        r for r in evaluation.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if r.inputs["vpcEndpointType"] == "Gateway"
    ]
    assert gateway.inputs["serviceName"] == f"com.amazonaws.{region}.s3"
    host_region = urlsplit(signed(region)).netloc.split(".s3.", 1)[1].removesuffix(".amazonaws.com")
    assert host_region == region == evaluation.outputs["region"]
