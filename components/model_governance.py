"""What governs the function's model calls: the guardrail every call must carry, the
application inference profiles that carry cost-allocation tags, and the account's model
invocation logging with its destinations."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import policies
from components.settings import GuardrailConfig, InvocationLoggingConfig

INVOCATION_LOG_PREFIX = "bedrock-invocations/"
"""The key prefix Bedrock writes under in the invocation-log bucket."""
ABORT_INCOMPLETE_UPLOADS_AFTER_DAYS = 7
MAX_PROFILE_NAME = 64
MAX_GUARDRAIL_NAME = 50


@dataclass(frozen=True)
class InvocationLogDestinations:
    """Where this stack, as the owner of the account's setting, sends invocation logs."""

    settings: InvocationLoggingConfig
    bucket_name: str
    """The dedicated invocation-log bucket (used when ``settings.s3``)."""
    administrators: pulumi.Input[Sequence[str]]
    """The only principals that may read the logs in the bucket or change its protections
    (role/user ARNs or exact patterns, the deployer among them)."""
    access_log_bucket: pulumi.Input[str] | None
    """The stack's access-log bucket, for the invocation-log bucket's server access logs."""


@dataclass(frozen=True)
class ModelGovernanceArgs:
    """Inputs of :class:`ModelGovernance`."""

    region: str
    account_id: str
    name_prefix: str
    """``project-stack``: names of the guardrail and profiles, unique per account and Region."""
    guardrail: GuardrailConfig | None
    kms_key_arn: pulumi.Input[str]
    """The data key: a created guardrail is encrypted with it."""
    model_tags: Mapping[str, Mapping[str, str]]
    """Configured model id -> tags of the application inference profile created for it."""
    invocation_logging: InvocationLogDestinations | None
    """None unless this stack owns the account's invocation logging."""
    deletion_protection: bool = True


