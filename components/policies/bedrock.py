"""Bedrock: model ids and ARNs, invoking the configured models under the guardrail, and the
invocation-logging role."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from components.policies.documents import (
    PARTITION,
    PolicyDocument,
    Statement,
    document,
    log_group_arn,
    merge,
    one_of,
    statement,
)
from components.policies.principals import Perimeter, bound_to_account

BEDROCK_INVOKE = "bedrock:InvokeModel"


BEDROCK_INVOKE_STREAM = "bedrock:InvokeModelWithResponseStream"


# Geographic prefixes of cross-Region inference profiles ("us.anthropic...").
INFERENCE_PROFILE_PREFIXES = ("us", "eu", "apac", "global", "us-gov", "jp", "au", "ca")


# Where a cross-Region inference profile of each geography may route a call: the union over
# models of the destination Regions in Amazon Bedrock's user guide ("Supported Regions and models
# for inference profiles", and each model's page). A global profile routes to any commercial
# Region (None: no list).
PROFILE_DESTINATION_REGIONS: Mapping[str, tuple[str, ...] | None] = {
    "us": ("us-east-1", "us-east-2", "us-west-1", "us-west-2"),
    "us-gov": ("us-gov-east-1", "us-gov-west-1"),
    "ca": ("ca-central-1", "ca-west-1"),
    "eu": (
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
    ),
    "apac": (
        "ap-east-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-7",
        "me-central-1",
    ),
    "jp": ("ap-northeast-1", "ap-northeast-3"),
    "au": ("ap-southeast-2", "ap-southeast-4"),
    "global": None,
}


_MODEL_ID = re.compile(
    r"^(?:(?P<geo>" + "|".join(re.escape(p) for p in INFERENCE_PROFILE_PREFIXES) + r")\.)?"
    r"(?P<model>[a-z0-9][a-z0-9-]*\.[A-Za-z0-9][A-Za-z0-9._:-]*)$"
)


@dataclass(frozen=True)
class ModelRef:
    """A configured model id: a foundation model, or a cross-Region inference profile."""

    model_id: str
    foundation_model_id: str
    geography: str | None
    """A cross-Region inference profile's prefix (us, eu, global...); None for a model."""

    @property
    def is_inference_profile(self) -> bool:
        return self.geography is not None


def parse_model_id(model_id: str) -> ModelRef | None:
    """Split a model id into its foundation model and profile part; None if it is malformed."""
    match = _MODEL_ID.match(model_id)
    if match is None:
        return None
    return ModelRef(
        model_id=model_id,
        foundation_model_id=match["model"],
        geography=match["geo"],
    )


def inference_regions(model_ids: Iterable[str]) -> tuple[str, ...] | None:
    """Every Region the configured profiles may route a call to; None when one is global."""
    regions: set[str] = set()
    for ref in filter(None, map(parse_model_id, model_ids)):
        if ref.geography is not None:
            destinations = PROFILE_DESTINATION_REGIONS[ref.geography]
            if destinations is None:
                return None
            regions |= set(destinations)
    return tuple(sorted(regions))


def model_slug(model_id: str) -> str:
    """A model id as letters, digits and single hyphens, for names AWS restricts that way
    (application inference profiles) and for stable resource names."""
    return re.sub(r"[^0-9a-zA-Z]+", "-", model_id).strip("-")


def foundation_model_arn(region: str, foundation_model_id: str) -> str:
    return f"arn:{PARTITION}:bedrock:{region}::foundation-model/{foundation_model_id}"


def inference_profile_arn(region: str, account_id: str, profile_id: str) -> str:
    return f"arn:{PARTITION}:bedrock:{region}:{account_id}:inference-profile/{profile_id}"


@dataclass(frozen=True)
class GuardrailRef:
    """The guardrail every model call must carry: its ARN and published version, or ARN
    patterns (``*``) where the exact guardrail is not known yet (see bedrock_endpoint_policy)."""

    arn: str
    version: str

    @property
    def identifier(self) -> str:
        """The value of ``bedrock:GuardrailIdentifier`` in a request that applies this guardrail:
        the guardrail ARN and its numeric version."""
        return f"{self.arn}:{self.version}"


def guardrail_arn(region: str, account_id: str, guardrail_id: str) -> str:
    return f"arn:{PARTITION}:bedrock:{region}:{account_id}:guardrail/{guardrail_id}"


def application_profile_arn(region: str, account_id: str, profile_id: str) -> str:
    return (
        f"arn:{PARTITION}:bedrock:{region}:{account_id}:application-inference-profile/{profile_id}"
    )


