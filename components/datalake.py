"""PrivateDataLake: the whole data lake from the stack config's intent, in one component."""

from collections.abc import Callable
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from components import policies, settings, storage
from components.access_points import AccessPointInfo, AccessPoints, AccessPointSpec
from components.account import DataAccount
from components.alarms import Alarms, AlarmsArgs
from components.bedrock import (
    KNOWLEDGE_BASE_EVENT,
    BedrockFunction,
    FunctionSettings,
    ModelSettings,
    invoke_command,
)
from components.knowledge_base import KnowledgeBase, KnowledgeBaseSettings
from components.model_governance import (
    GuardrailSettings,
    InvocationLogDelivery,
    ModelGovernance,
    ModelGovernanceArgs,
)
from components.network import BEDROCK_AGENT_RUNTIME, Network, NetworkSettings
from components.storage import BucketSettings, DataBucket


class InvocationLoggingSettings(InvocationLogDelivery):
    """The account's model invocation logging in this Region (stack config
    ``bedrock.invocationLogging``): one stack per account and Region owns it."""

    owner_stack: str
    """The stack that manages the setting; the others only name it."""


class BedrockSettings(ModelSettings):
    """The models, their governance and the access point the function reads through (stack
    config ``bedrock``)."""

    access_point: str
    """The data-account access point the function reads through (must allow read)."""
    guardrail: NotRequired[GuardrailSettings]
    """The guardrail every call carries: an existing one or one the stack creates."""
    invocation_logging: NotRequired[InvocationLoggingSettings]
    """The account's model invocation logging."""
    model_tags: NotRequired[dict[str, dict[str, str]]]
    """Per configured model: cost-allocation tags of an application inference profile that
    the function invokes instead of the model."""
    subscribed_providers: NotRequired[list[str]]
    """Third-party model providers the account is subscribed to through AWS Marketplace."""
    knowledge_base: NotRequired[KnowledgeBaseSettings]
    """A knowledge base over curated prefixes: the function answers questions across them,
    with citations ({"prompt": ..., "knowledgeBase": true})."""


class AlarmSettings(TypedDict):
    """Where the function's and the models' alarms go (stack config ``alarms``)."""

    email: NotRequired[list[str]]
    """Email addresses subscribed to a topic the stack creates."""
    topic_arn: NotRequired[str]
    """An existing SNS topic instead."""


class PrivateDataLakeArgs(DataAccount):
    """The stack config, key for key: what the data lake holds and who may use it."""

    network: NetworkSettings
    """The data-lake VPC: created (cidrBlock) or existing (vpcId, subnetIds, routeTableIds,
    existingInterfaceEndpoints)."""
    bucket: NotRequired[BucketSettings]
    """The shared data bucket."""
    access_points: list[AccessPointSpec]
    """One per application: at least 1, at most 10,000."""
    bedrock: BedrockSettings
    """The models the function may call and the access point it reads through."""
    function: NotRequired[FunctionSettings]
    """The Lambda function that reads documents and calls Bedrock."""
    alarms: NotRequired[AlarmSettings]
    """Alarms on the function and the models; none when omitted."""


class OrganizationPolicies(TypedDict):
    """What only the organization can enforce, ready to attach to the data account."""

    serviceControlPolicy: str
    """For the data account's principals: only the administrators manage access points and use
    the data bucket other than through them (the root user keeps deleting the bucket policy as
    its break-glass); Athena principals query through the stack's workgroups."""
    bedrockServiceControlPolicy: str
    """For the data account's principals: only the administrators change guardrails or the
    invocation logging, or read the CloudWatch invocation logs; with a guardrail configured,
    every model call carries a published one."""
    resourceControlPolicy: str
    """The data bucket, access point and invocation-log rules for principals of every account."""
    regionServiceControlPolicy: str
    """The data account works in the stack's Region (models also where its cross-Region
    inference profiles route)."""
    knowledgeBaseServiceControlPolicy: NotRequired[str]
    """With a knowledge base: only the administrators change knowledge bases, only the function
    retrieves from the stack's (through its endpoint), only the ingestion runner ingests, and
    the knowledge base role embeds with its model only."""