class ModelGovernance(pulumi.ComponentResource):
    """Guardrail (created and published, or an existing one), application inference profiles
    and model invocation logging."""

    guardrail_arn: pulumi.Output[str] | None
    guardrail_version: pulumi.Output[str] | None
    guardrail_key_arn: pulumi.Output[str] | None
    """The key the stack encrypted the guardrail with; None for an existing guardrail."""
    routes: pulumi.Output[dict[str, str]]
    """Configured model id -> ARN of the application inference profile to invoke instead."""
    invocation_log_group_name: pulumi.Output[str] | None
    invocation_log_bucket_name: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: ModelGovernanceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("datalake:index:ModelGovernance", name, {}, opts)
        self._name = name
        self._args = args
        self.guardrail_arn, self.guardrail_version, self.guardrail_key_arn = self._guardrail()
        self.routes = self._application_profiles()
        self.invocation_log_group_name = None
        self.invocation_log_bucket_name = None
        if args.invocation_logging is not None:
            self._invocation_logging(args.invocation_logging)
        self.register_outputs(
            {
                "guardrailArn": self.guardrail_arn,
                "guardrailVersion": self.guardrail_version,
                "routes": self.routes,
                "invocationLogGroupName": self.invocation_log_group_name,
                "invocationLogBucketName": self.invocation_log_bucket_name,
            }
        )

    def _guardrail(
        self,
    ) -> tuple[pulumi.Output[str] | None, pulumi.Output[str] | None, pulumi.Output[str] | None]:
        """(ARN, published version, key it is encrypted with when the stack created it)."""
        args = self._args
        settings = args.guardrail
        if settings is None:
            return None, None, None
        if settings.id is not None and settings.version is not None:
            arn = policies.guardrail_arn(args.region, args.account_id, settings.id)
            return pulumi.Output.from_input(arn), pulumi.Output.from_input(settings.version), None
        guardrail = aws.bedrock.Guardrail(
            f"{self._name}-guardrail",
            guardrail_args(settings, f"{args.name_prefix}-guardrail", args.kms_key_arn),
            opts=pulumi.ResourceOptions(parent=self),
        )
        version = aws.bedrock.GuardrailVersion(
            f"{self._name}-guardrail",
            guardrail_arn=guardrail.guardrail_arn,
            # A version is a snapshot of the draft: a new one must be published whenever the
            # policies change, and the description is what tells Pulumi they did.
            description=f"policies sha256:{guardrail_fingerprint(settings)}",
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[guardrail], replace_on_changes=["description"]
            ),
        )
        return (
            guardrail.guardrail_arn,
            version.version,
            pulumi.Output.from_input(args.kms_key_arn),
        )

    def _application_profiles(self) -> pulumi.Output[dict[str, str]]:
        args = self._args
        profiles = {}
        for model_id, tags in sorted(args.model_tags.items()):
            profile = aws.bedrock.InferenceProfile(
                f"{self._name}-{policies.model_slug(model_id)}",
                name=f"{args.name_prefix}-{policies.model_slug(model_id)}"[
                    :MAX_PROFILE_NAME
                ].rstrip("-"),
                description=f"Cost allocation for {model_id} called by the data-lake function",
                model_source=aws.bedrock.InferenceProfileModelSourceArgs(
                    copy_from=model_source_arn(args.region, args.account_id, model_id)
                ),
                tags=dict(tags),
                opts=pulumi.ResourceOptions(parent=self),
            )
            profiles[model_id] = profile.arn
        return (
            pulumi.Output.all(**profiles).apply(dict) if profiles else pulumi.Output.from_input({})
        )

    def _invocation_logging(self, destinations: InvocationLogDestinations) -> None:
        args = self._args
        settings = destinations.settings
        child = pulumi.ResourceOptions(parent=self)
        pulumi.log.warn(
            f"This stack owns Amazon Bedrock model invocation logging for account "
            f"{args.account_id} in {args.region}: an update replaces any setting made there "
            "by the console or another stack, and a destroy turns logging off. Every other "
            f"stack in this account and Region must name this one in "
            "bedrock.invocationLogging.ownerStack.",
            resource=self,
        )
        cloudwatch_config = None
        depends_on: list[pulumi.Resource] = []
        if settings.cloud_watch:
            log_group = aws.cloudwatch.LogGroup(
                f"{self._name}-invocation-logs",
                name=f"/aws/bedrock/modelinvocations/{args.name_prefix}",
                retention_in_days=settings.retention_days,
                opts=child,
            )
            role = aws.iam.Role(
                f"{self._name}-invocation-logging",
                description="Bedrock delivers this account's model invocation logs",
                assume_role_policy=policies.to_json(
                    policies.invocation_logging_assume_role_policy(args.region, args.account_id)
                ),
                opts=child,
            )
            role_policy = aws.iam.RolePolicy(
                f"{self._name}-invocation-logging",
                role=role.id,
                policy=log_group.arn.apply(
                    lambda arn: policies.to_json(policies.invocation_log_delivery_policy(arn))
                ),
                opts=child,
            )
            depends_on.append(role_policy)
            cloudwatch_config = (
                aws.bedrockmodel.InvocationLoggingConfigurationLoggingConfigCloudwatchConfigArgs(
                    log_group_name=log_group.name, role_arn=role.arn
                )
            )
            self.invocation_log_group_name = log_group.name
        s3_config = None
        if settings.s3:
            bucket, policy = self._invocation_log_bucket(destinations)
            depends_on.append(policy)
            s3_config = aws.bedrockmodel.InvocationLoggingConfigurationLoggingConfigS3ConfigArgs(
                bucket_name=bucket.bucket, key_prefix=INVOCATION_LOG_PREFIX.rstrip("/")
            )
            self.invocation_log_bucket_name = bucket.bucket
        aws.bedrockmodel.InvocationLoggingConfiguration(
            f"{self._name}-invocation-logging",
            logging_config=aws.bedrockmodel.InvocationLoggingConfigurationLoggingConfigArgs(
                cloudwatch_config=cloudwatch_config,
                s3_config=s3_config,
                text_data_delivery_enabled=settings.text_data,
                image_data_delivery_enabled=settings.image_data,
                embedding_data_delivery_enabled=settings.embedding_data,
                # Media follows imageData: AWS's default would log every video in full.
                video_data_delivery_enabled=settings.image_data,
            ),
            # Bedrock checks that it can write to the destinations when logging is turned on.
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )

    def _invocation_log_bucket(
        self, destinations: InvocationLogDestinations
    ) -> tuple[aws.s3.Bucket, aws.s3.BucketPolicy]:
        """Private, ACLs off, SSE-S3 (a KMS key would need a grant to Bedrock in its key
        policy), versioned, expiring after the retention period, TLS only, admins only."""
        args = self._args
        name = f"{self._name}-invocation-logs"
        keep = pulumi.ResourceOptions(
            parent=self,
            protect=args.deletion_protection,
            retain_on_delete=args.deletion_protection,
        )
        bucket = aws.s3.Bucket(
            name,
            bucket=destinations.bucket_name,
            force_destroy=not args.deletion_protection,
            opts=keep,
        )

        def after(*resources: pulumi.Resource) -> pulumi.ResourceOptions:
            # S3 rejects concurrent configuration changes to one bucket.
            return pulumi.ResourceOptions(parent=self, depends_on=list(resources))

        public_access_block = aws.s3.BucketPublicAccessBlock(
            name,
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=after(),
        )
        ownership = aws.s3.BucketOwnershipControls(
            name,
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=after(public_access_block),
        )
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            name,
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    )
                )
            ],
            opts=after(ownership),
        )
        versioning = aws.s3.BucketVersioning(
            name,
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=after(encryption),
        )
        retention = destinations.settings.retention_days
        lifecycle = aws.s3.BucketLifecycleConfiguration(
            name,
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-after-retention",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        days=retention
                    ),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=1
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=ABORT_INCOMPLETE_UPLOADS_AFTER_DAYS
                    ),
                )
            ],
            opts=after(versioning),
        )
        policy = aws.s3.BucketPolicy(
            name,
            bucket=bucket.id,
            policy=pulumi.Output.from_input(destinations.administrators).apply(
                lambda administrators: policies.to_json(
                    policies.invocation_log_bucket_policy(
                        bucket_name=destinations.bucket_name,
                        key_prefix=INVOCATION_LOG_PREFIX,
                        region=args.region,
                        account_id=args.account_id,
                        administrators=administrators,
                    )
                )
            ),
            opts=after(lifecycle),
        )
        if destinations.access_log_bucket is not None:
            aws.s3.BucketLogging(
                name,
                bucket=bucket.id,
                target_bucket=destinations.access_log_bucket,
                # As the data bucket's: keys start with the source account, Region and bucket.
                target_prefix="",
                target_object_key_format=aws.s3.BucketLoggingTargetObjectKeyFormatArgs(
                    partitioned_prefix=aws.s3.BucketLoggingTargetObjectKeyFormatPartitionedPrefixArgs(
                        partition_date_source="EventTime"
                    )
                ),
                opts=after(policy),
            )
        return bucket, policy


