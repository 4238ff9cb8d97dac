"""The data-lake VPC: private subnets only, reaching AWS services through VPC endpoints."""

import functools
import ipaddress
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from components import policies, storage
from components.account import DataAccount, perimeter
from components.encryption import autonamed_log_group_arn, customer_key
from components.errors import refuse

HTTPS = 443
SUBNET_SLOTS_BITS = 3
BEDROCK_RUNTIME = "bedrock-runtime"
BEDROCK_AGENT_RUNTIME = "bedrock-agent-runtime"
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
    """The data-lake VPC (stack config ``network``): created (``cidrBlock``) or existing
    (``vpcId``, ``subnetIds``, ``routeTableIds``)."""

    cidr_block: NotRequired[str]
    """Private IPv4 block of a VPC to create, /16 to /24; cut into 8 equal slots, one subnet per
    AZ (adding an AZ never renumbers). Omitted with ``vpcId``."""
    availability_zones: NotRequired[int]
    """How many AZs get a private subnet in a created VPC: 1-6 (default 2)."""
    vpc_id: NotRequired[str]
    """An existing VPC to add the endpoints and security groups to instead of creating one
    (no VPC, subnets or route tables are created). Plain, not an Input: it is looked up at
    preview, and everything is checked against AWS before anything is created."""
    subnet_ids: NotRequired[list[str]]
    """With ``vpcId``: its subnets the interface endpoints and the function use, one per
    Availability Zone (1-6). Plain: looked up and checked at preview."""
    route_table_ids: NotRequired[list[str]]
    """With ``vpcId``: the route tables of those subnets; the S3 and DynamoDB gateway
    endpoints are added to them (1-6). Plain: looked up and checked at preview."""
    existing_interface_endpoints: NotRequired[dict[str, str]]
    """With ``vpcId``: interface endpoints the VPC has already, service short name -> endpoint
    id, used instead of creating them (their policies and security groups stay their
    owner's). Each service must also be in ``interfaceEndpoints``. Plain: which endpoints
    are created depends on it."""
    interface_endpoints: NotRequired[list[str]]
    """PrivateLink services by short name (default [bedrock-runtime]); not s3 or dynamodb,
    which are reached through gateway endpoints."""
    flow_logs: NotRequired[bool]
    """Record all VPC traffic to CloudWatch Logs (default true for a created VPC; an existing
    VPC's traffic is its owner's to record, so false and refused when true with ``vpcId``)."""
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
    guardrail_arn: NotRequired[pulumi.Input[str]]
    """The guardrail every model call through the bedrock-runtime endpoint must carry; giving
    it (even as an output not known yet) is what makes the endpoint require one."""
    guardrail_version: NotRequired[pulumi.Input[str]]
    """Its published version: the endpoint admits exactly that one, never the DRAFT."""
    routes: NotRequired[pulumi.Input[dict[str, str]]]
    """Configured model id -> the application inference profile invoked instead: the endpoint
    admits exactly those profiles, and the model only through its profile."""
    administrators: NotRequired[pulumi.Input[list[str]]]
    """Who manages the flow logs' key, besides the deploying role (role or user ARNs, or exact
    patterns)."""
    knowledge_base_arn: NotRequired[pulumi.Input[str]]
    """The knowledge base the bedrock-agent-runtime endpoint admits retrieval from, and no
    other (required with that endpoint)."""


def s3_endpoint_policy(args: NetworkArgs) -> policies.PolicyDocument:
    return policies.s3_gateway_endpoint_policy(
        region=args["region"],
        perimeter=perimeter(args),
        bucket_name=args["bucket_name"],
        extra_bucket_names=args.get("extra_s3_buckets", []),
    )


