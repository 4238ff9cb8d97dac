"""Collect what a mocked run of the program registered into the offline synth's records.

Pure functions of a :class:`~offline.runner.StackRun`: no files and no printing, so the
same records feed ``resources.json``, ``policies/``, ``summary.md``, the picture and the tests.
Everything is read from the captured registrations, never from the config a second time: the
synth shows what ``pulumi up`` would be asked to create.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Literal

import pulumi

from components import policies
from offline.runner import PROJECT_DIR, PROJECT_NAME, CapturedResource, StackRun
from synth.terraform import terraform_plan

ACCESS_POINT_TYPE = "aws:s3/accessPoint:AccessPoint"
SUBNET_TYPE = "aws:ec2/subnet:Subnet"
VPC_TYPE = "aws:ec2/vpc:Vpc"
VPC_ENDPOINT_TYPE = "aws:ec2/vpcEndpoint:VpcEndpoint"

# AWS limits not in components.policies (that module holds the ones the config validator
# checks before anything is registered).
TRUST_POLICY_LIMIT_CHARS = 2_048  # IAM role trust policy: the default quota (adjustable)
KMS_KEY_POLICY_LIMIT_BYTES = 32 * 1024
MANAGED_POLICY_LIMIT_CHARS = 6_144
# AWS Organizations: the size of a service control policy and of a resource control policy.
ORGANIZATION_POLICY_LIMIT_CHARS = 5_120
SNS_TOPIC_POLICY_LIMIT_BYTES = 30 * 1024

Unit = Literal["bytes", "characters"]


@dataclass(frozen=True)
class PolicyLimit:
    """What kind of policy a resource input holds and the AWS limit its size is held to."""

    kind: str
    limit: int
    unit: Unit


_BUCKET = PolicyLimit("bucket policy", policies.BUCKET_POLICY_LIMIT_BYTES, "bytes")
_ACCESS_POINT = PolicyLimit(
    "access point policy", policies.ACCESS_POINT_POLICY_LIMIT_BYTES, "bytes"
)
_ENDPOINT = PolicyLimit(
    "VPC endpoint policy", policies.VPC_ENDPOINT_POLICY_LIMIT_CHARS, "characters"
)

# (resource type, input path) -> limit. Inputs are keyed by their camelCase engine names.
POLICY_LIMITS: Mapping[tuple[str, str], PolicyLimit] = {
    ("aws:s3/bucketPolicy:BucketPolicy", "policy"): _BUCKET,
    ("aws:s3/bucket:Bucket", "policy"): _BUCKET,
    (ACCESS_POINT_TYPE, "policy"): _ACCESS_POINT,
    ("aws:s3control/accessPointPolicy:AccessPointPolicy", "policy"): _ACCESS_POINT,
    (VPC_ENDPOINT_TYPE, "policy"): _ENDPOINT,
    ("aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy", "policy"): _ENDPOINT,
    ("aws:iam/rolePolicy:RolePolicy", "policy"): PolicyLimit(
        "role inline policy", policies.ROLE_INLINE_POLICY_LIMIT_CHARS, "characters"
    ),
    ("aws:iam/role:Role", "assumeRolePolicy"): PolicyLimit(
        "trust policy", TRUST_POLICY_LIMIT_CHARS, "characters"
    ),
    ("aws:kms/key:Key", "policy"): PolicyLimit(
        "KMS key policy", KMS_KEY_POLICY_LIMIT_BYTES, "bytes"
    ),
    ("aws:iam/policy:Policy", "policy"): PolicyLimit(
        "managed policy", MANAGED_POLICY_LIMIT_CHARS, "characters"
    ),
    ("aws:sns/topicPolicy:TopicPolicy", "policy"): PolicyLimit(
        "SNS topic policy", SNS_TOPIC_POLICY_LIMIT_BYTES, "bytes"
    ),
    # S3 Vectors documents no size of its own for a vector bucket policy: S3's is assumed.
    ("aws:s3/vectorsVectorBucketPolicy:VectorsVectorBucketPolicy", "policy"): PolicyLimit(
        "vector bucket policy", policies.BUCKET_POLICY_LIMIT_BYTES, "bytes"
    ),
}


@dataclass(frozen=True)
class ResourceRecord:
    """One registration as ``resources.json`` lists it."""

    urn: str
    type: str
    name: str
    parent: str
    provider: str | None
    custom: bool
    account: str | None
    """The account it lands in (its provider's only allowed account); None for components and
    for resources on the default provider, whose account is whatever the credentials are."""
    region: str | None
    protect: bool
    retain_on_delete: bool
    inputs: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "provider": self.provider,
            "custom": self.custom,
            "account": self.account,
            "region": self.region,
            "protect": self.protect,
            "retainOnDelete": self.retain_on_delete,
            "inputs": self.inputs,
        }


@dataclass(frozen=True)
class PolicyRecord:
    """One policy document found in a resource's inputs."""

    file_name: str
    urn: str
    resource_type: str
    resource_name: str
    input_path: str
    kind: str
    size: int
    """Length of the JSON text sent to AWS, in ``unit``."""
    limit: int | None
    unit: Unit
    document: dict[str, Any]

    @property
    def share(self) -> float | None:
        return None if self.limit is None else self.size / self.limit


@dataclass(frozen=True)
class AccessPointRecord:
    name: str
    arn: str
    bucket: str
    prefix: str | None
    """The key prefix its policy grants ('' for the whole bucket; None without a policy)."""
    access: str
    """read, write or readwrite as defined in components.policies; 'custom' otherwise."""
    principals: int
    origin: Literal["VPC", "Internet"]
    vpc_id: str | None
    stack_vpc: str | None
    """Name of this stack's VPC when the origin is that VPC; None for another VPC."""
    account: str | None


@dataclass(frozen=True)
class ComponentCount:
    name: str
    type: str
    resources: int
    """AWS resources under it (providers and nested components not counted)."""


@dataclass(frozen=True)
class ProviderRecord:
    name: str
    account: str | None
    region: str | None
    resources: int
    """AWS resources created through it."""


@dataclass(frozen=True)
class InterfaceEndpoint:
    service: str
    availability_zones: int


@dataclass(frozen=True)
class NetworkShape:
    """What the network path's cost depends on."""

    availability_zones: tuple[str, ...]
    interface_endpoints: tuple[InterfaceEndpoint, ...]
    gateway_endpoints: tuple[str, ...]


@dataclass(frozen=True)
class OutsidePolicy:
    """A policy document for someone else to attach (from the stack outputs)."""

    file_name: str
    what: str
    document: Mapping[str, Any]
    limit: PolicyLimit | None

    @property
    def size(self) -> int:
        return policies.policy_size(dict(self.document))


# (stack output, key within it or None, file, what it is, its AWS limit)
_OUTSIDE_POLICIES = (
    ("organizationPolicies", "serviceControlPolicy", "organization/service-control-policy.json",
     "service control policy for the data account", PolicyLimit(
         "service control policy", ORGANIZATION_POLICY_LIMIT_CHARS, "characters")),
    ("organizationPolicies", "bedrockServiceControlPolicy",
     "organization/bedrock-service-control-policy.json",
     "service control policy for the data account: model governance", PolicyLimit(
         "service control policy", ORGANIZATION_POLICY_LIMIT_CHARS, "characters")),
    ("organizationPolicies", "regionServiceControlPolicy",
     "organization/region-service-control-policy.json",
     "service control policy for the data account: its Regions", PolicyLimit(
         "service control policy", ORGANIZATION_POLICY_LIMIT_CHARS, "characters")),
    ("organizationPolicies", "resourceControlPolicy", "organization/resource-control-policy.json",
     "resource control policy for the data account", PolicyLimit(
         "resource control policy", ORGANIZATION_POLICY_LIMIT_CHARS, "characters")),
    ("organizationPolicies", "knowledgeBaseServiceControlPolicy",
     "organization/knowledge-base-service-control-policy.json",
     "service control policy for the data account: the knowledge base", PolicyLimit(
         "service control policy", ORGANIZATION_POLICY_LIMIT_CHARS, "characters")),
    ("dataKeyPolicyStatements", None, "organization/data-key-policy-statements.json",
     "statements to add to bucket.kmsKeyArn's key policy", None),
)  # fmt: skip


def outside_policies(outputs: Mapping[str, Any]) -> tuple[OutsidePolicy, ...]:
    found = []
    for output, key, file_name, what, limit in _OUTSIDE_POLICIES:
        value = outputs.get(output)
        text = value.get(key) if key is not None and isinstance(value, Mapping) else value
        if isinstance(text, str):
            found.append(OutsidePolicy(file_name, what, json.loads(text), limit))
    return tuple(found)


@dataclass(frozen=True)
class GuardrailRecord:
    """The guardrail the function's calls carry: created by the stack, or an existing one."""

    name: str
    """The guardrail's name, or its ARN when it is not the stack's."""
    created: bool
    policies: tuple[str, ...]
    """What it filters, in words ("6 content filters", "profanity", ...)."""
    kms_key: str | None


@dataclass(frozen=True)
class ApplicationProfileRecord:
    name: str
    copies: str
    """The ARN of the model or system inference profile it copies."""
    tags: Mapping[str, str]


@dataclass(frozen=True)
class AlarmRecord:
    name: str
    metric: str
    """``namespace/metric``."""
    condition: str
    """``statistic >= threshold per period``."""


@dataclass(frozen=True)
class GovernanceRecord:
    """Guardrail, application profiles, invocation logging and alarms, as registered."""

    guardrail: GuardrailRecord | None
    profiles: tuple[ApplicationProfileRecord, ...]
    invocation_log_destinations: tuple[str, ...]
    """Empty when this stack does not manage the account's invocation logging."""
    invocation_log_data: tuple[str, ...]
    alarms: tuple[AlarmRecord, ...]
    alarm_topic: str | None
    """What the alarms notify: the stack's topic (with its subscriptions) or a topic ARN."""


@dataclass(frozen=True)
class KnowledgeBaseRecord:
    """What the knowledge base's cost follows: its model, vectors, passages and prefixes."""

    embedding_model_id: str
    dimensions: int
    chunk_tokens: int
    """The most tokens of a passage (each is stored beside its vector)."""
    overlap: float
    """The share of a passage repeated in the next (fixed-size chunking)."""
    prefixes: int
    results: int
    """Passages retrieved per question."""


@dataclass(frozen=True)
class SynthModel:
    project: str
    stack: str
    region: str
    resources: tuple[ResourceRecord, ...]
    policies: tuple[PolicyRecord, ...]
    access_points: tuple[AccessPointRecord, ...]
    components: tuple[ComponentCount, ...]
    stack_level_resources: int
    """AWS resources registered directly under the stack, outside any component."""
    providers: tuple[ProviderRecord, ...]
    network: NetworkShape
    governance: GovernanceRecord
    outside_the_stack: tuple[OutsidePolicy, ...] = ()
    """Policies the stack cannot attach itself: the organization's, an existing key's."""
    terraform_plan: Mapping[str, Any] = field(default_factory=dict)
    """The stack in Terraform's plan JSON format (synth/terraform.py), for scanners."""
    knowledge_base: KnowledgeBaseRecord | None = None

    @property
    def aws_resource_count(self) -> int:
        return sum(1 for r in self.resources if _is_aws_resource(r.type, r.custom))


def collect(run: StackRun) -> SynthModel:
    # Registration order under mocks depends on when Outputs resolve: sort by URN, which is
    # stable and also groups each component's children together.
    providers = {r.urn: r for r in run.resources if is_provider(r.type)}
    records = (_record(r, providers, run.region) for r in run.resources)
    resources = tuple(sorted(records, key=lambda r: r.urn))
    components, stack_level = component_counts(resources)
    return SynthModel(
        project=PROJECT_NAME,
        stack=run.stack,
        region=run.region,
        resources=resources,
        policies=find_policies(resources),
        access_points=access_points(resources),
        components=components,
        stack_level_resources=stack_level,
        providers=provider_records(resources),
        network=network_shape(resources),
        governance=governance(resources),
        outside_the_stack=outside_policies(run.outputs),
        terraform_plan=terraform_plan(run),
        knowledge_base=knowledge_base_record(resources),
    )


def is_provider(type_token: str) -> bool:
    return type_token.startswith("pulumi:providers:")


def _is_aws_resource(type_token: str, custom: bool) -> bool:
    return custom and not is_provider(type_token)


def _record(
    resource: CapturedResource, providers: Mapping[str, CapturedResource], stack_region: str
) -> ResourceRecord:
    """The account and Region come from the resource's provider, as StackRun.account_of reads
    them (looked up in a dict here: stacks have thousands of resources)."""
    provider_urn = resource.provider.rsplit("::", maxsplit=1)[0] if resource.provider else None
    provider = providers.get(provider_urn) if provider_urn else None
    account: str | None = None
    region: str | None = None
    if is_provider(resource.type):
        account = _provider_account(resource.inputs)
        region = _str_or_none(resource.inputs, "region")
    elif resource.custom:
        # Without an explicit provider, the default one: the stack's Region and whatever
        # account the credentials belong to.
        account = _provider_account(provider.inputs) if provider is not None else None
        region = (_str_or_none(provider.inputs, "region") if provider else None) or stack_region
    return ResourceRecord(
        urn=resource.urn,
        type=resource.type,
        name=resource.name,
        parent=resource.parent,
        # The provider reference ends in the provider's mocked id: keep the URN only.
        provider=provider_urn,
        custom=resource.custom,
        account=account,
        region=region,
        protect=resource.protect,
        retain_on_delete=resource.retain_on_delete,
        inputs=to_json_value(resource.inputs),
    )


def _provider_account(inputs: Mapping[str, Any]) -> str | None:
    allowed = inputs.get("allowedAccountIds") or []
    if isinstance(allowed, str):  # provider inputs reach the engine JSON-encoded
        allowed = json.loads(allowed)
    return str(allowed[0]) if allowed else None


def _str_or_none(inputs: Mapping[str, Any], key: str) -> str | None:
    value = inputs.get(key)
    return str(value) if value else None


def to_json_value(value: Any) -> Any:
    """Inputs as plain JSON data. Assets and archives become their kind and path, the path
    relative to the project so that two machines' synths compare equal."""
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_value(v) for v in value]
    if isinstance(value, pulumi.Asset | pulumi.Archive):
        return _asset_json(value)
    if isinstance(value, float) and value.is_integer():
        # The engine carries every number as a double: 256 arrives as 256.0.
        return int(value)
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def _asset_json(value: pulumi.Asset | pulumi.Archive) -> dict[str, Any]:
    if isinstance(value, pulumi.FileArchive | pulumi.FileAsset):
        kind = "fileArchive" if isinstance(value, pulumi.FileArchive) else "fileAsset"
        return {kind: _project_relative(str(value.path))}
    if isinstance(value, pulumi.RemoteArchive | pulumi.RemoteAsset):
        kind = "remoteArchive" if isinstance(value, pulumi.RemoteArchive) else "remoteAsset"
        return {kind: value.uri}
    if isinstance(value, pulumi.StringAsset):
        return {"stringAsset": value.text}
    if isinstance(value, pulumi.AssetArchive):
        return {"assetArchive": to_json_value(dict(value.assets))}
    return {type(value).__name__: str(value)}