def guardrail_args(
    settings: GuardrailConfig, name: str, kms_key_arn: pulumi.Input[str]
) -> aws.bedrock.GuardrailArgs:
    """The guardrail for these settings; a policy block is left out when it has nothing in it
    (AWS rejects empty ones)."""
    content = topics = sensitive_config = words = None
    if settings.content_filters:
        content = aws.bedrock.GuardrailContentPolicyConfigArgs(
            filters_configs=[
                aws.bedrock.GuardrailContentPolicyConfigFiltersConfigArgs(
                    type=f.type, input_strength=f.input_strength, output_strength=f.output_strength
                )
                for f in settings.content_filters
            ]
        )
    if settings.denied_topics:
        topics = aws.bedrock.GuardrailTopicPolicyConfigArgs(
            topics_configs=[
                aws.bedrock.GuardrailTopicPolicyConfigTopicsConfigArgs(
                    name=t.name, definition=t.definition, examples=list(t.examples), type="DENY"
                )
                for t in settings.denied_topics
            ]
        )
    sensitive = settings.sensitive_information
    if sensitive.entities or sensitive.regexes:
        sensitive_config = aws.bedrock.GuardrailSensitiveInformationPolicyConfigArgs(
            pii_entities_configs=[
                aws.bedrock.GuardrailSensitiveInformationPolicyConfigPiiEntitiesConfigArgs(
                    type=e.type, action=e.action
                )
                for e in sensitive.entities
            ]
            or None,
            regexes_configs=[
                aws.bedrock.GuardrailSensitiveInformationPolicyConfigRegexesConfigArgs(
                    name=r.name, pattern=r.pattern, action=r.action, description=r.description
                )
                for r in sensitive.regexes
            ]
            or None,
        )
    if settings.words or settings.profanity:
        words = aws.bedrock.GuardrailWordPolicyConfigArgs(
            words_configs=[
                aws.bedrock.GuardrailWordPolicyConfigWordsConfigArgs(text=word)
                for word in settings.words
            ]
            or None,
            managed_word_lists_configs=[
                aws.bedrock.GuardrailWordPolicyConfigManagedWordListsConfigArgs(type="PROFANITY")
            ]
            if settings.profanity
            else None,
        )
    return aws.bedrock.GuardrailArgs(
        name=name[:MAX_GUARDRAIL_NAME],
        description="Every model call of the data-lake function must carry this guardrail",
        blocked_input_messaging=settings.blocked_input_message,
        blocked_outputs_messaging=settings.blocked_output_message,
        kms_key_arn=kms_key_arn,
        content_policy_config=content,
        topic_policy_config=topics,
        sensitive_information_policy_config=sensitive_config,
        word_policy_config=words,
    )


def guardrail_fingerprint(settings: GuardrailConfig) -> str:
    """Changes exactly when the guardrail's policies or messages do."""
    text = json.dumps(settings.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def model_source_arn(region: str, account_id: str, model_id: str) -> str:
    """What an application profile copies: the system inference profile, or the foundation
    model in this Region."""
    ref = policies.parse_model_id(model_id)
    assert ref is not None, "checked by the config"
    if ref.is_inference_profile:
        return policies.inference_profile_arn(region, account_id, model_id)
    return policies.foundation_model_arn(region, ref.foundation_model_id)
