"""What governs the function's model calls: the guardrail every call must carry, the
application inference profiles that carry cost-allocation tags, and the account's model
invocation logging with its destinations."""

import hashlib
import json
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from components import policies, settings, storage
from components.account import DataAccount
from components.encryption import customer_key
from components.errors import refuse
from components.settings import (
    ContentFilterType,
    FilterStrength,
    GuardrailConfig,
    InvocationLogDeliveryConfig,
    ModelGovernanceConfig,
    PiiEntityType,
    SensitiveAction,
)

INVOCATION_LOG_PREFIX = "bedrock-invocations/"
"""The key prefix Bedrock writes under in the invocation-log bucket."""
MAX_PROFILE_NAME = 64
MAX_GUARDRAIL_NAME = 50
SUBJECT = "ModelGovernance arguments"


class ContentFilter(TypedDict):
    """One content filter and how strictly it filters prompts and answers."""

    type: ContentFilterType
    """What it looks for."""
    input_strength: NotRequired[FilterStrength]
    """On prompts (default HIGH)."""
    output_strength: NotRequired[FilterStrength]
    """On answers (default HIGH; NONE for PROMPT_ATTACK)."""


class DeniedTopic(TypedDict):
    """A subject the function must neither be asked about nor answer about."""

    name: str
    """1-100 letters, digits, spaces or _-!?."""
    definition: str
    """What the topic is, in at most 200 characters."""
    examples: NotRequired[list[str]]
    """Up to 5 example prompts."""


class SensitiveEntity(TypedDict):
    """A kind of personal information and what to do with it."""

    type: PiiEntityType
    """The kind."""
    action: NotRequired[SensitiveAction]
    """BLOCK or ANONYMIZE (default)."""


class SensitiveRegex(TypedDict):
    """Sensitive information of the organisation's own, by regular expression."""

    name: str
    """Its name (1-100 characters)."""
    pattern: str
    """The regular expression."""
    action: NotRequired[SensitiveAction]
    """BLOCK or ANONYMIZE (default)."""
    description: NotRequired[str]
    """What it matches."""


class SensitiveInformation(TypedDict):
    """What the guardrail treats as sensitive in prompts and answers."""

    entities: NotRequired[list[SensitiveEntity]]
    """Personal information by kind."""
    regexes: NotRequired[list[SensitiveRegex]]
    """Up to 10 patterns of the organisation's own."""


class GuardrailSettings(TypedDict):
    """The guardrail every model call carries: id and version of an existing one, or the
    policies of one the stack creates and publishes (stack config ``bedrock.guardrail``)."""

    id: NotRequired[str]
    """An existing guardrail's id (with version)."""
    version: NotRequired[str]
    """Its published version, such as '1' (the DRAFT cannot be pinned)."""
    content_filters: NotRequired[list[ContentFilter]]
    """Harmful content and prompt attacks."""
    denied_topics: NotRequired[list[DeniedTopic]]
    """Up to 30 subjects to refuse."""
    sensitive_information: NotRequired[SensitiveInformation]
    """Personal and other sensitive information to block or anonymize."""
    words: NotRequired[list[str]]
    """Words and phrases to block (up to 10,000)."""
    profanity: NotRequired[bool]
    """Block AWS's managed profanity list (default false)."""
    blocked_input_message: NotRequired[str]
    """What the caller reads when a prompt is blocked."""
    blocked_output_message: NotRequired[str]
    """What the caller reads when an answer is withheld."""


class InvocationLogDelivery(TypedDict):
    """What Bedrock's model invocation logs hold and where they go."""

    cloud_watch: NotRequired[bool]
    """To a log group /aws/bedrock/modelinvocations/PREFIX (default false)."""
    s3: NotRequired[bool]
    """To a dedicated, hardened bucket readable by the administrators only (default false)."""
    text_data: NotRequired[bool]
    """Log prompts and answers (default true)."""
    image_data: NotRequired[bool]
    """Log images and other media (default false)."""
    embedding_data: NotRequired[bool]
    """Log embeddings (default false)."""
    retention_days: NotRequired[int]
    """How long the logs are kept, in either destination (default 365)."""


