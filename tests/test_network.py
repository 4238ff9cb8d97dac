"""The data-lake VPC guarantees, asserted on what the program registers."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components import policies
from components.network import DEFAULT_AVAILABILITY_ZONES, Network, NetworkArgs, subnet_cidrs
from offline.runner import StackRun
from tests.conftest import Refused, policy

VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"


def expected_azs(run: StackRun) -> int:
    return {"dev": 2, "prod": 3}[run.stack]


def test_vpc_has_dns_support_and_hostnames_for_private_dns(own_vpc_run: StackRun) -> None:
    [vpc] = own_vpc_run.of_type(VPC)
    assert vpc.inputs["enableDnsSupport"] is True
    assert vpc.inputs["enableDnsHostnames"] is True


def test_nothing_reaches_the_internet(example_run: StackRun) -> None:
    forbidden = {
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway",
        "aws:ec2/route:Route",
        "aws:ec2/eip:Eip",
        "aws:ec2/internetGatewayAttachment:InternetGatewayAttachment",
    }
    assert not [r.name for r in example_run.resources if r.type in forbidden]
    for route_table in example_run.of_type(ROUTE_TABLE):
        assert route_table.inputs.get("routes", []) == []


def test_one_private_subnet_per_az_carved_from_the_vpc_block(own_vpc_run: StackRun) -> None:
    [vpc] = own_vpc_run.of_type(VPC)
    block = ipaddress.IPv4Network(vpc.inputs["cidrBlock"])
    subnets = sorted(own_vpc_run.of_type(SUBNET), key=lambda s: s.name)
    assert len(subnets) == expected_azs(own_vpc_run)
    assert len({s.inputs["availabilityZone"] for s in subnets}) == len(subnets)
    for subnet in subnets:
        assert subnet.inputs["mapPublicIpOnLaunch"] is False
        assert ipaddress.IPv4Network(subnet.inputs["cidrBlock"]).subnet_of(block)
    cidrs = [ipaddress.IPv4Network(s.inputs["cidrBlock"]) for s in subnets]
    assert not any(a.overlaps(b) for i, a in enumerate(cidrs) for b in cidrs[i + 1 :])


def test_subnet_layout_is_stable_when_azs_are_added() -> None:
    assert subnet_cidrs("10.40.0.0/16", 2) == ["10.40.0.0/19", "10.40.32.0/19"]
    assert subnet_cidrs("10.40.0.0/16", 3)[:2] == subnet_cidrs("10.40.0.0/16", 2)
    assert subnet_cidrs("10.0.0.0/24", 6)[-1] == "10.0.0.160/27"
    with pytest.raises(ValueError, match="between 1 and 8"):
        subnet_cidrs("10.0.0.0/16", 9)


def test_every_subnet_has_its_own_route_table(own_vpc_run: StackRun) -> None:
    associations = own_vpc_run.of_type(ASSOCIATION)
    assert len(associations) == expected_azs(own_vpc_run)
    assert len({a.inputs["routeTableId"] for a in associations}) == len(associations)
    assert len({a.inputs["subnetId"] for a in associations}) == len(associations)


def test_default_security_group_is_emptied(own_vpc_run: StackRun) -> None:
    [default_sg] = own_vpc_run.of_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default_sg.inputs.get("ingress", []) == []
    assert default_sg.inputs.get("egress", []) == []


def gateway(run: StackRun, service: str) -> Any:
    [endpoint] = [
        e
        for e in run.of_type(ENDPOINT)
        if e.inputs["serviceName"] == f"com.amazonaws.{run.region}.{service}"
    ]
    return endpoint


@pytest.mark.parametrize("service", ["s3", "dynamodb"])
def test_gateway_endpoints_sit_on_every_route_table_with_a_policy(
    own_vpc_run: StackRun, service: str
) -> None:
    endpoint = gateway(own_vpc_run, service)
    assert endpoint.inputs["vpcEndpointType"] == "Gateway"
    associations = own_vpc_run.of_type(ASSOCIATION)
    assert sorted(endpoint.inputs["routeTableIds"]) == sorted(
        a.inputs["routeTableId"] for a in associations
    )
    statements = policy(endpoint.inputs)["Statement"]
    assert statements
    assert all(s["Resource"] not in ("*", ["*"]) for s in statements)


def test_dynamodb_endpoint_reaches_only_the_data_accounts_tables(example_run: StackRun) -> None:
    [statement] = policy(gateway(example_run, "dynamodb").inputs)["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == "arn:aws:dynamodb:us-east-1:111111111111:table/*"


def interface_endpoints(run: StackRun) -> dict[str, Any]:
    prefix = f"com.amazonaws.{run.region}."
    return {
        e.inputs["serviceName"].removeprefix(prefix): e
        for e in run.of_type(ENDPOINT)
        if e.inputs["vpcEndpointType"] == "Interface"
    }


def test_interface_endpoints_from_config_in_every_subnet_with_private_dns(
    example_run: StackRun,
) -> None:
    endpoints = interface_endpoints(example_run)
    expected = {
        "dev": {"bedrock-runtime"},
        # function.tracing adds xray; prod's knowledge base, bedrock-agent-runtime.
        "prod": {"bedrock-runtime", "sts", "logs", "athena", "xray", "bedrock-agent-runtime"},
        "byo-vpc": {"bedrock-runtime"},
    }
    assert set(endpoints) == expected[example_run.stack]
    subnet_ids = set(example_run.outputs["subnetIds"])
    security_groups = set()
    for endpoint in endpoints.values():
        assert endpoint.inputs["privateDnsEnabled"] is True
        assert set(endpoint.inputs["subnetIds"]) == subnet_ids
        assert len(endpoint.inputs["securityGroupIds"]) == 1
        security_groups.add(endpoint.inputs["securityGroupIds"][0])
        assert policy(endpoint.inputs)["Statement"]
    assert len(security_groups) == len(endpoints), "each endpoint has its own security group"


def test_endpoint_security_groups_accept_https_from_the_vpc_only(own_vpc_run: StackRun) -> None:
    [vpc] = own_vpc_run.of_type(VPC)
    endpoint_groups = [
        g for g in own_vpc_run.of_type(SECURITY_GROUP) if g.name.endswith("-endpoint")
    ]
    assert len(endpoint_groups) == len(interface_endpoints(own_vpc_run))
    for group in endpoint_groups:
        [rule] = group.inputs["ingress"]
        assert (rule["protocol"], rule["fromPort"], rule["toPort"]) == ("tcp", 443, 443)
        assert rule["cidrBlocks"] == [vpc.inputs["cidrBlock"]]
        assert group.inputs["egress"] == []


def test_interface_endpoints_serve_the_perimeters_principals_on_its_resources(
    prod_run: StackRun, dev_values: dict[str, Any], run_with: Any
) -> None:
    """prod sets organizationId: the organization is the perimeter. Without it, the account."""
    endpoints = interface_endpoints(prod_run)
    [sts] = policy(endpoints["sts"].inputs)["Statement"]
    assert set(sts["Action"]) == set(policies.INTERFACE_ENDPOINT_ACTIONS["sts"])
    assert sts["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5", "aws:ResourceOrgID": "o-a1b2c3d4e5"}
    }
    # Subscription filters, destinations and exports would carry logs out: not served.
    [logs] = policy(endpoints["logs"].inputs)["Statement"]
    assert set(logs["Action"]) == set(policies.INTERFACE_ENDPOINT_ACTIONS["logs"])
    assert not {"logs:PutSubscriptionFilter", "logs:CreateExportTask"} & set(logs["Action"])

    dev_values["private-datalake:network"]["interfaceEndpoints"] = ["bedrock-runtime", "sts"]
    [sts] = policy(interface_endpoints(run_with(dev_values))["sts"].inputs)["Statement"]
    assert sts["Condition"] == {
        "StringEquals": {
            "aws:PrincipalAccount": "111111111111",
            "aws:ResourceAccount": "111111111111",
        }
    }


def test_flow_logs_capture_all_traffic_with_retention(own_vpc_run: StackRun) -> None:
    [flow_log] = own_vpc_run.of_type("aws:ec2/flowLog:FlowLog")
    assert flow_log.inputs["trafficType"] == "ALL"
    log_groups = {
        g.outputs["arn"]: g for g in own_vpc_run.of_type("aws:cloudwatch/logGroup:LogGroup")
    }
    destination = log_groups[flow_log.inputs["logDestination"]]
    assert destination.inputs["retentionInDays"] == {"dev": 30, "prod": 365}[own_vpc_run.stack]
    trust = policy(
        next(
            r for r in own_vpc_run.of_type("aws:iam/role:Role") if r.name.endswith("flow-logs")
        ).inputs,
        "assumeRolePolicy",
    )
    [statement] = trust["Statement"]
    assert statement["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "111111111111"}}


def test_flow_logs_can_be_turned_off(dev_values: dict[str, Any], run_with: Any) -> None:
    dev_values["private-datalake:network"]["flowLogs"] = False
    run = run_with(dev_values)
    assert run.of_type("aws:ec2/flowLog:FlowLog") == []


def test_network_outputs(own_vpc_run: StackRun) -> None:
    network = own_vpc_run.named("datalake:index:Network", "datalake")
    children = own_vpc_run.children_of(network)
    assert {c.type for c in children} >= {VPC, SUBNET, ROUTE_TABLE, ENDPOINT, SECURITY_GROUP}
    outputs = own_vpc_run.outputs
    assert outputs["vpcId"].startswith("vpc-")
    assert len(outputs["subnetIds"]) == expected_azs(own_vpc_run)
    assert outputs["s3GatewayEndpointId"].startswith("vpce-")
    assert set(outputs["interfaceEndpointIds"]) == set(interface_endpoints(own_vpc_run))


def test_availability_zones_come_from_the_region_without_local_zones(
    own_vpc_run: StackRun,
) -> None:
    zone_lookups = [
        token
        for token, _provider in own_vpc_run.calls
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones"
    ]
    assert len(zone_lookups) == 1
    zones = sorted(s.inputs["availabilityZone"] for s in own_vpc_run.of_type(SUBNET))
    assert zones == [f"us-east-1{c}" for c in "abc"[: expected_azs(own_vpc_run)]]


# --- The building block alone, from its own args -------------------------------------------

NETWORK_ARGS: NetworkArgs = {
    "region": "us-east-1",
    "account_id": "111111111111",
    "cidr_block": "10.9.0.0/16",
    "bucket_name": "team-data",
    "model_ids": ["amazon.nova-micro-v1:0"],
}


def test_network_alone_gets_the_secure_defaults(
    build: Callable[[Callable[[], object]], StackRun],
) -> None:
    run = build(lambda: Network("net", NETWORK_ARGS))
    assert len(run.of_type("aws:ec2/subnet:Subnet")) == DEFAULT_AVAILABILITY_ZONES
    [interface] = [
        r
        for r in run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if r.inputs["vpcEndpointType"] == "Interface"
    ]
    assert interface.inputs["serviceName"] == "com.amazonaws.us-east-1.bedrock-runtime"
    assert run.of_type("aws:ec2/flowLog:FlowLog")
    s3 = run.named("aws:ec2/vpcEndpoint:VpcEndpoint", "net-s3-gateway")
    assert "arn:aws:s3:::team-data" in s3.inputs["policy"]
    assert not run.of_type("aws:ec2/internetGateway:InternetGateway")


def test_network_alone_refuses_bad_args_before_registering_anything(refused: Refused) -> None:
    bad: NetworkArgs = {**NETWORK_ARGS, "availability_zones": 9, "model_ids": []}
    problems = refused(lambda: Network("net", bad))
    assert [p.split(":")[0] for p in problems] == ["availabilityZones", "modelIds"]


def test_the_bedrock_endpoint_names_the_guardrail_version_and_profiles_it_is_given(
    build: Callable[[Callable[[], object]], StackRun],
) -> None:
    guardrail = "arn:aws:bedrock:us-east-1:111111111111:guardrail/abc"
    profile = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/p1"
    run = build(
        lambda: Network(
            "net",
            {
                **NETWORK_ARGS,
                "guardrail_arn": pulumi.Output.from_input(guardrail),
                "guardrail_version": "2",
                "routes": pulumi.Output.from_input({"amazon.nova-micro-v1:0": profile}),
            },
        )
    )
    endpoint = run.named("aws:ec2/vpcEndpoint:VpcEndpoint", "net-bedrock-runtime-interface")
    statements = {s["Sid"]: s for s in json.loads(endpoint.inputs["policy"])["Statement"]}
    invoke = statements["InvokeConfiguredModels"]
    assert invoke["Resource"] == profile
    assert invoke["Condition"]["StringEquals"]["bedrock:GuardrailIdentifier"] == f"{guardrail}:2"


def test_a_guardrail_given_but_unresolved_fails_the_endpoint_instead_of_opening_it(
    build: Callable[[Callable[[], object]], StackRun],
) -> None:
    with pytest.raises(Exception, match="resolved to nothing"):
        build(
            lambda: Network(
                "net",
                {
                    **NETWORK_ARGS,
                    "guardrail_arn": pulumi.Output.from_input(""),
                    "guardrail_version": "1",
                },
            )
        )


def test_network_alone_refuses_a_service_without_a_vetted_list(refused: Refused) -> None:
    unvetted: NetworkArgs = {**NETWORK_ARGS, "interface_endpoints": ["bedrock-runtime", "ec2"]}
    [problem] = refused(lambda: Network("net", unvetted))
    assert problem.startswith("interfaceEndpoints[1]: 'ec2' has no vetted action list")
