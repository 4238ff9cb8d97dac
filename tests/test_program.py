"""Program-wide guarantees: account guard, component structure, stack outputs."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from offline.runner import StackRun, run_stack

LAKE = "datalake:index:PrivateDataLake"
COMPONENTS = {
    "datalake:index:Network",
    "datalake:index:DataBucket",
    "datalake:index:AccessPoints",
    "datalake:index:BedrockFunction",
    "datalake:index:ModelGovernance",
    "datalake:index:Alarms",
}
KNOWLEDGE_BASE = "datalake:index:KnowledgeBase"  # with bedrock.knowledgeBase only (prod)


def test_every_resource_goes_through_a_provider_pinned_to_its_account(
    example_run: StackRun,
) -> None:
    partner_access_points = {"partner-share"}
    for resource in example_run.resources:
        if not resource.custom or resource.type == "pulumi:providers:aws":
            continue
        # No default provider: credentials for another account stop the deployment.
        assert resource.provider, resource.name
        expected = (
            "222222222222"
            if resource.inputs.get("name") in partner_access_points
            else "111111111111"
        )
        assert example_run.account_of(resource) == expected, resource.name


def test_the_data_account_provider_is_guarded_and_tags_everything(dev_run: StackRun) -> None:
    provider = dev_run.named("pulumi:providers:aws", "data-account")
    assert json.loads(provider.inputs["allowedAccountIds"]) == ["111111111111"]
    assert provider.inputs["region"] == "us-east-1"
    tags = json.loads(provider.inputs["defaultTags"])["tags"]
    assert tags == {"project": "private-datalake", "stack": "dev", "managed-by": "pulumi"}


def test_provider_function_calls_use_the_guarded_provider(example_run: StackRun) -> None:
    provider = example_run.named("pulumi:providers:aws", "data-account")
    network_lookups = (
        {
            f"aws:ec2/{name}:{name}"
            for name in (
                "getVpc",
                "getSubnet",
                "getRouteTables",
                "getPrefixList",
                "getNetworkInterfaces",
            )
        }
        if example_run.stack == "byo-vpc"
        else {"aws:index/getAvailabilityZones:getAvailabilityZones"}
    )
    assert {token for token, _ref in example_run.calls} == {
        *network_lookups,
        "aws:index/getCallerIdentity:getCallerIdentity",
        "aws:iam/getSessionContext:getSessionContext",
    }
    assert {ref.rsplit("::", 1)[0] for _token, ref in example_run.calls} == {provider.urn}


def test_each_concern_is_a_component_and_owns_its_resources(example_run: StackRun) -> None:
    [lake] = example_run.of_type(LAKE)
    components = [r for r in example_run.resources if not r.custom and r.type != LAKE]
    # prod's knowledge base is one more concern
    knowledge_base = {KNOWLEDGE_BASE} if example_run.stack == "prod" else set()
    assert {c.type for c in components} == COMPONENTS | knowledge_base
    assert {c.parent for c in components} == {lake.urn}
    component_urns = {c.urn for c in components}
    loose = [
        r.name
        for r in example_run.resources
        if r.custom and r.parent not in component_urns and r.type != "pulumi:providers:aws"
    ]
    assert loose == []
    # The program is read config, then PrivateDataLake: the stack holds nothing else.
    stack = {r.parent for r in example_run.resources if r.type == LAKE}
    assert [r.type for r in example_run.resources if r.parent in stack] == [LAKE]


def test_stack_outputs_are_small_and_useful(example_run: StackRun) -> None:
    outputs = example_run.outputs
    assert set(outputs) == {
        "region",
        "vpcId",
        "subnetIds",
        "s3GatewayEndpointId",
        "interfaceEndpointIds",
        "bucketName",
        "kmsKeyArn",
        "accessPoints",
        "functionName",
        "functionArn",
        "invokeCommand",
        "organizationPolicies",
        # Only with bucket.kmsKeyArn (prod): what that key's policy must add; only with an
        # Athena access point (prod): its workgroup; only with a knowledge base (prod): its id
        # and the commands that ingest and ask.
        *(
            [
                "dataKeyPolicyStatements",
                "athenaWorkgroups",
                "knowledgeBaseId",
                "ingestCommand",
                "askCommand",
            ]
            if example_run.stack == "prod"
            else []
        ),
    }
    assert set(outputs["organizationPolicies"]) == {
        "serviceControlPolicy",
        "bedrockServiceControlPolicy",
        "regionServiceControlPolicy",
        "resourceControlPolicy",
        *(["knowledgeBaseServiceControlPolicy"] if example_run.stack == "prod" else []),
    }
    assert outputs["bucketName"] == f"private-datalake-{example_run.stack}-111111111111"
    assert outputs["functionArn"].endswith(":function:" + outputs["functionName"])


SSO = "arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com"


@pytest.mark.parametrize(
    ("deployer", "kind"),
    [
        (f"{SSO}/AWSReservedSSO_PowerUser_0a1b2c3d4e5f6789", "an IAM Identity Center role"),
        (f"{SSO}/eu-west-1/AWSReservedSSO_PowerUser_0a1b2c3d4e5f6789", "an IAM Identity Center"),
        ("arn:aws:iam::111111111111:user/alice", "an IAM user"),
    ],
)
def test_only_a_dedicated_role_becomes_an_administrator_implicitly(
    deployer: str, kind: str, dev_values: dict[str, Any]
) -> None:
    """Whoever deploys administers the data; a role every user of a permission set shares, or
    an IAM user, stops the deployment (and the preview) with what to write instead."""
    with pytest.raises(pulumi.RunError) as raised:
        run_stack("dev", values=dev_values, deployer_arn=deployer)
    message = str(raised.value)
    assert f"the deploying principal {deployer} is {kind}" in message
    assert "bucket.adminRoleArns" in message
    assert "bucket.adminPermissionSets" in message


def test_a_deployer_named_on_purpose_deploys(dev_values: dict[str, Any]) -> None:
    sso_role = f"{SSO}/eu-west-1/AWSReservedSSO_DataAdmin_0a1b2c3d4e5f6789"
    dev_values["private-datalake:bucket"]["adminPermissionSets"] = ["DataAdmin"]
    run_stack("dev", values=dev_values, deployer_arn=sso_role)
    user = "arn:aws:iam::111111111111:user/break-glass"
    dev_values["private-datalake:bucket"]["adminRoleArns"].append(user)
    run = run_stack("dev", values=dev_values, deployer_arn=user)
    data_policy = json.loads(run.named("aws:s3/bucketPolicy:BucketPolicy", "data").inputs["policy"])
    assert user in json.dumps(data_policy)
