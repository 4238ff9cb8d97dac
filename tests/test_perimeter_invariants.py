"""The perimeter, proven over every action AWS defines, not over rows someone thought of.

For every service the stack's policies touch, each test enumerates the evaluator's own action
catalog (tests/iam/catalog.py: iam-data, AWS's Service Authorization Reference), builds the
request each action makes on the stack's resources, by each class of principal, from each
origin, and asks iam-simulate for the decision (one batch per test). It then checks the
invariants written in docs/access-proof.md ("Invariants"). Each invariant says what *may* be
allowed; whatever else the evaluator allows is a violation, listed with its evaluations. The
matrix (test_access_matrix.py) shows that the legitimate traffic is in fact allowed.

Organization policies only ever deny (an SCP or RCP grants nothing), so a request denied
without them is denied with them: the tests evaluate with them every case allowed without them,
and the invariants that only they hold (S3 Control on access points, Bedrock governance, the
CloudWatch invocation logs, Athena, the Region) with them throughout.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import pytest

from components import policies
from tests.iam import catalog
from tests.iam.access_model import (
    INTERNET,
    OTHER_ENDPOINT_IN_VPC,
    VPC,
    VPC_OWNERS,
    Identity,
    Outcome,
    PolicyDocument,
    Request,
    Simulator,
    StackPolicies,
)

DATA, PARTNER, THIEF = "111111111111", "222222222222", "333333333333"
ORG = "o-a1b2c3d4e5"
REGION = "us-east-1"
PARTNER_VPC = "vpc-0123456789abcdef0"
VPC_OWNERS[PARTNER_VPC] = PARTNER
ORIGINS = (VPC, OTHER_ENDPOINT_IN_VPC, INTERNET, PARTNER_VPC)
EVERYTHING: tuple[str, PolicyDocument] = (
    "administrator",
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
)
GUARDED_STACKS = ("dev", "prod")


def principals(stack: str) -> dict[str, Identity]:
    """One principal of each class, each allowed everything by its own IAM, so that what it
    may do is exactly what the stack's policies leave it."""
    administrator = "platform-admin" if stack == "dev" else "ci-deployer"
    return {
        # Listed on the analytics access point (read, curated/).
        "application": Identity(f"arn:aws:iam::{DATA}:role/analytics", (EVERYTHING,), ORG),
        # A role of the data account that nothing lists.
        "over-privileged": Identity(f"arn:aws:iam::{DATA}:role/data-engineer", (EVERYTHING,), ORG),
        # prod: listed on the partner's access point (read, shared/partner/); outside the
        # organization.
        "partner": Identity(f"arn:aws:iam::{PARTNER}:role/partner-reader", (EVERYTHING,)),
        "third account": Identity(f"arn:aws:iam::{THIEF}:role/thief", (EVERYTHING,)),
        "administrator": Identity(f"arn:aws:iam::{DATA}:role/{administrator}", (EVERYTHING,), ORG),
    }


@dataclass(frozen=True)
class Case:
    """One request and what it stands for, for the invariants."""

    stack: str
    who: str
    """A key of principals(), or 'aws service'."""
    path: str
    """direct, access point NAME, or control (S3 Control on an access point)."""
    request: Request

    def label(self) -> str:
        r = self.request
        extra = " +org" if r.organization_policies else ""
        extra += " -bucket-policy" if r.without_bucket_policy else ""
        return (
            f"{self.stack} {self.who} {r.action} {r.resource!r} {self.path} from {r.origin}{extra}"
        )


Invariant = Callable[[Case], bool]


def decide(
    simulator: Simulator, stacks: dict[str, StackPolicies], cases: Sequence[Case]
) -> list[Outcome]:
    return simulator.decide([(stacks[c.stack], c.request) for c in cases], allowed_only=True)


def violations(
    cases: Sequence[Case], outcomes: Sequence[Outcome], may_allow: Invariant
) -> list[str]:
    return [
        f"{case.label()}: {outcome.explain()}"
        for case, outcome in zip(cases, outcomes, strict=True)
        if outcome.decision == "Allowed" and not may_allow(case)
    ]


def with_organization_policies(
    simulator: Simulator,
    stacks: dict[str, StackPolicies],
    cases: Sequence[Case],
    outcomes: Sequence[Outcome],
) -> tuple[list[Case], list[Outcome]]:
    """The cases allowed without the organization policies, evaluated again with them (the
    others stay denied: organization policies only deny)."""
    allowed = [
        replace(c, request=replace(c.request, organization_policies=True))
        for c, o in zip(cases, outcomes, strict=True)
        if o.decision == "Allowed"
    ]
    return allowed, decide(simulator, stacks, allowed)


def matches(action: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatch(action.lower(), p.lower()) for p in patterns)