class PrivateDataLake(pulumi.ComponentResource):
    """A private data lake with a private path to Amazon Bedrock: a VPC with no way out, one
    shared bucket with an access point per application, and a function that asks Bedrock about
    documents. Its arguments are validated as a whole (every rule, each problem named by its
    key path) before anything is registered. A stack holds one: its children keep the names
    that stacks created by the program have, so they upgrade without replacements."""

    region: str
    """The Region."""
    vpc_id: pulumi.Output[str]
    """The data-lake VPC."""
    subnet_ids: pulumi.Output[list[str]]
    """Its private subnets."""
    s3_gateway_endpoint_id: pulumi.Output[str]
    """The S3 gateway endpoint."""
    interface_endpoint_ids: dict[str, pulumi.Output[str]]
    """Interface endpoint id by service short name."""
    bucket_name: pulumi.Output[str]
    """The data bucket."""
    kms_key_arn: pulumi.Output[str]
    """The data key."""
    access_points: dict[str, AccessPointInfo]
    """Each access point, by name."""
    function_name: pulumi.Output[str]
    """The Bedrock function."""
    function_arn: pulumi.Output[str]
    """Its ARN."""
    invoke_command: pulumi.Output[str]
    """An aws lambda invoke command line with an example event."""
    organization_policies: pulumi.Output[OrganizationPolicies]
    """The service and resource control policies to attach to the data account."""
    athena_workgroups: dict[str, pulumi.Output[str]]
    """The Athena workgroup of each Athena access point, by access point."""
    knowledge_base_id: pulumi.Output[str] | None
    """The knowledge base, when one is configured."""
    ingest_command: pulumi.Output[str] | None
    """An aws stepfunctions command line that ingests the knowledge base's prefixes now."""
    ask_command: pulumi.Output[str] | None
    """An aws lambda invoke command line with a question across the knowledge base."""
    data_key_policy_statements: str | None
    """With bucket.kmsKeyArn: what that key's policy must add (JSON)."""

    def __init__(
        self, name: str, args: PrivateDataLakeArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        config = settings.parse_args(args)
        super().__init__("datalake:index:PrivateDataLake", name, {}, opts)
        # The building blocks were the stack's own children before this component existed.
        at_stack_root = [pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)]
        provider = aws.Provider(
            "data-account",
            region=config.region,
            # Refuses to deploy when the credentials belong to any other account.
            allowed_account_ids=[config.account_id],
            default_tags=aws.ProviderDefaultTagsArgs(
                tags={"project": config.project, "stack": config.stack, "managed-by": "pulumi"}
            ),
            opts=pulumi.ResourceOptions(parent=self, aliases=at_stack_root),
        )
        child = pulumi.ResourceOptions(parent=self, providers=[provider], aliases=at_stack_root)
        function_ap = config.function_access_point

        # The bedrock-runtime endpoint names the guardrail version and the application
        # profiles exactly; they are made from the data key, the key from the bucket, whose
        # policy names the S3 endpoint: the endpoint policy takes them once they exist. The
        # flow logs' key takes the bucket's administrators the same way.
        network_wiring, wire_network = _deferred_network_args(config)
        network = Network(
            "datalake",
            {**config.network_args(), **network_wiring},  # type: ignore[typeddict-item]
            opts=child,
        )
        bucket_args = config.bucket_args()
        data = DataBucket(
            "data", {**bucket_args, "s3_endpoint_id": network.s3_endpoint_id}, opts=child
        )
        governance = ModelGovernance("models", _governance_args(config, data), opts=child)
        knowledge_base = (
            KnowledgeBase(
                "knowledge-base",
                config.knowledge_base_args(
                    data_key_arn=data.kms_key_arn, administrators=data.administrators
                ),
                opts=child,
            )
            if config.bedrock.knowledge_base is not None
            else None
        )
        wire_network(
            {**_endpoint_wiring(governance, knowledge_base), "administrators": data.administrators}
        )
        function = BedrockFunction(
            "bedrock",
            {
                **config.account(),
                **config.bedrock.model_dump(  # type: ignore[typeddict-item]
                    include={"default_model_id", "streaming", "max_tokens", "system_prompt"},
                    exclude_none=True,
                ),
                **config.function.model_dump(exclude_none=True),
                "model_ids": [*config.bedrock.model_ids],
                "vpc_id": network.vpc_id,
                "subnet_ids": network.subnet_ids,
                "endpoint_security_group_ids": pulumi.Output.all(
                    *network.endpoint_security_group_ids.values()
                ).apply(lambda groups: sorted({g for ids in groups for g in ids})),
                "detached_security_group_id": network.detached_security_group_id,
                "s3_prefix_list_id": network.s3_prefix_list_id,
                "access_point_arn": config.access_point_arn(function_ap),
                "prefix": function_ap.prefix,
                "kms_key_arn": data.kms_key_arn,
                "administrators": data.administrators,
                "artifact_bucket_name": config.artifact_bucket_name,
                "deletion_protection": config.bucket.deletion_protection,
                **_access_logs_of_artifacts(data),
                **_guardrail_and_routes(governance),
                **(
                    {
                        "knowledge_base_arn": knowledge_base.knowledge_base_arn,
                        "knowledge_base_results": config.bedrock.knowledge_base.results,
                    }
                    if knowledge_base is not None and config.bedrock.knowledge_base is not None
                    else {}
                ),
            },
            opts=child,
        )
        access_points = AccessPoints(
            "access-points",
            {
                **config.account(),
                "bucket_name": data.bucket_name,
                "vpc_id": network.vpc_id,
                "session_name": config.project,
                "access_points": [
                    _with_principal(spec, function.role_arn)
                    if spec["name"] == function_ap.name
                    else spec
                    for spec in config.access_point_specs
                ],
            },
            opts=child,
        )

        if config.alarms is not None:
            Alarms(
                "alarms",
                _alarms_args(config, config.alarms, function, governance, knowledge_base),
                opts=child,
            )

        self.region = config.region
        self.vpc_id = network.vpc_id
        self.subnet_ids = network.subnet_ids
        self.s3_gateway_endpoint_id = network.s3_endpoint_id
        self.interface_endpoint_ids = network.interface_endpoint_ids
        self.bucket_name = data.bucket_name
        self.kms_key_arn = data.kms_key_arn
        self.access_points = access_points.access_points
        self.function_name = function.function_name
        self.function_arn = function.function_arn
        self.invoke_command = function.invoke_command
        self.athena_workgroups = data.athena_workgroups
        self.knowledge_base_id = knowledge_base.knowledge_base_id if knowledge_base else None
        self.ingest_command = knowledge_base.ingest_command if knowledge_base else None
        self.ask_command = (
            function.function_name.apply(
                lambda name: invoke_command(name, config.region, KNOWLEDGE_BASE_EVENT)
            )
            if knowledge_base
            else None
        )
        knowledge_base_outputs = (
            {
                "knowledge_base": knowledge_base.knowledge_base_arn,
                "retriever": function.role_arn,
                "runner": knowledge_base.ingestion_role_arn,
                "retrieval_endpoint": network.interface_endpoint_ids[BEDROCK_AGENT_RUNTIME],
            }
            if knowledge_base is not None
            else {}
        )
        self.organization_policies = pulumi.Output.all(
            administrators=data.administrators,
            writer=governance.invocation_log_writer_arn,
            athena_endpoint=network.interface_endpoint_ids.get("athena"),
            **knowledge_base_outputs,
        ).apply(
            lambda values: organization_policies(
                config.organization_scope(
                    administrators=values["administrators"],
                    invocation_log_writer_arn=values["writer"],
                    athena_endpoint_id=values["athena_endpoint"],
                    knowledge_base=settings.KnowledgeBaseOutputs(
                        arn=values["knowledge_base"],
                        function_role_arn=values["retriever"],
                        ingestion_runner_arn=values["runner"],
                        endpoint_id=values["retrieval_endpoint"],
                    )
                    if knowledge_base is not None
                    else None,
                )
            )
        )
        self.data_key_policy_statements = (
            policies.to_json(
                policies.document(
                    *storage.key_usage_statements(bucket_args, config.data_bucket_name)
                )
            )
            if config.bucket.kms_key_arn is not None
            else None
        )
        self.register_outputs({})

    def stack_outputs(self) -> dict[str, Any]:
        """The program's stack outputs (README, "Outputs")."""
        outputs: dict[str, Any] = {
            "region": self.region,
            "vpcId": self.vpc_id,
            "subnetIds": self.subnet_ids,
            "s3GatewayEndpointId": self.s3_gateway_endpoint_id,
            "interfaceEndpointIds": self.interface_endpoint_ids,
            "bucketName": self.bucket_name,
            "kmsKeyArn": self.kms_key_arn,
            "accessPoints": self.access_points,
            "functionName": self.function_name,
            "functionArn": self.function_arn,
            "invokeCommand": self.invoke_command,
            "organizationPolicies": self.organization_policies,
        }
        if self.athena_workgroups:
            outputs["athenaWorkgroups"] = self.athena_workgroups
        if self.knowledge_base_id is not None:
            outputs |= {
                "knowledgeBaseId": self.knowledge_base_id,
                "ingestCommand": self.ingest_command,
                "askCommand": self.ask_command,
            }
        if self.data_key_policy_statements is not None:
            outputs["dataKeyPolicyStatements"] = self.data_key_policy_statements
        return outputs