def bedrock_runtime_policy(
    args: NetworkArgs,
    guardrail: policies.GuardrailRef | None,
    routes: Mapping[str, str],
) -> policies.PolicyDocument:
    """The bedrock-runtime endpoint's policy once the guardrail and the profiles are known."""
    return policies.bedrock_endpoint_policy(
        region=args["region"],
        account_id=args["account_id"],
        organization_id=args.get("organization_id"),
        model_ids=args.get("model_ids", []),
        streaming=args.get("streaming", False),
        guardrail=guardrail,
        routes=routes,
    )


def knowledge_base_endpoint_policy(args: NetworkArgs, arn: str | None) -> policies.PolicyDocument:
    """The bedrock-agent-runtime endpoint's policy once the knowledge base exists; one that did
    not resolve fails the deployment rather than leave the endpoint without its rule."""
    if not arn:
        raise pulumi.RunError(
            "knowledgeBaseArn resolved to nothing: the bedrock-agent-runtime endpoint policy is "
            "not built without the knowledge base it admits"
        )
    return policies.knowledge_base_endpoint_policy(
        perimeter=perimeter(args), knowledge_base_arn=arn
    )


def interface_endpoint_policy(args: NetworkArgs, service: str) -> pulumi.Input[str]:
    """An interface endpoint's policy as JSON; bedrock-runtime's once the guardrail and the
    application profiles it names exist."""
    if service == BEDROCK_AGENT_RUNTIME:
        return pulumi.Output.from_input(args["knowledge_base_arn"]).apply(
            lambda arn: policies.to_json(knowledge_base_endpoint_policy(args, arn))
        )
    if service != BEDROCK_RUNTIME:
        return policies.to_json(
            policies.interface_endpoint_policy(service=service, perimeter=perimeter(args))
        )
    guarded = "guardrail_arn" in args

    def policy(values: dict[str, Any]) -> str:
        guardrail = None
        if guarded:
            # Whether a guardrail is required follows from the arguments; a value that did not
            # resolve must fail the deployment, never drop the condition.
            if not values["arn"] or not values["version"]:
                raise pulumi.RunError(
                    "guardrailArn/guardrailVersion resolved to nothing: the bedrock-runtime "
                    "endpoint policy is not built without the guardrail it must require"
                )
            guardrail = policies.GuardrailRef(values["arn"], values["version"])
        return policies.to_json(bedrock_runtime_policy(args, guardrail, values["routes"] or {}))

    return pulumi.Output.all(
        arn=args.get("guardrail_arn"),
        version=args.get("guardrail_version"),
        routes=args.get("routes", {}),
    ).apply(policy)


def _problems(args: NetworkArgs) -> list[str]:
    if "vpc_id" in args:
        problems = _existing_vpc_arg_problems(args)
    else:
        problems = _created_vpc_arg_problems(args)
    services = args.get("interface_endpoints", list(DEFAULT_INTERFACE_ENDPOINTS))
    problems += interface_endpoint_problems(services)
    created = created_interface_endpoints(args)
    if BEDROCK_RUNTIME in created and not args.get("model_ids"):
        problems.append(
            "modelIds: must list at least one model while interfaceEndpoints includes "
            "bedrock-runtime (its policy admits only those)"
        )
    if BEDROCK_AGENT_RUNTIME in created and "knowledge_base_arn" not in args:
        problems.append(
            "knowledgeBaseArn: is required while interfaceEndpoints includes "
            "bedrock-agent-runtime (its policy admits retrieval from that knowledge base only)"
        )
    return problems + existing_endpoint_problems(
        args.get("existing_interface_endpoints", {}), services
    )


def interface_endpoint_problems(services: Sequence[str], key_prefix: str = "") -> list[str]:
    """Each interface endpoint serves a vetted list of its service's data-plane actions; a
    service without one would serve all of them (sns:Subscribe to an outside address,
    dynamodb exports to any account), so it is refused."""
    vetted = ", ".join(sorted(policies.INTERFACE_ENDPOINT_ACTIONS))
    problems = []
    for index, service in enumerate(services):
        where = f"{key_prefix}interfaceEndpoints[{index}]"
        if service in GATEWAY_SERVICES:
            problems.append(
                f"{where}: '{service}' is already reached through its gateway endpoint (free, on "
                "every route table)"
            )
        elif service not in policies.INTERFACE_ENDPOINT_ACTIONS:
            problems.append(
                f"{where}: '{service}' has no vetted action list, and an endpoint without one "
                f"would serve every action of its service; services with one: {vetted}"
            )
    return problems