def arn(template: str, account: str, region: str = REGION, **names: str) -> str:
    """A concrete ARN of a catalog resource type: every ${Name} filled in."""

    def value(match: re.Match[str]) -> str:
        name = match[1]
        if name == "Partition":
            return "aws"
        if name == "Region":
            return region
        if name == "Account":
            return account
        return names.get(name, f"x{name.lower()}")

    return re.sub(r"\$\{(\w+)\}", value, template)


# --- S3: the data bucket, through every path ---------------------------------------------------

ACCESS_POINTS = {
    # name: (owner, prefix, listed principal class, origin it is bound to)
    "analytics": (DATA, "curated/", "application", VPC),
    "partner-share": (PARTNER, "shared/partner/", "partner", PARTNER_VPC),
}
READ_ON_OBJECTS = {"s3:GetObject", "s3:GetObjectVersion"}


def access_points_of(stack: str) -> list[str]:
    return ["analytics", *(["partner-share"] if stack == "prod" else [])]


# prod's knowledge base role, allowed everything by its own IAM: what the bucket, the vector
# bucket and the organization policies leave it.
KNOWLEDGE_BASE_ROLE = Identity(
    f"arn:aws:iam::{DATA}:role/private-datalake-prod-knowledge-base", (EVERYTHING,), ORG
)
KNOWLEDGE_BASE_PREFIX = "curated/"


def s3_principals(stack: str) -> dict[str, Identity]:
    """The principal classes, and in prod the knowledge base role."""
    extra = {"knowledge base": KNOWLEDGE_BASE_ROLE} if stack == "prod" else {}
    return {**principals(stack), **extra}


def s3_cases(stack: str) -> list[Case]:
    """Every S3 action on the data bucket: directly, through each access point (a key inside
    its prefix and one outside it), and, for the S3 Control actions on an access point, on the
    access point itself; by each principal class, from each origin."""
    cases = []
    for action in catalog.actions("s3"):
        types = set(action.resource_types)
        on_objects = bool(types & {"object", "accesspointobject"}) and "bucket" not in types
        paths: list[tuple[str, str | None, str]] = []
        if types & {"bucket", "object"}:
            paths.append(("direct", None, "curated/x.csv" if on_objects else ""))
        if types & {"accesspoint", "accesspointobject"} and types != {"accesspoint"}:
            for name in access_points_of(stack):
                prefix = ACCESS_POINTS[name][1]
                keys = [f"{prefix}x.csv", "raw/x.json"] if on_objects else [prefix, ""]
                paths += [(f"access point {name}", name, key) for key in keys]
        if types == {"accesspoint"}:
            paths.append(("control", "analytics", ""))
        for path, access_point, key in paths:
            for who, identity in s3_principals(stack).items():
                for origin in ORIGINS:
                    request = Request(
                        identity, action.action, key, origin=origin, access_point=access_point
                    )
                    cases.append(Case(stack, who, path, request))
    return cases


def s3_may_allow(case: Case) -> bool:
    """What the data bucket may allow: an administrator anything; through an access point, one
    of its principals, within its mode and prefix, from where the access point is bound (the
    stack's own S3 endpoint, or the partner's VPC); the knowledge base role, reading its prefix
    directly; nothing else, by any path. (S3 Control on an access point is the organization
    policies' to bound: see the next test.)"""
    r = case.request
    if case.who == "administrator" or case.path == "control":
        return True
    if case.who == "knowledge base":
        # Reading its prefix directly, from anywhere but through the stack's S3 endpoint
        # (which carries no direct use of the bucket): Bedrock ingests from AWS's network.
        return (
            r.access_point is None
            and r.action in policies.KNOWLEDGE_BASE_READS
            and r.resource.startswith(KNOWLEDGE_BASE_PREFIX)
            and r.origin != VPC
        )
    if r.access_point is None:
        return False
    _, prefix, listed, bound_origin = ACCESS_POINTS[r.access_point]
    in_mode = r.action in READ_ON_OBJECTS or r.action == "s3:ListBucket"
    return (
        case.who == listed
        and in_mode
        and r.resource.startswith(prefix)
        and r.origin == bound_origin
    )


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_data_bucket_admits_its_access_points_and_administrators_only(
    stack: str, simulator: Simulator, stacks: dict[str, StackPolicies]
) -> None:
    cases = s3_cases(stack)
    outcomes = decide(simulator, stacks, cases)
    found = violations(cases, outcomes, s3_may_allow)
    with_org, org_outcomes = with_organization_policies(simulator, stacks, cases, outcomes)
    found += violations(with_org, org_outcomes, s3_may_allow)
    # Over plain HTTP nothing at all, whoever asks (S3 Control's endpoint takes HTTPS only).
    plain = [
        replace(c, request=replace(c.request, tls=False)) for c in with_org if c.path != "control"
    ]
    found += violations(plain, decide(simulator, stacks, plain), lambda _: False)
    assert len(cases) >= 4000, len(cases)
    assert not found, "\n".join(found[:40])