def _access_logs_of_artifacts(data: DataBucket) -> dict[str, Any]:
    if data.log_bucket_name is None:
        return {}
    return {"access_log_bucket_name": data.log_bucket_name}


def _deferred_network_args(
    config: settings.StackConfig,
) -> tuple[dict[str, Any], Callable[[dict[str, Any]], None]]:
    """The Network's guardrail, routes, knowledge base and administrators arguments before
    ModelGovernance, KnowledgeBase and DataBucket exist, and how to resolve them from their
    outputs. Whether an endpoint requires a guardrail or names a knowledge base is the config's
    decision (the key is present or not), never the outputs'. The administrators are the data
    bucket's, whose deployer check names the stack's config keys."""
    guardrail = ["guardrail_arn", "guardrail_version"] if config.bedrock.guardrail else []
    knowledge_base = ["knowledge_base_arn"] if config.bedrock.knowledge_base else []
    deferred: dict[str, tuple[pulumi.Output[Any], Callable[[pulumi.Output[Any]], None]]] = {
        name: pulumi.deferred_output()
        for name in ["routes", *guardrail, *knowledge_base, "administrators"]
    }

    def resolve(wiring: dict[str, Any]) -> None:
        for name, (_, set_value) in deferred.items():
            set_value(pulumi.Output.from_input(wiring[name]))

    return {name: output for name, (output, _) in deferred.items()}, resolve


