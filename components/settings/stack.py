"""The whole stack configuration: ``network``, ``bucket``, ``accessPoints``, ``function``,
and the arguments of the components it becomes."""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from components import access_points as ap_specs
from components import bedrock, network, policies, storage
from components.access_points import AccessPointSpec, NetworkOrigin
from components.account import DataAccount
from components.bedrock import (
    DEFAULT_LOG_RETENTION_DAYS,
    DEFAULT_MAX_DOCUMENT_BYTES,
    DEFAULT_MAX_DOCUMENT_CHARS,
    DEFAULT_MEMORY_MB,
    DEFAULT_TIMEOUT_SECONDS,
    Architecture,
)
from components.network import NetworkArgs
from components.policies import AccessMode
from components.settings.models import AlarmsConfig, BedrockConfig, InvocationLoggingConfig
from components.settings.values import (
    MAX_ACCESS_POINTS,
    MAX_DOCUMENT_BYTES,
    MAX_DOCUMENT_CHARS,
    AccessPointName,
    AccountId,
    AdminPrincipalArn,
    BucketName,
    EndpointService,
    KmsKeyArn,
    OrganizationId,
    PermissionSetName,
    Prefix,
    PrincipalArn,
    Region,
    RetentionDays,
    RoleArn,
    RouteTableId,
    Schema,
    SubnetId,
    VpcEndpointId,
    VpcId,
    _fits_a_model_call,
    _is_private_cidr,
    rule,
    unique,
)
from components.storage import DataBucketArgs

TRACING_ENDPOINT = "xray"
"""The interface endpoint function.tracing adds: traces leave the VPC through it only."""
if typing.TYPE_CHECKING:
    from components.knowledge_base import KnowledgeBaseArgs


class NetworkConfig(Schema):
    """``network``: the data-lake VPC, created (``cidrBlock``) or existing (``vpcId``,
    ``subnetIds``, ``routeTableIds``)."""

    cidr_block: (
        Annotated[
            str,
            BeforeValidator(
                rule(
                    _is_private_cidr,
                    "must be a private IPv4 block (within 10.0.0.0/8, 172.16.0.0/12 or "
                    "192.168.0.0/16) with a prefix from /16 to /24, so that it splits into 8 "
                    "subnets of at least /27",
                )
            ),
        ]
        | None
    ) = None
    availability_zones: int = Field(network.DEFAULT_AVAILABILITY_ZONES, ge=1, le=6)
    vpc_id: VpcId | None = None
    subnet_ids: Annotated[
        tuple[SubnetId, ...], Field(min_length=1, max_length=6), AfterValidator(unique)
    ] = ()
    route_table_ids: Annotated[
        tuple[RouteTableId, ...], Field(min_length=1, max_length=6), AfterValidator(unique)
    ] = ()
    interface_endpoints: Annotated[tuple[EndpointService, ...], AfterValidator(unique)] = (
        network.DEFAULT_INTERFACE_ENDPOINTS
    )
    existing_interface_endpoints: dict[EndpointService, VpcEndpointId] = Field(default_factory=dict)
    flow_logs: bool = True
    flow_log_retention_days: RetentionDays = network.DEFAULT_FLOW_LOG_RETENTION_DAYS
    extra_s3_buckets: Annotated[tuple[BucketName, ...], AfterValidator(unique)] = ()


class ReplicationSourceConfig(Schema):
    """One entry of ``bucket.replicationSources``: a replication role and its prefix."""

    role_arn: RoleArn
    prefix: Annotated[
        Prefix,
        AfterValidator(
            rule(bool, "must name a prefix: a replication source writes one prefix, not the bucket")
        ),
    ]


class BucketConfig(Schema):
    """``bucket``: the shared data bucket."""

    name: BucketName | None = None
    kms_key_arn: KmsKeyArn | None = None
    allowed_vpc_endpoint_ids: Annotated[tuple[VpcEndpointId, ...], AfterValidator(unique)] = ()
    configuration_reader_arns: Annotated[tuple[RoleArn, ...], AfterValidator(unique)] = ()
    replication_sources: tuple[ReplicationSourceConfig, ...] = ()
    admin_role_arns: Annotated[tuple[AdminPrincipalArn, ...], AfterValidator(unique)] = ()
    admin_permission_sets: Annotated[tuple[PermissionSetName, ...], AfterValidator(unique)] = ()
    restrict_to_vpcs: bool = True
    noncurrent_version_expiration_days: int = Field(
        storage.DEFAULT_NONCURRENT_VERSION_EXPIRATION_DAYS, ge=1, le=36500
    )
    access_logs: bool = True
    access_log_retention_days: int = Field(
        storage.DEFAULT_ACCESS_LOG_RETENTION_DAYS, ge=1, le=36500
    )
    deletion_protection: bool = True