def test_s3_control_needs_the_organization(
    simulator: Simulator, stacks: dict[str, StackPolicies]
) -> None:
    """Managing access points and using the bucket directly: with the organization policies,
    and even with the bucket policy gone (after the root user's break-glass), a principal of the
    data account that is no administrator reads settings, and nothing else; the knowledge base
    role reads its prefix, and nothing else."""
    cases = [
        replace(
            c,
            request=replace(c.request, organization_policies=True, without_bucket_policy=True),
        )
        for stack in GUARDED_STACKS
        for c in s3_cases(stack)
        if c.path in ("direct", "control")
        and c.who in ("application", "over-privileged", "knowledge base")
        and c.request.origin in (INTERNET, VPC)
    ]
    readers = (*policies.CONFIGURATION_READS, *policies.ACCESS_POINT_READS)

    def may_allow(case: Case) -> bool:
        if case.who == "knowledge base":
            # The SCP holds it to reading its prefix, as the deleted bucket policy did.
            return s3_may_allow(case)
        return matches(case.request.action, readers)

    found = violations(cases, decide(simulator, stacks, cases), may_allow)
    assert len(cases) > 400, len(cases)
    assert not found, "\n".join(found[:40])


# --- The other buckets: the access logs, the invocation logs, Athena's results -----------------


def log_bucket_cases(stack: str, bucket: str, service: str, source: dict[str, str]) -> list[Case]:
    cases = []
    everyone = {**principals(stack), "aws service": Identity(service)}
    for action in catalog.actions("s3"):
        types = set(action.resource_types)
        if not types & {"bucket", "object"}:
            continue
        on_objects = bool(types & {"object"}) and "bucket" not in types
        resource = f"arn:aws:s3:::{bucket}" + ("/AWSLogs/x" if on_objects else "")
        for who, identity in everyone.items():
            for origin in (INTERNET, VPC) if who != "aws service" else (INTERNET,):
                context = source if who == "aws service" else {}
                request = Request(identity, action.action, resource, origin=origin, context=context)
                cases.append(Case(stack, who, "direct", request))
    return cases


@pytest.mark.parametrize(
    ("stack", "bucket", "service"),
    [
        ("dev", f"private-datalake-dev-{DATA}-logs", "logging.s3.amazonaws.com"),
        ("prod", f"private-datalake-prod-{DATA}-invocations", "bedrock.amazonaws.com"),
        ("prod", f"private-datalake-prod-{DATA}-athena", "athena.amazonaws.com"),
    ],
)
def test_the_log_and_results_buckets_are_the_administrators(
    stack: str, bucket: str, service: str, simulator: Simulator, stacks: dict[str, StackPolicies]
) -> None:
    """Every S3 action on the access-log, invocation-log and Athena results buckets: the
    administrators anything; the delivering service writes (logs); nobody else anything (the
    Athena principals' results come through Athena only: test_access_matrix)."""
    source = {
        "aws:SourceAccount": DATA,
        "aws:SourceArn": f"arn:aws:s3:::private-datalake-{stack}-{DATA}",
    }
    if service == "bedrock.amazonaws.com":
        source["aws:SourceArn"] = f"arn:aws:bedrock:{REGION}:{DATA}:model-invocation-logging"
    cases = log_bucket_cases(stack, bucket, service, source)

    def may_allow(case: Case) -> bool:
        return case.who == "administrator" or (
            case.who == "aws service"
            and service != "athena.amazonaws.com"
            and case.request.action == "s3:PutObject"
        )

    found = violations(cases, decide(simulator, stacks, cases), may_allow)
    assert len(cases) > 500, len(cases)
    assert not found, "\n".join(found[:40])


# --- The endpoints: each serves its vetted actions, on the perimeter's resources ---------------


def service_resources(
    simulator: Simulator,
    actions: Sequence[catalog.CatalogAction],
    account: str,
    region: str = REGION,
) -> dict[str, str]:
    """A resource each action acts on, in ``account`` and ``region``: of the first of its
    resource types (required ones first) whose ARN the evaluator takes for it; "*" for an
    action on no resource type. Actions it takes no resource for are left out (none of the
    catalog's today: the tests count their cases)."""
    candidates: dict[str, list[str]] = {}
    for action in actions:
        templates = catalog.resource_arn_templates(action.service)
        candidates[action.action] = (
            [arn(templates[t.lower()], account, region) for t in action.resource_types]
            if action.resource_types
            else ["*"]
        )
    pairs = [(a, r) for a, resources in candidates.items() for r in resources]
    refused = dict(zip(pairs, simulator.refusals(pairs), strict=True))
    chosen = {}
    for name, resources in candidates.items():
        taken = [r for r in resources if refused[(name, r)] is None]
        if taken:
            chosen[name] = taken[0]
    return chosen


