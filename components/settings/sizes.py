"""AWS's policy size limits, checked on the worst case before anything is registered."""

from __future__ import annotations

from components import policies
from components.settings.stack import AccessPointConfig, StackConfig

PLACEHOLDER_VPC_ID = "vpc-0123456789abcdef0"  # longest VPC id form, for worst-case size checks


# The longest role ARN IAM accepts (a 512-character path, a 64-character name): the deployer.
LONGEST_ROLE_ARN = "arn:aws:iam::{account}:role/" + "x" * (512 + 64)


PLACEHOLDER_ID_LENGTH = 64  # longer than the ids AWS gives guardrails and inference profiles


PLACEHOLDER_SUBNET_ID = "subnet-0123456789abcdef0"  # longest subnet id form
PLACEHOLDER_SECURITY_GROUP_ID = "sg-0123456789abcdef0"  # longest security group id form


def size_problems(config: StackConfig) -> list[str]:
    """Build each policy whose size depends on config and compare it with AWS's limit now,
    instead of letting `pulumi up` fail halfway through."""
    function_ap = config.function_access_point
    checks: list[tuple[str, str, policies.PolicyDocument, int]] = [
        (
            "accessPoints",
            "the bucket policy (it grows with cross-account access points, "
            "bucket.allowedVpcIds, the administrators and, up to "
            f"{policies.ENUMERATED_ACCESS_POINTS_MAX}, the data account's access points)",
            config.bucket_policy(
                vpc_id=PLACEHOLDER_VPC_ID,
                deployer_arn=LONGEST_ROLE_ARN.format(account=config.account_id),
                data_key_arn=config.bucket.kms_key_arn
                or f"arn:aws:kms:{config.region}:{config.account_id}:key/{'x' * 36}",
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
            config.interface_endpoint_policy("bedrock-runtime"),
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
                log_group_arn=f"arn:aws:logs:{config.region}:{config.account_id}:log-group:"
                + "x" * 512,
                kms_key_arn=config.bucket.kms_key_arn
                or f"arn:aws:kms:{config.region}:{config.account_id}:key/{'x' * 36}",
                guardrail=_worst_case_guardrail(config),
                guardrail_key_arn=config.bucket.kms_key_arn
                or f"arn:aws:kms:{config.region}:{config.account_id}:key/{'x' * 36}",
                subnet_ids=[
                    f"{PLACEHOLDER_SUBNET_ID}{index}"[-len(PLACEHOLDER_SUBNET_ID) :]
                    for index in range(_subnet_count(config))
                ],
                security_group_ids=[PLACEHOLDER_SECURITY_GROUP_ID],
                function_key_arn=f"arn:aws:kms:{config.region}:{config.account_id}:key/{'x' * 36}",
                tracing=config.function.tracing,
                routes={
                    model_id: policies.application_profile_arn(
                        config.region,
                        config.account_id,
                        f"{index:x}".rjust(PLACEHOLDER_ID_LENGTH, "x"),
                    )
                    for index, model_id in enumerate(config.bedrock.model_tags)
                },
            ),
            policies.ROLE_INLINE_POLICY_LIMIT_CHARS,
        ),
    ]
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
