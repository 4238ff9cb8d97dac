"""Run the real Pulumi program in-process under Pulumi mocks: no CLI, credentials or network.

The tests, the offline synth and the benchmarks all use :func:`run_stack`, which executes
``__main__.py`` exactly as ``pulumi up`` would, with the config of ``Pulumi.<stack>.yaml``,
and captures every resource registration (type, name, parent, provider, protect flags and
inputs) and the stack outputs.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import runpy
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROJECT_NAME = "private-datalake"
PROVIDER_TYPE = "pulumi:providers:aws"


def stack_file(stack: str) -> Path:
    return PROJECT_DIR / f"Pulumi.{stack}.yaml"


def load_stack_values(stack: str) -> dict[str, Any]:
    """The ``config:`` map of ``Pulumi.<stack>.yaml`` as YAML values."""
    document = yaml.safe_load(stack_file(stack).read_text()) or {}
    return dict(document.get("config") or {})


def flatten_config(values: Mapping[str, Any]) -> dict[str, str]:
    """Config as the Pulumi engine hands it to a program: strings, structured values as JSON."""
    return {
        key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()
    }


@dataclass(frozen=True)
class CapturedResource:
    """One resource registration as the engine would receive it."""

    urn: str
    type: str
    name: str
    parent: str
    """URN of the parent resource ('' for the stack itself)."""
    provider: str
    """Provider reference (URN::id), '' when the default provider would be used."""
    custom: bool
    protect: bool
    retain_on_delete: bool
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    aliases: list[dict[str, Any]] = field(default_factory=list)
    """The aliases it registered with, as the engine receives them: ``{"urn": ...}`` or a
    spec (``name``, ``type``, ``parentUrn``, ``noParent``; empty means unchanged)."""
    id: str = ""
    """The id the mocks gave it, as AWS would after creating it."""
    dependencies: list[str] = field(default_factory=list)
    """The URNs it waits for (``depends_on`` and the resources its inputs come from)."""


@dataclass
class StackRun:
    """What a mocked run of the program registered and exported."""

    stack: str
    region: str
    resources: list[CapturedResource] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)
    """(function token, provider reference) of every provider function call."""
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_token: str) -> list[CapturedResource]:
        return [r for r in self.resources if r.type == type_token]

    def named(self, type_token: str, name: str) -> CapturedResource:
        matches = [r for r in self.of_type(type_token) if r.name == name]
        if len(matches) != 1:
            raise LookupError(f"{len(matches)} resources of type {type_token} named {name}")
        return matches[0]

    def by_urn(self, urn: str) -> CapturedResource:
        return next(r for r in self.resources if r.urn == urn)

    def children_of(self, parent: CapturedResource) -> list[CapturedResource]:
        return [r for r in self.resources if r.parent == parent.urn]

    def provider_of(self, resource: CapturedResource) -> CapturedResource | None:
        if not resource.provider:
            return None
        return self.by_urn(resource.provider.rsplit("::", maxsplit=1)[0])

    def account_of(self, resource: CapturedResource) -> str:
        """The account a resource lands in: its provider's only allowed account."""
        provider = self.provider_of(resource)
        if provider is None:
            return ""
        allowed = provider.inputs.get("allowedAccountIds") or []
        if isinstance(allowed, str):
            allowed = json.loads(allowed)
        return str(allowed[0]) if allowed else ""


def _short_hash(*parts: str, length: int = 17) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


_EC2_ID_PREFIXES = {
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce",
}