def existing_endpoint_problems(
    existing: Mapping[str, str], services: Collection[str], key_prefix: str = ""
) -> list[str]:
    """Each reused endpoint must be one of the services and given once; ``key_prefix`` places
    the keys where the caller's arguments have them (``network.`` in the stack config)."""
    problems = []
    seen: dict[str, str] = {}
    for service, endpoint_id in existing.items():
        where = f"{key_prefix}existingInterfaceEndpoints.{service}"
        if service not in services:
            problems.append(
                f"{where}: '{service}' is not in {key_prefix}interfaceEndpoints; list there every "
                "service the VPC needs, and here which of them it has already"
            )
        if endpoint_id in seen:
            problems.append(f"{where}: {endpoint_id} is already given for {seen[endpoint_id]}")
        seen.setdefault(endpoint_id, service)
    return problems


def _created_vpc_arg_problems(args: NetworkArgs) -> list[str]:
    problems = [
        f"{key}: only applies to an existing VPC (vpcId)"
        for field, key in (
            ("subnet_ids", "subnetIds"),
            ("route_table_ids", "routeTableIds"),
            ("existing_interface_endpoints", "existingInterfaceEndpoints"),
        )
        if args.get(field)
    ]
    if "cidr_block" not in args:
        return [
            *problems,
            "cidrBlock: is required, unless vpcId, subnetIds and routeTableIds name an "
            "existing VPC",
        ]
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
    return problems


def _existing_vpc_arg_problems(args: NetworkArgs) -> list[str]:
    problems = [
        f"{key}: is required with vpcId (the component adds to that VPC's subnets and route "
        "tables and creates none)"
        for field, key in (("subnet_ids", "subnetIds"), ("route_table_ids", "routeTableIds"))
        if not args.get(field)
    ]
    problems += [
        f"{key}: {reason}; omit it with vpcId"
        for field, key, reason in (
            ("cidr_block", "cidrBlock", "comes from the VPC vpcId names"),
            (
                "availability_zones",
                "availabilityZones",
                "are those of subnetIds (one subnet per Availability Zone)",
            ),
            (
                "flow_log_retention_days",
                "flowLogRetentionDays",
                "only applies to flow logs of a VPC the component creates",
            ),
        )
        if field in args
    ]
    if args.get("flow_logs", False):
        problems.append(
            "flowLogs: a VPC the component does not own is its owner's to record, and a second "
            "flow log would copy every workload's traffic records; omit it or set false"
        )
    return problems


def created_interface_endpoints(args: NetworkArgs) -> list[str]:
    """The interface endpoints the component creates: those the VPC does not have already."""
    reused = args.get("existing_interface_endpoints", {})
    return [
        s
        for s in args.get("interface_endpoints", list(DEFAULT_INTERFACE_ENDPOINTS))
        if s not in reused
    ]


GATEWAY_SERVICES = ("s3", "dynamodb")
ENDPOINT_INTERFACE_DESCRIPTION = re.compile(r"VPC Endpoint Interface (vpce-[0-9a-f]+)")


@dataclass(frozen=True)
class SubnetFacts:
    """What AWS says about one of the given subnets."""

    id: str
    vpc_id: str
    availability_zone: str
    route_table_id: str
    """Its explicitly associated route table, or else the VPC's main one."""


