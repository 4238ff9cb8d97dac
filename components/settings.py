"""The stack configuration: the contract users write in ``Pulumi.<stack>.yaml``, and the
arguments of :class:`components.datalake.PrivateDataLake` (the same names and structure).

Parsed once, before any resource is registered, into frozen typed objects. Every rule lives
here; a violation raises :class:`ConfigError` whose message names the key path (camelCase, as
written in the stack config or any language's arguments) and the rule, one line per problem,
so ``pulumi preview`` shows all of them at once and nothing half-made. Keys are accepted in
camelCase (stack config) or snake_case (Python arguments).

Building blocks whose arguments share keys with the config (``ModelGovernance``, ``Alarms``)
check their plain arguments with the same models through :func:`parse_component_args`.
"""

from __future__ import annotations

import difflib
import functools
import ipaddress
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any, TypeVar, Union

import pulumi
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)
from pydantic.alias_generators import to_camel

from components import access_points as ap_specs
from components import network, policies, storage
from components.access_points import AccessPointSpec, NetworkOrigin
from components.account import DataAccount
from components.bedrock import (
    DEFAULT_LOG_RETENTION_DAYS,
    DEFAULT_MAX_DOCUMENT_BYTES,
    DEFAULT_MAX_DOCUMENT_CHARS,
    DEFAULT_MAX_TOKENS,
    DEFAULT_MEMORY_MB,
    DEFAULT_SYSTEM_PROMPT,
    DEFAULT_TIMEOUT_SECONDS,
    Architecture,
)
from components.errors import ConfigError
from components.network import NetworkArgs, existing_endpoint_problems
from components.policies import AccessMode
from components.storage import DataBucketArgs

MAX_ACCESS_POINTS = 10_000  # AWS's default quota per account and Region
# The shortest function timeout the stack accepts. The function's own floor is 13 s
# (lambda_src/handler.py: a 1 s document read and a 5 s model read with their connect timeouts
# and its margin); 15 gives the model call 7 s, still a floor rather than a recommendation.
# tests/lambda checks that this never drops below the function's floor.
MIN_FUNCTION_TIMEOUT_SECONDS = 15
# Converse takes documents of at most 4.5 MB; the function refuses larger ones whatever is set.
MAX_DOCUMENT_BYTES = 4_500_000
# The largest context of a model the function knows (Nova Premier's 1M tokens); the model's own
# context and the function's memory bound a document's text further.
MAX_DOCUMENT_CHARS = 1_000_000
# Model providers whose models Amazon Bedrock serves without an AWS Marketplace subscription.
FIRST_PARTY_MODEL_PROVIDERS = frozenset({"amazon"})
PLACEHOLDER_VPC_ID = "vpc-0123456789abcdef0"  # longest VPC id form, for worst-case size checks
# The longest role ARN IAM accepts (a 512-character path, a 64-character name): the deployer.
LONGEST_ROLE_ARN = "arn:aws:iam::{account}:role/" + "x" * (512 + 64)
PLACEHOLDER_ID_LENGTH = 64  # longer than the ids AWS gives guardrails and inference profiles

# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
     3288, 3653}
)  # fmt: skip

PRIVATE_RANGES = tuple(
    ipaddress.IPv4Network(block) for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)


def _rule(check: Callable[[str], bool], rule: str) -> Callable[[Any], Any]:
    def validate(value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"must be a string ({rule})")
        if not check(value):
            raise ValueError(f"{value!r} {rule}")
        return value

    return validate


def _matches(pattern: str) -> Callable[[str], bool]:
    compiled = re.compile(pattern)
    return lambda value: compiled.fullmatch(value) is not None


def _is_access_point_name(name: str) -> bool:
    return re.fullmatch(r"[a-z0-9][a-z0-9-]{1,48}[a-z0-9]", name) is not None and not name.endswith(
        "-s3alias"
    )


def _is_bucket_name(name: str) -> bool:
    return (
        re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", name) is not None
        and ".." not in name
        and not re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name)
        and not name.startswith("xn--")
        and not name.endswith(("-s3alias", "--ol-s3"))
    )


def _is_prefix(prefix: str) -> bool:
    if prefix == "":
        return True
    segments = prefix[:-1].split("/")
    return (
        prefix.endswith("/")
        and not prefix.startswith("/")
        and all(segment not in ("", ".", "..") for segment in segments)
        and not any(ch in prefix for ch in "*?$\\")
    )


def _is_private_cidr(value: str) -> bool:
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except ValueError:
        return False
    return 16 <= network.prefixlen <= 24 and any(
        network.subnet_of(private) for private in PRIVATE_RANGES
    )