class ModelGovernanceArgs(DataAccount):
    """Inputs of :class:`ModelGovernance`."""

    name_prefix: str
    """Starts the names of the guardrail, the profiles and the log group (project-stack):
    unique per account and Region."""
    kms_key_arn: pulumi.Input[str]
    """The key a created guardrail is encrypted with (the data key)."""
    guardrail: NotRequired[GuardrailSettings]
    """The guardrail every model call carries; none when omitted."""
    model_tags: NotRequired[dict[str, dict[str, str]]]
    """Model id -> cost-allocation tags of an application inference profile created for it."""
    invocation_logging: NotRequired[InvocationLogDelivery]
    """The account's model invocation logging in this Region, owned by this component: set it
    in one place per account and Region."""
    invocation_log_bucket_name: NotRequired[str]
    """The invocation-log bucket's name (required with invocationLogging.s3)."""
    administrators: NotRequired[pulumi.Input[list[str]]]
    """Who may read the invocation logs in the bucket, change its protections and manage the
    invocation logs' key, besides the deploying role (role or user ARNs)."""
    access_log_bucket_name: NotRequired[pulumi.Input[str]]
    """A bucket that takes the invocation-log bucket's server access logs (its policy must
    accept them, as DataBucket's log bucket does with otherAccessLogSources)."""
    deletion_protection: NotRequired[bool]
    """protect and retainOnDelete on the invocation-log bucket (default true)."""


def _problems(plain: ModelGovernanceConfig) -> list[str]:
    problems = settings.guardrail_problems(plain.guardrail, "guardrail")
    delivery = plain.invocation_logging
    if delivery is not None:
        problems += settings.invocation_log_destination_problems(delivery, "invocationLogging")
        if delivery.s3 and plain.invocation_log_bucket_name is None:
            problems.append("invocationLogBucketName: is required with invocationLogging.s3")
    return problems


