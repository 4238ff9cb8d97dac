"""The data-lake VPC: private subnets only, reaching AWS services through VPC endpoints."""

import functools
import ipaddress
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from components import policies
from components.account import DataAccount, perimeter
from components.errors import refuse

HTTPS = 443
SUBNET_SLOTS_BITS = 3
BEDROCK_RUNTIME = "bedrock-runtime"
DEFAULT_AVAILABILITY_ZONES = 2
DEFAULT_INTERFACE_ENDPOINTS = (BEDROCK_RUNTIME,)
DEFAULT_FLOW_LOG_RETENTION_DAYS = 365


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


class NetworkSettings(TypedDict):
    """The data-lake VPC (stack config ``network``)."""

    cidr_block: str
    """Private IPv4 block, /16 to /24; cut into 8 equal slots, one subnet per AZ (adding an AZ
    never renumbers)."""
    availability_zones: NotRequired[int]
    """How many AZs get a private subnet: 1-6 (default 2)."""
    interface_endpoints: NotRequired[list[str]]
    """PrivateLink services by short name (default [bedrock-runtime]); not s3 or dynamodb,
    which are reached through gateway endpoints."""
    flow_logs: NotRequired[bool]
    """Record all VPC traffic to CloudWatch Logs (default true)."""
    flow_log_retention_days: NotRequired[int]
    """How long flow log records are kept (default 365)."""
    extra_s3_buckets: NotRequired[list[str]]
    """Other buckets the VPC may read through the S3 endpoint (package repositories...)."""


class NetworkArgs(DataAccount, NetworkSettings):
    """Inputs of :class:`Network`: the VPC, and what its endpoints' policies admit."""

    bucket_name: str
    """The data bucket: the S3 endpoint admits it only through the data account's access
    points."""
    model_ids: NotRequired[list[str]]
    """Models the bedrock-runtime endpoint admits (required with that endpoint)."""
    streaming: NotRequired[bool]
    """Also admit bedrock:InvokeModelWithResponseStream (default false)."""
    guardrail_id: NotRequired[str]
    """The data-account guardrail every model call must carry ('*' for any: one created with
    the function, whose id AWS has not generated yet); none when omitted."""
    guardrail_version: NotRequired[str]
    """Its version ('*' for any published one)."""
    routed_model_ids: NotRequired[list[str]]
    """Those of modelIds invoked through an application inference profile of the data account
    (any: AWS names them when they are created)."""


def s3_endpoint_policy(args: NetworkArgs) -> policies.PolicyDocument:
    return policies.s3_gateway_endpoint_policy(
        region=args["region"],
        perimeter=perimeter(args),
        bucket_name=args["bucket_name"],
        extra_bucket_names=args.get("extra_s3_buckets", []),
    )


def interface_endpoint_policy(args: NetworkArgs, service: str) -> policies.PolicyDocument:
    if service == BEDROCK_RUNTIME:
        region, account_id = args["region"], args["account_id"]
        guardrail_id = args.get("guardrail_id")
        return policies.bedrock_endpoint_policy(
            region=region,
            account_id=account_id,
            organization_id=args.get("organization_id"),
            model_ids=args.get("model_ids", []),
            streaming=args.get("streaming", False),
            guardrail=policies.GuardrailRef(
                policies.guardrail_arn(region, account_id, guardrail_id),
                args.get("guardrail_version", "*"),
            )
            if guardrail_id is not None
            else None,
            routes=dict.fromkeys(
                args.get("routed_model_ids", []),
                policies.application_profile_arn(region, account_id, "*"),
            ),
        )
    return policies.interface_endpoint_policy(service=service, perimeter=perimeter(args))


def _problems(args: NetworkArgs) -> list[str]:
    problems = []
    try:
        ipaddress.IPv4Network(args["cidr_block"])
    except ValueError as error:
        problems.append(f"cidrBlock: {error}")
    else:
        zones = args.get("availability_zones", DEFAULT_AVAILABILITY_ZONES)
        try:
            subnet_cidrs(args["cidr_block"], zones)
        except ValueError as error:
            problems.append(f"availabilityZones: {error}")
    services = args.get("interface_endpoints", list(DEFAULT_INTERFACE_ENDPOINTS))
    if BEDROCK_RUNTIME in services and not args.get("model_ids"):
        problems.append(
            "modelIds: must list at least one model while interfaceEndpoints includes "
            "bedrock-runtime (its policy admits only those)"
        )
    return problems