def resource_context(stack: str, resource: str) -> dict[str, str]:
    """What AWS tells the endpoint about the resource's owner."""
    account = resource.split(":")[4] if resource.count(":") >= 5 else ""
    if not account:
        return {}
    context = {"aws:ResourceAccount": account}
    if stack == "prod" and account == DATA:
        context["aws:ResourceOrgID"] = ORG
    return context


ENDPOINT_STACKS = {"dev-every-endpoint": "dev", "prod": "prod"}
# "No permissions are required to perform this operation. [...] cannot deny access to
# GetCallerIdentity" (STS API reference): no policy decides it, the evaluator knows.
ALWAYS_ALLOWED = frozenset({"sts:GetCallerIdentity"})


def endpoint_cases(
    simulator: Simulator, stack: str, interface_prefixes: Iterable[str]
) -> list[Case]:
    """Every action of every service with an endpoint in the stack's VPC (DynamoDB's gateway,
    each interface endpoint), on a resource of the data account and one of another account, by
    each principal class, from the stack's VPC."""
    actions = [a for s in sorted({*interface_prefixes, "dynamodb"}) for a in catalog.actions(s)]
    resources = {
        account: service_resources(simulator, actions, account) for account in (DATA, THIEF)
    }
    base = ENDPOINT_STACKS[stack]
    return [
        Case(
            stack,
            who,
            f"{action.service} endpoint",
            Request(
                identity,
                action.action,
                resource,
                origin=VPC,
                context=resource_context(base, resource),
            ),
        )
        for action in actions
        for account in (DATA, THIEF)
        if (resource := resources[account].get(action.action)) is not None
        and not (resource == "*" and account == THIEF)
        for who, identity in principals(base).items()
    ]


def endpoint_may_allow() -> Invariant:
    vetted = {
        service: set(actions) for service, actions in policies.INTERFACE_ENDPOINT_ACTIONS.items()
    }
    served = {policies.endpoint_service_prefix(s): a for s, a in vetted.items()}
    served["dynamodb"] = set(policies.DYNAMODB_DATA_ACTIONS)

    def may_allow(case: Case) -> bool:
        r = case.request
        if r.action in ALWAYS_ALLOWED:
            return True
        service = r.action.split(":")[0]
        inside = case.who in ("application", "over-privileged", "administrator")
        # An action on no resource ("*": X-Ray's) has no owner; it acts in the caller's account.
        owned = r.resource == "*" or (
            r.resource.split(":")[4] == DATA if r.resource.count(":") >= 5 else False
        )
        if service == "bedrock":
            # bedrock-runtime narrows its list to the configured models and the guardrail:
            # test_access_matrix; here, never another action.
            return inside and r.action in served["bedrock"]
        return inside and owned and r.action in served[service]

    return may_allow


def test_the_principal_alone_decides_exactly_the_vetted_actions_on_no_resource() -> None:
    """interface_endpoint_policy leaves out the resource rule for ACTIONS_ON_NO_RESOURCE only:
    those are exactly the vetted actions the catalog gives no resource type (on "*", where AWS
    has no resource owner to compare)."""
    on_no_resource = {
        action.action
        for service, vetted in policies.INTERFACE_ENDPOINT_ACTIONS.items()
        for action in catalog.actions(policies.endpoint_service_prefix(service))
        if action.action in vetted and not action.resource_types
    }
    assert on_no_resource == set(policies.ACTIONS_ON_NO_RESOURCE)


@pytest.mark.parametrize("stack", list(ENDPOINT_STACKS))
def test_every_endpoint_serves_its_vetted_actions_only(
    stack: str, simulator: Simulator, stacks: dict[str, StackPolicies]
) -> None:
    cases = endpoint_cases(simulator, stack, stacks[stack].interface_endpoint_policies)
    found = violations(cases, decide(simulator, stacks, cases), endpoint_may_allow())
    assert len(cases) > 2000, len(cases)
    assert not found, "\n".join(found[:40])


# --- The data key ------------------------------------------------------------------------------


def test_the_data_key_serves_s3_for_the_stacks_buckets_only(
    simulator: Simulator, stacks: dict[str, StackPolicies]
) -> None:
    """Every KMS action on the data key (dev creates it): another account never; the data
    account's principals through the key's delegation to IAM (AWS's default key policy), and,
    without IAM, only through S3 for the stack's buckets."""
    via_s3 = {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}
    contexts = {
        "via S3 for the data bucket": {
            **via_s3,
            "kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::private-datalake-dev-{DATA}",
        },
        "via S3 for another bucket": {
            **via_s3,
            "kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::other",
        },
        "directly": {},
    }
    cases = []
    for action in catalog.actions("kms"):
        if "key" not in action.resource_types:
            continue
        for who, identity in principals("dev").items():
            for name, context in contexts.items():
                caller = {"kms:CallerAccount": identity.account, **context}
                request = Request(
                    identity, action.action, "data-key", origin=INTERNET, context=caller
                )
                cases.append(Case("dev", who, name, request))

    def may_allow(case: Case) -> bool:
        return case.who in ("application", "over-privileged", "administrator")

    found = violations(cases, decide(simulator, stacks, cases), may_allow)
    assert len(cases) > 500, len(cases)
    assert not found, "\n".join(found[:40])


