"""The Pulumi program: read the stack config once, build the components, export outputs.

``__main__.py`` calls :func:`main`; the tests and the offline synth run that same file.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi.runtime import config as runtime_config

from components import policies
from components.access_points import AccessPoints, AccessPointsArgs, AccessPointSpec
from components.alarms import (
    Alarms,
    AlarmsArgs,
    function_alarms,
    invocation_log_alarms,
    model_alarms,
)
from components.bedrock import BedrockFunction, BedrockFunctionArgs
from components.model_governance import (
    InvocationLogDestinations,
    ModelGovernance,
    ModelGovernanceArgs,
)
from components.network import DataLakeNetwork, DataLakeNetworkArgs, InterfaceEndpointSpec
from components.settings import (
    USER_KEYS,
    AlarmsConfig,
    ConfigError,
    StackConfig,
    parse_stack_config,
)
from components.storage import DataBucket, DataBucketArgs


def main() -> None:
    try:
        config = load_stack_config()
    except ConfigError as error:
        # RunError prints the message alone, without a Python trace.
        raise pulumi.RunError(str(error)) from None
    for key, value in build(config).items():
        pulumi.export(key, value)


def load_stack_config() -> StackConfig:
    """The one place that reads ``pulumi.Config``; everything downstream takes StackConfig."""
    project = pulumi.get_project()
    settings = pulumi.Config()
    unknown = sorted(set(_project_config_keys(project)) - set(USER_KEYS))
    if unknown:
        raise ConfigError(
            [f"{project}:{key}: unknown key (allowed: {', '.join(USER_KEYS)})" for key in unknown]
        )
    values = {key: _decode(settings.get(key)) for key in USER_KEYS}
    return parse_stack_config(
        {key: value for key, value in values.items() if value is not None},
        project=project,
        stack=pulumi.get_stack(),
        region=pulumi.Config("aws").get("region"),
    )


def _decode(raw: str | None) -> Any:
    """Structured config arrives as JSON text; plain strings (account ids) stay strings, so a
    quoted "011111111111" keeps its leading zero."""
    if raw is not None and raw.lstrip().startswith(("{", "[")):
        return json.loads(raw)
    return raw


def _project_config_keys(project: str) -> list[str]:
    # The SDK exposes single lookups only; the full map is needed to reject misspelt top-level
    # keys, which pulumi.Config would otherwise silently ignore.
    names = {*runtime_config.CONFIG.get(), *runtime_config.get_config_env()}
    prefix = f"{project}:"
    return [name.removeprefix(prefix) for name in names if name.startswith(prefix)]


def build(config: StackConfig) -> dict[str, Any]:
    """Register every resource of the stack; returns the stack outputs."""
    provider = aws.Provider(
        "data-account",
        region=config.region,
        # Refuses to deploy when the credentials belong to any other account.
        allowed_account_ids=[config.account_id],
        default_tags=aws.ProviderDefaultTagsArgs(
            tags={"project": config.project, "stack": config.stack, "managed-by": "pulumi"}
        ),
    )
    in_data_account = pulumi.ResourceOptions(providers=[provider])
    deployer_arn = deploying_principal(provider)
    administrators = deployer_arn.apply(
        lambda deployer: [*config.administrator_patterns(), deployer]
    )
    bucket_name = config.data_bucket_name
    function_ap = config.function_access_point

    network = DataLakeNetwork(
        "datalake",
        DataLakeNetworkArgs(
            region=config.region,
            account_id=config.account_id,
            cidr_block=config.network.cidr_block,
            availability_zone_count=config.network.availability_zones,
            s3_endpoint_policy=policies.to_json(config.s3_endpoint_policy()),
            dynamodb_endpoint_policy=policies.to_json(
                policies.dynamodb_gateway_endpoint_policy(
                    region=config.region, perimeter=config.perimeter
                )
            ),
            interface_endpoints=[
                InterfaceEndpointSpec(
                    service, policies.to_json(config.interface_endpoint_policy(service))
                )
                for service in config.network.interface_endpoints
            ],
            flow_logs=config.network.flow_logs,
            flow_log_retention_days=config.network.flow_log_retention_days,
        ),
        opts=in_data_account,
    )

    data = DataBucket(
        "data",
        DataBucketArgs(
            account_id=config.account_id,
            bucket_name=bucket_name,
            bucket_policy=lambda data_key_arn: pulumi.Output.all(
                network.vpc_id, deployer_arn, data_key_arn
            ).apply(
                lambda values: policies.to_json(
                    config.bucket_policy(
                        vpc_id=values[0], deployer_arn=values[1], data_key_arn=values[2]
                    )
                )
            ),
            administrators=administrators,
            key_policy=policies.to_json(
                policies.data_key_policy(
                    region=config.region,
                    data_account_id=config.account_id,
                    bucket_name=bucket_name,
                    cross_account_access=config.cross_account_access(),
                )
            ),
            kms_key_arn=config.bucket.kms_key_arn,
            log_bucket_name=config.log_bucket_name if config.bucket.access_logs else None,
            noncurrent_version_expiration_days=config.bucket.noncurrent_version_expiration_days,
            access_log_retention_days=config.bucket.access_log_retention_days,
            deletion_protection=config.bucket.deletion_protection,
        ),
        opts=in_data_account,
    )

    governance = ModelGovernance(
        "models",
        ModelGovernanceArgs(
            region=config.region,
            account_id=config.account_id,
            name_prefix=config.name_prefix,
            guardrail=config.bedrock.guardrail,
            kms_key_arn=data.kms_key_arn,
            model_tags=config.bedrock.model_tags,
            invocation_logging=_invocation_log_destinations(
                config, administrators, data.log_bucket_name
            ),
            deletion_protection=config.bucket.deletion_protection,
        ),
        opts=in_data_account,
    )

    function = BedrockFunction(
        "bedrock",
        BedrockFunctionArgs(
            region=config.region,
            account_id=config.account_id,
            vpc_id=network.vpc_id,
            subnet_ids=network.subnet_ids,
            endpoint_security_group_ids=list(network.endpoint_security_group_ids.values()),
            detached_security_group_id=network.default_security_group_id,
            s3_prefix_list_id=network.s3_prefix_list_id,
            access_point_arn=config.access_point_arn(function_ap),
            document_prefix=function_ap.prefix,
            kms_key_arn=data.kms_key_arn,
            model_ids=config.bedrock.model_ids,
            default_model_id=config.bedrock.model_id,
            streaming=config.bedrock.streaming,
            max_tokens=config.bedrock.max_tokens,
            system_prompt=config.bedrock.system_prompt,
            max_document_bytes=config.function.max_document_bytes,
            memory_mb=config.function.memory_mb,
            timeout_seconds=config.function.timeout_seconds,
            architecture=config.function.architecture,
            reserved_concurrency=config.function.reserved_concurrency,
            log_retention_days=config.function.log_retention_days,
            guardrail_arn=governance.guardrail_arn,
            guardrail_version=governance.guardrail_version,
            guardrail_key_arn=governance.guardrail_key_arn,
            routes=governance.routes,
        ),
        opts=in_data_account,
    )

    access_points = AccessPoints(
        "access-points",
        AccessPointsArgs(
            region=config.region,
            data_account_id=config.account_id,
            bucket_name=data.bucket_name,
            access_points=[
                AccessPointSpec(
                    name=ap.name,
                    prefix=ap.prefix,
                    access=ap.access,
                    principals=[
                        *ap.principals,
                        *([function.role_arn] if ap.name == function_ap.name else []),
                    ],
                    vpc_id=None
                    if ap.origin == "internet"
                    else (ap.vpc_id if ap.vpc_id is not None else network.vpc_id),
                    via_services=ap.via_services,
                    account_id=ap.account_id,
                    role_arn=ap.role_arn,
                )
                for ap in config.access_points
            ],
        ),
        opts=in_data_account,
    )

    if config.alarms is not None:
        _alarms(config, config.alarms, function, governance, in_data_account)

    return {
        "region": config.region,
        "vpcId": network.vpc_id,
        "subnetIds": network.subnet_ids,
        "s3GatewayEndpointId": network.s3_endpoint_id,
        "interfaceEndpointIds": network.interface_endpoint_ids,
        "bucketName": data.bucket_name,
        "kmsKeyArn": data.kms_key_arn,
        "accessPoints": {
            name: outputs.as_dict() for name, outputs in access_points.access_points.items()
        },
        "functionName": function.function_name,
        "functionArn": function.function_arn,
        "invokeCommand": function.invoke_command,
        "organizationPolicies": deployer_arn.apply(
            lambda deployer: organization_policies(config, deployer)
        ),
        **(
            {"dataKeyPolicyStatements": policies.to_json(external_key_statements(config))}
            if config.bucket.kms_key_arn is not None
            else {}
        ),
    }


def _invocation_log_destinations(
    config: StackConfig,
    administrators: pulumi.Output[list[str]],
    access_log_bucket: pulumi.Output[str] | None,
) -> InvocationLogDestinations | None:
    settings = config.owned_invocation_logging
    if settings is None:
        if config.bedrock.invocation_logging is not None:
            pulumi.log.info(
                f"Bedrock model invocation logging for account {config.account_id} in "
                f"{config.region} is managed by stack "
                f"'{config.bedrock.invocation_logging.owner_stack}', not by this one."
            )
        return None
    return InvocationLogDestinations(
        settings=settings,
        bucket_name=config.invocation_log_bucket_name,
        administrators=administrators,
        access_log_bucket=access_log_bucket,
    )


def _alarms(
    config: StackConfig,
    alarms: AlarmsConfig,
    function: BedrockFunction,
    governance: ModelGovernance,
    opts: pulumi.ResourceOptions,
) -> None:
    logging = config.owned_invocation_logging
    Alarms(
        "alarms",
        AlarmsArgs(
            region=config.region,
            account_id=config.account_id,
            prefix=config.name_prefix,
            specs=[
                *function_alarms(
                    config.name_prefix,
                    function.function_name,
                    config.function.timeout_seconds,
                    config.function.reserved_concurrency,
                ),
                *model_alarms(
                    config.name_prefix,
                    {
                        model_id: governance.routes.apply(functools.partial(_invoked_id, model_id))
                        for model_id in config.bedrock.model_ids
                    },
                ),
                *(
                    invocation_log_alarms(config.name_prefix, logging.cloud_watch, logging.s3)
                    if logging is not None
                    else []
                ),
            ],
            email=alarms.email,
            topic_arn=alarms.topic_arn,
        ),
        opts=opts,
    )


def _invoked_id(model_id: str, routes: dict[str, str]) -> str:
    """What the function passes to Bedrock for a configured model, and so the ModelId
    dimension of Bedrock's metrics for its calls."""
    return routes.get(model_id, model_id)