class ModelGovernance(pulumi.ComponentResource):
    """The guardrail every model call carries (created and published, or an existing one),
    application inference profiles for cost allocation, and the account's model invocation
    logging in this Region."""

    guardrail_arn: pulumi.Output[str] | None
    """The guardrail's ARN; none without a guardrail."""
    guardrail_version: pulumi.Output[str] | None
    """Its published version the function pins."""
    guardrail_key_arn: pulumi.Output[str] | None
    """The key the guardrail is encrypted with, when this component created it: callers need
    kms:Decrypt on it through Bedrock."""
    routes: pulumi.Output[dict[str, str]]
    """Model id -> ARN of the application inference profile to invoke instead."""
    invocation_log_group_name: pulumi.Output[str] | None
    """The invocation log group, when logging to CloudWatch."""
    invocation_log_group_arn: pulumi.Output[str] | None
    """Its ARN (the organization policies keep it for the administrators)."""
    invocation_log_writer_arn: pulumi.Output[str] | None
    """The role Bedrock assumes to write it."""
    invocation_log_bucket_name: pulumi.Output[str] | None
    """The invocation-log bucket, when logging to S3."""
    invocation_log_key_arn: pulumi.Output[str] | None
    """The key of the invocation logs, in either destination."""

    def __init__(
        self, name: str, args: ModelGovernanceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        plain = settings.parse_component_args(ModelGovernanceConfig, args, SUBJECT)
        refuse(_problems(plain), SUBJECT)
        super().__init__("datalake:index:ModelGovernance", name, {}, opts)
        self._name = name
        self._args = args
        self._plain = plain
        self.guardrail_arn, self.guardrail_version, self.guardrail_key_arn = self._guardrail()
        self.routes = self._application_profiles()
        self.invocation_log_group_name = None
        self.invocation_log_group_arn = None
        self.invocation_log_writer_arn = None
        self.invocation_log_bucket_name = None
        self.invocation_log_key_arn = None
        if plain.invocation_logging is not None:
            self._invocation_logging(plain.invocation_logging)
        self.register_outputs(
            {
                "guardrailArn": self.guardrail_arn,
                "guardrailVersion": self.guardrail_version,
                "guardrailKeyArn": self.guardrail_key_arn,
                "routes": self.routes,
                "invocationLogGroupName": self.invocation_log_group_name,
                "invocationLogBucketName": self.invocation_log_bucket_name,
                "invocationLogKeyArn": self.invocation_log_key_arn,
            }
        )

    def _guardrail(
        self,
    ) -> tuple[pulumi.Output[str] | None, pulumi.Output[str] | None, pulumi.Output[str] | None]:
        """(ARN, published version, key it is encrypted with when the stack created it)."""
        args, guardrail = self._args, self._plain.guardrail
        if guardrail is None:
            return None, None, None
        if guardrail.id is not None and guardrail.version is not None:
            arn = policies.guardrail_arn(args["region"], args["account_id"], guardrail.id)
            return pulumi.Output.from_input(arn), pulumi.Output.from_input(guardrail.version), None
        created = aws.bedrock.Guardrail(
            f"{self._name}-guardrail",
            guardrail_args(guardrail, f"{self._plain.name_prefix}-guardrail", args["kms_key_arn"]),
            opts=pulumi.ResourceOptions(parent=self),
        )
        version = aws.bedrock.GuardrailVersion(
            f"{self._name}-guardrail",
            guardrail_arn=created.guardrail_arn,
            # A version is a snapshot of the draft: a new one must be published whenever the
            # policies change, and the description is what tells Pulumi they did.
            description=f"policies sha256:{guardrail_fingerprint(guardrail)}",
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[created], replace_on_changes=["description"]
            ),
        )
        return (
            created.guardrail_arn,
            version.version,
            pulumi.Output.from_input(args["kms_key_arn"]),
        )

    def _application_profiles(self) -> pulumi.Output[dict[str, str]]:
        args, prefix = self._args, self._plain.name_prefix
        profiles = {}
        for model_id, tags in sorted(self._plain.model_tags.items()):
            profile = aws.bedrock.InferenceProfile(
                f"{self._name}-{policies.model_slug(model_id)}",
                name=f"{prefix}-{policies.model_slug(model_id)}"[:MAX_PROFILE_NAME].rstrip("-"),
                description=f"Cost allocation for {model_id} called by the data-lake function",
                model_source=aws.bedrock.InferenceProfileModelSourceArgs(
                    copy_from=model_source_arn(args["region"], args["account_id"], model_id)
                ),
                tags=dict(tags),
                opts=pulumi.ResourceOptions(parent=self),
            )
            profiles[model_id] = profile.arn
        return (
            pulumi.Output.all(**profiles).apply(dict) if profiles else pulumi.Output.from_input({})
        )

    def _invocation_logging(self, delivery: InvocationLogDeliveryConfig) -> None:
        region, account_id = self._args["region"], self._args["account_id"]
        child = pulumi.ResourceOptions(parent=self)
        pulumi.log.warn(
            f"This stack owns Amazon Bedrock model invocation logging for account "
            f"{account_id} in {region}: an update replaces any setting made there "
            "by the console or another stack, and a destroy turns logging off. Every other "
            "stack in this account and Region must leave it to this one (data-lake stacks name "
            "it in bedrock.invocationLogging.ownerStack).",
            resource=self,
        )
        cloudwatch_config = None
        depends_on: list[pulumi.Resource] = []
        administrators = storage.with_deployer(
            self, self._args.get("administrators", []), "administrators"
        )
        bucket_name = self._plain.invocation_log_bucket_name if delivery.s3 else None
        key = customer_key(
            self,
            f"{self._name}-invocation-logs",
            description="Encrypts the model invocation logs: prompts, answers and documents",
            policy=administrators.apply(
                lambda admins: policies.to_json(
                    policies.invocation_log_key_policy(
                        region=region,
                        account_id=account_id,
                        administrators=admins,
                        log_group_arn=policies.invocation_log_group_arn(
                            region, account_id, self._plain.name_prefix
                        )
                        if delivery.cloud_watch
                        else None,
                        bucket_name=bucket_name,
                    )
                )
            ),
        )
        self.invocation_log_key_arn = key.arn
        if delivery.cloud_watch:
            log_group = aws.cloudwatch.LogGroup(
                f"{self._name}-invocation-logs",
                name=policies.invocation_log_group_name(self._plain.name_prefix),
                retention_in_days=delivery.retention_days,
                kms_key_id=key.arn,
                opts=child,
            )
            role = aws.iam.Role(
                f"{self._name}-invocation-logging",
                description="Bedrock delivers this account's model invocation logs",
                assume_role_policy=policies.to_json(
                    policies.invocation_logging_assume_role_policy(region, account_id)
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
            self.invocation_log_group_arn = log_group.arn
            self.invocation_log_writer_arn = role.arn
        s3_config = None
        if delivery.s3:
            logs = self._invocation_log_bucket(delivery.retention_days, key, administrators)
            depends_on.append(logs.policy)
            s3_config = aws.bedrockmodel.InvocationLoggingConfigurationLoggingConfigS3ConfigArgs(
                bucket_name=logs.bucket.bucket, key_prefix=INVOCATION_LOG_PREFIX.rstrip("/")
            )
            self.invocation_log_bucket_name = logs.bucket.bucket
        aws.bedrockmodel.InvocationLoggingConfiguration(
            f"{self._name}-invocation-logging",
            logging_config=aws.bedrockmodel.InvocationLoggingConfigurationLoggingConfigArgs(
                cloudwatch_config=cloudwatch_config,
                s3_config=s3_config,
                text_data_delivery_enabled=delivery.text_data,
                image_data_delivery_enabled=delivery.image_data,
                embedding_data_delivery_enabled=delivery.embedding_data,
                # Media follows imageData: AWS's default would log every video in full.
                video_data_delivery_enabled=delivery.image_data,
            ),
            # Bedrock checks that it can write to the destinations when logging is turned on.
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )

    def _invocation_log_bucket(
        self, retention_days: int, key: aws.kms.Key, administrators: pulumi.Output[list[str]]
    ) -> storage.HardenedBucket:
        """SSE-KMS with the invocation logs' key (Bedrock may use it for this bucket only),
        expiring after the retention period, readable by the administrators only."""
        args = self._args
        bucket_name = self._plain.invocation_log_bucket_name
        assert bucket_name is not None, "checked by _problems"
        logs = storage.hardened_bucket(
            self,
            f"{self._name}-invocation-logs",
            bucket_name,
            storage.DefaultEncryption(sse_algorithm="aws:kms", kms_master_key_id=key.arn),
            policy=administrators.apply(
                lambda admins: policies.to_json(
                    policies.invocation_log_bucket_policy(
                        bucket_name=bucket_name,
                        key_prefix=INVOCATION_LOG_PREFIX,
                        region=args["region"],
                        account_id=args["account_id"],
                        administrators=admins,
                    )
                )
            ),
            expire_current_after_days=retention_days,
            noncurrent_expiration_days=1,
            deletion_protection=self._plain.deletion_protection,
        )
        access_log_bucket = args.get("access_log_bucket_name")
        if access_log_bucket is not None:
            storage.server_access_logging(
                self, f"{self._name}-invocation-logs", logs, target_bucket=access_log_bucket
            )
        return logs


def guardrail_args(
    guardrail: GuardrailConfig, name: str, kms_key_arn: pulumi.Input[str]
) -> aws.bedrock.GuardrailArgs:
    """The guardrail for these settings; a policy block is left out when it has nothing in it
    (AWS rejects empty ones)."""
    content = topics = sensitive_config = words = None
    if guardrail.content_filters:
        content = aws.bedrock.GuardrailContentPolicyConfigArgs(
            filters_configs=[
                aws.bedrock.GuardrailContentPolicyConfigFiltersConfigArgs(
                    type=f.type, input_strength=f.input_strength, output_strength=f.output_strength
                )
                for f in guardrail.content_filters
            ]
        )
    if guardrail.denied_topics:
        topics = aws.bedrock.GuardrailTopicPolicyConfigArgs(
            topics_configs=[
                aws.bedrock.GuardrailTopicPolicyConfigTopicsConfigArgs(
                    name=t.name, definition=t.definition, examples=list(t.examples), type="DENY"
                )
                for t in guardrail.denied_topics
            ]
        )
    sensitive = guardrail.sensitive_information
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
    if guardrail.words or guardrail.profanity:
        words = aws.bedrock.GuardrailWordPolicyConfigArgs(
            words_configs=[
                aws.bedrock.GuardrailWordPolicyConfigWordsConfigArgs(text=word)
                for word in guardrail.words
            ]
            or None,
            managed_word_lists_configs=[
                aws.bedrock.GuardrailWordPolicyConfigManagedWordListsConfigArgs(type="PROFANITY")
            ]
            if guardrail.profanity
            else None,
        )
    return aws.bedrock.GuardrailArgs(
        name=name[:MAX_GUARDRAIL_NAME],
        description="Every model call of the data-lake function must carry this guardrail",
        blocked_input_messaging=guardrail.blocked_input_message,
        blocked_outputs_messaging=guardrail.blocked_output_message,
        kms_key_arn=kms_key_arn,
        content_policy_config=content,
        topic_policy_config=topics,
        sensitive_information_policy_config=sensitive_config,
        word_policy_config=words,
    )


def guardrail_fingerprint(guardrail: GuardrailConfig) -> str:
    """Changes exactly when the guardrail's policies or messages do."""
    text = json.dumps(guardrail.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def model_source_arn(region: str, account_id: str, model_id: str) -> str:
    """What an application profile copies: the system inference profile, or the foundation
    model in this Region."""
    ref = policies.parse_model_id(model_id)
    assert ref is not None, "checked by the config"
    if ref.is_inference_profile:
        return policies.inference_profile_arn(region, account_id, model_id)
    return policies.foundation_model_arn(region, ref.foundation_model_id)