@dataclass(frozen=True)
class EndpointFacts:
    """What AWS says about a VPC endpoint."""

    id: str
    vpc_id: str
    service_name: str
    type: str
    private_dns_enabled: bool
    state: str
    security_group_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class VpcFacts:
    """Everything the checks on an existing VPC need, read before anything is created."""

    cidr_blocks: tuple[str, ...]
    """The VPC's associated IPv4 blocks: endpoint security groups admit HTTPS from all."""
    dns_support: bool
    dns_hostnames: bool
    subnets: tuple[SubnetFacts, ...]
    route_tables_in_vpc: frozenset[str]
    """Which of the given route tables are in the VPC."""
    gateway_routes: Mapping[str, frozenset[str]]
    """Gateway service -> route tables of the VPC that already route to it (an endpoint)."""
    default_routes: frozenset[str]
    """Route tables of the VPC with a route to 0.0.0.0/0 or ::/0."""
    interface_endpoints: tuple[EndpointFacts, ...]
    """The interface endpoints the VPC already has."""
    reused: Mapping[str, EndpointFacts]
    """Service -> the endpoint given for reuse."""


def endpoint_ids_in(descriptions: Sequence[str]) -> list[str]:
    """The interface endpoints behind network interfaces, from the description AWS gives each
    endpoint's interface ("VPC Endpoint Interface vpce-..."): EC2 has no plural endpoint
    lookup that returns nothing for a VPC without endpoints, its network interfaces have."""
    found = (ENDPOINT_INTERFACE_DESCRIPTION.fullmatch(d) for d in descriptions)
    return sorted({match.group(1) for match in found if match})


def existing_vpc_problems(args: NetworkArgs, facts: VpcFacts) -> list[str]:
    """What AWS would refuse, or what could not work, when adding to the VPC ``vpcId``."""
    vpc_id = args["vpc_id"]
    route_table_ids = args["route_table_ids"]
    problems = []
    zones: dict[str, str] = {}
    for index, subnet in enumerate(facts.subnets):
        where = f"subnetIds[{index}]"
        if subnet.vpc_id != vpc_id:
            problems.append(f"{where}: {subnet.id} is in {subnet.vpc_id}, not in vpcId {vpc_id}")
            continue
        if subnet.availability_zone in zones:
            problems.append(
                f"{where}: {subnet.id} is in {subnet.availability_zone} like "
                f"{zones[subnet.availability_zone]}; an interface endpoint takes one subnet per "
                "Availability Zone"
            )
        zones.setdefault(subnet.availability_zone, subnet.id)
        if subnet.route_table_id not in route_table_ids:
            problems.append(
                f"{where}: {subnet.id} routes through {subnet.route_table_id}, which is not in "
                "routeTableIds; the gateway endpoints go on those only, so S3 would not be "
                "reached through its endpoint from this subnet"
            )
    for index, table in enumerate(route_table_ids):
        where = f"routeTableIds[{index}]"
        if table not in facts.route_tables_in_vpc:
            problems.append(f"{where}: {table} is not a route table of vpcId {vpc_id}")
            continue
        problems += [
            f"{where}: {table} already routes to {service} through a gateway endpoint; AWS "
            "refuses a second route to the same prefix list. Remove that endpoint from the "
            "route table, or give route tables without one"
            for service in GATEWAY_SERVICES
            if table in facts.gateway_routes.get(service, frozenset())
        ]
    created = created_interface_endpoints(args)
    if created and not (facts.dns_support and facts.dns_hostnames):
        problems.append(
            f"vpcId: {vpc_id} needs DNS support and DNS hostnames turned on for the private DNS "
            "names of the interface endpoints"
        )
    for service in created:
        service_name = endpoint_service_name(args["region"], service)
        problems += [
            f"interfaceEndpoints: {vpc_id} already has {endpoint.id} for {service} with private "
            "DNS, and AWS refuses a second one (the DNS names would clash); reuse it with "
            f"existingInterfaceEndpoints {{{service}: {endpoint.id}}}"
            for endpoint in facts.interface_endpoints
            if endpoint.service_name == service_name and endpoint.private_dns_enabled
        ]
    for service, endpoint in facts.reused.items():
        problems += [
            f"existingInterfaceEndpoints.{service}: {endpoint.id} {problem}"
            for problem in _reuse_problems(args["region"], service, vpc_id, endpoint)
        ]
    return problems


