"""The executor's presigned URLs name the bucket's regional S3 host, the one the region's S3 gateway endpoint
serves: the expectation is botocore's own S3 endpoint rules (the ruleset in .venv, resolved by botocore's
EndpointRulesetResolver for the region and the bucket without the global endpoint), not a host this project writes."""

from __future__ import annotations

from urllib.parse import urlsplit

import botocore.session
import pytest
from botocore.hooks import HierarchicalEmitter
from botocore.loaders import create_loader
from botocore.regions import EndpointRulesetResolver
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


def resolved(operation: str, region: str, bucket: str, *, global_endpoint: bool = False) -> str:
    """``scheme://host`` botocore's EndpointRulesetResolver gives ``operation`` on ``bucket`` with the S3 ruleset
    in .venv (botocore/data/s3/2006-03-01/endpoint-rule-set-1.json.gz): the region, virtual-hosted addressing,
    and the global endpoint only when asked."""
    loader = create_loader()
    model = botocore.session.get_session().get_service_model("s3")
    builtins = {
        "AWS::Region": region, "AWS::UseFIPS": False, "AWS::UseDualStack": False, "AWS::S3::Accelerate": False,
        "AWS::S3::UseGlobalEndpoint": global_endpoint, "AWS::S3::ForcePathStyle": False,
        "AWS::S3::UseArnRegion": True, "AWS::S3::DisableMultiRegionAccessPoints": False, "SDK::Endpoint": None,
    }  # fmt: skip
    resolver = EndpointRulesetResolver(
        loader.load_service_model("s3", "endpoint-rule-set-1"), loader.load_data("partitions"), model, builtins,
        {}, HierarchicalEmitter(),
    )  # fmt: skip
    return resolver.construct_endpoint(model.operation_model(operation), {"Bucket": bucket, "Key": KEY}, {}).url


def signed(region: str, method: str = "get") -> str:
    client = s3_client(region, aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="secret")
    presigner = SessionPresigner(client, BUCKET, SESSION)
    return presigner.get(KEY) if method == "get" else presigner.put(KEY.replace("/input/", "/artifacts/"))


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("method", ["get", "put"])
def test_urls_name_the_regional_host_of_botocores_endpoint_rules(region, method):
    url = urlsplit(signed(region, method))
    expected = urlsplit(resolved("GetObject" if method == "get" else "PutObject", region, BUCKET))
    assert (url.scheme, url.netloc) == (expected.scheme, expected.netloc)
    assert url.netloc == f"{BUCKET}.s3.{region}.amazonaws.com"  # what the rules say, spelled out for the reader
    assert url.path.lstrip("/") == (KEY if method == "get" else KEY.replace("/input/", "/artifacts/"))
    # Signed for that region: a URL signed for another region is refused by S3 (AuthorizationHeaderMalformed).
    assert f"%2F{region}%2Fs3%2Faws4_request" in url.query


def test_the_rules_put_the_global_host_where_the_old_client_signed():
    # The expectation can fail: with the global endpoint the rules answer the legacy host.
    assert (
        urlsplit(resolved("GetObject", "us-east-1", BUCKET, global_endpoint=True)).netloc
        == f"{BUCKET}.s3.amazonaws.com"
    )


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
