"""The data lake's guarantees as plain functions, free of the Pulumi CLI and of ``pulumi_policy``.

``__main__.py`` wraps each rule into a CrossGuard policy; the tests call the functions directly
with the resources the program registers under mocks (``offline.runner``).

Two kinds of rule:

- A *resource rule* looks at one resource: ``check(resource_type, props, config) -> [message]``.
  ``props`` are the resource's inputs with camelCase keys (policies as JSON text), exactly what
  CrossGuard hands a ``ResourceValidationPolicy``; ``config`` is the policy's configuration.
- A *stack rule* needs several resources at once (an S3 bucket and the separate encryption,
  versioning, public-access-block and policy resources that configure it in pulumi-aws 7):
  ``check(resources, config) -> [(resource, message)]``.

Unknown values: during ``pulumi preview`` a value computed from a resource that does not exist
yet (a bucket id, a policy built from a VPC id, ...) is not known. The CrossGuard wrapper turns
such values into :data:`UNKNOWN`, and every rule treats UNKNOWN as "cannot tell yet": it is never
a violation by itself. The same rules run again during ``pulumi up``, when every input is known
just before the resource is created, so what a preview could not see is still enforced.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final


class _Unknown:
    """A value that is not known during preview."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN: Final = _Unknown()


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN


# --- Resource type tokens (pulumi-aws 7) ------------------------------------------------------

INTERNET_GATEWAY = "aws:ec2/internetGateway:InternetGateway"
INTERNET_GATEWAY_ATTACHMENT = "aws:ec2/internetGatewayAttachment:InternetGatewayAttachment"
EGRESS_ONLY_GATEWAY = "aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway"
NAT_GATEWAY = "aws:ec2/natGateway:NatGateway"
SUBNET = "aws:ec2/subnet:Subnet"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
DEFAULT_ROUTE_TABLE = "aws:ec2/defaultRouteTable:DefaultRouteTable"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
LAMBDA_FUNCTION = "aws:lambda/function:Function"
ACCESS_POINT = "aws:s3/accessPoint:AccessPoint"
BUCKET_TYPES: Final = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
BUCKET_ENCRYPTION_TYPES: Final = frozenset(
    {
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    }
)
BUCKET_VERSIONING_TYPES: Final = frozenset(
    {"aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2"}
)
BUCKET_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
POLICY_ATTACHMENT_TYPES: Final = frozenset(
    {
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/userPolicyAttachment:UserPolicyAttachment",
        "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
        "aws:iam/policyAttachment:PolicyAttachment",
    }
)
IAM_ROLE = "aws:iam/role:Role"

PUBLIC_ACCESS_BLOCK_FLAGS: Final = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)
ALLOWED_INTERNET_ACCESS_POINTS = "allowedInternetAccessPoints"
"""Config key of ``access-point-vpc-origin``: access point names allowed an internet origin."""


@dataclass(frozen=True)
class Resource:
    """One resource of the stack, as a stack rule sees it."""

    type: str
    name: str
    props: Mapping[str, Any]
    urn: str = ""
    property_dependencies: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """URNs each property depends on (CrossGuard knows them even when the value is unknown)."""


@dataclass(frozen=True)
class Violation:
    policy: str
    resource: str
    """The resource's name."""
    urn: str
    message: str


Config = Mapping[str, Any]
ResourceCheck = Callable[[str, Mapping[str, Any], Config], list[str]]
Findings = list[tuple[Resource, str]]
"""What a stack rule reports: (resource, message) pairs."""
StackCheck = Callable[[Sequence[Resource], Config], Findings]
NO_CONFIG: Final[Config] = {}


# --- Helpers ----------------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def parse_policy(value: Any) -> dict[str, Any] | None:
    """A policy document from JSON text (or an already parsed dict); None when it is not one."""
    if isinstance(value, Mapping):
        return dict(value)
    if not isinstance(value, str):
        return None
    try:
        document = json.loads(value)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in _as_list(document.get("Statement")) if isinstance(s, Mapping)]


