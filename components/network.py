"""The data-lake VPC: private subnets only, reaching AWS services through VPC endpoints."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import policies

HTTPS = 443
SUBNET_SLOTS_BITS = 3


def subnet_cidrs(cidr_block: str, count: int) -> list[str]:
    """The first ``count`` of 8 equal slots of the VPC block, one subnet per AZ.

    Always 8 slots, whatever the count: adding an AZ later adds a subnet and never renumbers
    (and so replaces) the existing ones.
    """
    network = ipaddress.IPv4Network(cidr_block)
    slots = list(network.subnets(prefixlen_diff=SUBNET_SLOTS_BITS))
    if not 1 <= count <= len(slots):
        raise ValueError(f"between 1 and {len(slots)} subnets fit, not {count}")
    return [str(slot) for slot in slots[:count]]


def endpoint_service_name(region: str, service: str) -> str:
    return f"com.amazonaws.{region}.{service}"


@dataclass(frozen=True)
class InterfaceEndpointSpec:
    """One PrivateLink endpoint: the short service name and its endpoint policy (JSON)."""

    service: str
    policy: pulumi.Input[str]


@dataclass(frozen=True)
class DataLakeNetworkArgs:
    """Inputs of :class:`DataLakeNetwork`."""

    region: str
    """The Region the VPC is in; endpoint service names are built from it."""
    account_id: str
    """The account the VPC lives in; binds the flow-log role's trust to it."""
    cidr_block: str
    """Private IPv4 block of the VPC; cut into 8 slots, one subnet per AZ."""
    availability_zone_count: int
    """How many AZs get a private subnet (1-6)."""
    s3_endpoint_policy: pulumi.Input[str]
    """Policy of the S3 gateway endpoint (JSON)."""
    dynamodb_endpoint_policy: pulumi.Input[str]
    """Policy of the DynamoDB gateway endpoint (JSON)."""
    interface_endpoints: Sequence[InterfaceEndpointSpec] = ()
    """PrivateLink endpoints, each in every subnet with private DNS and its own security group."""
    flow_logs: bool = True
    """Record all VPC traffic to CloudWatch Logs."""
    flow_log_retention_days: int = 365
    """How long flow log records are kept."""