# --- The keys of the logs, the function and the invocation logs (issue 23) --------------------

# What AWS's key policy statement for CloudWatch Logs grants (CloudWatch Logs User Guide,
# "Encrypt log data in CloudWatch Logs using AWS KMS"), written here, not read from the code.
AWS_LOGS_KEY_STATEMENT_ACTIONS = (
    "kms:Encrypt*",
    "kms:Decrypt*",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:Describe*",
)
LOGS_CONTEXT = "kms:EncryptionContext:aws:logs:arn"
# Key resource name -> the log groups it encrypts (resource names), per stack.
STACK_KEYS = {
    "dev": {"bedrock-key": ("bedrock-logs",), "datalake-flow-logs": ("datalake-flow-logs",)},
    "prod": {
        "bedrock-key": ("bedrock-logs",),
        "datalake-flow-logs": ("datalake-flow-logs",),
        "models-invocation-logs": ("models-invocation-logs",),
    },
}


def stack_key_cases(stack: str, policies_of: StackPolicies) -> list[Case]:
    """Every KMS action on each key the stack made for its logs and its function, by each
    principal class, with the context that gives it the best chance (for the principal classes:
    through Lambda, and every log group and the invocation-log bucket in the encryption
    context), and by the AWS services and the role the keys are for: CloudWatch Logs for each
    log group of the stack, the function's role through Lambda, Bedrock delivering invocation
    logs through S3."""
    bucket = f"arn:aws:s3:::private-datalake-{stack}-{DATA}-invocations"
    via_lambda = {"kms:ViaService": f"lambda.{REGION}.amazonaws.com"}
    groups = {name: policies_of.log_group_arns[name] for name in policies_of.log_group_arns}
    best_chance = {**via_lambda, LOGS_CONTEXT: groups["bedrock-logs"],
                   "kms:EncryptionContext:aws:s3:arn": bucket}  # fmt: skip
    callers: list[tuple[str, Identity, dict[str, str]]] = [
        (who, identity, best_chance) for who, identity in principals(stack).items()
    ]
    callers += [
        (f"logs for {group}", Identity(f"logs.{REGION}.amazonaws.com"), {LOGS_CONTEXT: arn})
        for group, arn in groups.items()
    ]
    callers += [
        ("function", policies_of.function, via_lambda),
        (
            "bedrock",
            Identity("bedrock.amazonaws.com"),
            {
                "aws:SourceAccount": DATA,
                "aws:SourceArn": f"arn:aws:bedrock:{REGION}:{DATA}:model-invocation-logging",
                "kms:ViaService": f"s3.{REGION}.amazonaws.com",
                "kms:EncryptionContext:aws:s3:arn": bucket,
            },
        ),
    ]
    return [
        Case(
            stack,
            who,
            key,
            Request(identity, action.action, key_arn, origin=INTERNET, context=context),
        )
        for key in STACK_KEYS[stack]
        for key_arn in [policies_of.key_arns[key]]
        for action in catalog.actions("kms")
        if "key" in action.resource_types
        for who, identity, context in callers
    ]


def stack_key_may_allow(case: Case) -> bool:
    """An administrator anything; CloudWatch Logs what AWS's statement for log data grants, for
    the key's own log groups; the function's role Decrypt of its own key through Lambda (its
    environment); Bedrock GenerateDataKey of the invocation logs' key (through S3, for the
    invocation-log bucket); anybody else nothing, whatever its IAM allows."""
    key, action = case.path, case.request.action
    if case.who == "administrator":
        return True
    if case.who.startswith("logs for "):
        return case.who.removeprefix("logs for ") in STACK_KEYS[case.stack][key] and matches(
            action, AWS_LOGS_KEY_STATEMENT_ACTIONS
        )
    if case.who == "function":
        return key == "bedrock-key" and action == "kms:Decrypt"
    if case.who == "bedrock":
        return key == "models-invocation-logs" and action == "kms:GenerateDataKey"
    return False


def test_the_stacks_log_and_function_keys_serve_exactly_their_users(
    simulator: Simulator, stacks: dict[str, StackPolicies]
) -> None:
    """Every KMS action on a key of AWS's catalog, on each key the stack made for its log groups
    and its function (dev and prod; prod also owns the invocation logs)."""
    cases = [c for stack in STACK_KEYS for c in stack_key_cases(stack, stacks[stack])]
    found = violations(cases, decide(simulator, stacks, cases), stack_key_may_allow)
    assert len(cases) > 2000, len(cases)
    assert not found, "\n".join(found[:40])


# --- Governance the organization policies hold: Bedrock, the invocation logs, Athena, Regions ---