@dataclass(frozen=True)
class ExistingEndpoint:
    """A VPC endpoint the mocked account has already."""

    id: str
    vpc_id: str
    service: str
    """Short service name (bedrock-runtime, s3)."""
    type: str = "Interface"
    private_dns: bool = True
    state: str = "available"
    subnet_ids: tuple[str, ...] = ()
    route_table_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExistingNetwork:
    """The VPCs, subnets, route tables and endpoints the mocked account has already: what the
    network lookups of an existing-VPC stack find."""

    vpcs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """VPC id -> its IPv4 blocks."""
    subnets: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Subnet id -> (VPC id, Availability Zone)."""
    route_tables: Mapping[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    """Route table id -> (VPC id, subnets explicitly associated with it)."""
    main_route_tables: Mapping[str, str] = field(default_factory=dict)
    """VPC id -> its main route table."""
    default_routes: frozenset[str] = frozenset()
    """Route tables with a route to 0.0.0.0/0."""
    endpoints: tuple[ExistingEndpoint, ...] = ()
    dns: bool = True
    """DNS support and hostnames on every VPC."""

    @classmethod
    def for_config(cls, values: Mapping[str, Any]) -> ExistingNetwork:
        """What a stack config with ``network.vpcId`` expects to find: that VPC, its subnets one
        per AZ, each associated with one of the route tables, and no endpoints yet."""
        network = values.get(f"{PROJECT_NAME}:network") or {}
        vpc_id = network.get("vpcId") if isinstance(network, Mapping) else None
        if not isinstance(vpc_id, str):
            return cls()
        region = str(values.get("aws:region", "us-east-1"))
        subnet_ids = list(network.get("subnetIds") or [])
        table_ids = list(network.get("routeTableIds") or []) or [f"rtb-{_short_hash(vpc_id)}"]
        return cls(
            vpcs={vpc_id: ("10.60.0.0/16", "100.64.0.0/20")},
            subnets={
                subnet: (vpc_id, f"{region}{'abcdef'[index % 6]}")
                for index, subnet in enumerate(subnet_ids)
            },
            route_tables={
                table: (vpc_id, tuple(subnet_ids[index :: len(table_ids)]))
                for index, table in enumerate(table_ids)
            },
            main_route_tables={vpc_id: f"rtb-{_short_hash(vpc_id, 'main')}"},
        )

    def route_table_ids(self, vpc_id: str, filters: list[Mapping[str, Any]]) -> list[str]:
        """DescribeRouteTables in a VPC with the filters the network component uses."""
        tables = {**self.route_tables}
        main = self.main_route_tables.get(vpc_id)
        if main is not None:
            tables.setdefault(main, (vpc_id, ()))
        return sorted(
            table
            for table, (vpc, subnets) in tables.items()
            if vpc == vpc_id
            and all(
                self._matches(table, subnets, main, f["name"], set(f["values"])) for f in filters
            )
        )

    def _matches(
        self, table: str, subnets: tuple[str, ...], main: str | None, name: str, values: set[str]
    ) -> bool:
        match name:
            case "route-table-id":
                return table in values
            case "association.subnet-id":
                return bool(values & set(subnets))
            case "association.main":
                return (table == main) == ("true" in values)
            case "route.destination-prefix-list-id":
                return any(
                    prefix_list_id(e.service) in values
                    for e in self.endpoints
                    if e.type == "Gateway" and table in e.route_table_ids
                )
            case "route.destination-cidr-block":
                return "0.0.0.0/0" in values and table in self.default_routes
            case "route.destination-ipv6-cidr-block":
                return False
        raise ValueError(f"the mocks do not know the route table filter {name}")

    def endpoint_interfaces(self, vpc_id: str) -> list[str]:
        return [
            _interface_id(e.id, subnet)
            for e in self.endpoints
            if e.vpc_id == vpc_id and e.type == "Interface"
            for subnet in e.subnet_ids or ("",)
        ]


def prefix_list_id(service_name: str) -> str:
    """The AWS-managed prefix list of a gateway service, as the mocks number it."""
    return f"pl-{_short_hash(service_name.rsplit('.', maxsplit=1)[-1], length=8)}"


def _interface_id(endpoint_id: str, subnet_id: str) -> str:
    return f"eni-{_short_hash(endpoint_id, subnet_id)}"


def default_deployer_arn(account_id: str) -> str:
    """Whom mocked runs deploy as: a role no stack lists as an administrator."""
    return f"arn:aws:iam::{account_id}:role/pulumi-deploy"


def session_arn(principal_arn: str) -> str:
    """What STS reports as the caller for a principal: a role's session, or a user itself."""
    account, _, kind_and_name = principal_arn.removeprefix("arn:aws:iam::").partition(":")
    kind, _, path_and_name = kind_and_name.partition("/")
    if kind != "role":
        return principal_arn
    return f"arn:aws:sts::{account}:assumed-role/{path_and_name.rsplit('/')[-1]}/pulumi"