class DataLakeNetwork(pulumi.ComponentResource):
    """A VPC with private subnets only: no internet, NAT or egress-only gateway, no default
    route. S3 and DynamoDB are reached through gateway endpoints on every route table, other
    services through interface endpoints."""

    vpc_id: pulumi.Output[str]
    subnet_ids: pulumi.Output[list[str]]
    route_table_ids: pulumi.Output[list[str]]
    s3_endpoint_id: pulumi.Output[str]
    dynamodb_endpoint_id: pulumi.Output[str]
    s3_prefix_list_id: pulumi.Output[str]
    interface_endpoint_ids: Mapping[str, pulumi.Output[str]]
    endpoint_security_group_ids: Mapping[str, pulumi.Output[str]]
    default_security_group_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: DataLakeNetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("datalake:index:Network", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr_block,
            # Private DNS names of interface endpoints need both.
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={"Name": f"{name}-vpc"},
            opts=child,
        )
        # Taking over the default security group with no rules removes its allow-all rules.
        default_security_group = aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg", vpc_id=vpc.id, ingress=[], egress=[], opts=child
        )

        zones = aws.get_availability_zones_output(
            state="available",
            filters=[
                aws.GetAvailabilityZonesFilterArgs(
                    name="opt-in-status", values=["opt-in-not-required"]
                )
            ],
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        subnets = []
        route_tables = []
        for index, cidr in enumerate(subnet_cidrs(args.cidr_block, args.availability_zone_count)):
            subnet = aws.ec2.Subnet(
                f"{name}-private-{index}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=zones.names.apply(
                    functools.partial(_zone, index=index, wanted=args.availability_zone_count)
                ),
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-private-{index}", "tier": "private-isolated"},
                opts=child,
            )
            # A route table with no routes beyond the local one: only gateway endpoints are
            # added to it, so nothing in the subnet can reach the internet.
            route_table = aws.ec2.RouteTable(
                f"{name}-private-{index}",
                vpc_id=vpc.id,
                tags={"Name": f"{name}-private-{index}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{index}",
                subnet_id=subnet.id,
                route_table_id=route_table.id,
                opts=child,
            )
            subnets.append(subnet)
            route_tables.append(route_table)
        route_table_ids = [rt.id for rt in route_tables]

        def gateway_endpoint(service: str, policy: pulumi.Input[str]) -> aws.ec2.VpcEndpoint:
            return aws.ec2.VpcEndpoint(
                f"{name}-{service}-gateway",
                vpc_id=vpc.id,
                service_name=endpoint_service_name(args.region, service),
                vpc_endpoint_type="Gateway",
                route_table_ids=route_table_ids,
                policy=policy,
                tags={"Name": f"{name}-{service}-gateway"},
                opts=child,
            )

        s3_endpoint = gateway_endpoint("s3", args.s3_endpoint_policy)
        dynamodb_endpoint = gateway_endpoint("dynamodb", args.dynamodb_endpoint_policy)

        interface_endpoint_ids = {}
        endpoint_security_group_ids = {}
        for spec in args.interface_endpoints:
            security_group = aws.ec2.SecurityGroup(
                f"{name}-{spec.service}-endpoint",
                vpc_id=vpc.id,
                description=f"HTTPS to the {spec.service} endpoint from inside the VPC only",
                ingress=[
                    aws.ec2.SecurityGroupIngressArgs(
                        description="HTTPS from the data-lake VPC",
                        protocol="tcp",
                        from_port=HTTPS,
                        to_port=HTTPS,
                        cidr_blocks=[args.cidr_block],
                    )
                ],
                # An endpoint answers; it never opens connections of its own.
                egress=[],
                tags={"Name": f"{name}-{spec.service}-endpoint"},
                opts=child,
            )
            endpoint = aws.ec2.VpcEndpoint(
                f"{name}-{spec.service}-interface",
                vpc_id=vpc.id,
                service_name=endpoint_service_name(args.region, spec.service),
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[s.id for s in subnets],
                security_group_ids=[security_group.id],
                policy=spec.policy,
                tags={"Name": f"{name}-{spec.service}-interface"},
                opts=child,
            )
            interface_endpoint_ids[spec.service] = endpoint.id
            endpoint_security_group_ids[spec.service] = security_group.id

        if args.flow_logs:
            self._flow_logs(name, vpc, args, child)

        self.vpc_id = vpc.id
        self.subnet_ids = pulumi.Output.all(*[s.id for s in subnets])
        self.route_table_ids = pulumi.Output.all(*route_table_ids)
        self.s3_endpoint_id = s3_endpoint.id
        self.dynamodb_endpoint_id = dynamodb_endpoint.id
        self.s3_prefix_list_id = s3_endpoint.prefix_list_id
        self.interface_endpoint_ids = interface_endpoint_ids
        self.endpoint_security_group_ids = endpoint_security_group_ids
        self.default_security_group_id = default_security_group.id
        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "subnetIds": self.subnet_ids,
                "routeTableIds": self.route_table_ids,
                "s3EndpointId": self.s3_endpoint_id,
                "dynamodbEndpointId": self.dynamodb_endpoint_id,
                "s3PrefixListId": self.s3_prefix_list_id,
                "interfaceEndpointIds": self.interface_endpoint_ids,
                "endpointSecurityGroupIds": self.endpoint_security_group_ids,
                "defaultSecurityGroupId": self.default_security_group_id,
            }
        )

    def _flow_logs(
        self,
        name: str,
        vpc: aws.ec2.Vpc,
        args: DataLakeNetworkArgs,
        child: pulumi.ResourceOptions,
    ) -> None:
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs", retention_in_days=args.flow_log_retention_days, opts=child
        )
        role = aws.iam.Role(
            f"{name}-flow-logs",
            assume_role_policy=policies.to_json(
                policies.service_assume_role_policy("vpc-flow-logs.amazonaws.com", args.account_id)
            ),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs",
            role=role.id,
            policy=log_group.arn.apply(
                lambda arn: policies.to_json(policies.flow_log_delivery_policy(arn))
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-logs",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            opts=child,
        )


def _zone(names: list[str], index: int, wanted: int) -> str:
    if len(names) < wanted:
        raise pulumi.RunError(
            f"network.availabilityZones: {wanted} requested, but this Region has only "
            f"{len(names)} available Availability Zones ({', '.join(names)})"
        )
    return sorted(names)[index]
