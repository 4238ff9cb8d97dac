"""Validated scalar values of the stack configuration: ids, ARNs, names and bounds, each
with the rule its error message states."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from components import policies

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


# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
     3288, 3653}
)  # fmt: skip


PRIVATE_RANGES = tuple(
    ipaddress.IPv4Network(block) for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)


def rule(check: Callable[[str], bool], rule: str) -> Callable[[Any], Any]:
    def validate(value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"must be a string ({rule})")
        if not check(value):
            raise ValueError(f"{value!r} {rule}")
        return value

    return validate


def matches(pattern: str) -> Callable[[str], bool]:
    compiled = re.compile(pattern)
    return lambda value: compiled.fullmatch(value) is not None


def _is_access_point_name(name: str) -> bool:
    return re.fullmatch(r"[a-z0-9][a-z0-9-]{1,48}[a-z0-9]", name) is not None and not name.endswith(
        "-s3alias"
    )


def is_bucket_name(name: str) -> bool:
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
    BeforeValidator(rule(matches(r"\d{12}"), "must be a 12-digit AWS account id, quoted in YAML")),
]


Region = Annotated[
    str,
    BeforeValidator(
        rule(
            matches(r"(us|eu|ap|ca|sa|me|af|il|mx)-[a-z]+-\d"),
            "must be a commercial AWS Region such as us-east-1 (the aws partition)",
        )
    ),
]


AccessPointName = Annotated[
    str,
    BeforeValidator(
        rule(
            _is_access_point_name,
            "must be 3-50 lowercase letters, digits or '-', start and end with a letter or "
            "digit, and not end in '-s3alias'",
        )
    ),
]


BucketName = Annotated[
    str,
    BeforeValidator(
        rule(is_bucket_name, "must be a valid S3 bucket name (3-63 lowercase letters, digits, "
              "'.' or '-', starting and ending with a letter or digit)")
    ),
]  # fmt: skip


Prefix = Annotated[
    str,
    BeforeValidator(
        rule(
            _is_prefix,
            "must be a relative key prefix ending in '/' (or '' for the whole bucket), "
            "without empty, '.' or '..' segments or wildcards",
        )
    ),
]


PrincipalArn = Annotated[
    str,
    BeforeValidator(
        rule(
            matches(r"arn:aws:iam::\d{12}:(root|role/[\w+=,.@/-]+|user/[\w+=,.@/-]+)"),
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
        rule(
            matches(r"arn:aws:iam::\d{12}:(role|user)/[\w+=,.@/-]+"),
            "must be an IAM role or user ARN (arn:aws:iam::ACCOUNT:role/NAME)",
        )
    ),
    BeforeValidator(_exact_admin_arn),
]


PermissionSetName = Annotated[
    str,
    BeforeValidator(
        rule(
            matches(r"[\w+=,.@-]{1,32}"),
            "must be an IAM Identity Center permission set name (1-32 letters, digits or "
            "+=,.@_-), such as DataAdmin",
        )
    ),
]


OrganizationId = Annotated[
    str,
    BeforeValidator(
        rule(
            matches(r"o-[a-z0-9]{10,32}"),
            "must be an AWS Organizations id: 'o-' and 10-32 lowercase letters or digits",
        )
    ),
]


RoleArn = Annotated[
    str,
    BeforeValidator(
        rule(matches(r"arn:aws:iam::\d{12}:role/[\w+=,.@/-]+"), "must be an IAM role ARN")
    ),
]


KmsKeyArn = Annotated[
    str,
    BeforeValidator(
        rule(
            matches(r"arn:aws:kms:[a-z0-9-]+:\d{12}:key/[a-zA-Z0-9-]+"),
            "must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), not an alias",
        )
    ),
]


VpcId = Annotated[
    str, BeforeValidator(rule(matches(r"vpc-[0-9a-f]{8}([0-9a-f]{9})?"), "must be a VPC id"))
]


SubnetId = Annotated[
    str,
    BeforeValidator(
        rule(matches(r"subnet-[0-9a-f]{8}([0-9a-f]{9})?"), "must be a subnet id (subnet-...)")
    ),
]


RouteTableId = Annotated[
    str,
    BeforeValidator(
        rule(matches(r"rtb-[0-9a-f]{8}([0-9a-f]{9})?"), "must be a route table id (rtb-...)")
    ),
]


VpcEndpointId = Annotated[
    str,
    BeforeValidator(
        rule(matches(r"vpce-[0-9a-f]{8}([0-9a-f]{9})?"), "must be a VPC endpoint id (vpce-...)")
    ),
]


ModelId = Annotated[
    str,
    BeforeValidator(
        rule(
            lambda value: policies.parse_model_id(value) is not None,
            "must be a Bedrock foundation-model id (amazon.nova-micro-v1:0) or a cross-Region "
            "inference profile id (us.anthropic.claude-3-5-haiku-20241022-v1:0)",
        )
    ),
]


EndpointService = Annotated[
    str,
    BeforeValidator(
        rule(
            matches(r"[a-z0-9][a-z0-9.-]*[a-z0-9]"),
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


def unique(values: tuple[str, ...]) -> tuple[str, ...]:
    duplicates = sorted({v for v in values if values.count(v) > 1})
    if duplicates:
        raise ValueError(f"lists {', '.join(duplicates)} more than once")
    return values


def _is_regex(value: str) -> bool:
    try:
        re.compile(value)
    except re.error:
        return False
    return True


Regex = Annotated[str, BeforeValidator(rule(_is_regex, "is not a valid regular expression"))]


TagKey = Annotated[
    str,
    BeforeValidator(
        rule(
            lambda key: matches(r"[\w .:/=+@-]{1,128}")(key) and not key.startswith("aws:"),
            "must be a tag key of 1-128 letters, digits, spaces or _.:/=+-@, not starting "
            "with aws:",
        )
    ),
]


TagValue = Annotated[
    str,
    BeforeValidator(
        rule(matches(r"[\w .:/=+@-]{0,256}"), "must be a tag value of at most 256 characters")
    ),
]


Tags = Annotated[dict[TagKey, TagValue], Field(min_length=1, max_length=50)]


EmailAddress = Annotated[
    str,
    BeforeValidator(rule(matches(r"[^@\s]+@[^@\s]+\.[^@\s]+"), "must be an email address")),
]


TopicArn = Annotated[
    str,
    BeforeValidator(
        rule(
            matches(r"arn:aws:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}"),
            "must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)",
        )
    ),
]


NamePrefix = Annotated[
    str,
    BeforeValidator(
        rule(
            matches(r"[\w.-]{1,201}"),
            "must be letters, digits, '_', '.' or '-' as in project-stack (it starts the names "
            "of stack-wide resources)",
        )
    ),
]


class Schema(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        frozen=True,
    )
