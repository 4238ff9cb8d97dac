"""AWS's policy size limits, checked on the worst case before anything is registered."""

from __future__ import annotations

from components import policies
from components.settings.stack import AccessPointConfig, KnowledgeBaseOutputs, StackConfig

# The longest ids of their kinds AWS hands out, for worst-case size checks.
PLACEHOLDER_ENDPOINT_ID = "vpce-0123456789abcdef0"
PLACEHOLDER_SUBNET_ID = "subnet-0123456789abcdef0"
PLACEHOLDER_SECURITY_GROUP_ID = "sg-0123456789abcdef0"
PLACEHOLDER_ID_LENGTH = 64  # longer than the ids AWS gives guardrails and inference profiles


# The longest role ARN IAM accepts (a 512-character path, a 64-character name): the deployer.
LONGEST_ROLE_ARN = "arn:aws:iam::{account}:role/" + "x" * (512 + 64)


def size_problems(config: StackConfig) -> list[str]:
    """Build each policy whose size depends on config and compare it with AWS's limit now,
    instead of letting `pulumi up` fail halfway through."""
    function_ap = config.function_access_point
    deployer = LONGEST_ROLE_ARN.format(account=config.account_id)
    data_key = config.bucket.kms_key_arn or _arn(config, "kms", f"key/{'x' * 36}")
    guardrail = _worst_case_guardrail(config)
    routes = {
        model_id: policies.application_profile_arn(
            config.region, config.account_id, f"{index:x}".rjust(PLACEHOLDER_ID_LENGTH, "x")
        )
        for index, model_id in enumerate(config.bedrock.model_tags)
    }
    longest_role = _arn(config, "iam", f"role/{'x' * 64}", region="")
    knowledge_base = (
        KnowledgeBaseOutputs(
            arn=policies.knowledge_base_arn(config.region, config.account_id, "X" * 10),
            function_role_arn=longest_role,
            ingestion_runner_arn=longest_role,
            endpoint_id=PLACEHOLDER_ENDPOINT_ID,
        )
        if config.bedrock.knowledge_base is not None
        else None
    )
    organization = config.organization_scope(
        administrators=[*config.administrator_patterns(), deployer],
        invocation_log_writer_arn=longest_role,
        athena_endpoint_id=PLACEHOLDER_ENDPOINT_ID,
        knowledge_base=knowledge_base,
    )
    organization_policies = (
        "bucket.adminRoleArns, bucket.adminPermissionSets, accessPoints and bedrock.modelIds",
        policies.ORGANIZATION_POLICY_LIMIT_CHARS,
    )
    checks: list[tuple[str, str, policies.PolicyDocument, int]] = [
        (
            "accessPoints",
            "the bucket policy (it grows with cross-account access points, "
            "bucket.allowedVpcEndpointIds, the administrators and, up to "
            f"{policies.ENUMERATED_ACCESS_POINTS_MAX}, the data account's access points)",
            config.bucket_policy(
                s3_endpoint_id=PLACEHOLDER_ENDPOINT_ID, deployer_arn=deployer, data_key_arn=data_key
            ),
            policies.BUCKET_POLICY_LIMIT_BYTES,
        ),
        (
            "network.extraS3Buckets",
            "the S3 gateway endpoint policy",
            config.s3_endpoint_policy(),
            policies.VPC_ENDPOINT_POLICY_LIMIT_CHARS,
        ),
        (
            "bedrock.modelIds",
            "the bedrock-runtime endpoint policy",
            config.bedrock_runtime_policy(guardrail, routes),
            policies.VPC_ENDPOINT_POLICY_LIMIT_CHARS,
        ),
        (
            "bedrock.modelIds",
            "the function role's inline policy",
            policies.function_role_policy(
                region=config.region,
                account_id=config.account_id,
                ap_arn=config.access_point_arn(function_ap),
                prefix=function_ap.prefix,
                model_ids=config.bedrock.model_ids,
                streaming=config.bedrock.streaming,
                log_group_arn=_arn(config, "logs", "log-group:" + "x" * 512),
                kms_key_arn=data_key,
                subnet_ids=[
                    f"{PLACEHOLDER_SUBNET_ID}{index}"[-len(PLACEHOLDER_SUBNET_ID) :]
                    for index in range(_subnet_count(config))
                ],
                security_group_ids=[PLACEHOLDER_SECURITY_GROUP_ID],
                function_key_arn=_arn(config, "kms", f"key/{'x' * 36}"),
                tracing=config.function.tracing,
                guardrail=guardrail,
                guardrail_key_arn=data_key,
                routes=routes,
                knowledge_base_arn=knowledge_base.arn if knowledge_base is not None else None,
            ),
            policies.ROLE_INLINE_POLICY_LIMIT_CHARS,
        ),
        (
            organization_policies[0],
            "the service control policy",
            policies.organization_service_control_policy(organization),
            organization_policies[1],
        ),
        (
            organization_policies[0],
            "the Bedrock service control policy",
            policies.bedrock_service_control_policy(organization),
            organization_policies[1],
        ),
        (
            organization_policies[0],
            "the resource control policy",
            policies.organization_resource_control_policy(organization),
            organization_policies[1],
        ),
        (
            "bedrock.modelIds",
            "the Region service control policy",
            policies.region_service_control_policy(organization),
            policies.ORGANIZATION_POLICY_LIMIT_CHARS,
        ),
    ]
    if organization.knowledge_base is not None:
        checks.append(
            (
                organization_policies[0],
                "the knowledge base service control policy",
                policies.knowledge_base_service_control_policy(
                    organization, organization.knowledge_base
                ),
                organization_policies[1],
            )
        )
    checks += [
        (
            f"accessPoints[{index}].principals",
            "the access point policy",
            policies.access_point_policy(
                config.access_point_arn(ap),
                ap.prefix,
                ap.access,
                _worst_case_principals(config, ap),
                ap.via_services,
            ),
            policies.ACCESS_POINT_POLICY_LIMIT_BYTES,
        )
        for index, ap in enumerate(config.access_points)
    ]
    problems = []
    for key, what, document, limit in checks:
        size = policies.policy_size(document)
        if size > limit:
            problems.append(f"{key}: {what} would be {size:,} bytes, over AWS's limit of {limit:,}")
    return problems


def _subnet_count(config: StackConfig) -> int:
    """The function's subnets: the given ones in an existing VPC, one per AZ in a created one."""
    return len(config.network.subnet_ids) or config.network.availability_zones


def _arn(config: StackConfig, service: str, resource: str, region: str | None = None) -> str:
    where = config.region if region is None else region
    return f"arn:aws:{service}:{where}:{config.account_id}:{resource}"


def _worst_case_guardrail(config: StackConfig) -> policies.GuardrailRef | None:
    if config.bedrock.guardrail is None:
        return None
    return policies.GuardrailRef(
        policies.guardrail_arn(config.region, config.account_id, "x" * PLACEHOLDER_ID_LENGTH),
        "9" * 8,
    )


def _worst_case_principals(config: StackConfig, ap: AccessPointConfig) -> list[str]:
    if ap.name != config.bedrock.access_point:
        return list(ap.principals)
    # The function's role is added to its access point; assume the longest role ARN.
    return [*ap.principals, f"arn:aws:iam::{config.account_id}:role/{'x' * 64}"]