BEDROCK_GOVERNANCE = (
    "bedrock:PutModelInvocationLoggingConfiguration",
    "bedrock:DeleteModelInvocationLoggingConfiguration",
    "bedrock:CreateGuardrail",
)


def bedrock_cases(simulator: Simulator, stack: str) -> list[Case]:
    cases = []
    resources = service_resources(simulator, catalog.actions("bedrock"), DATA)
    for action in catalog.actions("bedrock"):
        resource = resources.get(action.action)
        if resource is None:
            continue
        if "foundation-model" in action.resource_types[:1]:
            resource = f"arn:aws:bedrock:{REGION}::foundation-model/amazon.nova-micro-v1:0"
        for who in ("application", "over-privileged", "administrator"):
            request = Request(
                principals(stack)[who],
                action.action,
                resource,
                origin=INTERNET,
                organization_policies=True,
            )
            cases.append(Case(stack, who, "bedrock", request))
    return cases


def bedrock_may_allow(case: Case) -> bool:
    """With the organization policies: only an administrator changes guardrails (anything but
    using and reading one), creates one, or changes invocation logging; nobody, administrators
    included, calls a model without a guardrail."""
    r = case.request
    if matches(r.action, policies.BEDROCK_INVOKE_ACTIONS):
        return False
    governs = matches(r.action, BEDROCK_GOVERNANCE) or (
        ":guardrail/" in r.resource and not matches(r.action, policies.GUARDRAIL_USE)
    )
    return case.who == "administrator" or not governs


@pytest.mark.parametrize("stack", GUARDED_STACKS)
def test_bedrock_governance_is_the_administrators(
    stack: str, simulator: Simulator, stacks: dict[str, StackPolicies]
) -> None:
    cases = bedrock_cases(simulator, stack)
    found = violations(cases, decide(simulator, stacks, cases), bedrock_may_allow)
    assert len(cases) > 700, len(cases)
    assert not found, "\n".join(found[:40])


def test_only_administrators_read_the_cloudwatch_invocation_logs(
    simulator: Simulator, stacks: dict[str, StackPolicies]
) -> None:
    """prod writes the invocation logs to CloudWatch too. Every CloudWatch Logs action on that
    log group and its stream, with the organization policies: the administrators anything; the
    role Bedrock writes with, as its own policy allows, writing; nobody else, of any account."""
    group = policies.invocation_log_group_arn(REGION, DATA, "private-datalake-prod")
    writer_arn = stacks["prod"].role_arns["models-invocation-logging"]
    writer = Identity(
        writer_arn, (("delivery", stacks["prod"].role_policies["models-invocation-logging"]),), ORG
    )
    everyone = {**principals("prod"), "delivery role": writer}
    cases = []
    for action in catalog.actions("logs"):
        types = set(action.resource_types)
        if "log-stream" in types:
            resource = f"{group}:log-stream:aws/bedrock/modelinvocations"
        elif "log-group" in types:
            resource = group
        else:
            continue
        for who, identity in everyone.items():
            request = Request(
                identity, action.action, resource, origin=INTERNET, organization_policies=True
            )
            cases.append(Case("prod", who, "log group", request))

    def may_allow(case: Case) -> bool:
        return case.who == "administrator" or (
            case.who == "delivery role"
            and case.request.action in ("logs:CreateLogStream", "logs:PutLogEvents")
        )

    found = violations(cases, decide(simulator, stacks, cases), may_allow)
    assert len(cases) >= 250, len(cases)
    assert not found, "\n".join(found[:40])


def test_athena_principals_query_through_the_stacks_workgroup_and_endpoint(
    simulator: Simulator, stacks: dict[str, StackPolicies]
) -> None:
    """Every Athena action by the Athena access point's principal, on the stack's workgroup and
    another, from the stack's VPC (its athena endpoint) and from outside, with the organization
    policies: it starts queries only in the stack's workgroup (whose enforced configuration keeps
    the results in the data account) and only through the stack's endpoint."""
    ours = f"arn:aws:athena:{REGION}:{DATA}:workgroup/private-datalake-prod-{DATA}-athena-curated"
    other = f"arn:aws:athena:{REGION}:{DATA}:workgroup/primary"
    bi = Identity(f"arn:aws:iam::{DATA}:role/bi-dashboards", (EVERYTHING,), ORG)
    cases = [
        Case(
            "prod",
            "athena principal",
            "athena",
            Request(
                bi,
                action.action,
                workgroup,
                origin=origin,
                organization_policies=True,
                context=resource_context("prod", workgroup),
            ),
        )
        for action in catalog.actions("athena")
        if action.resource_types[:1] == ("workgroup",)
        for workgroup in (ours, other)
        for origin in (VPC, INTERNET)
    ]

    def may_allow(case: Case) -> bool:
        r = case.request
        if r.resource == ours:
            return r.origin == VPC
        return not r.action.startswith("athena:Start")

    found = violations(cases, decide(simulator, stacks, cases), may_allow)
    assert len(cases) > 100, len(cases)
    assert not found, "\n".join(found[:40])