def _project_relative(path: str) -> str:
    pure = PurePath(path)
    return pure.relative_to(PROJECT_DIR).as_posix() if pure.is_relative_to(PROJECT_DIR) else path


# --- policies ------------------------------------------------------------------------------


def parse_policy(text: Any) -> dict[str, Any] | None:
    """The document if ``text`` is a policy (a JSON object with a Statement list), else None."""
    if not isinstance(text, str) or '"Statement"' not in text:
        return None
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if isinstance(document, dict) and isinstance(document.get("Statement"), list):
        return document
    return None


def policy_texts(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    """(input path, JSON text) of every policy anywhere in a resource's inputs."""
    if isinstance(value, str):
        if parse_policy(value) is not None:
            yield ".".join(path), value
    elif isinstance(value, Mapping):
        for key in sorted(value):
            yield from policy_texts(value[key], (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from policy_texts(item, (*path, str(index)))


def find_policies(resources: Sequence[ResourceRecord]) -> tuple[PolicyRecord, ...]:
    found = [
        (resource, path, text)
        for resource in resources
        for path, text in policy_texts(resource.inputs)
    ]
    names = [policy_file_stem(r.type, r.name, path) for r, path, _ in found]
    repeated = {name for name, count in Counter(names).items() if count > 1}
    records = []
    for (resource, path, text), name in zip(found, names, strict=True):
        stem = name
        if name in repeated:
            # Same type and name under different parents: the URN tells them apart.
            stem += "--" + hashlib.sha256(f"{resource.urn}#{path}".encode()).hexdigest()[:8]
        limit = POLICY_LIMITS.get((resource.type, path))
        unit: Unit = limit.unit if limit is not None else "bytes"
        records.append(
            PolicyRecord(
                file_name=f"{stem}.json",
                urn=resource.urn,
                resource_type=resource.type,
                resource_name=resource.name,
                input_path=path,
                kind=limit.kind if limit is not None else "policy",
                size=len(text.encode()) if unit == "bytes" else len(text),
                limit=limit.limit if limit is not None else None,
                unit=unit,
                document=parse_policy(text) or {},
            )
        )
    return tuple(sorted(records, key=lambda p: p.file_name))


def policy_file_stem(type_token: str, name: str, input_path: str) -> str:
    """``aws:s3/accessPoint:AccessPoint``, ``access-points-analytics``, ``policy`` ->
    ``aws-s3-accesspoint--access-points-analytics``; other inputs than ``policy`` are appended
    (``aws-iam-role--bedrock-role--assume-role-policy``)."""
    package, module, kind = [*type_token.split(":"), "", ""][:3]
    parts = [f"{package}-{module.split('/')[0]}-{kind}", name]
    if input_path != "policy":
        parts.append(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", input_path))
    return "--".join(_slug(part) for part in parts)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-") or "unnamed"


# --- access points -------------------------------------------------------------------------


def access_points(resources: Sequence[ResourceRecord]) -> tuple[AccessPointRecord, ...]:
    stack_vpcs = stack_vpc_names(resources)
    records = []
    for resource in resources:
        if resource.type != ACCESS_POINT_TYPE:
            continue
        inputs = resource.inputs
        document = parse_policy(inputs.get("policy"))
        prefix, access, principals = _grant(document)
        vpc_id = (inputs.get("vpcConfiguration") or {}).get("vpcId")
        account = resource.account or str(inputs.get("accountId") or "") or None
        records.append(
            AccessPointRecord(
                name=str(inputs.get("name", resource.name)),
                arn=policies.access_point_arn(
                    resource.region or "", account or "", str(inputs.get("name", resource.name))
                ),
                bucket=str(inputs.get("bucket", "")),
                prefix=prefix,
                access=access,
                principals=principals,
                origin="VPC" if vpc_id else "Internet",
                vpc_id=vpc_id,
                stack_vpc=stack_vpcs.get(vpc_id) if vpc_id else None,
                account=account,
            )
        )
    return tuple(sorted(records, key=lambda ap: (ap.name, ap.account or "")))


def _grant(document: Mapping[str, Any] | None) -> tuple[str | None, str, int]:
    """(prefix, access mode, number of principals) an access point policy grants."""
    if document is None:
        return None, "none", 0
    object_actions: set[str] = set()
    prefix = None
    principals: set[str] = set()
    for statement in document["Statement"]:
        if statement.get("Effect") != "Allow":
            continue
        principals.update(_as_list((statement.get("Principal") or {}).get("AWS")))
        object_resources = [r for r in _as_list(statement.get("Resource")) if "/object/" in r]
        if object_resources:
            object_actions.update(_as_list(statement.get("Action")))
            prefix = object_resources[0].split("/object/", maxsplit=1)[1].removesuffix("*")
    modes = tuple(policies.AccessMode)
    access = next(
        (mode for mode in modes if set(policies.object_actions(mode)) == object_actions),
        "custom",
    )
    return prefix, access, len(principals)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def stack_vpc_names(resources: Sequence[ResourceRecord]) -> dict[str, str]:
    """VPC id -> name of this stack's VPC. Captured resources carry no ids, so a VPC's id is
    read from its subnets' ``vpcId``: the VPC registered beside them under the same parent. An
    existing VPC the stack adds endpoints to is named by its id."""
    vpcs_by_parent: dict[str, list[ResourceRecord]] = {}
    for resource in resources:
        if resource.type == VPC_TYPE:
            vpcs_by_parent.setdefault(resource.parent, []).append(resource)
    names: dict[str, str] = {}
    for resource in resources:
        siblings = vpcs_by_parent.get(resource.parent, [])
        vpc_id = resource.inputs.get("vpcId")
        if resource.type == SUBNET_TYPE and len(siblings) == 1 and isinstance(vpc_id, str):
            names[vpc_id] = siblings[0].name
    # An existing VPC (network.vpcId) is no resource of the stack: its endpoints name it.
    for resource in resources:
        vpc_id = resource.inputs.get("vpcId")
        if resource.type == VPC_ENDPOINT_TYPE and isinstance(vpc_id, str):
            names.setdefault(vpc_id, vpc_id)
    return names


# --- counts and network shape --------------------------------------------------------------


def component_counts(
    resources: Sequence[ResourceRecord],
) -> tuple[tuple[ComponentCount, ...], int]:
    """AWS resources per building block (the components directly under PrivateDataLake, the
    stack's one component), and those directly under PrivateDataLake (its provider)."""
    by_urn = {r.urn: r for r in resources}

    def is_block(resource: ResourceRecord) -> bool:
        parent = by_urn.get(resource.parent)
        return not resource.custom and parent is not None and parent.parent not in by_urn

    counts: Counter[str] = Counter()
    for resource in resources:
        if not _is_aws_resource(resource.type, resource.custom):
            continue
        block = resource
        while block.parent in by_urn and not is_block(block):
            block = by_urn[block.parent]
        counts[block.urn if is_block(block) else ""] += 1
    components = tuple(
        ComponentCount(name=r.name, type=r.type, resources=counts[r.urn])
        for r in resources
        if is_block(r)
    )
    return components, counts[""]


def provider_records(resources: Sequence[ResourceRecord]) -> tuple[ProviderRecord, ...]:
    through: Counter[str] = Counter(
        r.provider for r in resources if r.provider and _is_aws_resource(r.type, r.custom)
    )
    return tuple(
        ProviderRecord(r.name, r.account, r.region, through[r.urn])
        for r in resources
        if is_provider(r.type)
    )


def network_shape(resources: Sequence[ResourceRecord]) -> NetworkShape:
    zones = sorted({str(r.inputs["availabilityZone"]) for r in resources if r.type == SUBNET_TYPE})
    if not zones:
        # In an existing VPC the zones are looked up, not registered: the interface endpoints'
        # subnets stand for them, one subnet per zone.
        zones = sorted(
            {
                str(subnet)
                for r in resources
                if r.type == VPC_ENDPOINT_TYPE
                for subnet in r.inputs.get("subnetIds") or []
            }
        )
    interface = []
    gateway = []
    for resource in resources:
        if resource.type != VPC_ENDPOINT_TYPE:
            continue
        service = endpoint_service(str(resource.inputs.get("serviceName", "")))
        if resource.inputs.get("vpcEndpointType") == "Interface":
            interface.append(
                InterfaceEndpoint(service, len(resource.inputs.get("subnetIds") or []))
            )
        elif resource.inputs.get("vpcEndpointType", "Gateway") == "Gateway":
            gateway.append(service)
    return NetworkShape(
        availability_zones=tuple(zones),
        interface_endpoints=tuple(sorted(interface, key=lambda e: e.service)),
        gateway_endpoints=tuple(sorted(gateway)),
    )


def endpoint_service(service_name: str) -> str:
    """``com.amazonaws.us-east-1.ecr.api`` -> ``ecr.api``."""
    parts = service_name.split(".", maxsplit=3)
    return parts[3] if len(parts) == 4 else service_name


# --- Bedrock governance --------------------------------------------------------------------

GUARDRAIL_TYPE = "aws:bedrock/guardrail:Guardrail"
PROFILE_TYPE = "aws:bedrock/inferenceProfile:InferenceProfile"
LOGGING_TYPE = "aws:bedrockmodel/invocationLoggingConfiguration:InvocationLoggingConfiguration"
ALARM_TYPE = "aws:cloudwatch/metricAlarm:MetricAlarm"
FUNCTION_TYPE = "aws:lambda/function:Function"


def governance(resources: Sequence[ResourceRecord]) -> GovernanceRecord:
    of_type: dict[str, list[ResourceRecord]] = {}
    for resource in resources:
        of_type.setdefault(resource.type, []).append(resource)
    alarms = of_type.get(ALARM_TYPE, [])
    return GovernanceRecord(
        guardrail=_guardrail(of_type.get(GUARDRAIL_TYPE, []), of_type.get(FUNCTION_TYPE, [])),
        profiles=tuple(
            ApplicationProfileRecord(
                name=str(r.inputs.get("name", r.name)),
                copies=str((r.inputs.get("modelSource") or {}).get("copyFrom", "")),
                tags=dict(r.inputs.get("tags") or {}),
            )
            for r in of_type.get(PROFILE_TYPE, [])
        ),
        invocation_log_destinations=_log_destinations(resources, of_type.get(LOGGING_TYPE, [])),
        invocation_log_data=tuple(
            kind
            for r in of_type.get(LOGGING_TYPE, [])
            for kind in ("text", "image", "embedding", "video")
            if (r.inputs.get("loggingConfig") or {}).get(f"{kind}DataDeliveryEnabled")
        ),
        alarms=tuple(
            AlarmRecord(
                name=str(r.inputs.get("name", r.name)),
                metric=f"{r.inputs.get('namespace')}/{r.inputs.get('metricName')}",
                condition=f"{r.inputs.get('statistic')} >= {_number(r.inputs.get('threshold'))} "
                f"per {_number(r.inputs.get('period'))} s",
            )
            for r in sorted(alarms, key=lambda r: str(r.inputs.get("name", r.name)))
        ),
        alarm_topic=_alarm_topic(resources, alarms),
    )


def _guardrail(
    guardrails: Sequence[ResourceRecord], functions: Sequence[ResourceRecord]
) -> GuardrailRecord | None:
    if guardrails:
        inputs = guardrails[0].inputs
        sensitive = inputs.get("sensitiveInformationPolicyConfig") or {}
        words = inputs.get("wordPolicyConfig") or {}
        counts = [
            (len((inputs.get("contentPolicyConfig") or {}).get("filtersConfigs") or []),
             "content filter"),
            (len((inputs.get("topicPolicyConfig") or {}).get("topicsConfigs") or []),
             "denied topic"),
            (len(sensitive.get("piiEntitiesConfigs") or []), "sensitive-information entity"),
            (len(sensitive.get("regexesConfigs") or []), "sensitive-information pattern"),
            (len(words.get("wordsConfigs") or []), "blocked word"),
        ]  # fmt: skip
        described = [_plural(count, word) for count, word in counts if count]
        if words.get("managedWordListsConfigs"):
            described.append("profanity")
        return GuardrailRecord(
            name=str(inputs.get("name", guardrails[0].name)),
            created=True,
            policies=tuple(described),
            kms_key=str(inputs["kmsKeyArn"]) if inputs.get("kmsKeyArn") else None,
        )
    for function in functions:
        variables = (function.inputs.get("environment") or {}).get("variables") or {}
        if variables.get("GUARDRAIL_ID"):
            name = f"{variables['GUARDRAIL_ID']} version {variables.get('GUARDRAIL_VERSION')}"
            return GuardrailRecord(name=name, created=False, policies=(), kms_key=None)
    return None


def _plural(count: int, word: str) -> str:
    plural = word[:-1] + "ies" if word.endswith("y") else word + "s"
    return f"{count:,} {word if count == 1 else plural}"


def _log_destinations(
    resources: Sequence[ResourceRecord], configurations: Sequence[ResourceRecord]
) -> tuple[str, ...]:
    groups = {
        str(r.inputs.get("name")): r.inputs.get("retentionInDays")
        for r in resources
        if r.type == "aws:cloudwatch/logGroup:LogGroup"
    }
    retention = {
        str(r.inputs.get("bucket")): rule.get("expiration", {}).get("days")
        for r in resources
        if r.type == "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
        for rule in r.inputs.get("rules") or []
        if (rule.get("expiration") or {}).get("days")
    }
    found = []
    for configuration in configurations:
        settings = configuration.inputs.get("loggingConfig") or {}
        cloudwatch = settings.get("cloudwatchConfig") or {}
        if cloudwatch:
            group = str(cloudwatch.get("logGroupName"))
            found.append(f"CloudWatch Logs {group}, kept {groups.get(group)} days")
        s3 = settings.get("s3Config") or {}
        if s3:
            bucket = str(s3.get("bucketName"))
            found.append(
                f"S3 s3://{bucket}/{s3.get('keyPrefix', '')}/, kept {retention.get(bucket)} days"
            )
    return tuple(found)


def _alarm_topic(
    resources: Sequence[ResourceRecord], alarms: Sequence[ResourceRecord]
) -> str | None:
    topics = [r for r in resources if r.type == "aws:sns/topic:Topic"]
    if topics:
        subscriptions = sum(
            1 for r in resources if r.type == "aws:sns/topicSubscription:TopicSubscription"
        )
        encrypted = "KMS-encrypted" if topics[0].inputs.get("kmsMasterKeyId") else "unencrypted"
        return (
            f"SNS topic {topics[0].inputs.get('name', topics[0].name)} ({encrypted}, "
            f"{_plural(subscriptions, 'email subscription')})"
        )
    actions = {a for r in alarms for a in r.inputs.get("alarmActions") or []}
    return ", ".join(sorted(actions)) or None


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int | float) else str(value)


# --- The knowledge base --------------------------------------------------------------------

KNOWLEDGE_BASE_TYPE = "aws:bedrock/agentKnowledgeBase:AgentKnowledgeBase"
DATA_SOURCE_TYPE = "aws:bedrock/agentDataSource:AgentDataSource"


def knowledge_base_record(resources: Sequence[ResourceRecord]) -> KnowledgeBaseRecord | None:
    bases = [r for r in resources if r.type == KNOWLEDGE_BASE_TYPE]
    if not bases:
        return None
    vector = bases[0].inputs["knowledgeBaseConfiguration"]["vectorKnowledgeBaseConfiguration"]
    embedding = vector["embeddingModelConfiguration"]["bedrockEmbeddingModelConfiguration"]
    sources = [r for r in resources if r.type == DATA_SOURCE_TYPE]
    chunking = sources[0].inputs["vectorIngestionConfiguration"]["chunkingConfiguration"]
    tokens, overlap = _chunk_shape(chunking)
    functions = [r for r in resources if r.type == FUNCTION_TYPE]
    variables = (functions[0].inputs.get("environment") or {}).get("variables") or {}
    return KnowledgeBaseRecord(
        embedding_model_id=str(vector["embeddingModelArn"]).rsplit("/", 1)[1],
        dimensions=int(embedding["dimensions"]),
        chunk_tokens=tokens,
        overlap=overlap,
        prefixes=len(sources),
        results=int(variables.get("KNOWLEDGE_BASE_RESULTS", 5)),
    )


def _chunk_shape(chunking: Mapping[str, Any]) -> tuple[int, float]:
    """A passage's most tokens and the share repeated in the next one; a document is one
    passage without chunking (taken as 8,192 tokens, the embedding models' most)."""
    fixed = chunking.get("fixedSizeChunkingConfiguration")
    if fixed:
        return int(fixed["maxTokens"]), int(fixed["overlapPercentage"]) / 100
    semantic = chunking.get("semanticChunkingConfiguration")
    if semantic:
        return int(semantic["maxToken"]), 0.0
    hierarchical = chunking.get("hierarchicalChunkingConfiguration")
    if hierarchical:
        child = int(hierarchical["levelConfigurations"][-1]["maxTokens"])
        return child, int(hierarchical["overlapTokens"]) / child
    return 8192, 0.0
