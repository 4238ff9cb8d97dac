"""Upgrading a stack the program created before PrivateDataLake existed replaces nothing:
every resource it holds is found again under its old URN, through the aliases the new
resources carry (resolved as the engine resolves them: a child also answers to its name under
each URN its parent answers to)."""

from functools import cache
from pathlib import Path

import pytest

from offline.runner import CapturedResource, StackRun

SNAPSHOTS = Path(__file__).resolve().parent / "data"
STACK_TYPE = "pulumi:pulumi:Stack"


def urns_before(stack: str) -> set[str]:
    """What the program registered before the package refactor (tests/data/urns-STACK.txt:
    offline.runner.run_stack's URNs from the program of that commit, named as the engine
    names them: the mock monitor also puts the stack's type before its children's)."""
    return set((SNAPSHOTS / f"urns-{stack}.txt").read_text().split())


def answers_to(run: StackRun) -> dict[str, set[str]]:
    """Every URN (as the engine builds them from types, names and parents) each resource of
    the run answers to, by its own URN."""
    by_urn = {r.urn: r for r in run.resources}

    def urn(parent_urn: str | None, type_token: str, name: str) -> str:
        stack, project = run.resources[0].urn.split("::")[0:2]
        chain = type_token if parent_urn is None else f"{parent_urn.split('::')[2]}${type_token}"
        return f"{stack}::{project}::{chain}::{name}"

    @cache
    def names(resource_urn: str) -> frozenset[str]:
        resource: CapturedResource = by_urn[resource_urn]
        parents: set[str | None] = (
            {None} if resource.parent not in by_urn else {*names(resource.parent)}
        )
        found = {urn(p, resource.type, resource.name) for p in parents}
        for alias in resource.aliases:
            if "urn" in alias:
                found.add(alias["urn"])
                continue
            alias_parents = (
                {None}
                if alias["noParent"]
                else ({alias["parentUrn"]} if alias["parentUrn"] else parents)
            )
            found |= {
                urn(p, alias["type"] or resource.type, alias["name"] or resource.name)
                for p in alias_parents
            }
        return frozenset(found)

    return {r.urn: set(names(r.urn)) for r in run.resources if r.type != STACK_TYPE}


# The resources of one bucket made by storage.hardened_bucket.
HARDENED_BUCKET_TYPES = [
    f"aws:s3/{kind}"
    for kind in (
        "bucket:Bucket",
        "bucketPublicAccessBlock:BucketPublicAccessBlock",
        "bucketOwnershipControls:BucketOwnershipControls",
        "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "bucketVersioning:BucketVersioning",
        "bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "bucketPolicy:BucketPolicy",
        "bucketLogging:BucketLogging",
    )
]


def hardened_bucket(name: str) -> list[tuple[str, str]]:
    return [(kind, name) for kind in HARDENED_BUCKET_TYPES]