REGIONAL_SERVICES = ("dynamodb", "kms", "logs", "sns", "sqs", "athena", "lambda", "secretsmanager")


def test_the_data_account_works_in_the_stacks_region(
    simulator: Simulator, stacks: dict[str, StackPolicies]
) -> None:
    """With the organization policies, every action of the services the stack reaches, on a
    resource of the data account in another Region, is denied; and a model outside the stack's
    Region only when a configured profile routes to it (test_access_matrix)."""
    actions = [a for s in (*REGIONAL_SERVICES, "bedrock") for a in catalog.actions(s)]
    resources = service_resources(simulator, actions, DATA, "eu-west-1")
    cases = [
        Case(
            "prod",
            who,
            "another Region",
            Request(
                principals("prod")[who],
                action.action,
                resources[action.action],
                origin=INTERNET,
                organization_policies=True,
                context={"aws:RequestedRegion": "eu-west-1"},
            ),
        )
        for action in actions
        if action.action in resources
        for who in ("over-privileged", "administrator")
    ]
    found = violations(cases, decide(simulator, stacks, cases), lambda _: False)
    assert len(cases) > 1500, len(cases)
    assert not found, "\n".join(found[:40])


# --- The knowledge base: its vectors, its governance, its endpoint ------------------------------

KNOWLEDGE_BASE_STACK = "prod"


def knowledge_base_principals(stack: StackPolicies) -> dict[str, Identity]:
    """The principal classes, and the knowledge base's own roles (the function retrieves, the
    runner ingests, the knowledge base role embeds and writes vectors), each allowed everything
    by its own IAM: what they may do is what the stack's other policies leave them."""
    return {
        **principals(KNOWLEDGE_BASE_STACK),
        "knowledge base": KNOWLEDGE_BASE_ROLE,
        "function": Identity(stack.function_role_arn, (EVERYTHING,), ORG),
        "runner": Identity(stack.role_arns["knowledge-base-ingestion"], (EVERYTHING,), ORG),
    }


def test_only_the_knowledge_base_and_administrators_reach_the_vectors(
    simulator: Simulator, stacks: dict[str, StackPolicies]
) -> None:
    """Every S3 Vectors action on the vector bucket, its index and another index of it, by
    each principal class of any account, with and without the organization policies: the
    administrators anything; the knowledge base role (whatever its IAM) only an index's data;
    nobody else anything. (The role's own policy names its one index: test_access_matrix.)"""
    stack = stacks[KNOWLEDGE_BASE_STACK]
    assert stack.vector_bucket_arn is not None
    bucket = stack.vector_bucket_arn
    resources = {
        "vectorbucket": [bucket],
        "index": [f"{bucket}/index/chunks", f"{bucket}/index/another"],
    }
    everyone = knowledge_base_principals(stack)
    cases = [
        Case(
            KNOWLEDGE_BASE_STACK,
            who,
            "vector bucket",
            Request(identity, action.action, resource, origin=INTERNET, organization_policies=org),
        )
        for action in catalog.actions("s3vectors")
        for resource_type in action.resource_types[:1]
        for resource in resources[resource_type.lower()]
        for who, identity in everyone.items()
        for org in (False, True)
    ]

    def may_allow(case: Case) -> bool:
        return case.who == "administrator" or (
            case.who == "knowledge base" and case.request.action in policies.VECTOR_INDEX_ACTIONS
        )

    found = violations(cases, decide(simulator, stacks, cases), may_allow)
    assert len(cases) > 300, len(cases)
    assert not found, "\n".join(found[:40])


def test_the_vectors_key_serves_the_data_account_and_its_own_vector_bucket_only(
    simulator: Simulator, stacks: dict[str, StackPolicies]
) -> None:
    """Every KMS action on the vector bucket's key: another account never; the data account's
    principals through the key's delegation to IAM (as the data key: the vector bucket's policy
    keeps them from the vectors); S3 Vectors' indexing service Decrypt for this vector bucket
    only, not for another bucket of the account or a bucket of another account."""
    stack = stacks[KNOWLEDGE_BASE_STACK]
    assert stack.vector_bucket_arn is not None
    key_arn = stack.key_arns["knowledge-base-vectors-key"]
    indexing = Identity(policies.VECTORS_INDEXING_SERVICE)
    other_bucket = stack.vector_bucket_arn.rsplit("/", 1)[0] + "/another"
    callers = [
        *((who, identity, {}) for who, identity in knowledge_base_principals(stack).items()),
        *(
            (f"indexing for {name}", indexing, {"aws:SourceAccount": account, "aws:SourceArn": arn})
            for name, account, arn in (
                ("its bucket", DATA, stack.vector_bucket_arn),
                ("its bucket's index", DATA, f"{stack.vector_bucket_arn}/index/chunks"),
                ("another bucket", DATA, other_bucket),
                ("another account", THIEF, other_bucket.replace(DATA, THIEF)),
            )
        ),
    ]
    cases = [
        Case(
            KNOWLEDGE_BASE_STACK,
            who,
            "vectors key",
            Request(identity, action.action, key_arn, origin=INTERNET, context=context),
        )
        for action in catalog.actions("kms")
        if "key" in action.resource_types
        for who, identity, context in callers
    ]
    data_account = {"application", "over-privileged", "administrator", "knowledge base",
                    "function", "runner"}  # fmt: skip

    def may_allow(case: Case) -> bool:
        if case.who.startswith("indexing for its bucket"):
            return case.request.action == "kms:Decrypt"
        return case.who in data_account

    found = violations(cases, decide(simulator, stacks, cases), may_allow)
    assert len(cases) > 500, len(cases)
    assert not found, "\n".join(found[:40])