def _via_service(value: Any) -> Any:
    if value == "glue":
        raise ValueError(
            "'glue': AWS Glue jobs and crawlers call S3 with their own role, not on a caller's "
            "behalf (no aws:CalledVia); list that role in principals of a network: vpc access "
            "point and give the job a Glue connection in the VPC"
        )
    if value not in policies.VIA_SERVICE_PRINCIPALS:
        known = ", ".join(sorted(policies.VIA_SERVICE_PRINCIPALS))
        raise ValueError(
            f"{value!r} is not a service that calls S3 on a caller's behalf with "
            f"aws:CalledVia ({known})"
        )
    return value


# AWS services that call S3 with the caller's credentials and say so in aws:CalledVia.
ViaService = Annotated[str, BeforeValidator(_via_service)]


class AccessPointConfig(Schema):
    """One entry of ``accessPoints``: an application's own door into the bucket."""

    name: AccessPointName
    prefix: Prefix = ""
    access: AccessMode = AccessMode.READ
    principals: Annotated[tuple[PrincipalArn, ...], AfterValidator(unique)] = ()
    network: NetworkOrigin = NetworkOrigin.VPC
    account_id: AccountId | None = None
    role_arn: RoleArn | None = None
    preview_role_arn: RoleArn | None = None
    vpc_id: VpcId | None = None
    via_services: Annotated[tuple[ViaService, ...], AfterValidator(unique)] = ()

    @property
    def is_cross_account(self) -> bool:
        return self.account_id is not None

    @property
    def origin(self) -> NetworkOrigin:
        return ap_specs.origin(self.spec())

    def spec(self) -> AccessPointSpec:
        """This entry as the arguments of the AccessPoints and DataBucket components."""
        return typing.cast(
            AccessPointSpec, self.model_dump(exclude_none=True) | {"principals": [*self.principals]}
        )


class FunctionConfig(Schema):
    """``function``: the Lambda function that reads documents and calls Bedrock."""

    memory_mb: int = Field(DEFAULT_MEMORY_MB, ge=128, le=10240)
    timeout_seconds: Annotated[int, Field(le=900), AfterValidator(_fits_a_model_call)] = (
        DEFAULT_TIMEOUT_SECONDS
    )
    architecture: Architecture = Architecture.ARM64
    reserved_concurrency: int | None = Field(None, ge=1)
    log_retention_days: RetentionDays = DEFAULT_LOG_RETENTION_DAYS
    max_document_bytes: int = Field(DEFAULT_MAX_DOCUMENT_BYTES, ge=1, le=MAX_DOCUMENT_BYTES)
    max_document_chars: int = Field(DEFAULT_MAX_DOCUMENT_CHARS, ge=1, le=MAX_DOCUMENT_CHARS)
    tracing: bool = False


@dataclasses.dataclass(frozen=True)
class KnowledgeBaseOutputs:
    """What AWS names at deploy time about the knowledge base, for the organization policies."""

    arn: str
    function_role_arn: str
    ingestion_runner_arn: str
    endpoint_id: str
    """The bedrock-agent-runtime endpoint (created, or reused in an existing VPC)."""