AccountId = Annotated[
    str,
    BeforeValidator(
        _rule(_matches(r"\d{12}"), "must be a 12-digit AWS account id, quoted in YAML")
    ),
]
Region = Annotated[
    str,
    BeforeValidator(
        _rule(
            _matches(r"(us|eu|ap|ca|sa|me|af|il|mx)-[a-z]+-\d"),
            "must be a commercial AWS Region such as us-east-1 (the aws partition)",
        )
    ),
]
AccessPointName = Annotated[
    str,
    BeforeValidator(
        _rule(
            _is_access_point_name,
            "must be 3-50 lowercase letters, digits or '-', start and end with a letter or "
            "digit, and not end in '-s3alias'",
        )
    ),
]
BucketName = Annotated[
    str,
    BeforeValidator(
        _rule(_is_bucket_name, "must be a valid S3 bucket name (3-63 lowercase letters, digits, "
              "'.' or '-', starting and ending with a letter or digit)")
    ),
]  # fmt: skip
Prefix = Annotated[
    str,
    BeforeValidator(
        _rule(
            _is_prefix,
            "must be a relative key prefix ending in '/' (or '' for the whole bucket), "
            "without empty, '.' or '..' segments or wildcards",
        )
    ),
]
PrincipalArn = Annotated[
    str,
    BeforeValidator(
        _rule(
            _matches(r"arn:aws:iam::\d{12}:(root|role/[\w+=,.@/-]+|user/[\w+=,.@/-]+)"),
            "must be an IAM role, user or account-root ARN (arn:aws:iam::ACCOUNT:role/NAME)",
        )
    ),
]


def _exact_admin_arn(value: Any) -> Any:
    if isinstance(value, str) and any(wildcard in value for wildcard in "*?"):
        raise ValueError(
            f"{value!r}: '*' and '?' match more principals than the one meant (a pattern "
            "AWSReservedSSO_DataAdmin_* also matches AWSReservedSSO_DataAdmin_Contractors_...); "
            "write the exact role or user ARN, or name an IAM Identity Center permission set "
            "in bucket.adminPermissionSets (DataAdmin), which matches exactly its role in any "
            "Region path"
        )
    return value


AdminPrincipalArn = Annotated[
    str,
    BeforeValidator(
        _rule(
            _matches(r"arn:aws:iam::\d{12}:(role|user)/[\w+=,.@/-]+"),
            "must be an IAM role or user ARN (arn:aws:iam::ACCOUNT:role/NAME)",
        )
    ),
    BeforeValidator(_exact_admin_arn),
]
PermissionSetName = Annotated[
    str,
    BeforeValidator(
        _rule(
            _matches(r"[\w+=,.@-]{1,32}"),
            "must be an IAM Identity Center permission set name (1-32 letters, digits or "
            "+=,.@_-), such as DataAdmin",
        )
    ),
]
OrganizationId = Annotated[
    str,
    BeforeValidator(
        _rule(
            _matches(r"o-[a-z0-9]{10,32}"),
            "must be an AWS Organizations id: 'o-' and 10-32 lowercase letters or digits",
        )
    ),
]
RoleArn = Annotated[
    str,
    BeforeValidator(
        _rule(_matches(r"arn:aws:iam::\d{12}:role/[\w+=,.@/-]+"), "must be an IAM role ARN")
    ),
]
KmsKeyArn = Annotated[
    str,
    BeforeValidator(
        _rule(
            _matches(r"arn:aws:kms:[a-z0-9-]+:\d{12}:key/[a-zA-Z0-9-]+"),
            "must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), not an alias",
        )
    ),
]
VpcId = Annotated[
    str, BeforeValidator(_rule(_matches(r"vpc-[0-9a-f]{8}([0-9a-f]{9})?"), "must be a VPC id"))
]
SubnetId = Annotated[
    str,
    BeforeValidator(
        _rule(_matches(r"subnet-[0-9a-f]{8}([0-9a-f]{9})?"), "must be a subnet id (subnet-...)")
    ),
]
RouteTableId = Annotated[
    str,
    BeforeValidator(
        _rule(_matches(r"rtb-[0-9a-f]{8}([0-9a-f]{9})?"), "must be a route table id (rtb-...)")
    ),
]
VpcEndpointId = Annotated[
    str,
    BeforeValidator(
        _rule(_matches(r"vpce-[0-9a-f]{8}([0-9a-f]{9})?"), "must be a VPC endpoint id (vpce-...)")
    ),
]
ModelId = Annotated[
    str,
    BeforeValidator(
        _rule(
            lambda value: policies.parse_model_id(value) is not None,
            "must be a Bedrock foundation-model id (amazon.nova-micro-v1:0) or a cross-Region "
            "inference profile id (us.anthropic.claude-3-5-haiku-20241022-v1:0)",
        )
    ),
]
EndpointService = Annotated[
    str,
    BeforeValidator(
        _rule(
            _matches(r"[a-z0-9][a-z0-9.-]*[a-z0-9]"),
            "must be a short AWS service name such as bedrock-runtime or sts",
        )
    ),
]


