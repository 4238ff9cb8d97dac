"""Bring your own VPC: what the stack adds to an existing VPC, what it leaves alone, and what it
refuses (at preview, from lookups) before creating anything there."""

from __future__ import annotations

import copy
import dataclasses
import re
from typing import Any

import pulumi
import pytest

from components.network import (
    EndpointFacts,
    Network,
    NetworkArgs,
    SubnetFacts,
    VpcFacts,
    endpoint_ids_in,
    existing_vpc_problems,
    existing_vpc_warnings,
)
from offline.runner import (
    ExistingEndpoint,
    ExistingNetwork,
    StackRun,
    load_stack_values,
    run_program,
    run_stack,
)
from tests.conftest import Refused, policy

PROJECT = "private-datalake"
VPC_ID = "vpc-0b7e2a41c9d35f681"
SUBNETS = ["subnet-0a3c5e7f9b1d2f4a6", "subnet-0c4e6a8b2d0f1e3c5"]
TABLES = ["rtb-0e1f2a3b4c5d6e7f8", "rtb-0f9e8d7c6b5a4f3e2"]
OTHER_VPC = "vpc-0aaaaaaaaaaaaaaaa"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
NETWORK = "datalake:index:Network"


# --- the byo-vpc example through the whole program -------------------------------------------


def test_nothing_of_the_vpc_itself_is_created(byo_vpc_run: StackRun) -> None:
    created = {r.type for r in byo_vpc_run.resources}
    assert not created & {
        "aws:ec2/vpc:Vpc",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/routeTable:RouteTable",
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        # Someone else's default security group is left as it is.
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        # The owner records the VPC's traffic.
        "aws:ec2/flowLog:FlowLog",
    }
    assert byo_vpc_run.outputs["vpcId"] == VPC_ID
    assert byo_vpc_run.outputs["subnetIds"] == SUBNETS


def test_endpoints_go_on_the_given_route_tables_and_subnets(byo_vpc_run: StackRun) -> None:
    endpoints = {e.inputs["serviceName"]: e for e in byo_vpc_run.of_type(ENDPOINT)}
    for service in ("s3", "dynamodb"):
        gateway = endpoints[f"com.amazonaws.us-east-1.{service}"]
        assert gateway.inputs["vpcId"] == VPC_ID
        assert gateway.inputs["routeTableIds"] == TABLES
    bedrock = endpoints["com.amazonaws.us-east-1.bedrock-runtime"]
    assert bedrock.inputs["subnetIds"] == SUBNETS
    assert bedrock.inputs["privateDnsEnabled"] is True
    assert set(byo_vpc_run.outputs["interfaceEndpointIds"]) == {"bedrock-runtime"}


def test_endpoint_group_admits_https_from_every_block_of_the_looked_up_vpc(
    byo_vpc_run: StackRun,
) -> None:
    group = byo_vpc_run.named(SECURITY_GROUP, "datalake-bedrock-runtime-endpoint")
    assert group.inputs["vpcId"] == VPC_ID
    [rule] = group.inputs["ingress"]
    # The mocked VPC has a secondary block: workloads there resolve the endpoint too.
    assert rule["cidrBlocks"] == ["10.60.0.0/16", "100.64.0.0/20"]
    assert group.inputs["egress"] == []


def test_function_runs_in_the_given_subnets_and_detaches_to_a_retained_empty_group(
    byo_vpc_run: StackRun,
) -> None:
    function = byo_vpc_run.named("aws:lambda/function:Function", "bedrock-function")
    assert function.inputs["vpcConfig"]["subnetIds"] == SUBNETS
    detached = byo_vpc_run.named(SECURITY_GROUP, "datalake-detached")
    assert (detached.inputs["ingress"], detached.inputs["egress"]) == ([], [])
    assert detached.inputs["vpcId"] == VPC_ID
    # Kept after destroy (AWS releases the function's interfaces later), not protected.
    assert detached.retain_on_delete
    assert not detached.protect
    # Captured resources carry no ids: the replacement is one group, not the function's own.
    [replacement] = function.inputs["replacementSecurityGroupIds"]
    assert replacement.startswith("sg-")
    assert replacement not in function.inputs["vpcConfig"]["securityGroupIds"]


