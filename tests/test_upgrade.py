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
ATHENA_RESULTS_BUCKET = [
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketLogging:BucketLogging",
]
# prod's knowledge base (0.4.0): the component and everything it holds, its endpoint, and the
# alarms on its ingestion.
KNOWLEDGE_BASE = [
    "datalake:index:KnowledgeBase",
    "aws:kms/key:Key",
    "aws:kms/alias:Alias",
    "aws:s3/vectorsVectorBucket:VectorsVectorBucket",
    "aws:s3/vectorsVectorBucketPolicy:VectorsVectorBucketPolicy",
    "aws:s3/vectorsIndex:VectorsIndex",
    "aws:bedrock/agentKnowledgeBase:AgentKnowledgeBase",
    "aws:bedrock/agentDataSource:AgentDataSource",
    *["aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy"] * 3,
    "aws:sfn/stateMachine:StateMachine",
    "aws:cloudwatch/eventRule:EventRule",
    "aws:cloudwatch/eventTarget:EventTarget",
    "aws:scheduler/schedule:Schedule",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/vpcEndpoint:VpcEndpoint",
    *["aws:cloudwatch/metricAlarm:MetricAlarm"] * 3,
]
# Resources added by later versions, created when such a stack is updated.
ADDED_SINCE = {
    "dev": [],
    "prod": [
        *ATHENA_RESULTS_BUCKET,
        "aws:athena/workgroup:Workgroup",
        # prod's example now reaches Athena through its own interface endpoint
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "aws:cloudwatch/eventRule:EventRule",
        "aws:cloudwatch/eventTarget:EventTarget",
        *KNOWLEDGE_BASE,
    ],
}


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
    # versions added beside them (0.4.0: Athena's workgroups, results bucket and endpoint, the
    # alarm on changes to invocation logging).
    created = [new for new, urns in answers.items() if not urns & before]
    assert sorted(run.by_urn(urn).type for urn in created) == sorted(
        ["datalake:index:PrivateDataLake", *ADDED_SINCE[stack]]
    )
