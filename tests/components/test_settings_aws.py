"""The AWS provider's ``aws:`` settings the program's own AWS calls follow, and the ones it refuses.

The keys and their shapes are the AWS provider's (pulumi_aws/config/vars.py reads each key; outputs.py gives
``AssumeRoles`` and ``AssumeRoleWithWebIdentity`` their fields, durations "between 15 minutes and 12 hours");
the STS parameters are STS's AssumeRole API reference (RoleArn, RoleSessionName, ExternalId, DurationSeconds,
Policy, PolicyArns[].arn, SourceIdentity, Tags[].Key/Value, TransitiveTagKeys). A refused form stops the
program before any resource is declared, one line naming the key.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pulumi_aws
import pytest

from components.errors import ConfigError
from components.settings import parse_settings
from components.settings_aws import FOLLOWED, REFUSED, AssumeRole, read_stack_aws

VARS = Path(pulumi_aws.__file__).parent / "config" / "vars.py"
PROVIDER_KEYS = set(re.findall(r"__config__\.get\w*\('(\w+)'\)", VARS.read_text()))
ROLE = "arn:aws:iam::111111111111:role/deployer"


def problems(**values: str) -> list[str]:
    return [str(p) for p in read_stack_aws({f"aws:{k}": v for k, v in values.items()}.get)[1]]


def test_every_key_named_is_one_the_aws_provider_reads():
    assert set(FOLLOWED) | set(REFUSED) <= PROVIDER_KEYS
    credentials = {
        "profile", "accessKey", "secretKey", "token", "sharedCredentialsFiles", "sharedConfigFiles", "assumeRoles",
        "assumeRoleWithWebIdentity", "allowedAccountIds", "forbiddenAccountIds", "stsRegion", "endpoints",
    }  # fmt: skip
    assert credentials <= set(FOLLOWED)


def test_an_assume_role_chain_becomes_the_sts_requests():
    roles = [
        {
            "roleArn": ROLE, "sessionName": "ci", "externalId": "x-1", "duration": "1h30m", "policy": '{"Version": "2012-10-17"}',
            "policyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"], "sourceIdentity": "alice", "tags": {"team": "data"},
            "transitiveTagKeys": ["team"],
        },
        {"roleArn": "arn:aws:iam::222222222222:role/admin"},
    ]  # fmt: skip
    aws, found = read_stack_aws({"aws:assumeRoles": json.dumps(roles)}.get)
    assert found == []
    first, second = aws.assume_roles
    assert first.parameters("default") == {
        "RoleArn": ROLE, "RoleSessionName": "ci", "ExternalId": "x-1", "DurationSeconds": 5400,
        "Policy": '{"Version": "2012-10-17"}', "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
        "SourceIdentity": "alice", "Tags": [{"Key": "team", "Value": "data"}], "TransitiveTagKeys": ["team"],
    }  # fmt: skip
    assert second == AssumeRole(role_arn="arn:aws:iam::222222222222:role/admin")
    assert second.parameters("deep-insight-1") == {"RoleArn": second.role_arn, "RoleSessionName": "deep-insight-1"}


def test_the_forms_the_program_follows_pass_the_check():
    assert (
        problems(
            profile="ci",
            sharedCredentialsFiles='["~/.aws/ci-credentials"]',
            sharedConfigFiles='["~/.aws/ci-config"]',
            allowedAccountIds='["111111111111"]',
            stsRegion="us-west-2",
            endpoints='[{"sts": "https://sts.us-west-2.amazonaws.com"}]',
            maxRetries="25",
            retryMode="adaptive",
            useFipsEndpoint="true",
            skipMetadataApiCheck="false",
            s3UsEast1RegionalEndpoint="regional",  # not about whom the calls act as: not read
        )
        == []
    )
    assert problems(accessKey="AKIAEXAMPLE", secretKey="secret", token="session") == []
    web = {"roleArn": ROLE, "webIdentityTokenFile": "/var/run/token", "duration": "15m"}
    assert problems(assumeRoleWithWebIdentity=json.dumps(web)) == []


REFUSED_FORMS = [
    ({"httpsProxy": "http://proxy:3128"}, "aws:httpsProxy: boto3 takes no proxy per client; unset it and set "
     "HTTPS_PROXY in the environment instead, which the AWS provider and the program's own AWS calls both read"),
    ({"sharedCredentialsFiles": '["~/.aws/a", "~/.aws/b"]'}, "aws:sharedCredentialsFiles: lists 2 files, but boto3 "
     "reads one shared file of each kind; merge them into one file"),
    ({"assumeRoles": json.dumps([{"roleArn": ROLE, "duration": "13h"}])}, "aws:assumeRoles: entry 1: duration '13h' "
     "is not between 15m and 12h; write e.g. 1h or 90m"),
    ({"assumeRoles": json.dumps([{"sessionName": "x"}])}, "aws:assumeRoles: entry 1: roleArn 'None' is not an IAM "
     "role ARN (arn:aws:iam::<account>:role/<name>)"),
    ({"assumeRoles": json.dumps([{"roleArn": ROLE, "role_arn": ROLE}])}, "aws:assumeRoles: entry 1: has role_arn, "
     "which the AWS provider does not take; use duration, externalId, policy, policyArns, roleArn, sessionName, "
     "sourceIdentity, tags, transitiveTagKeys"),
    ({"assumeRoles": json.dumps({"roleArn": ROLE})}, "aws:assumeRoles: '{\"roleArn\": "
     "\"arn:aws:iam::111111111111:role/deployer\"}' is not a list of roles; write a YAML list of objects with roleArn"),
    ({"assumeRoleWithWebIdentity": json.dumps({"roleArn": ROLE})}, "aws:assumeRoleWithWebIdentity: set exactly one of "
     "webIdentityToken and webIdentityTokenFile"),
    ({"accessKey": "AKIAEXAMPLE"}, "aws:accessKey: goes with aws:secretKey; set both or neither"),
    ({"token": "t"}, "aws:token: needs aws:accessKey and aws:secretKey; set them"),
    ({"allowedAccountIds": '["111111111111"]', "forbiddenAccountIds": '["222222222222"]'}, "aws:forbiddenAccountIds: "
     "conflicts with aws:allowedAccountIds (as in the AWS provider); keep one"),
    ({"allowedAccountIds": '["1111"]'}, "aws:allowedAccountIds: '1111' is not a 12-digit account id; quote each id"),
    ({"endpoints": '[{"logs": "http://a"}, {"cloudwatchlogs": "http://b"}]'}, "aws:endpoints: logs and cloudwatchlogs "
     "name the same service; keep one"),
    ({"retryMode": "legacy"}, "aws:retryMode: 'legacy' is not allowed; use standard or adaptive"),
]  # fmt: skip


@pytest.mark.parametrize(("values", "line"), REFUSED_FORMS, ids=[next(iter(v)) for v, _ in REFUSED_FORMS])
def test_each_form_the_program_cannot_follow_is_one_line(values, line):
    assert problems(**values) == [line]


def test_a_still_encrypted_value_is_not_judged():
    """`deep-insight plan` reads the stack file, where a secret is ``{"secure": ...}``; the engine decrypts it."""
    assert problems(accessKey="AKIAEXAMPLE", secretKey='{"secure": "v1:abc"}') == []


def test_the_settings_check_reports_them_with_the_projects_keys():
    raw = {"aws:region": "us-east-1", "deep-insight:agent.modelId": "us.anthropic.claude-sonnet-4-5-20250929-v1:0"}
    with pytest.raises(ConfigError) as caught:
        parse_settings({**raw, "aws:noProxy": "localhost", "deep-insight:executor.cpu": "3"}, stack="dev")
    assert caught.value.keys == ("deep-insight:executor.cpu", "aws:noProxy")


@pytest.mark.parametrize(
    "overrides",
    [{"aws:httpProxy": "http://proxy:3128"}, {"aws:assumeRoles": json.dumps([{"roleArn": "deployer"}])}],
    ids=["proxy", "role name"],
)
def test_the_program_stops_before_declaring_anything(evaluate_stack, overrides):
    evaluation = evaluate_stack("dev", overrides)
    assert evaluation.resources == []
    assert evaluation.error is not None
    lines = evaluation.error.splitlines()
    assert lines[0] == "invalid stack configuration:"
    assert [line.split(": ", 1)[0] for line in lines[1:]] == list(overrides)
    assert "Traceback" not in evaluation.error