def test_bucket_and_access_points_are_bound_to_the_stacks_endpoint_in_the_given_vpc(
    byo_vpc_run: StackRun,
) -> None:
    # The VPC may have other S3 endpoints (a landing zone's): only the stack's own one counts.
    bucket_policy = policy(byo_vpc_run.named("aws:s3/bucketPolicy:BucketPolicy", "data").inputs)
    [pinned] = [
        s
        for s in bucket_policy["Statement"]
        if s["Sid"] == "DenyDataAccountAccessPointsOutsideStackEndpoints"
    ]
    assert pinned["Condition"]["StringNotEquals"] == {
        "aws:SourceVpce": byo_vpc_run.outputs["s3GatewayEndpointId"]
    }
    assert VPC_ID not in str(bucket_policy)
    for access_point in byo_vpc_run.of_type("aws:s3/accessPoint:AccessPoint"):
        assert access_point.inputs["vpcConfiguration"] == {"vpcId": VPC_ID}


# --- refusals and warnings in a mocked deployment ---------------------------------------------


def byo_values() -> dict[str, Any]:
    return copy.deepcopy(load_stack_values("byo-vpc"))


def world(**changes: Any) -> ExistingNetwork:
    return dataclasses.replace(ExistingNetwork.for_config(byo_values()), **changes)


def refused(network: ExistingNetwork, values: dict[str, Any] | None = None) -> str:
    with pytest.raises(pulumi.RunError) as raised:
        run_stack("test", values=values or byo_values(), network=network)
    return str(raised.value)


def test_a_subnet_of_another_vpc_is_refused() -> None:
    base = ExistingNetwork.for_config(byo_values())
    message = refused(world(subnets={**base.subnets, SUBNETS[1]: (OTHER_VPC, "us-east-1b")}))
    assert message.startswith(f"cannot add to vpcId {VPC_ID}:")
    assert f"subnetIds[1]: {SUBNETS[1]} is in {OTHER_VPC}, not in vpcId" in message


def test_an_existing_s3_gateway_endpoint_on_a_given_route_table_is_refused() -> None:
    s3 = ExistingEndpoint(
        "vpce-0123456789abcdef0", VPC_ID, "s3", "Gateway", route_table_ids=(TABLES[0],)
    )
    message = refused(world(endpoints=(s3,)))
    assert re.search(
        rf"routeTableIds\[0\]: {TABLES[0]} already routes to s3 through a gateway "
        "endpoint; AWS refuses a second route",
        message,
    )


def test_an_interface_endpoint_with_private_dns_is_refused_with_its_id_to_reuse() -> None:
    bedrock = ExistingEndpoint(
        "vpce-0123456789abcdef0", VPC_ID, "bedrock-runtime", subnet_ids=(SUBNETS[0],)
    )
    message = refused(world(endpoints=(bedrock,)))
    assert (
        "interfaceEndpoints: vpc-0b7e2a41c9d35f681 already has vpce-0123456789abcdef0 "
        "for bedrock-runtime with private DNS" in message
    )
    assert "existingInterfaceEndpoints {bedrock-runtime: vpce-0123456789abcdef0}" in message