def _retention(value: Any) -> Any:
    if value not in LOG_RETENTION_DAYS:
        allowed = ", ".join(str(d) for d in sorted(LOG_RETENTION_DAYS))
        raise ValueError(f"{value!r} is not a CloudWatch Logs retention period ({allowed})")
    return value


RetentionDays = Annotated[int, AfterValidator(_retention)]


def _fits_a_model_call(value: int) -> int:
    if value < MIN_FUNCTION_TIMEOUT_SECONDS:
        raise ValueError(
            f"{value} seconds cannot fit one model call; at least "
            f"{MIN_FUNCTION_TIMEOUT_SECONDS} (the function's time budget for reading a document "
            "and calling a model once, with their connect and read timeouts)"
        )
    return value


def _unique(values: tuple[str, ...]) -> tuple[str, ...]:
    duplicates = sorted({v for v in values if values.count(v) > 1})
    if duplicates:
        raise ValueError(f"lists {', '.join(duplicates)} more than once")
    return values


class _Schema(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        frozen=True,
    )


class NetworkConfig(_Schema):
    """``network``: the data-lake VPC, created (``cidrBlock``) or existing (``vpcId``,
    ``subnetIds``, ``routeTableIds``)."""

    cidr_block: (
        Annotated[
            str,
            BeforeValidator(
                _rule(
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
        tuple[SubnetId, ...], Field(min_length=1, max_length=6), AfterValidator(_unique)
    ] = ()
    route_table_ids: Annotated[
        tuple[RouteTableId, ...], Field(min_length=1, max_length=6), AfterValidator(_unique)
    ] = ()
    interface_endpoints: Annotated[tuple[EndpointService, ...], AfterValidator(_unique)] = (
        network.DEFAULT_INTERFACE_ENDPOINTS
    )
    existing_interface_endpoints: dict[EndpointService, VpcEndpointId] = Field(default_factory=dict)
    flow_logs: bool = True
    flow_log_retention_days: RetentionDays = network.DEFAULT_FLOW_LOG_RETENTION_DAYS
    extra_s3_buckets: Annotated[tuple[BucketName, ...], AfterValidator(_unique)] = ()


class BucketConfig(_Schema):
    """``bucket``: the shared data bucket."""

    name: BucketName | None = None
    kms_key_arn: KmsKeyArn | None = None
    allowed_vpc_ids: Annotated[tuple[VpcId, ...], AfterValidator(_unique)] = ()
    admin_role_arns: Annotated[tuple[AdminPrincipalArn, ...], AfterValidator(_unique)] = ()
    admin_permission_sets: Annotated[tuple[PermissionSetName, ...], AfterValidator(_unique)] = ()
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


class AccessPointConfig(_Schema):
    """One entry of ``accessPoints``: an application's own door into the bucket."""

    name: AccessPointName
    prefix: Prefix = ""
    access: AccessMode = AccessMode.READ
    principals: Annotated[tuple[PrincipalArn, ...], AfterValidator(_unique)] = ()
    network: NetworkOrigin = NetworkOrigin.VPC
    account_id: AccountId | None = None
    role_arn: RoleArn | None = None
    vpc_id: VpcId | None = None
    via_services: Annotated[tuple[ViaService, ...], AfterValidator(_unique)] = ()

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


def _is_regex(value: str) -> bool:
    try:
        re.compile(value)
    except re.error:
        return False
    return True


GuardrailId = Annotated[
    str,
    BeforeValidator(
        _rule(_matches(r"[a-z0-9]{1,64}"), "must be a guardrail id (lowercase letters and digits)")
    ),
]
GuardrailVersion = Annotated[
    str,
    BeforeValidator(
        _rule(
            _matches(r"[1-9][0-9]{0,7}"),
            "must be a published numeric version such as '1' (quoted); the DRAFT changes "
            "under the function and cannot be pinned",
        )
    ),
]
TopicName = Annotated[
    str,
    BeforeValidator(
        _rule(
            _matches(r"[0-9A-Za-z_ !?.-]{1,100}"),
            "must be 1-100 letters, digits, spaces or _-!?.",
        )
    ),
]
Regex = Annotated[str, BeforeValidator(_rule(_is_regex, "is not a valid regular expression"))]
TagKey = Annotated[
    str,
    BeforeValidator(
        _rule(
            lambda key: _matches(r"[\w .:/=+@-]{1,128}")(key) and not key.startswith("aws:"),
            "must be a tag key of 1-128 letters, digits, spaces or _.:/=+-@, not starting "
            "with aws:",
        )
    ),
]
TagValue = Annotated[
    str,
    BeforeValidator(
        _rule(_matches(r"[\w .:/=+@-]{0,256}"), "must be a tag value of at most 256 characters")
    ),
]
Tags = Annotated[dict[TagKey, TagValue], Field(min_length=1, max_length=50)]
EmailAddress = Annotated[
    str,
    BeforeValidator(_rule(_matches(r"[^@\s]+@[^@\s]+\.[^@\s]+"), "must be an email address")),
]
TopicArn = Annotated[
    str,
    BeforeValidator(
        _rule(
            _matches(r"arn:aws:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}"),
            "must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)",
        )
    ),
]


class ContentFilterConfig(_Schema):
    """One content filter of a guardrail and how strictly it filters prompts and answers."""

    type: ContentFilterType
    input_strength: FilterStrength = FilterStrength.HIGH
    output_strength: FilterStrength = FilterStrength.HIGH


class DeniedTopicConfig(_Schema):
    """A subject the function must neither be asked about nor answer about."""

    name: TopicName
    definition: str = Field(min_length=1, max_length=200)
    examples: tuple[Annotated[str, Field(min_length=1, max_length=100)], ...] = Field(
        (), max_length=5
    )


class SensitiveEntityConfig(_Schema):
    type: PiiEntityType
    action: SensitiveAction = SensitiveAction.ANONYMIZE


class SensitiveRegexConfig(_Schema):
    name: str = Field(min_length=1, max_length=100)
    pattern: Regex
    action: SensitiveAction = SensitiveAction.ANONYMIZE
    description: str | None = Field(None, max_length=1000)


class SensitiveInformationConfig(_Schema):
    entities: tuple[SensitiveEntityConfig, ...] = ()
    regexes: tuple[SensitiveRegexConfig, ...] = Field((), max_length=10)


class GuardrailConfig(_Schema):
    """``bedrock.guardrail``: a guardrail the stack creates from these policies, or ``id`` and
    ``version`` of an existing one. Either way every model call must carry it."""

    id: GuardrailId | None = None
    version: GuardrailVersion | None = None
    content_filters: tuple[ContentFilterConfig, ...] = ()
    denied_topics: tuple[DeniedTopicConfig, ...] = Field((), max_length=30)
    sensitive_information: SensitiveInformationConfig = SensitiveInformationConfig()
    words: Annotated[
        tuple[Annotated[str, Field(min_length=1, max_length=100)], ...], AfterValidator(_unique)
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


class InvocationLogDeliveryConfig(_Schema):
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
            _rule(_matches(r"[\w.-]{1,100}"), "must be the name of a stack of this project")
        ),
    ]

    def delivery(self) -> dict[str, Any]:
        """What is logged and where, as ModelGovernance and Alarms take it."""
        return self.model_dump(exclude={"owner_stack"})


ModelTags = dict[ModelId, Tags]
"""Per configured model: cost-allocation tags of an application inference profile that the
function invokes instead of the model."""


class BedrockConfig(_Schema):
    """``bedrock``: the models the function may call and where it reads documents."""

    model_ids: Annotated[tuple[ModelId, ...], Field(min_length=1), AfterValidator(_unique)]
    default_model_id: ModelId | None = None
    access_point: AccessPointName
    streaming: bool = False
    max_tokens: int = Field(DEFAULT_MAX_TOKENS, ge=1, le=65536)
    system_prompt: str = Field(DEFAULT_SYSTEM_PROMPT, max_length=8000)
    guardrail: GuardrailConfig | None = None
    invocation_logging: InvocationLoggingConfig | None = None
    model_tags: ModelTags = {}
    subscribed_providers: Annotated[
        tuple[
            Annotated[
                str,
                BeforeValidator(
                    _rule(
                        _matches(r"[a-z0-9][a-z0-9-]*"),
                        "must be a model provider as it starts model ids (anthropic, meta, ...)",
                    )
                ),
            ],
            ...,
        ],
        AfterValidator(_unique),
    ] = ()
    """Third-party model providers the account is subscribed to through AWS Marketplace."""

    @property
    def model_id(self) -> str:
        """The model the function calls when the event names none."""
        return self.default_model_id or self.model_ids[0]


class FunctionConfig(_Schema):
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


class AlarmsConfig(_Schema):
    """``alarms``: where the function's and the models' alarms go: a topic the stack creates
    with these email subscriptions, or an existing topic."""

    email: Annotated[tuple[EmailAddress, ...], AfterValidator(_unique)] = ()
    topic_arn: TopicArn | None = None


NamePrefix = Annotated[
    str,
    BeforeValidator(
        _rule(
            _matches(r"[\w.-]{1,201}"),
            "must be letters, digits, '_', '.' or '-' as in project-stack (it starts the names "
            "of stack-wide resources)",
        )
    ),
]


class ModelGovernanceConfig(_Schema):
    """The plain arguments of :class:`components.model_governance.ModelGovernance`, under the
    rules of the config keys they come from (``bedrock.guardrail``, ``bedrock.modelTags``,
    ``bedrock.invocationLogging``, ``bucket.deletionProtection``)."""

    name_prefix: NamePrefix
    guardrail: GuardrailConfig | None = None
    model_tags: ModelTags = {}
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
    model_ids: Annotated[tuple[ModelId, ...], AfterValidator(_unique)] = ()
    invocation_logging: InvocationLogDeliveryConfig | None = None


class StackConfig(_Schema):
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
    def other_access_log_sources(self) -> tuple[str, ...]:
        """The stack's buckets besides the data bucket whose access logs the log bucket takes."""
        logging = self.owned_invocation_logging
        return (self.invocation_log_bucket_name,) if logging is not None and logging.s3 else ()

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
        return {
            **self.account(),
            **self._network_settings(),  # type: ignore[typeddict-item]
            "bucket_name": self.data_bucket_name,
            "model_ids": [*self.bedrock.model_ids],
            "streaming": self.bedrock.streaming,
            "routed_model_ids": [*self.bedrock.model_tags],
            **self._endpoint_guardrail(),
        }

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

    def _endpoint_guardrail(self) -> dict[str, str]:
        """What the endpoint policy can name of the guardrail before it exists: the guardrail
        itself when it is an existing one, else any published version of a data-account
        guardrail."""
        guardrail = self.bedrock.guardrail
        if guardrail is None:
            return {}
        if guardrail.id is not None and guardrail.version is not None:
            return {"guardrail_id": guardrail.id, "guardrail_version": guardrail.version}
        return {"guardrail_id": "*", "guardrail_version": "*"}

    def bucket_args(self) -> DataBucketArgs:
        return {
            **self.account(),
            **self.bucket.model_dump(exclude_none=True),  # type: ignore[typeddict-item]
            "name": self.data_bucket_name,
            "access_points": self.access_point_specs,
            "other_access_log_sources": list(self.other_access_log_sources),
        }

    def administrator_patterns(self) -> list[str]:
        return storage.administrator_patterns(self.bucket_args())

    def s3_endpoint_policy(self) -> policies.PolicyDocument:
        return network.s3_endpoint_policy(self.network_args())

    def interface_endpoint_policy(self, service: str) -> policies.PolicyDocument:
        return network.interface_endpoint_policy(self.network_args(), service)

    def bucket_policy(
        self, *, vpc_id: str, deployer_arn: str, data_key_arn: str
    ) -> policies.PolicyDocument:
        """The data bucket's policy once the stack's VPC, the deployer and the key are known."""
        return storage.bucket_policy(
            self.bucket_args(),
            name=self.data_bucket_name,
            vpc_id=vpc_id,
            administrators=[*self.administrator_patterns(), deployer_arn],
            data_key_arn=data_key_arn,
            cross_account_principals=[
                list(ap.principals) for ap in self.cross_account_access_points
            ],
        )


# Keys of the project namespace that users write; the rest of StackConfig is filled in.
INJECTED_KEYS = ("project", "stack", "region")
USER_KEYS = tuple(
    field.alias or name
    for name, field in StackConfig.model_fields.items()
    if name not in INJECTED_KEYS
)


def parse_stack_config(
    values: Mapping[str, Any],
    *,
    project: str,
    stack: str,
    region: Any,
) -> StackConfig:
    """Validate the project-namespace config values (already decoded from YAML/JSON) and the
    Region, or PrivateDataLake's arguments.

    Raises :class:`ConfigError` listing every problem; returns a fully checked StackConfig.
    """
    problems = [
        f"{key}: is set by Pulumi (use aws:{key} for the Region), not under the project"
        for key in INJECTED_KEYS
        if key in values
    ]
    if problems:
        raise ConfigError(problems)
    if region is None:
        raise ConfigError(["region: is required, a commercial Region such as us-east-1"])
    try:
        config = StackConfig.model_validate(
            {**values, "project": project, "stack": stack, "region": region}
        )
    except ValidationError as error:
        raise ConfigError(_describe(error, StackConfig)) from None
    problems = _cross_field_problems(config) or _size_problems(config)
    if problems:
        raise ConfigError(problems)
    return config


def _describe(error: ValidationError, root: type[BaseModel]) -> list[str]:
    details = error.errors()
    problems = []
    for detail in details:
        loc = _aliased(detail["loc"], root)
        if detail["type"] == "too_short" and any(
            _aliased(other["loc"], root)[: len(loc)] == loc and len(other["loc"]) > len(loc)
            for other in details
        ):
            # Pydantic counts only the valid items; the invalid ones are reported already.
            continue
        path = _key_path(loc)
        kind = detail["type"]
        if kind == "extra_forbidden":
            message = "unknown key" + _did_you_mean(loc, root)
        elif kind == "missing":
            message = "is required"
        elif kind in ("too_short", "too_long"):
            context = detail.get("ctx", {})
            bound = context.get("min_length" if kind == "too_short" else "max_length")
            message = (
                f"must list at least {bound}"
                if kind == "too_short"
                else f"lists {context.get('actual_length')}, at most {bound} allowed"
            )
        else:
            message = detail["msg"].removeprefix("Value error, ")
        problems.append(f"{path}: {message}")
    return problems


def _aliased(loc: Sequence[int | str], root: type[BaseModel]) -> tuple[int | str, ...]:
    """The location with each field named by its camelCase key, however it was written."""
    model: Any = root
    parts: list[int | str] = []
    for part in loc:
        named = part
        if isinstance(part, str) and isinstance(model, type) and issubclass(model, BaseModel):
            field = model.model_fields.get(part)
            if field is not None and field.alias is not None:
                named = field.alias
        parts.append(named)
        model = _inner_type(model, named)
    return tuple(parts)


def _key_path(loc: Sequence[int | str]) -> str:
    path = ""
    for part in loc:
        if part == "[key]":  # pydantic's marker for an invalid dict key: the key is named before
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path


def _did_you_mean(loc: Sequence[int | str], root: type[BaseModel]) -> str:
    """Suggest the schema key closest to a misspelt one (cidrBlok -> cidrBlock)."""
    model: Any = root
    for part in loc[:-1]:
        model = _inner_type(model, part)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return ""
    known = [
        field.alias or name
        for name, field in model.model_fields.items()
        if model is not StackConfig or name not in INJECTED_KEYS
    ]
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"{hint} (allowed here: {', '.join(known)})"


def _inner_type(model: Any, part: int | str) -> Any:
    if isinstance(part, int):
        args = [a for a in typing.get_args(model) if a is not Ellipsis]
        return args[0] if args else Any
    if isinstance(model, type) and issubclass(model, BaseModel):
        for name, field in model.model_fields.items():
            if (field.alias or name) == part:
                return _unwrap(field.annotation)
    return Any


def _unwrap(annotation: Any) -> Any:
    """Strip Optional/Annotated so a tuple or model type is left."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        else:
            return annotation


def _cross_field_problems(config: StackConfig) -> list[str]:
    problems = []
    first_index: dict[str, int] = {}
    for index, ap in enumerate(config.access_points):
        where = f"accessPoints[{index}]"
        if ap.name in first_index:
            problems.append(
                f"{where}.name: '{ap.name}' is already used by accessPoints[{first_index[ap.name]}]"
                "; access point names are unique per account and Region"
            )
        first_index.setdefault(ap.name, index)
        problems += _access_point_problems(config, ap, where)

    bedrock_ap = config.access_point_named(config.bedrock.access_point)
    if bedrock_ap is None:
        problems.append(
            f"bedrock.accessPoint: '{config.bedrock.access_point}' is not one of accessPoints"
        )
    elif bedrock_ap.is_cross_account:
        problems.append(
            f"bedrock.accessPoint: '{bedrock_ap.name}' belongs to account {bedrock_ap.account_id}; "
            "the function reads through an access point of the data account"
        )
    elif bedrock_ap.access == "write":
        problems.append(
            f"bedrock.accessPoint: '{bedrock_ap.name}' is write-only; the function needs read"
        )
    problems += _network_problems(config)
    default_model = config.bedrock.default_model_id
    if default_model is not None and default_model not in config.bedrock.model_ids:
        problems.append(f"bedrock.defaultModelId: '{default_model}' is not one of bedrock.modelIds")
    if "bedrock-runtime" not in config.network.interface_endpoints:
        problems.append(
            "network.interfaceEndpoints: must include 'bedrock-runtime'; the function has no "
            "other route to Bedrock from the private subnets"
        )
    for index, service in enumerate(config.network.interface_endpoints):
        if service in ("s3", "dynamodb"):
            problems.append(
                f"network.interfaceEndpoints[{index}]: '{service}' is already reached through "
                "its gateway endpoint (free, on every route table)"
            )
    problems += _bedrock_problems(config)
    if config.bucket.name is None and not _is_bucket_name(config.log_bucket_name):
        problems.append(
            f"bucket.name: the default name '{config.data_bucket_name}' (project-stack-account) "
            "is not a valid S3 bucket name for this stack; set bucket.name explicitly"
        )
    return problems


def model_provider(model_id: str) -> str:
    """``us.anthropic.claude...`` -> ``anthropic``."""
    ref = policies.parse_model_id(model_id)
    assert ref is not None, "checked by the ModelId type"
    return ref.foundation_model_id.split(".", maxsplit=1)[0]


def _bedrock_problems(config: StackConfig) -> list[str]:
    return (
        _model_problems(config.bedrock)
        + guardrail_problems(config.bedrock.guardrail, "bedrock.guardrail")
        + _invocation_logging_problems(config)
        + _alarm_problems(config)
    )


def _model_problems(bedrock: BedrockConfig) -> list[str]:
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
    for model_id in bedrock.model_tags:
        if model_id not in bedrock.model_ids:
            problems.append(
                f"bedrock.modelTags.{model_id}: is not one of bedrock.modelIds; an application "
                "inference profile is created only for a configured model"
            )
    return problems


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


def invocation_log_destination_problems(
    delivery: InvocationLogDeliveryConfig, where: str
) -> list[str]:
    if not (delivery.cloud_watch or delivery.s3):
        return [f"{where}: choose a destination: cloudWatch, s3 or both"]
    return []


def _invocation_logging_problems(config: StackConfig) -> list[str]:
    problems: list[str] = []
    logging = config.bedrock.invocation_logging
    if logging is not None:
        where = "bedrock.invocationLogging"
        if config.owned_invocation_logging is not None:
            problems += invocation_log_destination_problems(logging, where)
            if logging.s3 and not config.administrator_patterns():
                problems.append(
                    f"{where}.s3: the log bucket is readable only by the administrators "
                    "(bucket.adminRoleArns, bucket.adminPermissionSets), and there are none "
                    "besides the deployer"
                )
        else:
            problems += [
                f"{where}.{key}: only the owner stack '{logging.owner_stack}' configures the "
                "account's invocation logging (one setting per account and Region)"
                for key in sorted(
                    InvocationLoggingConfig.model_fields[name].alias or name
                    for name in logging.model_fields_set - {"owner_stack"}
                )
            ]
    return problems


def _alarm_problems(config: StackConfig) -> list[str]:
    if config.alarms is None:
        return []
    return alarm_destination_problems(config.alarms, config.region, "alarms")


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


def _network_problems(config: StackConfig) -> list[str]:
    network = config.network
    given = network.model_fields_set
    existing_keys = {
        "vpc_id": "vpcId",
        "subnet_ids": "subnetIds",
        "route_table_ids": "routeTableIds",
    }
    missing = [key for field, key in existing_keys.items() if field not in given]
    if network.vpc_id is None:
        problems = []
        if len(missing) < len(existing_keys):
            problems.append(
                "network: vpcId, subnetIds and routeTableIds go together (an existing VPC); "
                f"missing {', '.join(f'network.{key}' for key in missing)}"
            )
        if network.cidr_block is None and not problems:
            problems.append(
                "network.cidrBlock: is required, unless network.vpcId, network.subnetIds and "
                "network.routeTableIds name an existing VPC"
            )
        if network.existing_interface_endpoints:
            problems.append(
                "network.existingInterfaceEndpoints: only applies to an existing VPC "
                "(network.vpcId)"
            )
        return problems
    problems = [
        f"network.{key}: is required with network.vpcId (the stack adds to that VPC's subnets "
        "and route tables and creates none)"
        for key in missing
    ]
    not_with_existing = {
        "cidr_block": ("cidrBlock", "comes from the VPC network.vpcId names"),
        "availability_zones": (
            "availabilityZones",
            "are those of network.subnetIds (one subnet per Availability Zone)",
        ),
        "flow_log_retention_days": (
            "flowLogRetentionDays",
            "only applies to flow logs of a VPC the stack creates",
        ),
    }
    problems += [
        f"network.{key}: {reason}; omit it with an existing VPC"
        for field, (key, reason) in not_with_existing.items()
        if field in given
    ]
    if "flow_logs" in given and network.flow_logs:
        problems.append(
            "network.flowLogs: a VPC the stack does not own is its owner's to record (landing "
            "zones collect flow logs centrally), and a second flow log would copy every "
            "workload's traffic records into this stack's log group; omit it or set false"
        )
    problems += existing_endpoint_problems(
        network.existing_interface_endpoints, network.interface_endpoints, "network."
    )
    problems += [
        f"bucket.allowedVpcIds[{index}]: {vpc_id} is network.vpcId, allowed already"
        for index, vpc_id in enumerate(config.bucket.allowed_vpc_ids)
        if vpc_id == network.vpc_id
    ]
    return problems


def _access_point_problems(config: StackConfig, ap: AccessPointConfig, where: str) -> list[str]:
    problems = []
    if (ap.account_id is None) != (ap.role_arn is None):
        problems.append(
            f"{where}: a cross-account access point needs both accountId and roleArn "
            "(the role Pulumi assumes in that account)"
        )
    if ap.account_id is not None and ap.account_id == config.account_id:
        problems.append(
            f"{where}.accountId: is the data account; omit accountId and roleArn for an access "
            "point of the data account"
        )
    if (
        ap.role_arn is not None
        and ap.account_id is not None
        and f":{ap.account_id}:" not in ap.role_arn
    ):
        problems.append(f"{where}.roleArn: must be a role in account {ap.account_id}")
    if ap.via_services:
        if "network" in ap.model_fields_set and ap.network == "vpc":
            problems.append(
                f"{where}.network: a viaServices access point is Internet-origin (AWS services "
                "acting on a caller's behalf carry no VPC); omit network or set it to internet"
            )
        if ap.is_cross_account:
            problems.append(
                f"{where}.viaServices: applies to access points of the data account only"
            )
    if ap.origin == "internet":
        if ap.vpc_id is not None:
            problems.append(f"{where}.vpcId: only applies to network: vpc")
        if config.bucket.restrict_to_vpcs and not ap.via_services:
            problems.append(
                f"{where}.network: 'internet' could never be used while bucket.restrictToVpcs "
                "is true (the bucket refuses requests from outside the allowed VPCs), unless "
                "the access point serves only AWS services (viaServices)"
            )
    elif ap.is_cross_account and ap.vpc_id is None:
        problems.append(
            f"{where}.vpcId: is required for a cross-account access point with network: vpc "
            "(the VPC in account " + f"{ap.account_id} that reads through it)"
        )
    if config.organization_id is None and not ap.is_cross_account:
        problems += [
            f"{where}.principals[{index}]: account {account} is outside the perimeter (the data "
            f"account {config.account_id}), so the bucket would refuse it; set organizationId "
            "if both accounts are in one organization, or give that account an access point of "
            "its own (accountId, roleArn)"
            for index, principal in enumerate(ap.principals)
            if (account := principal.split(":")[4]) != config.account_id
        ]
    if not ap.principals and ap.name != config.bedrock.access_point:
        problems.append(f"{where}.principals: must list at least one principal")
    return problems


def _size_problems(config: StackConfig) -> list[str]:
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


def parse_args(args: Mapping[str, Any]) -> StackConfig:
    """Validate PrivateDataLake's arguments (snake_case or camelCase keys, integers possibly
    as floats, as other languages send them) with the stack config's rules; the default bucket
    name comes from the running project and stack."""
    values = {key: value for key, value in args.items() if key != "region"}
    problems = [f"{path}: {NOT_PLAIN}" for path in _outputs_in(values, StackConfig)]
    if isinstance(args.get("region"), pulumi.Output):
        problems.insert(0, f"region: {NOT_PLAIN}")
    if problems:
        raise ConfigError(problems)
    return parse_stack_config(
        values,
        project=pulumi.get_project(),
        stack=pulumi.get_stack(),
        region=args.get("region"),
    )


NOT_PLAIN = (
    "must be a plain value, not an output or a secret: it decides which resources and "
    "policies exist, and is checked before anything is registered"
)


def _outputs_in(value: Any, root: type[BaseModel], loc: tuple[int | str, ...] = ()) -> list[str]:
    if isinstance(value, pulumi.Output):
        return [_key_path(_aliased(loc, root))]
    if isinstance(value, Mapping):
        return [
            path for key, item in value.items() for path in _outputs_in(item, root, (*loc, key))
        ]
    if isinstance(value, list | tuple):
        return [
            path
            for index, item in enumerate(value)
            for path in _outputs_in(item, root, (*loc, index))
        ]
    return []


SchemaT = TypeVar("SchemaT", bound=BaseModel)


def parse_component_args(schema: type[SchemaT], args: Mapping[str, Any], subject: str) -> SchemaT:
    """Validate the plain arguments of a building block (the keys of ``schema``, the others
    left to the component) with the rules of the config keys they come from; problems are
    named by their key path in the arguments. Raises :class:`ConfigError` for ``subject``."""
    fields = set(schema.model_fields) | {
        field.alias for field in schema.model_fields.values() if field.alias is not None
    }
    values = {key: value for key, value in args.items() if key in fields}
    problems = [f"{path}: {NOT_PLAIN}" for path in _outputs_in(values, schema)]
    if problems:
        raise ConfigError(problems, subject)
    try:
        return schema.model_validate(values)
    except ValidationError as error:
        raise ConfigError(_describe(error, schema), subject) from None