def _reuse_problems(region: str, service: str, vpc_id: str, endpoint: EndpointFacts) -> list[str]:
    checks = [
        (endpoint.vpc_id == vpc_id, f"is in {endpoint.vpc_id}, not in {vpc_id}"),
        (endpoint.type == "Interface", f"is a {endpoint.type} endpoint, not an interface one"),
        (
            endpoint.service_name == endpoint_service_name(region, service),
            f"serves {endpoint.service_name}, not {service}",
        ),
        (
            endpoint.private_dns_enabled,
            "has private DNS turned off, so the service's name would not lead to it",
        ),
        (
            endpoint.state.lower() in ("available", "pending"),
            f"is {endpoint.state}, not available",
        ),
    ]
    return [problem for ok, problem in checks if not ok]


def existing_vpc_warnings(args: NetworkArgs, facts: VpcFacts) -> list[str]:
    """What works, but is weaker than in a VPC the component creates."""
    open_tables = [t for t in args["route_table_ids"] if t in facts.default_routes]
    if not open_tables:
        return []
    return [
        f"routeTableIds: {', '.join(open_tables)} route to 0.0.0.0/0 or ::/0. The function and "
        "the endpoints still talk HTTPS to the VPC endpoints only (their security groups), but "
        "the VPC has a way out: keeping it free of one is its owner's job"
    ]


@dataclass(frozen=True)
class _Placement:
    """Where the endpoints and the function go: a created VPC or a checked existing one."""

    vpc_id: pulumi.Output[str]
    subnet_ids: pulumi.Output[list[str]]
    route_table_ids: pulumi.Output[list[str]]
    cidr_blocks: pulumi.Output[list[str]]
    detached_security_group_id: pulumi.Output[str]
    reused_endpoints: Mapping[str, pulumi.Output[EndpointFacts]]


