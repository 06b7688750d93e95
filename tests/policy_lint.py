"""Lint IAM documents with parliament and the project's own rules (no wildcard grants).

parliament (1.6.4, IAM data of 2025-04) is read statement by statement, and two of its findings are
checked against its own data before they count, because they are artefacts of how it reads that data:

* RESOURCE_MISMATCH lists every *required* resource type of an action that no resource matched; AWS
  marks alternatives as required too (bedrock:InvokeModel on a foundation-model *or* an
  inference-profile; CreateRule on an ALB *or* NLB listener), and its strict check rejects resource
  ids that contain a colon (every versioned model id: ``...-v1:0``). It counts only when no required
  type of an action matches any resource by parliament's own ARN matcher.
* UNKNOWN_CONDITION_FOR_ACTION: its data holds two "elasticloadbalancing" services and it checks only
  the first; the key counts as unknown only when no service with that prefix lists it for the action.
"""

from __future__ import annotations

import json
import re
import warnings
from typing import Any

from policy import iam_rules

with warnings.catch_warnings():
    # parliament imports pkg_resources, which warns about its own deprecation.
    warnings.simplefilter("ignore")
    import parliament
    from parliament import analyze_policy_string, iam_definition, is_arn_match

SEVERE = {"MEDIUM", "HIGH", "CRITICAL"}


def _privileges(action: str) -> list[dict[str, Any]]:
    prefix, name = action.split(":", 1)
    return [
        privilege
        for service in iam_definition
        if service["prefix"] == prefix
        for privilege in service["privileges"]
        if privilege["privilege"] == name
    ]


def _required_formats(action: str) -> dict[str, str]:
    """Resource type -> ARN format, for the types AWS marks required (``*``) for the action."""
    prefix, name = action.split(":", 1)
    formats = {}
    for service in iam_definition:
        if service["prefix"] != prefix:
            continue
        arns = {r["resource"]: r["arn"] for r in service["resources"]}
        for privilege in service["privileges"]:
            if privilege["privilege"] != name:
                continue
            for resource_type in privilege["resource_types"]:
                kind = resource_type["resource_type"].removesuffix("*")
                if resource_type["resource_type"].endswith("*") and kind in arns:
                    formats[kind] = arns[kind]
    return formats


def _is_artefact(issue: str, detail: Any, statement: dict[str, Any]) -> bool:
    if issue == "RESOURCE_MISMATCH":
        resources = statement.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else resources
        actions = {item["action"] for item in detail}
        return all(
            any(
                is_arn_match(kind, re.sub(r"\$\{[^}]+\}", "*", arn_format), resource)
                for kind, arn_format in _required_formats(action).items()
                for resource in resources
            )
            for action in actions
        )
    if issue == "UNKNOWN_CONDITION_FOR_ACTION":
        # detail: "Unknown condition <key> for action <action>"
        words = str(detail).split()
        key, action = words[2], words[-1]
        return any(
            key in resource_type["condition_keys"]
            for privilege in _privileges(action)
            for resource_type in privilege["resource_types"]
        )
    return False


def parliament_findings(document: dict[str, Any], *, resource_policy: bool = False) -> list[str]:
    """Findings of severity medium or higher that are not parliament artefacts, one line each."""
    found = []
    for original in document["Statement"]:
        statement = dict(original)
        if resource_policy or "Principal" in statement:
            # Trust and bucket policies: parliament checks identity policies, so drop the principal
            # and give trust statements the resource they implicitly have.
            statement.pop("Principal", None)
            statement.setdefault("Resource", "*")
        policy = analyze_policy_string(json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
        for finding in policy.findings:
            severity = parliament.config.get(finding.issue, {}).get("severity", "")
            if severity in SEVERE and not _is_artefact(finding.issue, finding.detail, statement):
                found.append(f"{statement.get('Sid')}: {severity} {finding.issue}: {finding.detail}")
    return found


def wildcard_grants(document: dict[str, Any]) -> list[str]:
    """Allow statements that grant ``*``, a whole service or NotAction: the policy pack's own check."""
    return list(iam_rules.wildcard_grants(document))


def statements_by_sid(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in document["Statement"]}