class StackConfig(Schema):
    """The whole stack: the project namespace of ``Pulumi.<stack>.yaml`` plus ``aws:region``.

    ``region``, ``project`` and ``stack`` are filled in by :func:`parse_stack_config`, not
    written by users under the project namespace.
    """

    project: str
    stack: str
    region: Region
    account_id: AccountId
    organization_id: OrganizationId | None = None
    network: NetworkConfig
    bucket: BucketConfig = BucketConfig()
    access_points: Annotated[
        tuple[AccessPointConfig, ...], Field(min_length=1, max_length=MAX_ACCESS_POINTS)
    ]
    bedrock: BedrockConfig
    function: FunctionConfig = FunctionConfig()
    alarms: AlarmsConfig | None = None

    @property
    def data_bucket_name(self) -> str:
        return self.bucket.name or storage.default_bucket_name(
            self.project, self.stack, self.account_id
        )

    @property
    def name_prefix(self) -> str:
        """``project-stack``: names of stack-wide resources (guardrail, alarms, ...)."""
        return f"{self.project}-{self.stack}"

    @property
    def owned_invocation_logging(self) -> InvocationLoggingConfig | None:
        """The invocation-logging settings when this stack is their owner, else None."""
        logging = self.bedrock.invocation_logging
        return logging if logging is not None and logging.owner_stack == self.stack else None

    @property
    def invocation_log_bucket_name(self) -> str:
        return f"{self.data_bucket_name[: 63 - len('-invocations')]}-invocations"

    @property
    def artifact_bucket_name(self) -> str:
        """Where the function's code is signed."""
        return bedrock.default_artifact_bucket_name(self.data_bucket_name)

    @property
    def other_access_log_sources(self) -> tuple[str, ...]:
        """The stack's buckets besides the data bucket whose access logs the log bucket takes."""
        logging = self.owned_invocation_logging
        invocation_logs = (
            (self.invocation_log_bucket_name,) if logging is not None and logging.s3 else ()
        )
        return (*invocation_logs, self.artifact_bucket_name)

    @property
    def log_bucket_name(self) -> str:
        return storage.log_bucket_name(self.data_bucket_name)

    def access_point_arn(self, access_point: AccessPointConfig) -> str:
        return ap_specs.arn(access_point.spec(), self.account())

    def access_point_named(self, name: str) -> AccessPointConfig | None:
        return next((ap for ap in self.access_points if ap.name == name), None)

    @property
    def cross_account_access_points(self) -> tuple[AccessPointConfig, ...]:
        return tuple(ap for ap in self.access_points if ap.is_cross_account)

    @property
    def function_access_point(self) -> AccessPointConfig:
        access_point = self.access_point_named(self.bedrock.access_point)
        assert access_point is not None, "checked by parse_stack_config"
        return access_point

    @property
    def perimeter(self) -> policies.Perimeter:
        return policies.Perimeter(self.account_id, self.organization_id)

    # The components' arguments: the policies they build from them are the ones sized here.

    def account(self) -> DataAccount:
        account: DataAccount = {"region": self.region, "account_id": self.account_id}
        if self.organization_id is not None:
            account["organization_id"] = self.organization_id
        return account

    @functools.cached_property
    def access_point_specs(self) -> list[AccessPointSpec]:
        return [ap.spec() for ap in self.access_points]

    def network_args(self) -> NetworkArgs:
        """The Network's arguments but the guardrail and the application profiles, which the
        bedrock-runtime endpoint names exactly once they exist, and the administrators, the
        deployer among them, whom the data bucket vets (PrivateDataLake adds them)."""
        return {
            **self.account(),
            **self._network_settings(),  # type: ignore[typeddict-item]
            "interface_endpoints": list(self.interface_endpoints),
            "bucket_name": self.data_bucket_name,
            "model_ids": [*self.bedrock.model_ids],
            "streaming": self.bedrock.streaming,
        }

    @property
    def interface_endpoints(self) -> tuple[str, ...]:
        """``network.interfaceEndpoints``, bedrock-agent-runtime with a knowledge base (the
        function retrieves through it) and xray when the function sends traces."""
        knowledge_base = (
            () if self.bedrock.knowledge_base is None else (network.BEDROCK_AGENT_RUNTIME,)
        )
        traced = (TRACING_ENDPOINT,) if self.function.tracing else ()
        return tuple(dict.fromkeys([*self.network.interface_endpoints, *knowledge_base, *traced]))

    def _network_settings(self) -> dict[str, Any]:
        """``network`` as the component takes it: with ``vpcId``, only the keys of an existing
        VPC (no block, zone count or flow logs: those are the VPC owner's)."""
        settings = self.network.model_dump(exclude_none=True)
        if self.network.vpc_id is None:
            for key in ("subnet_ids", "route_table_ids", "existing_interface_endpoints"):
                settings.pop(key)
        else:
            for key in ("cidr_block", "availability_zones", "flow_logs", "flow_log_retention_days"):
                settings.pop(key, None)
        return settings

    def bucket_args(self) -> DataBucketArgs:
        args: DataBucketArgs = {
            **self.account(),
            **self.bucket.model_dump(exclude_none=True),  # type: ignore[typeddict-item]
            "name": self.data_bucket_name,
            "access_points": self.access_point_specs,
            "other_access_log_sources": list(self.other_access_log_sources),
        }
        knowledge_base = self.bedrock.knowledge_base
        if knowledge_base is not None:
            args["knowledge_base_reader"] = {
                "role_arn": self.knowledge_base_role_arn,
                "prefixes": list(knowledge_base.prefixes),
            }
        return args

    @property
    def knowledge_base_role_arn(self) -> str:
        return policies.knowledge_base_role_arn(self.account_id, self.name_prefix)

    def knowledge_base_args(self, *, data_key_arn: Any, administrators: Any) -> KnowledgeBaseArgs:
        """KnowledgeBase's arguments, given the data key and the administrators (outputs)."""
        knowledge_base = self.bedrock.knowledge_base
        assert knowledge_base is not None, "only with bedrock.knowledgeBase"
        return {
            **self.account(),
            **knowledge_base.model_dump(  # type: ignore[typeddict-item]
                exclude_none=True, exclude={"results"}
            ),
            "name_prefix": self.name_prefix,
            "bucket_name": self.data_bucket_name,
            "data_key_arn": data_key_arn,
            "administrators": administrators,
        }

    def administrator_patterns(self) -> list[str]:
        return storage.administrator_patterns(self.bucket_args())

    def s3_endpoint_policy(self) -> policies.PolicyDocument:
        return network.s3_endpoint_policy(self.network_args())

    def bedrock_runtime_policy(
        self, guardrail: policies.GuardrailRef | None, routes: Mapping[str, str]
    ) -> policies.PolicyDocument:
        """The bedrock-runtime endpoint's policy once the guardrail and profiles exist."""
        return network.bedrock_runtime_policy(self.network_args(), guardrail, routes)

    def bucket_policy(
        self, *, s3_endpoint_id: str, deployer_arn: str, data_key_arn: str
    ) -> policies.PolicyDocument:
        """The data bucket's policy once the stack's S3 endpoint, the deployer and the key are
        known."""
        return storage.bucket_policy(
            self.bucket_args(),
            name=self.data_bucket_name,
            s3_endpoint_id=s3_endpoint_id,
            administrators=[*self.administrator_patterns(), deployer_arn],
            data_key_arn=data_key_arn,
            cross_account_principals=[
                list(ap.principals) for ap in self.cross_account_access_points
            ],
        )

    @property
    def athena_workgroup_arns(self) -> list[str]:
        return [
            storage.athena_workgroup_arn(
                self.account(), storage.athena_workgroup_name(self.data_bucket_name, ap.name)
            )
            for ap in self.access_points
            if ap.via_services
        ]

    @property
    def writes_invocation_log_group(self) -> bool:
        logging = self.owned_invocation_logging
        return logging is not None and logging.cloud_watch

    def organization_scope(
        self,
        *,
        administrators: Sequence[str],
        invocation_log_writer_arn: str | None,
        athena_endpoint_id: str | None,
        knowledge_base: KnowledgeBaseOutputs | None = None,
    ) -> policies.OrganizationScope:
        """What the organization policies name: everything from this config but the values AWS
        names at deploy time, which the caller passes. Which statements exist follows from the
        config alone; a value it calls for that did not resolve is an error, not a statement
        left out."""
        if self.writes_invocation_log_group and not invocation_log_writer_arn:
            raise ValueError("the invocation log group's writer role did not resolve")
        uses_athena_endpoint = "athena" in self.network.interface_endpoints
        if uses_athena_endpoint and self.athena_workgroup_arns and not athena_endpoint_id:
            raise ValueError("the athena interface endpoint's id did not resolve")
        profiles = [
            policies.inference_profile_arn(self.region, self.account_id, ref.model_id)
            for ref in map(policies.parse_model_id, self.bedrock.model_ids)
            if ref is not None and ref.is_inference_profile
        ]
        return policies.OrganizationScope(
            data_account_id=self.account_id,
            region=self.region,
            bucket_name=self.data_bucket_name,
            administrators=tuple(administrators),
            guardrail=self.bedrock.guardrail is not None,
            invocation_log_group_arn=policies.invocation_log_group_arn(
                self.region, self.account_id, self.name_prefix
            )
            if self.writes_invocation_log_group
            else None,
            invocation_log_writer_arn=invocation_log_writer_arn
            if self.writes_invocation_log_group
            else None,
            athena_principals=tuple(
                sorted(
                    {
                        principal
                        for ap in self.access_points
                        if ap.via_services
                        for principal in ap.principals
                        if principal.split(":")[4] == self.account_id
                    }
                )
            ),
            athena_workgroup_arns=tuple(self.athena_workgroup_arns),
            athena_endpoint_id=athena_endpoint_id
            if uses_athena_endpoint and self.athena_workgroup_arns
            else None,
            inference_profile_arns=tuple(profiles),
            inference_regions=policies.inference_regions(self.bedrock.model_ids),
            knowledge_base=self._knowledge_base_scope(knowledge_base),
        )

    def _knowledge_base_scope(
        self, outputs: KnowledgeBaseOutputs | None
    ) -> policies.KnowledgeBaseScope | None:
        knowledge_base = self.bedrock.knowledge_base
        if knowledge_base is None:
            return None
        if outputs is None:
            raise ValueError("the knowledge base's ARN, runner and endpoint did not resolve")
        return policies.KnowledgeBaseScope(
            arn=outputs.arn,
            role_arn=self.knowledge_base_role_arn,
            prefixes=knowledge_base.prefixes,
            embedding_model_arn=policies.foundation_model_arn(
                self.region, knowledge_base.embedding_model_id
            ),
            retriever_arns=(outputs.function_role_arn,),
            ingestion_runner_arn=outputs.ingestion_runner_arn,
            endpoint_id=outputs.endpoint_id,
        )


# Keys of the project namespace that users write; the rest of StackConfig is filled in.
INJECTED_KEYS = ("project", "stack", "region")


USER_KEYS = tuple(
    field.alias or name
    for name, field in StackConfig.model_fields.items()
    if name not in INJECTED_KEYS
)