class Network(pulumi.ComponentResource):
    """A VPC with private subnets only: no internet, NAT or egress-only gateway, no default
    route. S3 and DynamoDB are reached through gateway endpoints on every route table, other
    services through interface endpoints.

    With ``vpcId``, the endpoints and security groups go into that existing VPC instead, after
    lookups (at preview) have shown that AWS would accept them."""

    vpc_id: pulumi.Output[str]
    """The VPC."""
    subnet_ids: pulumi.Output[list[str]]
    """The private subnets, one per AZ."""
    route_table_ids: pulumi.Output[list[str]]
    """Their route tables: in a created VPC, the local route and the gateway endpoints only."""
    s3_endpoint_id: pulumi.Output[str]
    """The S3 gateway endpoint."""
    dynamodb_endpoint_id: pulumi.Output[str]
    """The DynamoDB gateway endpoint."""
    s3_prefix_list_id: pulumi.Output[str]
    """The S3 prefix list, for security group egress rules."""
    interface_endpoint_ids: dict[str, pulumi.Output[str]]
    """Interface endpoint id by service short name, created or reused."""
    endpoint_security_group_ids: dict[str, pulumi.Output[list[str]]]
    """The security groups in front of each interface endpoint (created or reused), by service
    short name."""
    detached_security_group_id: pulumi.Output[str]
    """A rule-less group that outlives a VPC function: the emptied default group of a created
    VPC, or a group the component creates and retains in an existing one."""

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        refuse(_problems(args), "Network arguments")
        super().__init__("datalake:index:Network", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        place = (
            self._existing(name, args, child)
            if "vpc_id" in args
            else self._created(name, args, child)
        )

        def gateway_endpoint(service: str, policy: policies.PolicyDocument) -> aws.ec2.VpcEndpoint:
            return aws.ec2.VpcEndpoint(
                f"{name}-{service}-gateway",
                vpc_id=place.vpc_id,
                service_name=endpoint_service_name(args["region"], service),
                vpc_endpoint_type="Gateway",
                route_table_ids=place.route_table_ids,
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

        interface_endpoint_ids: dict[str, pulumi.Output[str]] = {}
        endpoint_security_group_ids: dict[str, pulumi.Output[list[str]]] = {}
        for service in created_interface_endpoints(args):
            security_group = aws.ec2.SecurityGroup(
                f"{name}-{service}-endpoint",
                vpc_id=place.vpc_id,
                description=f"HTTPS to the {service} endpoint from inside the VPC only",
                ingress=[
                    aws.ec2.SecurityGroupIngressArgs(
                        description="HTTPS from the data-lake VPC",
                        protocol="tcp",
                        from_port=HTTPS,
                        to_port=HTTPS,
                        # With private DNS the endpoint is the service's address for the whole
                        # VPC, so all of its blocks are admitted, not only the given subnets.
                        cidr_blocks=place.cidr_blocks,
                    )
                ],
                # An endpoint answers; it never opens connections of its own.
                egress=[],
                tags={"Name": f"{name}-{service}-endpoint"},
                opts=child,
            )
            endpoint = aws.ec2.VpcEndpoint(
                f"{name}-{service}-interface",
                vpc_id=place.vpc_id,
                service_name=endpoint_service_name(args["region"], service),
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=place.subnet_ids,
                security_group_ids=[security_group.id],
                policy=interface_endpoint_policy(args, service),
                tags={"Name": f"{name}-{service}-interface"},
                opts=child,
            )
            interface_endpoint_ids[service] = endpoint.id
            endpoint_security_group_ids[service] = pulumi.Output.all(security_group.id)
        for service, reused in place.reused_endpoints.items():
            interface_endpoint_ids[service] = reused.apply(lambda e: e.id)
            endpoint_security_group_ids[service] = reused.apply(
                lambda e: list(e.security_group_ids)
            )

        # Flow logs are for a VPC the component creates; an existing VPC's owner records its.
        if args.get("flow_logs", "vpc_id" not in args):
            self._flow_logs(name, place.vpc_id, args, child)

        self.vpc_id = place.vpc_id
        self.subnet_ids = place.subnet_ids
        self.route_table_ids = place.route_table_ids
        self.s3_endpoint_id = s3_endpoint.id
        self.dynamodb_endpoint_id = dynamodb_endpoint.id
        self.s3_prefix_list_id = s3_endpoint.prefix_list_id
        self.interface_endpoint_ids = interface_endpoint_ids
        self.endpoint_security_group_ids = endpoint_security_group_ids
        self.detached_security_group_id = place.detached_security_group_id
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
                "detachedSecurityGroupId": self.detached_security_group_id,
            }
        )

    def _created(self, name: str, args: NetworkArgs, child: pulumi.ResourceOptions) -> _Placement:
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
        return _Placement(
            vpc_id=vpc.id,
            subnet_ids=pulumi.Output.all(*[s.id for s in subnets]),
            route_table_ids=pulumi.Output.all(*[rt.id for rt in route_tables]),
            cidr_blocks=pulumi.Output.all(vpc.cidr_block),
            detached_security_group_id=default_security_group.id,
            reused_endpoints={},
        )

    def _existing(self, name: str, args: NetworkArgs, child: pulumi.ResourceOptions) -> _Placement:
        vpc_id = args["vpc_id"]
        reused = args.get("existing_interface_endpoints", {})
        for service, endpoint_id in reused.items():
            pulumi.log.warn(
                f"existingInterfaceEndpoints.{service}: {endpoint_id} is reused as it is; its "
                "endpoint policy and security groups are its owner's, so this stack neither "
                "sets nor guarantees what they allow",
                resource=self,
            )

        def checked(facts: VpcFacts) -> VpcFacts:
            problems = existing_vpc_problems(args, facts)
            if problems:
                raise pulumi.RunError(
                    f"cannot add to vpcId {vpc_id}:\n" + "\n".join(f"  {p}" for p in problems)
                )
            for warning in existing_vpc_warnings(args, facts):
                pulumi.log.warn(warning, resource=self)
            return facts

        # Every resource takes its VPC, subnets or route tables from the checked facts, so a
        # failed check stops the deployment before anything is created in someone's VPC.
        facts = self._look_up(args).apply(checked)
        checked_vpc_id = facts.apply(lambda _: vpc_id)
        detached = aws.ec2.SecurityGroup(
            f"{name}-detached",
            vpc_id=checked_vpc_id,
            description="No rules: the function's network interfaces move here on destroy",
            ingress=[],
            egress=[],
            tags={"Name": f"{name}-detached"},
            # The VPC's default group is its owner's to keep; this one replaces it and stays
            # behind, because AWS releases the interfaces it holds only after the function.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(retain_on_delete=True)),
        )
        return _Placement(
            vpc_id=checked_vpc_id,
            subnet_ids=facts.apply(lambda _: list(args["subnet_ids"])),
            route_table_ids=facts.apply(lambda _: list(args["route_table_ids"])),
            cidr_blocks=facts.apply(lambda f: list(f.cidr_blocks)),
            detached_security_group_id=detached.id,
            reused_endpoints={
                service: facts.apply(functools.partial(_reused, service)) for service in reused
            },
        )

    def _look_up(self, args: NetworkArgs) -> pulumi.Output[VpcFacts]:
        invoke = pulumi.InvokeOutputOptions(parent=self)
        vpc_id = args["vpc_id"]
        region = args["region"]

        def route_tables(filter_name: str, values: Sequence[str]) -> pulumi.Output[list[str]]:
            return aws.ec2.get_route_tables_output(
                vpc_id=vpc_id,
                filters=[aws.ec2.GetRouteTablesFilterArgs(name=filter_name, values=list(values))],
                opts=invoke,
            ).ids

        def endpoint(endpoint_id: str) -> pulumi.Output[EndpointFacts]:
            return aws.ec2.get_vpc_endpoint_output(id=endpoint_id, opts=invoke).apply(
                _endpoint_facts
            )

        # Input[...] return types let the applies that call these flatten their Outputs.
        def endpoints_behind(descriptions: list[str]) -> pulumi.Input[list[EndpointFacts]]:
            return pulumi.Output.all(*[endpoint(e) for e in endpoint_ids_in(descriptions)])

        def descriptions(interface_ids: list[str]) -> pulumi.Input[list[str]]:
            return pulumi.Output.all(
                *[
                    aws.ec2.get_network_interface_output(id=i, opts=invoke).description
                    for i in interface_ids
                ]
            )

        def routing_to(prefix_list_id: str) -> pulumi.Input[list[str]]:
            return route_tables("route.destination-prefix-list-id", [prefix_list_id])

        main_table = route_tables("association.main", ["true"])
        subnets = [
            pulumi.Output.all(
                aws.ec2.get_subnet_output(id=subnet_id, opts=invoke),
                route_tables("association.subnet-id", [subnet_id]),
                main_table,
            ).apply(lambda found: _subnet_facts(*found))
            for subnet_id in args["subnet_ids"]
        ]
        gateway_routes = {
            service: aws.ec2.get_prefix_list_output(
                name=endpoint_service_name(region, service), opts=invoke
            ).id.apply(routing_to)
            for service in GATEWAY_SERVICES
        }
        interfaces = aws.ec2.get_network_interfaces_output(
            filters=[
                aws.ec2.GetNetworkInterfacesFilterArgs(name="vpc-id", values=[vpc_id]),
                aws.ec2.GetNetworkInterfacesFilterArgs(
                    name="interface-type", values=["vpc_endpoint"]
                ),
            ],
            opts=invoke,
        )
        return pulumi.Output.all(
            vpc=aws.ec2.get_vpc_output(id=vpc_id, opts=invoke),
            subnets=pulumi.Output.all(*subnets),
            in_vpc=route_tables("route-table-id", args["route_table_ids"]),
            gateway_routes=pulumi.Output.all(**gateway_routes),
            default_v4=route_tables("route.destination-cidr-block", ["0.0.0.0/0"]),
            default_v6=route_tables("route.destination-ipv6-cidr-block", ["::/0"]),
            interface_endpoints=interfaces.ids.apply(descriptions).apply(endpoints_behind),
            reused=pulumi.Output.all(
                **{s: endpoint(e) for s, e in args.get("existing_interface_endpoints", {}).items()}
            ),
        ).apply(_vpc_facts)

    def _flow_logs(
        self,
        name: str,
        vpc_id: pulumi.Output[str],
        args: NetworkArgs,
        child: pulumi.ResourceOptions,
    ) -> None:
        region, account_id = args["region"], args["account_id"]
        # The key names the log group before it exists: by the names its autonaming can give.
        log_group_pattern = autonamed_log_group_arn(region, account_id, f"{name}-flow-logs")
        key = customer_key(
            self,
            f"{name}-flow-logs",
            description="Encrypts the data-lake VPC's flow logs",
            policy=storage.with_deployer(
                self, args.get("administrators", []), "administrators"
            ).apply(
                lambda administrators: policies.to_json(
                    policies.log_group_key_policy(
                        region=region,
                        account_id=account_id,
                        administrators=administrators,
                        log_group_arns=[log_group_pattern],
                    )
                )
            ),
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            retention_in_days=args.get("flow_log_retention_days", DEFAULT_FLOW_LOG_RETENTION_DAYS),
            kms_key_id=key.arn,
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
            vpc_id=vpc_id,
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


def _endpoint_facts(found: aws.ec2.GetVpcEndpointResult) -> EndpointFacts:
    return EndpointFacts(
        id=found.id,
        vpc_id=found.vpc_id,
        service_name=found.service_name,
        type=found.vpc_endpoint_type,
        private_dns_enabled=bool(found.private_dns_enabled),
        state=found.state,
        security_group_ids=tuple(found.security_group_ids or ()),
    )


def _subnet_facts(
    subnet: aws.ec2.GetSubnetResult, associated: list[str], main: list[str]
) -> SubnetFacts:
    # A subnet without a route table of its own uses the VPC's main one.
    route_tables = associated or main
    return SubnetFacts(
        id=subnet.id,
        vpc_id=subnet.vpc_id,
        availability_zone=subnet.availability_zone,
        route_table_id=route_tables[0] if route_tables else "",
    )


def _vpc_facts(found: dict[str, Any]) -> VpcFacts:
    vpc: aws.ec2.GetVpcResult = found["vpc"]
    return VpcFacts(
        cidr_blocks=tuple(
            association.cidr_block
            for association in vpc.cidr_block_associations
            if association.state == "associated"
        )
        or (vpc.cidr_block,),
        dns_support=bool(vpc.enable_dns_support),
        dns_hostnames=bool(vpc.enable_dns_hostnames),
        subnets=tuple(found["subnets"]),
        route_tables_in_vpc=frozenset(found["in_vpc"]),
        gateway_routes={s: frozenset(t) for s, t in found["gateway_routes"].items()},
        default_routes=frozenset([*found["default_v4"], *found["default_v6"]]),
        interface_endpoints=tuple(e for e in found["interface_endpoints"] if e.type == "Interface"),
        reused=dict(found["reused"]),
    )


def _reused(service: str, facts: VpcFacts) -> EndpointFacts:
    return facts.reused[service]