def test_knowledge_base_governance_and_retrieval(
    simulator: Simulator, stacks: dict[str, StackPolicies]
) -> None:
    """With the organization policies, every Bedrock action on the stack's knowledge base and
    on another of the account, by each principal class, from outside and through each of the
    VPC's Bedrock endpoints: only the function retrieves from the stack's, and only through the
    bedrock-agent-runtime endpoint; only the runner starts its ingestion; reading the data
    sources and jobs of a knowledge base is everyone's; everything else on a knowledge base
    (changes, documents written around the bucket, deletion) is the administrators'."""
    stack = stacks[KNOWLEDGE_BASE_STACK]
    ours = stack.knowledge_base_arn
    assert ours is not None
    other = f"arn:aws:bedrock:{REGION}:{DATA}:knowledge-base/OTHERKB001"
    paths = [
        (INTERNET, "bedrock-runtime"),
        (VPC, "bedrock-runtime"),
        (VPC, "bedrock-agent-runtime"),
    ]
    cases = [
        Case(
            KNOWLEDGE_BASE_STACK,
            who,
            f"{origin} {endpoint}",
            Request(
                identity,
                action.action,
                knowledge_base,
                origin=origin,
                endpoint=endpoint,
                organization_policies=True,
            ),
        )
        for action in catalog.actions("bedrock")
        if "knowledge-base" in action.resource_types
        for knowledge_base in (ours, other)
        for who, identity in knowledge_base_principals(stack).items()
        if who not in ("partner", "third account")
        for origin, endpoint in paths
    ]
    reads = {"bedrock:ListDataSources", "bedrock:GetIngestionJob"}

    def may_allow(case: Case) -> bool:
        r = case.request
        through_vpc = r.origin == VPC
        if r.action == "bedrock:Retrieve":
            if r.resource == ours:
                return case.who == "function" and case.path == "vpc bedrock-agent-runtime"
            return not through_vpc
        if through_vpc:
            return False  # neither endpoint serves anything else
        if r.action == "bedrock:StartIngestionJob":
            return case.who == "runner" if r.resource == ours else True
        return case.who == "administrator" or r.action in reads

    found = violations(cases, decide(simulator, stacks, cases), may_allow)
    assert len(cases) > 1000, len(cases)
    assert not found, "\n".join(found[:40])


def test_the_retrieval_endpoint_serves_the_stacks_knowledge_base_only(
    simulator: Simulator, stacks: dict[str, StackPolicies]
) -> None:
    """Every Bedrock action of the catalog, through the bedrock-agent-runtime endpoint, by
    each principal class allowed everything by its IAM, on the stack's knowledge base and on a
    resource of each kind: the endpoint alone (no organization policy) lets through retrieving
    from the stack's knowledge base, and nothing else."""
    stack = stacks[KNOWLEDGE_BASE_STACK]
    ours = stack.knowledge_base_arn
    assert ours is not None
    resources = service_resources(simulator, catalog.actions("bedrock"), DATA)
    cases = [
        Case(
            KNOWLEDGE_BASE_STACK,
            who,
            "bedrock-agent-runtime",
            Request(
                identity, action.action, resource, origin=VPC, endpoint="bedrock-agent-runtime"
            ),
        )
        for action in catalog.actions("bedrock")
        if action.action in resources
        for resource in {
            resources[action.action],
            *([ours] if "knowledge-base" in action.resource_types else []),
        }
        for who, identity in principals(KNOWLEDGE_BASE_STACK).items()
    ]

    def may_allow(case: Case) -> bool:
        r = case.request
        inside = case.who in ("application", "over-privileged", "administrator")
        return inside and r.action == "bedrock:Retrieve" and r.resource == ours

    found = violations(cases, decide(simulator, stacks, cases), may_allow)
    assert len(cases) > 1400, len(cases)
    assert not found, "\n".join(found[:40])