# 0.4.0's scanner-clean stack: the keys of the logs and of the function, and the function's
# signed code (artifact bucket, object, signing profile and job, code-signing configuration).
SIGNED_CODE = [
    ("aws:kms/key:Key", "bedrock-key"),
    ("aws:kms/key:Key", "datalake-flow-logs"),
    ("aws:lambda/codeSigningConfig:CodeSigningConfig", "bedrock-code-signing"),
    ("aws:s3/bucketObjectv2:BucketObjectv2", "bedrock-code"),
    ("aws:signer/signingJob:SigningJob", "bedrock-code"),
    ("aws:signer/signingProfile:SigningProfile", "bedrock-signing"),
    *hardened_bucket("bedrock-artifacts"),
]
# prod's knowledge base (0.4.0): the component and what it holds, its endpoint, and the alarms
# on its ingestion.
KNOWLEDGE_BASE = [
    ("datalake:index:KnowledgeBase", "knowledge-base"),
    ("aws:kms/key:Key", "knowledge-base-vectors-key"),
    ("aws:kms/alias:Alias", "knowledge-base-vectors-key"),
    ("aws:s3/vectorsVectorBucket:VectorsVectorBucket", "knowledge-base-vectors"),
    ("aws:s3/vectorsVectorBucketPolicy:VectorsVectorBucketPolicy", "knowledge-base-vectors"),
    ("aws:s3/vectorsIndex:VectorsIndex", "knowledge-base-index"),
    ("aws:bedrock/agentKnowledgeBase:AgentKnowledgeBase", "knowledge-base"),
    ("aws:bedrock/agentDataSource:AgentDataSource", "knowledge-base-curated"),
    *[
        (kind, role)
        for role in (
            "knowledge-base-role",
            "knowledge-base-ingestion",
            "knowledge-base-ingestion-trigger",
        )
        for kind in ("aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy")
    ],
    ("aws:sfn/stateMachine:StateMachine", "knowledge-base-ingestion"),
    ("aws:cloudwatch/eventRule:EventRule", "knowledge-base-changed"),
    ("aws:cloudwatch/eventTarget:EventTarget", "knowledge-base-changed"),
    ("aws:scheduler/schedule:Schedule", "knowledge-base-ingestion"),
    ("aws:ec2/securityGroup:SecurityGroup", "datalake-bedrock-agent-runtime-endpoint"),
    ("aws:ec2/vpcEndpoint:VpcEndpoint", "datalake-bedrock-agent-runtime-interface"),
    *[
        ("aws:cloudwatch/metricAlarm:MetricAlarm", f"alarms-ingestion-{outcome}")
        for outcome in ("failed", "timedout", "aborted")
    ],
]
# Resources added by later versions, created beside the existing ones when such a stack is
# updated (type, name).
ADDED_SINCE: dict[str, list[tuple[str, str]]] = {
    "dev": SIGNED_CODE,
    "prod": [
        *SIGNED_CODE,
        # prod owns invocation logging: its key; it traces, through an xray endpoint.
        ("aws:kms/key:Key", "models-invocation-logs"),
        ("aws:ec2/securityGroup:SecurityGroup", "datalake-xray-endpoint"),
        ("aws:ec2/vpcEndpoint:VpcEndpoint", "datalake-xray-interface"),
        # Its Athena access point's workgroup and results bucket, reached through Athena's own
        # interface endpoint; the alarm on changes to invocation logging.
        ("aws:athena/workgroup:Workgroup", "data-athena-curated"),
        *hardened_bucket("data-athena-results"),
        ("aws:ec2/securityGroup:SecurityGroup", "datalake-athena-endpoint"),
        ("aws:ec2/vpcEndpoint:VpcEndpoint", "datalake-athena-interface"),
        ("aws:cloudwatch/eventRule:EventRule", "alarms-invocation-logging-changed"),
        ("aws:cloudwatch/eventTarget:EventTarget", "alarms-invocation-logging-changed"),
        *KNOWLEDGE_BASE,
    ],
}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_an_existing_stack_upgrades_without_replacing_anything(
    stack: str, request: pytest.FixtureRequest
) -> None:
    run: StackRun = request.getfixturevalue(f"{stack}_run")
    before = urns_before(stack)
    answers = answers_to(run)
    found = {old: [new for new, urns in answers.items() if old in urns] for old in before}
    # Each resource of the existing stack is one resource of the new program...
    assert {old: len(new) for old, new in found.items() if len(new) != 1} == {}
    # ...and what the upgrade creates is the component that now holds them, and what later
    # versions added beside them (ADDED_SINCE).
    created = [run.by_urn(new) for new, urns in answers.items() if not urns & before]
    assert sorted((r.type, r.name) for r in created) == sorted(
        [("datalake:index:PrivateDataLake", "datalake"), *ADDED_SINCE[stack]]
    )


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_log_groups_keep_their_names_so_their_records_stay(
    stack: str, request: pytest.FixtureRequest
) -> None:
    """A log group's name cannot change in place: the ones stacks created auto-named stay
    auto-named (their keys' policies match the names autonaming gives, see
    components/encryption.py); the invocation log group had a name from the start."""
    run: StackRun = request.getfixturevalue(f"{stack}_run")
    named = {r.name: r.inputs.get("name") for r in run.of_type("aws:cloudwatch/logGroup:LogGroup")}
    assert named.pop("models-invocation-logs", None) in (
        None,
        "/aws/bedrock/modelinvocations/private-datalake-prod",
    )
    assert named == {"bedrock-logs": None, "datalake-flow-logs": None}
