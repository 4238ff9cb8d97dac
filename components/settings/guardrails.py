"""``bedrock.guardrail``: a guardrail the stack creates, or an existing one."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

from components.settings.values import Regex, Schema, matches, rule, unique


class ContentFilterType(StrEnum):
    """What a guardrail content filter looks for."""

    SEXUAL = "SEXUAL"
    VIOLENCE = "VIOLENCE"
    HATE = "HATE"
    INSULTS = "INSULTS"
    MISCONDUCT = "MISCONDUCT"
    PROMPT_ATTACK = "PROMPT_ATTACK"
    """Jailbreaks and prompt injection (prompts only: its outputStrength must be NONE)."""


class FilterStrength(StrEnum):
    """How readily a content filter blocks."""

    NONE = "NONE"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class SensitiveAction(StrEnum):
    """What a guardrail does with sensitive information it finds."""

    BLOCK = "BLOCK"
    """Refuse the prompt or the answer."""
    ANONYMIZE = "ANONYMIZE"
    """Replace it with its type, such as {EMAIL}."""


class PiiEntityType(StrEnum):
    """Personally identifiable information a guardrail recognises."""

    ADDRESS = "ADDRESS"
    AGE = "AGE"
    AWS_ACCESS_KEY = "AWS_ACCESS_KEY"
    AWS_SECRET_KEY = "AWS_SECRET_KEY"
    CA_HEALTH_NUMBER = "CA_HEALTH_NUMBER"
    CA_SOCIAL_INSURANCE_NUMBER = "CA_SOCIAL_INSURANCE_NUMBER"
    CREDIT_DEBIT_CARD_CVV = "CREDIT_DEBIT_CARD_CVV"
    CREDIT_DEBIT_CARD_EXPIRY = "CREDIT_DEBIT_CARD_EXPIRY"
    CREDIT_DEBIT_CARD_NUMBER = "CREDIT_DEBIT_CARD_NUMBER"
    DRIVER_ID = "DRIVER_ID"
    EMAIL = "EMAIL"
    INTERNATIONAL_BANK_ACCOUNT_NUMBER = "INTERNATIONAL_BANK_ACCOUNT_NUMBER"
    IP_ADDRESS = "IP_ADDRESS"
    LICENSE_PLATE = "LICENSE_PLATE"
    MAC_ADDRESS = "MAC_ADDRESS"
    NAME = "NAME"
    PASSWORD = "PASSWORD"
    PHONE = "PHONE"
    PIN = "PIN"
    SWIFT_CODE = "SWIFT_CODE"
    UK_NATIONAL_HEALTH_SERVICE_NUMBER = "UK_NATIONAL_HEALTH_SERVICE_NUMBER"
    UK_NATIONAL_INSURANCE_NUMBER = "UK_NATIONAL_INSURANCE_NUMBER"
    UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER = "UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER"
    URL = "URL"
    USERNAME = "USERNAME"
    US_BANK_ACCOUNT_NUMBER = "US_BANK_ACCOUNT_NUMBER"
    US_BANK_ROUTING_NUMBER = "US_BANK_ROUTING_NUMBER"
    US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER = "US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER"
    US_PASSPORT_NUMBER = "US_PASSPORT_NUMBER"
    US_SOCIAL_SECURITY_NUMBER = "US_SOCIAL_SECURITY_NUMBER"
    VEHICLE_IDENTIFICATION_NUMBER = "VEHICLE_IDENTIFICATION_NUMBER"


GuardrailId = Annotated[
    str,
    BeforeValidator(
        rule(matches(r"[a-z0-9]{1,64}"), "must be a guardrail id (lowercase letters and digits)")
    ),
]


GuardrailVersion = Annotated[
    str,
    BeforeValidator(
        rule(
            matches(r"[1-9][0-9]{0,7}"),
            "must be a published numeric version such as '1' (quoted); the DRAFT changes "
            "under the function and cannot be pinned",
        )
    ),
]


TopicName = Annotated[
    str,
    BeforeValidator(
        rule(
            matches(r"[0-9A-Za-z_ !?.-]{1,100}"),
            "must be 1-100 letters, digits, spaces or _-!?.",
        )
    ),
]


class ContentFilterConfig(Schema):
    """One content filter of a guardrail and how strictly it filters prompts and answers."""

    type: ContentFilterType
    input_strength: FilterStrength = FilterStrength.HIGH
    output_strength: FilterStrength = FilterStrength.HIGH


class DeniedTopicConfig(Schema):
    """A subject the function must neither be asked about nor answer about."""

    name: TopicName
    definition: str = Field(min_length=1, max_length=200)
    examples: tuple[Annotated[str, Field(min_length=1, max_length=100)], ...] = Field(
        (), max_length=5
    )


class SensitiveEntityConfig(Schema):
    type: PiiEntityType
    action: SensitiveAction = SensitiveAction.ANONYMIZE


class SensitiveRegexConfig(Schema):
    name: str = Field(min_length=1, max_length=100)
    pattern: Regex
    action: SensitiveAction = SensitiveAction.ANONYMIZE
    description: str | None = Field(None, max_length=1000)


class SensitiveInformationConfig(Schema):
    entities: tuple[SensitiveEntityConfig, ...] = ()
    regexes: tuple[SensitiveRegexConfig, ...] = Field((), max_length=10)


class GuardrailConfig(Schema):
    """``bedrock.guardrail``: a guardrail the stack creates from these policies, or ``id`` and
    ``version`` of an existing one. Either way every model call must carry it."""

    id: GuardrailId | None = None
    version: GuardrailVersion | None = None
    content_filters: tuple[ContentFilterConfig, ...] = ()
    denied_topics: tuple[DeniedTopicConfig, ...] = Field((), max_length=30)
    sensitive_information: SensitiveInformationConfig = SensitiveInformationConfig()
    words: Annotated[
        tuple[Annotated[str, Field(min_length=1, max_length=100)], ...], AfterValidator(unique)
    ] = Field((), max_length=10_000)
    profanity: bool = False
    blocked_input_message: str = Field(
        "This request was blocked by the organisation's content policy.",
        min_length=1,
        max_length=500,
    )
    blocked_output_message: str = Field(
        "The answer was withheld by the organisation's content policy.",
        min_length=1,
        max_length=500,
    )

    @property
    def is_existing(self) -> bool:
        return self.id is not None

    @property
    def defines_policies(self) -> bool:
        return bool(
            self.content_filters
            or self.denied_topics
            or self.sensitive_information.entities
            or self.sensitive_information.regexes
            or self.words
            or self.profanity
        )


def guardrail_problems(guardrail: GuardrailConfig | None, where: str) -> list[str]:
    """The rules across a guardrail's keys; ``where`` is its key path."""
    problems: list[str] = []
    if guardrail is not None:
        if (guardrail.id is None) != (guardrail.version is None):
            problems.append(f"{where}: an existing guardrail needs both id and version")
        elif guardrail.is_existing and guardrail.defines_policies:
            problems.append(
                f"{where}: either id and version of an existing guardrail, or policies "
                "for a new one (contentFilters, deniedTopics, sensitiveInformation, words, "
                "profanity), not both"
            )
        elif not guardrail.is_existing and not guardrail.defines_policies:
            problems.append(
                f"{where}: defines no policy; set contentFilters, deniedTopics, "
                "sensitiveInformation, words or profanity (or id and version of an existing one)"
            )
        for index, content_filter in enumerate(guardrail.content_filters):
            if (
                content_filter.type == ContentFilterType.PROMPT_ATTACK
                and content_filter.output_strength != FilterStrength.NONE
            ):
                problems.append(
                    f"{where}.contentFilters[{index}].outputStrength: must be NONE for "
                    "PROMPT_ATTACK (prompt attacks are filtered on input only)"
                )
    return problems