class Network(pulumi.ComponentResource):
    """A VPC with private subnets only: no internet, NAT or egress-only gateway, no default
    route. S3 and DynamoDB are reached through gateway endpoints on every route table, other
    services through interface endpoints."""

    vpc_id: pulumi.Output[str]
    """The VPC."""
    subnet_ids: pulumi.Output[list[str]]
    """The private subnets, one per AZ."""
    route_table_ids: pulumi.Output[list[str]]
    """Their route tables: the local route and the gateway endpoints only."""
    s3_endpoint_id: pulumi.Output[str]
    """The S3 gateway endpoint."""
    dynamodb_endpoint_id: pulumi.Output[str]
    """The DynamoDB gateway endpoint."""
    s3_prefix_list_id: pulumi.Output[str]
    """The S3 prefix list, for security group egress rules."""
    interface_endpoint_ids: dict[str, pulumi.Output[str]]
    """Interface endpoint id by service short name."""
    endpoint_security_group_ids: dict[str, pulumi.Output[str]]
    """Each interface endpoint's security group id, by service short name."""
    default_security_group_id: pulumi.Output[str]
    """The VPC's default security group, emptied of rules."""

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        refuse(_problems(args), "Network arguments")
        super().__init__("datalake:index:Network", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)

        cidr_block = args["cidr_block"]
        zone_count = args.get("availability_zones", DEFAULT_AVAILABILITY_ZONES)
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=cidr_block,
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
        for index, cidr in enumerate(subnet_cidrs(cidr_block, zone_count)):
            subnet = aws.ec2.Subnet(
                f"{name}-private-{index}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=zones.names.apply(
                    functools.partial(_zone, index=index, wanted=zone_count)
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

        def gateway_endpoint(service: str, policy: policies.PolicyDocument) -> aws.ec2.VpcEndpoint:
            return aws.ec2.VpcEndpoint(
                f"{name}-{service}-gateway",
                vpc_id=vpc.id,
                service_name=endpoint_service_name(args["region"], service),
                vpc_endpoint_type="Gateway",
                route_table_ids=route_table_ids,
                policy=policies.to_json(policy),
                tags={"Name": f"{name}-{service}-gateway"},
                opts=child,
            )

        s3_endpoint = gateway_endpoint("s3", s3_endpoint_policy(args))
        dynamodb_endpoint = gateway_endpoint(
            "dynamodb",
            policies.dynamodb_gateway_endpoint_policy(
                region=args["region"], perimeter=perimeter(args)
            ),
        )

        interface_endpoint_ids = {}
        endpoint_security_group_ids = {}
        for service in args.get("interface_endpoints", DEFAULT_INTERFACE_ENDPOINTS):
            security_group = aws.ec2.SecurityGroup(
                f"{name}-{service}-endpoint",
                vpc_id=vpc.id,
                description=f"HTTPS to the {service} endpoint from inside the VPC only",
                ingress=[
                    aws.ec2.SecurityGroupIngressArgs(
                        description="HTTPS from the data-lake VPC",
                        protocol="tcp",
                        from_port=HTTPS,
                        to_port=HTTPS,
                        cidr_blocks=[cidr_block],
                    )
                ],
                # An endpoint answers; it never opens connections of its own.
                egress=[],
                tags={"Name": f"{name}-{service}-endpoint"},
                opts=child,
            )
            endpoint = aws.ec2.VpcEndpoint(
                f"{name}-{service}-interface",
                vpc_id=vpc.id,
                service_name=endpoint_service_name(args["region"], service),
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[s.id for s in subnets],
                security_group_ids=[security_group.id],
                policy=policies.to_json(interface_endpoint_policy(args, service)),
                tags={"Name": f"{name}-{service}-interface"},
                opts=child,
            )
            interface_endpoint_ids[service] = endpoint.id
            endpoint_security_group_ids[service] = security_group.id

        if args.get("flow_logs", True):
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
        args: NetworkArgs,
        child: pulumi.ResourceOptions,
    ) -> None:
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            retention_in_days=args.get("flow_log_retention_days", DEFAULT_FLOW_LOG_RETENTION_DAYS),
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-flow-logs",
            assume_role_policy=policies.to_json(
                policies.service_assume_role_policy(
                    "vpc-flow-logs.amazonaws.com", args["account_id"]
                )
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
            f"availabilityZones: {wanted} requested, but this Region has only "
            f"{len(names)} available Availability Zones ({', '.join(names)})"
        )
    return sorted(names)[index]