def external_key_statements(config: StackConfig) -> policies.PolicyDocument:
    """What ``bucket.kmsKeyArn``'s policy must add so that the applications and partners the
    access points admit can use it, through S3 and for this bucket only."""
    return policies.document(
        *policies.data_key_usage_statements(
            region=config.region,
            data_account_id=config.account_id,
            bucket_name=config.data_bucket_name,
            cross_account_access=config.cross_account_access(),
        )
    )


def organization_policies(config: StackConfig, deployer_arn: str) -> dict[str, str]:
    """What only the organization can enforce, ready to attach: who may create access points
    in the data account or change the data bucket's policy (README, "The data perimeter")."""
    administrators = [*config.administrator_patterns(), deployer_arn]
    scp = policies.organization_service_control_policy(
        data_account_id=config.account_id,
        bucket_name=config.data_bucket_name,
        administrators=administrators,
    )
    rcp = policies.organization_resource_control_policy(
        data_account_id=config.account_id,
        bucket_name=config.data_bucket_name,
        administrators=administrators,
    )
    return {
        "serviceControlPolicy": policies.to_json(scp),
        "resourceControlPolicy": policies.to_json(rcp),
    }


def deploying_principal(provider: aws.Provider) -> pulumi.Output[str]:
    """The role (or user) behind the credentials that run this deployment: the issuer of an
    assumed-role session, with its path. It stays able to update what it deploys whatever the
    configured administrators are, so a deployment never locks itself out."""
    with_provider = pulumi.InvokeOutputOptions(provider=provider)
    caller = aws.get_caller_identity_output(opts=with_provider)
    return aws.iam.get_session_context_output(arn=caller.arn, opts=with_provider).issuer_arn