class StackMocks(pulumi.runtime.Mocks):
    """Plausible, deterministic computed values (ids, ARNs, names) for the AWS resources the
    program creates, so that Outputs resolve the way they would after `pulumi up`."""

    def __init__(
        self,
        region: str,
        account_id: str,
        deployer_arn: str | None = None,
        network: ExistingNetwork | None = None,
    ) -> None:
        self.region = region
        self.account_id = account_id
        self.deployer_arn = deployer_arn or default_deployer_arn(account_id)
        self.network = network or ExistingNetwork()
        # The monitor registers resources on several threads; each keeps its own last inputs.
        self._registering = threading.local()

    def inputs_just_registered(self) -> dict[str, Any]:
        """The inputs of the last resource registered on this thread, as the SDK's mock
        monitor deserialized them: capturing them again would double the per-input cost."""
        inputs: dict[str, Any] = self._registering.inputs
        return inputs

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            letters = "abcdef"
            return {
                "names": [f"{self.region}{letter}" for letter in letters],
                "zoneIds": [f"use1-az{index}" for index in range(1, len(letters) + 1)],
                "id": self.region,
            }, []
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": self.account_id,
                "arn": session_arn(self.deployer_arn),
                "userId": "AROAEXAMPLEDEPLOYER:pulumi",
                "id": self.account_id,
            }, []
        if args.token == "aws:iam/getSessionContext:getSessionContext":
            arn = args.args["arn"]
            issuer = self.deployer_arn if arn == session_arn(self.deployer_arn) else arn
            return {
                "arn": arn,
                "issuerArn": issuer,
                "issuerName": issuer.rsplit("/", maxsplit=1)[-1],
                "issuerId": "AROAEXAMPLEDEPLOYER",
                "sessionName": "pulumi" if issuer != arn else "",
                "id": arn,
            }, []
        if args.token.startswith("aws:ec2/get"):
            return self._network_lookup(args.token.removeprefix("aws:ec2/"), args.args)
        return {}, []

    def _network_lookup(
        self, token: str, args: Mapping[str, Any]
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """EC2 lookups answered from :attr:`network`; unknown ids fail as AWS's do."""
        network = self.network
        answer: dict[str, Any] | None = None
        filters = {f["name"]: f["values"] for f in args.get("filters") or []}
        match token:
            case "getVpc:getVpc" if args["id"] in network.vpcs:
                blocks = network.vpcs[args["id"]]
                answer = {
                    "id": args["id"],
                    "cidrBlock": blocks[0],
                    "cidrBlockAssociations": [
                        {
                            "associationId": f"vpc-cidr-assoc-{i}",
                            "cidrBlock": b,
                            "state": "associated",
                        }
                        for i, b in enumerate(blocks)
                    ],
                    "enableDnsSupport": network.dns,
                    "enableDnsHostnames": network.dns,
                }
            case "getSubnet:getSubnet" if args["id"] in network.subnets:
                vpc_id, zone = network.subnets[args["id"]]
                answer = {"id": args["id"], "vpcId": vpc_id, "availabilityZone": zone}
            case "getRouteTables:getRouteTables":
                ids = network.route_table_ids(args["vpcId"], args.get("filters") or [])
                answer = {"id": args["vpcId"], "ids": ids}
            case "getPrefixList:getPrefixList":
                answer = {"id": prefix_list_id(args["name"]), "name": args["name"]}
            case "getNetworkInterfaces:getNetworkInterfaces":
                [vpc_id] = filters["vpc-id"]
                answer = {"id": vpc_id, "ids": network.endpoint_interfaces(vpc_id)}
            case "getNetworkInterface:getNetworkInterface":
                endpoint = next(
                    e.id
                    for e in network.endpoints
                    for subnet in e.subnet_ids or ("",)
                    if _interface_id(e.id, subnet) == args["id"]
                )
                answer = {
                    "id": args["id"],
                    "description": f"VPC Endpoint Interface {endpoint}",
                    "interfaceType": "vpc_endpoint",
                }
            case "getVpcEndpoint:getVpcEndpoint":
                found = [e for e in network.endpoints if e.id == args["id"]]
                for e in found:
                    answer = {
                        "id": e.id,
                        "vpcId": e.vpc_id,
                        "serviceName": f"com.amazonaws.{self.region}.{e.service}",
                        "vpcEndpointType": e.type,
                        "privateDnsEnabled": e.private_dns,
                        "state": e.state,
                        "securityGroupIds": list(e.security_group_ids),
                        "subnetIds": list(e.subnet_ids),
                        "routeTableIds": list(e.route_table_ids),
                    }
        if answer is None:
            return {}, [("id", f"no matching EC2 resource found for {token} {dict(args)}")]
        return answer, []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self._registering.inputs = args.inputs
        inputs = dict(args.inputs)
        if args.typ == PROVIDER_TYPE:
            return f"{args.name}-provider-id", inputs
        generated_name = f"{args.name}-{_short_hash(args.typ, args.name, length=7)}"
        account = str(inputs.get("accountId") or self.account_id)
        service = args.typ.split(":")[1].split("/")[0]
        state: dict[str, Any] = {
            "arn": f"arn:aws:{service}:{self.region}:{account}:{args.name}",
            **inputs,
        }
        resource_id = f"{args.name}-id"
        match args.typ:
            case "aws:s3/bucket:Bucket":
                bucket = inputs.get("bucket") or generated_name
                state |= {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}"}
                resource_id = bucket
            case "aws:s3/accessPoint:AccessPoint":
                name = inputs["name"]
                state |= {
                    "arn": f"arn:aws:s3:{self.region}:{account}:accesspoint/{name}",
                    "alias": f"{name}-{_short_hash(name, length=26)}-s3alias",
                    "networkOrigin": "VPC" if inputs.get("vpcConfiguration") else "Internet",
                }
            case "aws:kms/key:Key":
                key_id = _short_hash(args.name, length=32)
                state |= {
                    "keyId": key_id,
                    "arn": f"arn:aws:kms:{self.region}:{account}:key/{key_id}",
                }
                resource_id = key_id
            case "aws:iam/role:Role":
                name = inputs.get("name") or generated_name
                state |= {"name": name, "arn": f"arn:aws:iam::{account}:role/{name}"}
                resource_id = name
            case "aws:cloudwatch/logGroup:LogGroup":
                name = inputs.get("name") or generated_name
                state |= {
                    "name": name,
                    "arn": f"arn:aws:logs:{self.region}:{account}:log-group:{name}",
                }
                resource_id = name
            case "aws:lambda/function:Function":
                name = inputs.get("name") or generated_name
                state |= {
                    "name": name,
                    "arn": f"arn:aws:lambda:{self.region}:{account}:function:{name}",
                }
                resource_id = name
            case "aws:ec2/vpcEndpoint:VpcEndpoint" if inputs.get("vpcEndpointType") == "Gateway":
                state["prefixListId"] = f"pl-{_short_hash(args.name, length=8)}"
        # Each returns None for the types it does not compute.
        computed = (
            _governance_state(args.typ, args.name, self.region, account, generated_name)
            or _signing_state(args.typ, args.name, self.region, account, inputs)
            or _knowledge_base_state(args.typ, args.name, self.region, account, inputs)
        )
        if computed is not None:
            state |= computed[0]
            resource_id = computed[1] or resource_id
        if args.typ in _EC2_ID_PREFIXES:
            resource_id = f"{_EC2_ID_PREFIXES[args.typ]}-{_short_hash(args.name)}"
        return resource_id, state


def _governance_state(
    type_token: str, name: str, region: str, account: str, generated_name: str
) -> tuple[dict[str, Any], str | None] | None:
    """Computed values of the guardrail, profile and alarm resources: (state, id or None)."""
    match type_token:
        case "aws:bedrock/guardrail:Guardrail":
            guardrail_id = _short_hash(name, length=12)
            arn = f"arn:aws:bedrock:{region}:{account}:guardrail/{guardrail_id}"
            return {"guardrailId": guardrail_id, "guardrailArn": arn, "version": "DRAFT"}, None
        case "aws:bedrock/guardrailVersion:GuardrailVersion":
            return {"version": "1"}, None
        case "aws:bedrock/inferenceProfile:InferenceProfile":
            profile_id = _short_hash(name, length=12)
            arn = f"arn:aws:bedrock:{region}:{account}:application-inference-profile/{profile_id}"
            return {"arn": arn}, profile_id
        case "aws:sns/topic:Topic":
            return {"arn": f"arn:aws:sns:{region}:{account}:{generated_name}"}, None
        case "aws:cloudwatch/metricAlarm:MetricAlarm":
            return {"arn": f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}"}, None
    return None


def _signing_state(
    type_token: str, name: str, region: str, account: str, inputs: Mapping[str, Any]
) -> tuple[dict[str, Any], str | None] | None:
    """Computed values of the code-signing chain: the uploaded object's version, the profile
    (named from its prefix), the signed object AWS Signer writes under the destination prefix."""
    match type_token:
        case "aws:s3/bucketObjectv2:BucketObjectv2":
            return {"versionId": _short_hash(name, "version", length=32)}, None
        case "aws:signer/signingProfile:SigningProfile":
            profile = f"{inputs.get('namePrefix', '')}{_short_hash(name, length=26)}"
            arn = f"arn:aws:signer:{region}:{account}:/signing-profiles/{profile}"
            return {
                "name": profile,
                "arn": arn,
                "version": _short_hash(name, "version", length=10),
                "versionArn": f"{arn}/{_short_hash(name, 'version', length=10)}",
            }, profile
        case "aws:signer/signingJob:SigningJob":
            job_id = _short_hash(name, length=36)
            destination = inputs["destination"]["s3"]
            signed = {
                "bucket": destination["bucket"],
                "key": f"{destination['prefix']}{job_id}.zip",
            }
            return {"jobId": job_id, "signedObjects": [{"s3s": [signed]}]}, job_id
        case "aws:lambda/codeSigningConfig:CodeSigningConfig":
            config_id = f"csc-{_short_hash(name, length=17)}"
            return {
                "arn": f"arn:aws:lambda:{region}:{account}:code-signing-config:{config_id}",
                "configId": config_id,
            }, config_id
    return None


def _knowledge_base_state(
    type_token: str, name: str, region: str, account: str, inputs: Mapping[str, Any]
) -> tuple[dict[str, Any], str | None] | None:
    """Computed values of the knowledge base's resources, in the forms AWS gives them (ids of
    ten upper-case letters and digits, S3 Vectors and Step Functions ARNs): (state, id)."""
    generated_id = _short_hash(name, length=10).upper()
    vectors = f"arn:aws:s3vectors:{region}:{account}:bucket/{inputs.get('vectorBucketName')}"
    match type_token:
        case "aws:bedrock/agentKnowledgeBase:AgentKnowledgeBase":
            arn = f"arn:aws:bedrock:{region}:{account}:knowledge-base/{generated_id}"
            state, resource_id = {"arn": arn}, generated_id
        case "aws:bedrock/agentDataSource:AgentDataSource":
            state = {"dataSourceId": generated_id}
            resource_id = f"{generated_id},{inputs['knowledgeBaseId']}"
        case "aws:s3/vectorsVectorBucket:VectorsVectorBucket":
            state, resource_id = {"vectorBucketArn": vectors}, vectors
        case "aws:s3/vectorsIndex:VectorsIndex":
            arn = f"{vectors}/index/{inputs['indexName']}"
            state, resource_id = {"indexArn": arn}, arn
        case "aws:sfn/stateMachine:StateMachine":
            arn = f"arn:aws:states:{region}:{account}:stateMachine:{inputs['name']}"
            state, resource_id = {"arn": arn}, arn
        case "aws:scheduler/schedule:Schedule":
            arn = f"arn:aws:scheduler:{region}:{account}:schedule/default/{inputs['name']}"
            state, resource_id = {"arn": arn}, f"default/{inputs['name']}"
        case _:
            return None
    return state, resource_id


class CapturingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, also recording what each registration asked for."""

    mocks: StackMocks

    def __init__(
        self, mocks: StackMocks, run: StackRun, progress: Callable[[int], None] | None = None
    ) -> None:
        super().__init__(mocks)
        self.run = run
        self.progress = progress

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            registration = self.resources[response.urn]
            self.run.resources.append(
                CapturedResource(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent,
                    provider=request.provider,
                    custom=request.custom,
                    protect=request.protect,
                    retain_on_delete=request.retainOnDelete,
                    inputs=_plain(self.mocks.inputs_just_registered()),
                    outputs=_plain(dict(registration.state)),
                    aliases=[_alias(alias) for alias in request.aliases],
                    id=response.id,
                    dependencies=list(request.dependencies),
                )
            )
            if self.progress is not None:
                self.progress(len(self.run.resources))
        return response

    def Invoke(self, request: Any) -> Any:
        self.run.calls.append((request.tok, request.provider))
        return super().Invoke(request)  # type: ignore[no-untyped-call]


def _alias(alias: Any) -> dict[str, Any]:
    if alias.urn:
        return {"urn": alias.urn}
    spec = alias.spec
    return {
        "name": spec.name,
        "type": spec.type,
        "parentUrn": spec.parentUrn,
        "noParent": spec.noParent,
    }


def _plain(value: Any) -> Any:
    """Drop the SDK's unknown/secret sentinels so captured values are plain JSON data."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


async def _resolved(value: Any) -> Any:
    """``value`` with every Output in it awaited, however deeply nested.

    Only the Outputs themselves are awaited: ``Output.from_input`` would lift every dict key
    and value of the stack outputs into an Output of its own, tens of thousands of them for a
    stack of 10,000 access points (see benchmarks/).
    """
    if isinstance(value, pulumi.Output):
        return await _resolved(await value.future())
    if isinstance(value, dict):
        return {key: await _resolved(item) for key, item in value.items()}
    if isinstance(value, list):
        return [await _resolved(item) for item in value]
    if isinstance(value, tuple):
        return tuple([await _resolved(item) for item in value])
    return value


async def _collect_outputs(exported: Mapping[str, Any], into: dict[str, Any]) -> None:
    into.update(await _resolved(dict(exported)))


def run_stack(
    stack: str,
    *,
    values: Mapping[str, Any] | None = None,
    program: Path = PROJECT_DIR / "__main__.py",
    progress: Callable[[int], None] | None = None,
    deployer_arn: str | None = None,
    network: ExistingNetwork | None = None,
    preview: bool = False,
) -> StackRun:
    """Run ``__main__.py`` under mocks with the stack's config (or ``values`` instead).

    ``progress``, if given, is called after each captured registration with the number
    captured so far (long runs report progress through it). ``deployer_arn`` is the principal
    whose credentials the run pretends to use (default :func:`default_deployer_arn`).
    ``network`` is what the account has already (default: what the config's ``network.vpcId``
    expects, :meth:`ExistingNetwork.for_config`). ``preview`` runs it as ``pulumi preview``
    does (``pulumi.runtime.is_dry_run()``), else as the update of ``pulumi up``.

    Raises ``pulumi.RunError`` for a config error, as ``pulumi up`` would report it.
    """
    config_values = dict(load_stack_values(stack) if values is None else values)
    return run_program(
        lambda: runpy.run_path(str(program), run_name="__main__"),
        stack=stack,
        config=config_values,
        progress=progress,
        deployer_arn=deployer_arn,
        network=network,
        preview=preview,
    )


def run_program(
    program: Callable[[], object],
    *,
    stack: str = "test",
    config: Mapping[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
    deployer_arn: str | None = None,
    network: ExistingNetwork | None = None,
    preview: bool = False,
) -> StackRun:
    """Run ``program`` (a function that registers resources, such as one component built
    from its own args) under mocks with ``config``, as :func:`run_stack` runs the stack;
    ``network`` and ``preview`` as there."""
    config_values = dict(config or {})
    region = str(config_values.get("aws:region", "us-east-1"))
    account = str(config_values.get(f"{PROJECT_NAME}:accountId", "000000000000"))
    run = StackRun(stack=stack, region=region)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        pulumi_settings.ROOT.set(None)
        mocks = StackMocks(
            region,
            account,
            deployer_arn,
            network if network is not None else ExistingNetwork.for_config(config_values),
        )
        pulumi.runtime.set_mocks(
            mocks,
            project=PROJECT_NAME,
            stack=stack,
            preview=preview,
            monitor=CapturingMonitor(mocks, run, progress),
        )
        pulumi.runtime.set_all_config(flatten_config(config_values))

        @pulumi.runtime.test  # type: ignore[untyped-decorator]
        def execute() -> asyncio.Future[None]:
            program()
            root = pulumi_settings.get_root_resource()
            exported = dict(getattr(root, "outputs", {}))
            return asyncio.ensure_future(_collect_outputs(exported, run.outputs))

        execute()
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    return run