def _endpoint_wiring(
    governance: ModelGovernance, knowledge_base: KnowledgeBase | None
) -> dict[str, Any]:
    wiring = _guardrail_and_routes(governance)
    if knowledge_base is not None:
        wiring["knowledge_base_arn"] = knowledge_base.knowledge_base_arn
    return wiring


def _guardrail_and_routes(governance: ModelGovernance) -> dict[str, Any]:
    wiring: dict[str, Any] = {"routes": governance.routes}
    if governance.guardrail_arn is not None:
        wiring |= {
            "guardrail_arn": governance.guardrail_arn,
            "guardrail_version": governance.guardrail_version,
        }
    if governance.guardrail_key_arn is not None:
        wiring["guardrail_key_arn"] = governance.guardrail_key_arn
    return wiring


def _governance_args(config: settings.StackConfig, data: DataBucket) -> ModelGovernanceArgs:
    bedrock = config.bedrock
    args: ModelGovernanceArgs = {
        **config.account(),  # type: ignore[typeddict-item]
        "name_prefix": config.name_prefix,
        "kms_key_arn": data.kms_key_arn,
        "model_tags": {model: dict(tags) for model, tags in bedrock.model_tags.items()},
        "deletion_protection": config.bucket.deletion_protection,
    }
    if bedrock.guardrail is not None:
        args["guardrail"] = bedrock.guardrail.model_dump()  # type: ignore[typeddict-item]
    logging = config.owned_invocation_logging
    if logging is not None:
        args["invocation_logging"] = logging.delivery()  # type: ignore[typeddict-item]
        args["invocation_log_bucket_name"] = config.invocation_log_bucket_name
        args["administrators"] = data.administrators
        if data.log_bucket_name is not None:
            args["access_log_bucket_name"] = data.log_bucket_name
    elif bedrock.invocation_logging is not None:
        pulumi.log.info(
            f"Bedrock model invocation logging for account {config.account_id} in "
            f"{config.region} is managed by stack '{bedrock.invocation_logging.owner_stack}', "
            "not by this one."
        )
    return args


def _alarms_args(
    config: settings.StackConfig,
    alarms: settings.AlarmsConfig,
    function: BedrockFunction,
    governance: ModelGovernance,
    knowledge_base: KnowledgeBase | None,
) -> AlarmsArgs:
    logging = config.owned_invocation_logging
    args: AlarmsArgs = {
        **config.account(),
        "name_prefix": config.name_prefix,
        "function_name": function.function_name,
        "timeout_seconds": config.function.timeout_seconds,
        "model_ids": [*config.bedrock.model_ids],
        "routes": governance.routes,
        **alarms.model_dump(exclude_none=True),  # type: ignore[typeddict-item]
    }
    if config.function.reserved_concurrency is not None:
        args["reserved_concurrency"] = config.function.reserved_concurrency
    if logging is not None:
        args["invocation_logging"] = logging.delivery()  # type: ignore[typeddict-item]
    if knowledge_base is not None:
        args["ingestion_state_machine_arn"] = knowledge_base.ingestion_state_machine_arn
    return args


def _with_principal(spec: AccessPointSpec, principal: pulumi.Input[str]) -> AccessPointSpec:
    return {**spec, "principals": [*spec.get("principals", []), principal]}


def organization_policies(scope: policies.OrganizationScope) -> OrganizationPolicies:
    """What only the organization can enforce on the data account (README, "What remains the
    organization's job"), as JSON ready to attach."""
    documents: OrganizationPolicies = {
        "serviceControlPolicy": policies.to_json(
            policies.organization_service_control_policy(scope)
        ),
        "resourceControlPolicy": policies.to_json(
            policies.organization_resource_control_policy(scope)
        ),
        "bedrockServiceControlPolicy": policies.to_json(
            policies.bedrock_service_control_policy(scope)
        ),
        "regionServiceControlPolicy": policies.to_json(
            policies.region_service_control_policy(scope)
        ),
    }
    if scope.knowledge_base is not None:
        documents["knowledgeBaseServiceControlPolicy"] = policies.to_json(
            policies.knowledge_base_service_control_policy(scope, scope.knowledge_base)
        )
    return documents