def test_nothing_is_created_in_the_vpc_when_a_check_fails() -> None:
    captured: list[StackRun] = []
    original = StackRun.__init__

    def remember(self: StackRun, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        captured.append(self)

    s3 = ExistingEndpoint(
        "vpce-0123456789abcdef0", VPC_ID, "s3", "Gateway", route_table_ids=(TABLES[1],)
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(StackRun, "__init__", remember)
        refused(world(endpoints=(s3,)))
    network = captured[0].named(NETWORK, "datalake")
    assert captured[0].children_of(network) == []
    assert not captured[0].of_type("aws:lambda/function:Function")


def test_a_reused_endpoint_is_not_created_and_its_groups_admit_the_function(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *a, **k: warnings.append(message))
    reused = ExistingEndpoint(
        "vpce-0123456789abcdef0",
        VPC_ID,
        "bedrock-runtime",
        subnet_ids=tuple(SUBNETS),
        security_group_ids=("sg-0123456789abcdef0",),
    )
    values = byo_values()
    values[f"{PROJECT}:network"]["existingInterfaceEndpoints"] = {"bedrock-runtime": reused.id}
    run = run_stack("test", values=values, network=world(endpoints=(reused,)))
    assert [e.inputs["vpcEndpointType"] for e in run.of_type(ENDPOINT)] == ["Gateway"] * 2
    assert not [g for g in run.of_type(SECURITY_GROUP) if g.name.endswith("-endpoint")]
    assert run.outputs["interfaceEndpointIds"] == {"bedrock-runtime": reused.id}
    function_group = run.named(SECURITY_GROUP, "bedrock-function")
    [to_endpoints] = [r for r in function_group.inputs["egress"] if r.get("securityGroups")]
    assert to_endpoints["securityGroups"] == ["sg-0123456789abcdef0"]
    [warning] = warnings
    assert warning.startswith(
        f"existingInterfaceEndpoints.bedrock-runtime: {reused.id} is reused as it is; its "
        "endpoint policy and security groups are its owner's"
    )


def test_a_default_route_is_a_warning_not_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *a, **k: warnings.append(message))
    run = run_stack(
        "test", values=byo_values(), network=world(default_routes=frozenset(TABLES[:1]))
    )
    assert run.of_type("aws:lambda/function:Function")
    [warning] = warnings
    assert warning.startswith(f"routeTableIds: {TABLES[0]} route to 0.0.0.0/0 or ::/0.")


# --- the decisions, on lookup results -----------------------------------------------------


def args(**changes: Any) -> NetworkArgs:
    base: NetworkArgs = {
        "region": "us-east-1",
        "account_id": "111111111111",
        "bucket_name": "team-data",
        "model_ids": ["amazon.nova-micro-v1:0"],
        "vpc_id": VPC_ID,
        "subnet_ids": SUBNETS,
        "route_table_ids": TABLES,
    }
    return {**base, **changes}  # type: ignore[typeddict-item]


def facts(**changes: Any) -> VpcFacts:
    base = VpcFacts(
        cidr_blocks=("10.60.0.0/16",),
        dns_support=True,
        dns_hostnames=True,
        subnets=(
            SubnetFacts(SUBNETS[0], VPC_ID, "us-east-1a", TABLES[0]),
            SubnetFacts(SUBNETS[1], VPC_ID, "us-east-1b", TABLES[1]),
        ),
        route_tables_in_vpc=frozenset(TABLES),
        gateway_routes={},
        default_routes=frozenset(),
        interface_endpoints=(),
        reused={},
    )
    return dataclasses.replace(base, **changes)


def endpoint(service: str = "bedrock-runtime", **changes: Any) -> EndpointFacts:
    base = EndpointFacts(
        "vpce-0123456789abcdef0",
        VPC_ID,
        f"com.amazonaws.us-east-1.{service}",
        "Interface",
        private_dns_enabled=True,
        state="available",
    )
    return dataclasses.replace(base, **changes)


def test_a_vpc_that_fits_has_no_problems() -> None:
    assert existing_vpc_problems(args(), facts()) == []
    assert existing_vpc_warnings(args(), facts()) == []


@pytest.mark.parametrize(
    ("found", "expected"),
    [
        (
            {
                "subnets": (
                    SubnetFacts(SUBNETS[0], VPC_ID, "us-east-1a", TABLES[0]),
                    SubnetFacts(SUBNETS[1], VPC_ID, "us-east-1a", TABLES[1]),
                )
            },
            rf"^subnetIds\[1\]: {SUBNETS[1]} is in us-east-1a like {SUBNETS[0]}; "
            "an interface endpoint takes one subnet per Availability Zone$",
        ),
        (
            {"subnets": (SubnetFacts(SUBNETS[0], VPC_ID, "us-east-1a", "rtb-0123456789abcdef0"),)},
            rf"^subnetIds\[0\]: {SUBNETS[0]} routes through rtb-0123456789abcdef0, "
            r"which is not in routeTableIds; the gateway endpoints go on",
        ),
        (
            {"route_tables_in_vpc": frozenset(TABLES[:1])},
            rf"^routeTableIds\[1\]: {TABLES[1]} is not a route table of "
            rf"vpcId {VPC_ID}$",
        ),
        (
            {"gateway_routes": {"dynamodb": frozenset(TABLES[1:])}},
            rf"^routeTableIds\[1\]: {TABLES[1]} already routes to dynamodb",
        ),
        (
            {"dns_hostnames": False},
            rf"^vpcId: {VPC_ID} needs DNS support and DNS hostnames turned on",
        ),
        (
            {"interface_endpoints": (endpoint(),)},
            r"^interfaceEndpoints: .* already has vpce-0123456789abcdef0 for bedrock-runtime "
            r"with private DNS.*existingInterfaceEndpoints \{bedrock-runtime: vpce-",
        ),
    ],
)
def test_each_problem_names_the_component_arg(found: dict[str, Any], expected: str) -> None:
    problems = existing_vpc_problems(args(), facts(**found))
    assert any(re.search(expected, p) for p in problems), problems


def test_an_endpoint_without_private_dns_does_not_clash() -> None:
    found = facts(interface_endpoints=(endpoint(private_dns_enabled=False),))
    assert existing_vpc_problems(args(), found) == []


@pytest.mark.parametrize(
    ("reused", "expected"),
    [
        (endpoint(vpc_id=OTHER_VPC), f"is in {OTHER_VPC}, not in {VPC_ID}"),
        (endpoint(type="Gateway"), "is a Gateway endpoint, not an interface one"),
        (endpoint("sts"), "serves com.amazonaws.us-east-1.sts, not bedrock-runtime"),
        (
            endpoint(private_dns_enabled=False),
            "has private DNS turned off, so the service's name would not lead to it",
        ),
        (endpoint(state="rejected"), "is rejected, not available"),
    ],
)
def test_a_reused_endpoint_must_be_an_interface_endpoint_of_the_vpc_with_private_dns(
    reused: EndpointFacts, expected: str
) -> None:
    problems = existing_vpc_problems(
        args(existing_interface_endpoints={"bedrock-runtime": reused.id}),
        facts(reused={"bedrock-runtime": reused}),
    )
    assert problems == [f"existingInterfaceEndpoints.bedrock-runtime: {reused.id} {expected}"]


def test_endpoint_ids_come_from_their_interfaces_descriptions() -> None:
    assert endpoint_ids_in(
        [
            "VPC Endpoint Interface vpce-0b2",
            "VPC Endpoint Interface vpce-0a1",
            "VPC Endpoint Interface vpce-0a1",
            "ELB app/web/123",
        ]
    ) == ["vpce-0a1", "vpce-0b2"]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"vpc_id": None}, "cidrBlock: is required, unless vpcId"),
        ({"subnet_ids": []}, "subnetIds: is required with vpcId"),
        ({"cidr_block": "10.0.0.0/16"}, "cidrBlock: comes from the VPC vpcId names"),
        ({"availability_zones": 2}, "availabilityZones: are those of subnetIds"),
        ({"flow_logs": True}, "flowLogs: a VPC the component does not own"),
        (
            {"existing_interface_endpoints": {"sts": "vpce-1"}},
            "existingInterfaceEndpoints.sts: 'sts' is not in interfaceEndpoints",
        ),
    ],
)
def test_args_that_contradict_each_other_are_refused_before_registering_anything(
    refused: Refused, changes: dict[str, Any], expected: str
) -> None:
    bad = {k: v for k, v in args(**changes).items() if v is not None}
    problems = refused(lambda: Network("net", bad))  # type: ignore[arg-type]
    assert any(p.startswith(expected) for p in problems), problems


def test_the_network_alone_adds_to_an_existing_vpc() -> None:
    network = ExistingNetwork.for_config(byo_values())
    run = run_program(lambda: Network("net", args()), network=network)
    assert not run.of_type("aws:ec2/vpc:Vpc")
    assert not run.of_type("aws:ec2/flowLog:FlowLog")
    assert {e.inputs["vpcId"] for e in run.of_type(ENDPOINT)} == {VPC_ID}
    assert run.named(SECURITY_GROUP, "net-detached").inputs["vpcId"] == VPC_ID