def bedrock_invoke_statements(
    *,
    region: str,
    account_id: str,
    model_ids: Iterable[str],
    streaming: bool,
    principal: str | None = None,
    conditions: Mapping[str, Mapping[str, Any]] | None = None,
    guardrail: GuardrailRef | None = None,
    routes: Mapping[str, str] | None = None,
) -> list[Statement]:
    """Allow invoking exactly the configured models, with the guardrail when there is one.

    A cross-Region inference profile needs its own ARN and, in every Region it routes to, the
    foundation model behind it; the second statement allows those foundation models only when
    the call comes through one of the configured profiles (``bedrock:InferenceProfileArn``).

    ``routes`` maps a configured model id to the application inference profile that stands for
    it: the profile is allowed instead of the model, and the model (the system profile and the
    foundation models it routes to) only through that application profile.

    With a guardrail, only the entry point (model, profile or application profile) carries the
    ``bedrock:GuardrailIdentifier`` condition: the calls Bedrock makes on to the routed models
    are allowed only through a profile that was entered with it. ``bedrock:ApplyGuardrail`` on
    the guardrail is what Bedrock checks to apply it during the call.
    """
    actions = [BEDROCK_INVOKE, BEDROCK_INVOKE_STREAM] if streaming else [BEDROCK_INVOKE]
    routes = routes or {}
    refs = [ref for ref in map(parse_model_id, model_ids) if ref is not None]

    def own_arn(ref: ModelRef) -> str:
        if ref.is_inference_profile:
            return inference_profile_arn(region, account_id, ref.model_id)
        return foundation_model_arn(region, ref.foundation_model_id)

    def routed_foundation_models(ref: ModelRef) -> str:
        # A profile routes to its foundation model in every Region of its geography.
        if ref.is_inference_profile:
            return f"arn:{PARTITION}:bedrock:*::foundation-model/{ref.foundation_model_id}"
        return foundation_model_arn(region, ref.foundation_model_id)

    entry_points = sorted({routes.get(ref.model_id) or own_arn(ref) for ref in refs})
    entry_conditions = (
        # ARN:version is not an ARN of its own, so a pattern of it is matched as a string.
        merge(
            conditions or {},
            one_of("bedrock:GuardrailIdentifier", [guardrail.identifier], "StringLike"),
        )
        if guardrail is not None
        else conditions
    )
    statements = [
        statement(
            "InvokeConfiguredModels",
            actions,
            entry_points,
            principal=principal,
            conditions=entry_conditions,
        )
    ]
    behind: set[str] = set()
    through: set[str] = set()
    for ref in refs:
        profile = routes.get(ref.model_id)
        if profile is not None:
            behind |= {own_arn(ref), routed_foundation_models(ref)}
            through.add(profile)
        elif ref.is_inference_profile:
            behind.add(routed_foundation_models(ref))
            through.add(own_arn(ref))
    if behind:
        statements.append(
            statement(
                "InvokeFoundationModelsBehindProfiles",
                actions,
                sorted(behind - set(entry_points)),
                principal=principal,
                conditions=merge(
                    conditions or {},
                    one_of("bedrock:InferenceProfileArn", sorted(through), "ArnLike"),
                ),
            )
        )
    if guardrail is not None:
        statements.append(
            statement(
                "ApplyTheGuardrail",
                ["bedrock:ApplyGuardrail"],
                [guardrail.arn],
                principal=principal,
                conditions=conditions,
            )
        )
    return statements


def bedrock_endpoint_policy(
    *,
    region: str,
    account_id: str,
    model_ids: Sequence[str],
    streaming: bool,
    organization_id: str | None = None,
    guardrail: GuardrailRef | None = None,
    routes: Mapping[str, str] | None = None,
) -> PolicyDocument:
    """The bedrock-runtime endpoint lets the perimeter's principals invoke only these models,
    with exactly this guardrail version when there is one (never its DRAFT, never another
    guardrail), and through exactly these application profiles (never another of the
    account's). Models are AWS's resources, so no resource perimeter applies."""
    return document(
        *bedrock_invoke_statements(
            region=region,
            account_id=account_id,
            model_ids=model_ids,
            streaming=streaming,
            principal="*",
            conditions=Perimeter(account_id, organization_id).principals_inside(),
            guardrail=guardrail,
            routes=routes,
        )
    )


INVOCATION_LOG_STREAM = "aws/bedrock/modelinvocations"
"""The log stream Bedrock writes invocation logs to in the configured log group."""


def invocation_log_group_name(name_prefix: str) -> str:
    """The CloudWatch log group of the invocation logs a stack owns."""
    return f"/aws/bedrock/modelinvocations/{name_prefix}"


def invocation_log_group_arn(region: str, account_id: str, name_prefix: str) -> str:
    return log_group_arn(region, account_id, invocation_log_group_name(name_prefix))


def bedrock_account_resources(region: str, account_id: str) -> str:
    return f"arn:{PARTITION}:bedrock:{region}:{account_id}:*"


def invocation_logging_assume_role_policy(region: str, account_id: str) -> PolicyDocument:
    """Trust policy of the role Bedrock assumes to deliver invocation logs: only for this
    account's Bedrock in this Region."""
    return document(
        {
            "Sid": "BedrockDeliversThisAccountsLogs",
            "Effect": "Allow",
            "Principal": {"Service": "bedrock.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": bound_to_account(
                account_id, bedrock_account_resources(region, account_id)
            ),
        }
    )


def invocation_log_delivery_policy(log_group_arn: str) -> PolicyDocument:
    """The delivery role writes Bedrock's log stream in its log group, and nothing else."""
    return document(
        statement(
            "WriteInvocationLogStream",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [f"{log_group_arn}:log-stream:{INVOCATION_LOG_STREAM}"],
        )
    )
