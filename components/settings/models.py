"""``bedrock``: the models, their invocation logging and alarms; and the plain arguments
of the ModelGovernance and Alarms building blocks, under the same rules."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from components import policies
from components.bedrock import DEFAULT_MAX_TOKENS, DEFAULT_SYSTEM_PROMPT, DEFAULT_TIMEOUT_SECONDS
from components.settings.guardrails import GuardrailConfig
from components.settings.knowledge import KnowledgeBaseConfig
from components.settings.values import (
    AccessPointName,
    BucketName,
    EmailAddress,
    ModelId,
    NamePrefix,
    RetentionDays,
    Schema,
    Tags,
    TopicArn,
    matches,
    rule,
    unique,
)

# Model providers whose models Amazon Bedrock serves without an AWS Marketplace subscription.
FIRST_PARTY_MODEL_PROVIDERS = frozenset({"amazon"})


class InvocationLogDeliveryConfig(Schema):
    """What Bedrock's model invocation logs hold and where they go."""

    cloud_watch: bool = False
    s3: bool = False
    text_data: bool = True
    image_data: bool = False
    embedding_data: bool = False
    retention_days: RetentionDays = 365


class InvocationLoggingConfig(InvocationLogDeliveryConfig):
    """``bedrock.invocationLogging``: Bedrock's model invocation logging, one setting per account
    and Region. Only the stack named by ``ownerStack`` manages it; the others state who does."""

    owner_stack: Annotated[
        str,
        BeforeValidator(
            rule(matches(r"[\w.-]{1,100}"), "must be the name of a stack of this project")
        ),
    ]

    def delivery(self) -> dict[str, Any]:
        """What is logged and where, as ModelGovernance and Alarms take it."""
        return self.model_dump(exclude={"owner_stack"})


ModelTags = dict[ModelId, Tags]
"""Per configured model: cost-allocation tags of an application inference profile that the
function invokes instead of the model."""


class BedrockConfig(Schema):
    """``bedrock``: the models the function may call and where it reads documents."""

    model_ids: Annotated[tuple[ModelId, ...], Field(min_length=1), AfterValidator(unique)]
    default_model_id: ModelId | None = None
    access_point: AccessPointName
    streaming: bool = False
    max_tokens: int = Field(DEFAULT_MAX_TOKENS, ge=1, le=65536)
    system_prompt: str = Field(DEFAULT_SYSTEM_PROMPT, max_length=8000)
    guardrail: GuardrailConfig | None = None
    invocation_logging: InvocationLoggingConfig | None = None
    model_tags: ModelTags = Field(default_factory=dict)
    knowledge_base: KnowledgeBaseConfig | None = None
    subscribed_providers: Annotated[
        tuple[
            Annotated[
                str,
                BeforeValidator(
                    rule(
                        matches(r"[a-z0-9][a-z0-9-]*"),
                        "must be a model provider as it starts model ids (anthropic, meta, ...)",
                    )
                ),
            ],
            ...,
        ],
        AfterValidator(unique),
    ] = ()
    """Third-party model providers the account is subscribed to through AWS Marketplace."""

    @property
    def model_id(self) -> str:
        """The model the function calls when the event names none."""
        return self.default_model_id or self.model_ids[0]


def model_provider(model_id: str) -> str:
    """``us.anthropic.claude...`` -> ``anthropic``."""
    ref = policies.parse_model_id(model_id)
    assert ref is not None, "checked by the ModelId type"
    return ref.foundation_model_id.split(".", maxsplit=1)[0]


def model_problems(bedrock: BedrockConfig) -> list[str]:
    problems = []
    for index, model_id in enumerate(bedrock.model_ids):
        provider = model_provider(model_id)
        if provider not in FIRST_PARTY_MODEL_PROVIDERS and provider not in (
            bedrock.subscribed_providers
        ):
            problems.append(
                f"bedrock.modelIds[{index}]: '{model_id}' is a third-party ({provider}) model: "
                "subscribe the account to it through AWS Marketplace first (the function's "
                "role has no Marketplace permissions; see README, Prerequisites), then list "
                f"'{provider}' in bedrock.subscribedProviders"
            )
    knowledge_base = bedrock.knowledge_base
    if knowledge_base is not None:
        provider = knowledge_base.embedding_model_id.split(".", maxsplit=1)[0]
        if provider not in FIRST_PARTY_MODEL_PROVIDERS | set(bedrock.subscribed_providers):
            problems.append(
                f"bedrock.knowledgeBase.embeddingModelId: '{knowledge_base.embedding_model_id}' "
                f"is a third-party ({provider}) model: subscribe the account to it through AWS "
                f"Marketplace first, then list '{provider}' in bedrock.subscribedProviders"
            )
    for model_id in bedrock.model_tags:
        if model_id not in bedrock.model_ids:
            problems.append(
                f"bedrock.modelTags.{model_id}: is not one of bedrock.modelIds; an application "
                "inference profile is created only for a configured model"
            )
    return problems


def invocation_log_destination_problems(
    delivery: InvocationLogDeliveryConfig, where: str
) -> list[str]:
    if not (delivery.cloud_watch or delivery.s3):
        return [f"{where}: choose a destination: cloudWatch, s3 or both"]
    return []


class AlarmsConfig(Schema):
    """``alarms``: where the function's and the models' alarms go: a topic the stack creates
    with these email subscriptions, or an existing topic."""

    email: Annotated[tuple[EmailAddress, ...], AfterValidator(unique)] = ()
    topic_arn: TopicArn | None = None


def alarm_destination_problems(alarms: AlarmsConfig, region: str, where: str) -> list[str]:
    """Either topic; ``where`` is the key path of ``email`` and ``topicArn``'s parent, if any."""
    if bool(alarms.email) == (alarms.topic_arn is not None):
        return [
            f"{where or 'email, topicArn'}: set either email (a topic the stack creates) or "
            "topicArn (an existing topic)"
        ]
    if alarms.topic_arn is not None and alarms.topic_arn.split(":")[3] != region:
        return [
            f"{where + '.' if where else ''}topicArn: must be in {region}; CloudWatch alarms "
            "notify topics in their own Region only"
        ]
    return []


class ModelGovernanceConfig(Schema):
    """The plain arguments of :class:`components.model_governance.ModelGovernance`, under the
    rules of the config keys they come from (``bedrock.guardrail``, ``bedrock.modelTags``,
    ``bedrock.invocationLogging``, ``bucket.deletionProtection``)."""

    name_prefix: NamePrefix
    guardrail: GuardrailConfig | None = None
    model_tags: ModelTags = Field(default_factory=dict)
    invocation_logging: InvocationLogDeliveryConfig | None = None
    invocation_log_bucket_name: BucketName | None = None
    deletion_protection: bool = True


class AlarmsArgsConfig(AlarmsConfig):
    """The plain arguments of :class:`components.alarms.Alarms`, under the rules of the config
    keys they come from (``alarms``, ``function``, ``bedrock.modelIds``,
    ``bedrock.invocationLogging``)."""

    name_prefix: NamePrefix
    timeout_seconds: int = Field(DEFAULT_TIMEOUT_SECONDS, ge=1, le=900)
    reserved_concurrency: int | None = Field(None, ge=1)
    model_ids: Annotated[tuple[ModelId, ...], AfterValidator(unique)] = ()
    invocation_logging: InvocationLogDeliveryConfig | None = None