def _policy_texts(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every value under a key named ``...policy`` (policy, assumeRolePolicy, inline policies)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            is_document = isinstance(item, Mapping) and "Statement" in item
            if str(key).lower().endswith("policy") and (
                is_document or not isinstance(item, Mapping | list)
            ):
                yield where, item
            else:
                yield from _policy_texts(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _policy_texts(item, f"{path}[{index}]")


def _is_true_or_unknown(value: Any) -> bool:
    return value is True or is_unknown(value) or (isinstance(value, str) and value == "true")


def _is_default_destination(cidr: Any) -> bool:
    if not isinstance(cidr, str):
        return False
    try:
        return ipaddress.ip_network(cidr, strict=False).prefixlen == 0
    except ValueError:
        return False


# --- Resource rules ---------------------------------------------------------------------------

_INTERNET_PATHS: Final = {
    INTERNET_GATEWAY: "an internet gateway",
    INTERNET_GATEWAY_ATTACHMENT: "an internet gateway attachment",
    EGRESS_ONLY_GATEWAY: "an egress-only internet gateway",
    NAT_GATEWAY: "a NAT gateway",
}


def no_internet_path(resource_type: str, props: Mapping[str, Any], config: Config) -> list[str]:
    """No internet, egress-only or NAT gateway, and no subnet that hands out public IPs."""
    if resource_type in _INTERNET_PATHS:
        return [
            f"{_INTERNET_PATHS[resource_type]} gives the data-lake VPC a path to the internet; "
            "it reaches AWS services through VPC endpoints only"
        ]
    if resource_type == SUBNET and props.get("mapPublicIpOnLaunch") in (True, "true"):
        return ["subnet maps public IP addresses on launch; data-lake subnets are private"]
    return []


def _route_problems(route: Mapping[str, Any], destination_keys: Sequence[str]) -> list[str]:
    problems = []
    for key in destination_keys:
        destination = route.get(key)
        if _is_default_destination(destination):
            problems.append(f"default route to {destination} ({key})")
    gateway = route.get("gatewayId")
    if isinstance(gateway, str) and gateway.startswith("igw-"):
        problems.append(f"route through internet gateway {gateway}")
    for key, what in (
        ("natGatewayId", "a NAT gateway"),
        ("egressOnlyGatewayId", "an egress-only internet gateway"),
    ):
        if route.get(key) not in (None, ""):
            problems.append(f"route through {what} ({key})")
    return problems


def no_default_route(resource_type: str, props: Mapping[str, Any], config: Config) -> list[str]:
    """No route to 0.0.0.0/0 or ::/0, and no route through an internet or NAT gateway."""
    if resource_type == ROUTE:
        problems = _route_problems(props, ("destinationCidrBlock", "destinationIpv6CidrBlock"))
    elif resource_type in (ROUTE_TABLE, DEFAULT_ROUTE_TABLE):
        problems = []
        routes = props.get("routes")
        for index, route in enumerate(routes if isinstance(routes, list) else []):
            problems += [
                f"routes[{index}]: {problem}"
                for problem in _route_problems(_mapping(route), ("cidrBlock", "ipv6CidrBlock"))
            ]
    else:
        return []
    return [
        f"{problem}: the data-lake VPC has no route to the internet, only the local route and "
        "the gateway endpoints' prefix lists"
        for problem in problems
    ]


def vpc_endpoint_policy(resource_type: str, props: Mapping[str, Any], config: Config) -> list[str]:
    """Every VPC endpoint carries an endpoint policy (AWS's default allows everything)."""
    if resource_type != VPC_ENDPOINT or props.get("vpcEndpointType") == "GatewayLoadBalancer":
        # Gateway Load Balancer endpoints do not support endpoint policies.
        return []
    service = props.get("serviceName")
    label = f"VPC endpoint for {service}" if isinstance(service, str) else "VPC endpoint"
    policy = props.get("policy")
    if is_unknown(policy):
        return []
    if policy in (None, ""):
        return [f"{label} has no endpoint policy, so AWS applies one that allows full access"]
    document = parse_policy(policy)
    if document is None or not statements(document):
        return [f"{label}: the endpoint policy is not a JSON policy document with statements"]
    return []


def lambda_in_vpc(resource_type: str, props: Mapping[str, Any], config: Config) -> list[str]:
    """Every function runs in the VPC's private subnets with a security group."""
    if resource_type != LAMBDA_FUNCTION:
        return []
    vpc_config = props.get("vpcConfig")
    if is_unknown(vpc_config):
        return []
    if not isinstance(vpc_config, Mapping):
        return ["function is not attached to a VPC (no vpcConfig): it would run on the internet"]
    problems = []
    for key, what in (("subnetIds", "subnets"), ("securityGroupIds", "security groups")):
        value = vpc_config.get(key)
        if not is_unknown(value) and not _as_list(value):
            problems.append(f"function's vpcConfig has no {what} ({key}): it is not in the VPC")
    return problems


def access_point_public_access_block(
    resource_type: str, props: Mapping[str, Any], config: Config
) -> list[str]:
    """Every access point blocks public access with all four settings on."""
    if resource_type != ACCESS_POINT:
        return []
    label = _access_point_label(props)
    block = props.get("publicAccessBlockConfiguration")
    if is_unknown(block):
        return []
    if not isinstance(block, Mapping):
        return [f"{label} has no publicAccessBlockConfiguration"]
    off = [flag for flag in PUBLIC_ACCESS_BLOCK_FLAGS if not _is_true_or_unknown(block.get(flag))]
    if off:
        return [f"{label}: public access block settings not enabled: {', '.join(off)}"]
    return []


def access_point_vpc_origin(
    resource_type: str, props: Mapping[str, Any], config: Config
) -> list[str]:
    """Every access point only accepts requests from a VPC, unless its own policy admits only
    AWS services acting for a caller, or its name is listed in the policy's
    ``allowedInternetAccessPoints`` config."""
    if resource_type != ACCESS_POINT:
        return []
    vpc = props.get("vpcConfiguration")
    if is_unknown(vpc):
        return []
    vpc_id = _mapping(vpc).get("vpcId")
    if is_unknown(vpc_id) or (isinstance(vpc_id, str) and vpc_id):
        return []
    name = props.get("name")
    allowed = {str(n) for n in _as_list(config.get(ALLOWED_INTERNET_ACCESS_POINTS))}
    if isinstance(name, str) and name in allowed:
        return []
    policy = props.get("policy")
    if is_unknown(policy) or _serves_only_aws_services(parse_policy(policy)):
        return []
    return [
        f"{_access_point_label(props)} accepts requests from the internet (no "
        "vpcConfiguration.vpcId); give it a VPC origin, deny in its policy every request not "
        "made through an AWS service (aws:CalledVia), or list its name in "
        f"{ALLOWED_INTERNET_ACCESS_POINTS} of the access-point-vpc-origin policy config"
    ]


def _serves_only_aws_services(document: Mapping[str, Any] | None) -> bool:
    """An access point policy that denies everyone every request that no AWS service makes on
    their behalf: AWS services (Athena) carry no VPC, so such an access point is Internet-origin
    by necessity and reachable only through them."""
    for statement in statements(document or {}):
        principal = statement.get("Principal")
        called_via = _mapping(
            _mapping(statement.get("Condition")).get("ForAllValues:StringNotEquals")
        ).get("aws:CalledVia")
        actions = set(_as_list(statement.get("Action")))
        if (
            statement.get("Effect") == "Deny"
            and (principal == "*" or _mapping(principal).get("AWS") in ("*", ["*"]))
            and called_via
            and (
                actions & {"s3:*", "*"}
                or {"s3:GetObject*", "s3:PutObject*", "s3:ListBucket*"} <= actions
            )
        ):
            return True
    return False


def _access_point_label(props: Mapping[str, Any]) -> str:
    name = props.get("name")
    return f"access point {name!r}" if isinstance(name, str) else "access point"


_ADMIN_POLICY_SUFFIX = ":policy/AdministratorAccess"


def no_wildcard_admin_policy(
    resource_type: str, props: Mapping[str, Any], config: Config
) -> list[str]:
    """No policy the stack writes allows every action (``*``, or NotAction) on every resource
    (``*``), and no AdministratorAccess attachment."""
    problems = []
    for where, text in _policy_texts(props):
        if is_unknown(text) or text in (None, ""):
            continue
        document = parse_policy(text)
        if document is None:
            continue
        for index, statement in enumerate(statements(document)):
            if statement.get("Effect") != "Allow":
                continue
            resources = [r for r in _as_list(statement.get("Resource")) if isinstance(r, str)]
            if "*" not in resources:
                continue
            sid = statement.get("Sid")
            label = f"{where} statement {sid if isinstance(sid, str) else index}"
            actions = [a for a in _as_list(statement.get("Action")) if isinstance(a, str)]
            if any(action in ("*", "*:*") for action in actions):
                problems.append(f"{label} allows action '*' on resource '*'")
            elif "NotAction" in statement:
                problems.append(f"{label} allows NotAction (all other actions) on resource '*'")
    arns = []
    if resource_type in POLICY_ATTACHMENT_TYPES:
        arns = _as_list(props.get("policyArn"))
    elif resource_type == IAM_ROLE:
        arns = _as_list(props.get("managedPolicyArns"))
    problems += [
        f"attaches {arn}, which allows '*' on '*'"
        for arn in arns
        if isinstance(arn, str) and arn.endswith(_ADMIN_POLICY_SUFFIX)
    ]
    return problems


# --- Stack rules: S3 buckets and their configuration resources --------------------------------


def _bucket_label(bucket: Resource) -> str:
    name = bucket.props.get("bucket")
    return f"bucket {name!r}" if isinstance(name, str) else f"bucket resource {bucket.name!r}"


def configures(companion: Resource, bucket: Resource) -> bool:
    """Whether ``companion`` (encryption, versioning, ... resource) configures ``bucket``.

    Matched by the companion's ``bucket`` value (the bucket's name) when known, otherwise by
    the URN its ``bucket`` property depends on, which CrossGuard supplies even when the bucket
    id is still unknown during a preview.
    """
    if bucket.urn and bucket.urn in companion.property_dependencies.get("bucket", ()):
        return True
    target = companion.props.get("bucket")
    if not isinstance(target, str) or is_unknown(target):
        return False
    known = {bucket.props.get(key) for key in ("bucket", "id", "arn")}
    return target in {value for value in known if isinstance(value, str)}


def _companions(resources: Sequence[Resource], types: frozenset[str] | str) -> list[Resource]:
    wanted = {types} if isinstance(types, str) else types
    return [r for r in resources if r.type in wanted]


def _check_buckets(
    resources: Sequence[Resource],
    types: frozenset[str] | str,
    satisfied: Callable[[Resource, Resource], bool],
    missing: str,
) -> Findings:
    companions = _companions(resources, types)
    problems = []
    for bucket in _companions(resources, BUCKET_TYPES):
        attached = [c for c in companions if configures(c, bucket)]
        if not any(satisfied(c, bucket) for c in attached):
            problems.append((bucket, f"{_bucket_label(bucket)} {missing}"))
    return problems


def _encrypts(companion: Resource, bucket: Resource) -> bool:
    rules = companion.props.get("rules")
    if is_unknown(rules):
        return True
    for rule in _as_list(rules):
        default = _mapping(rule).get("applyServerSideEncryptionByDefault")
        algorithm = _mapping(default).get("sseAlgorithm")
        if is_unknown(default) or is_unknown(algorithm):
            return True
        if isinstance(algorithm, str) and algorithm:
            return True
    return False


def _versions(companion: Resource, bucket: Resource) -> bool:
    configuration = companion.props.get("versioningConfiguration")
    status = _mapping(configuration).get("status")
    return is_unknown(configuration) or is_unknown(status) or status == "Enabled"


def _blocks_public_access(companion: Resource, bucket: Resource) -> bool:
    return all(_is_true_or_unknown(companion.props.get(flag)) for flag in PUBLIC_ACCESS_BLOCK_FLAGS)


def _denies_insecure_transport(companion: Resource, bucket: Resource) -> bool:
    policy = companion.props.get("policy")
    if is_unknown(policy):
        return True
    document = parse_policy(policy)
    if document is None:
        return False
    name = bucket.props.get("bucket")
    targets = [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/key"] if isinstance(name, str) else []
    return any(_is_tls_deny(statement, targets) for statement in statements(document))


def _is_tls_deny(statement: Mapping[str, Any], targets: Sequence[str]) -> bool:
    if statement.get("Effect") != "Deny":
        return False
    principal = statement.get("Principal")
    if principal != "*" and _mapping(principal).get("AWS") not in ("*", ["*"]):
        return False
    if not {"*", "s3:*"} & set(_as_list(statement.get("Action"))):
        return False
    secure = _mapping(_mapping(statement.get("Condition")).get("Bool")).get("aws:SecureTransport")
    if not any(str(value).lower() == "false" for value in _as_list(secure)):
        return False
    patterns = [r for r in _as_list(statement.get("Resource")) if isinstance(r, str)]
    return all(any(fnmatch.fnmatchcase(t, p) for p in patterns) for t in targets)


def s3_bucket_encrypted(resources: Sequence[Resource], config: Config) -> Findings:
    """Every bucket has a server-side encryption configuration with a default algorithm."""
    return _check_buckets(
        resources,
        BUCKET_ENCRYPTION_TYPES,
        _encrypts,
        "has no BucketServerSideEncryptionConfiguration with a default sseAlgorithm",
    )


def s3_bucket_versioned(resources: Sequence[Resource], config: Config) -> Findings:
    """Every bucket has versioning enabled."""
    return _check_buckets(
        resources,
        BUCKET_VERSIONING_TYPES,
        _versions,
        "has no BucketVersioning with status 'Enabled'",
    )


def s3_bucket_public_access_blocked(resources: Sequence[Resource], config: Config) -> Findings:
    """Every bucket has a public access block with all four settings on."""
    return _check_buckets(
        resources,
        BUCKET_PUBLIC_ACCESS_BLOCK,
        _blocks_public_access,
        f"has no BucketPublicAccessBlock with {', '.join(PUBLIC_ACCESS_BLOCK_FLAGS)} all true",
    )


def s3_bucket_tls_only(resources: Sequence[Resource], config: Config) -> Findings:
    """Every bucket has a policy that denies all S3 actions when aws:SecureTransport is false."""
    return _check_buckets(
        resources,
        BUCKET_POLICY,
        _denies_insecure_transport,
        "has no BucketPolicy denying s3:* to everyone on the bucket and its objects when "
        "aws:SecureTransport is false",
    )


# --- The policy set ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceRule:
    name: str
    description: str
    check: ResourceCheck
    config_schema: Mapping[str, Mapping[str, Any]] | None = None
    """JSON schema of the policy's config properties, if it takes any."""


@dataclass(frozen=True)
class StackRule:
    name: str
    description: str
    check: StackCheck


RESOURCE_RULES: Final = (
    ResourceRule(
        "no-internet-path",
        "No internet, egress-only or NAT gateway, and no subnet with public IPs, in the data lake.",
        no_internet_path,
    ),
    ResourceRule(
        "no-default-route",
        "No route to 0.0.0.0/0 or ::/0 and no route through an internet or NAT gateway.",
        no_default_route,
    ),
    ResourceRule(
        "access-point-public-access-block",
        "Every S3 access point blocks public access (all four settings).",
        access_point_public_access_block,
    ),
    ResourceRule(
        "access-point-vpc-origin",
        "Every S3 access point accepts requests from a VPC only, unless explicitly allowed.",
        access_point_vpc_origin,
        config_schema={
            ALLOWED_INTERNET_ACCESS_POINTS: {
                "type": "array",
                "items": {"type": "string"},
                "default": [],
                "description": "Names of access points allowed an internet network origin.",
            }
        },
    ),
    ResourceRule(
        "vpc-endpoint-policy",
        "Every VPC endpoint has an endpoint policy.",
        vpc_endpoint_policy,
    ),
    ResourceRule(
        "lambda-in-vpc",
        "Every Lambda function is attached to the VPC (subnets and security groups).",
        lambda_in_vpc,
    ),
    ResourceRule(
        "no-wildcard-admin-policy",
        "No policy the stack writes allows '*' actions on '*' resources.",
        no_wildcard_admin_policy,
    ),
)

STACK_RULES: Final = (
    StackRule(
        "s3-bucket-encrypted",
        "Every S3 bucket has default server-side encryption.",
        s3_bucket_encrypted,
    ),
    StackRule(
        "s3-bucket-versioned", "Every S3 bucket has versioning enabled.", s3_bucket_versioned
    ),
    StackRule(
        "s3-bucket-public-access-blocked",
        "Every S3 bucket has a public access block with all four settings on.",
        s3_bucket_public_access_blocked,
    ),
    StackRule(
        "s3-bucket-tls-only",
        "Every S3 bucket has a policy denying requests that do not use TLS.",
        s3_bucket_tls_only,
    ),
)

POLICY_NAMES: Final = tuple(rule.name for rule in (*RESOURCE_RULES, *STACK_RULES))


def evaluate(
    resources: Sequence[Resource], config: Mapping[str, Config] | None = None
) -> list[Violation]:
    """Every rule over every resource, as a ``pulumi preview --policy-pack`` would run them.

    ``config`` maps a policy name to its configuration (the policy pack config file's shape).
    """
    config = config or {}
    violations = []
    for rule in RESOURCE_RULES:
        rule_config = _mapping(config.get(rule.name))
        for resource in resources:
            violations += [
                Violation(rule.name, resource.name, resource.urn, message)
                for message in rule.check(resource.type, resource.props, rule_config)
            ]
    for stack_rule in STACK_RULES:
        violations += [
            Violation(stack_rule.name, resource.name, resource.urn, message)
            for resource, message in stack_rule.check(
                resources, _mapping(config.get(stack_rule.name))
            )
        ]
    return violations
