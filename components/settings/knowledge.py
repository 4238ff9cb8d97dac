"""``bedrock.knowledgeBase``: questions across curated prefixes of the lake; and the plain
arguments of the KnowledgeBase building block, under the same rules."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from components.bedrock import DEFAULT_KNOWLEDGE_BASE_RESULTS, MAX_KNOWLEDGE_BASE_RESULTS
from components.settings.values import (
    AccountId,
    BucketName,
    NamePrefix,
    Prefix,
    Region,
    Schema,
    matches,
    rule,
    unique,
)

DEFAULT_EMBEDDING_MODEL_ID = "amazon.titan-embed-text-v2:0"
# The text embedding models a knowledge base takes, with the dimensions each produces (the first
# is its default): Amazon Bedrock, "Supported models and Regions for Amazon Bedrock knowledge
# bases".
EMBEDDING_MODELS: dict[str, tuple[int, ...]] = {
    "amazon.titan-embed-text-v2:0": (1024, 512, 256),
    "amazon.titan-embed-text-v1": (1536,),
    "cohere.embed-english-v3": (1024,),
    "cohere.embed-multilingual-v3": (1024,),
}
# Data sources per knowledge base (Amazon Bedrock quotas); each indexes one prefix.
MAX_PREFIXES = 5


class ChunkingStrategy(StrEnum):
    """How documents are split into passages."""

    FIXED_SIZE = "fixedSize"
    """Passages of at most maxTokens, overlapping by overlapPercentage."""
    SEMANTIC = "semantic"
    """Split where the meaning changes."""
    HIERARCHICAL = "hierarchical"
    """Small passages are retrieved and their larger parents returned."""
    NONE = "none"
    """A document is one passage."""


class VectorStore(StrEnum):
    """Where the knowledge base keeps its vectors."""

    S3_VECTORS = "s3Vectors"
    """An S3 Vectors bucket and index, encrypted with a key of the stack's."""


# Which keys of ``chunking`` each strategy takes.
CHUNKING_KEYS: dict[ChunkingStrategy, frozenset[str]] = {
    ChunkingStrategy.FIXED_SIZE: frozenset({"max_tokens", "overlap_percentage"}),
    ChunkingStrategy.SEMANTIC: frozenset(
        {"max_tokens", "buffer_size", "breakpoint_percentile_threshold"}
    ),
    ChunkingStrategy.HIERARCHICAL: frozenset(
        {"parent_max_tokens", "child_max_tokens", "overlap_tokens"}
    ),
    ChunkingStrategy.NONE: frozenset(),
}


class ChunkingConfig(Schema):
    """``chunking``: Bedrock's chunking settings; each strategy's defaults are Bedrock's."""

    strategy: ChunkingStrategy = ChunkingStrategy.FIXED_SIZE
    max_tokens: int | None = Field(None, ge=1, le=8192)
    overlap_percentage: int | None = Field(None, ge=1, le=99)
    buffer_size: int | None = Field(None, ge=0, le=1)
    breakpoint_percentile_threshold: int | None = Field(None, ge=50, le=99)
    parent_max_tokens: int | None = Field(None, ge=1, le=8192)
    child_max_tokens: int | None = Field(None, ge=1, le=8192)
    overlap_tokens: int | None = Field(None, ge=1)


def _vector_store(value: Any) -> Any:
    if value == "opensearchServerless":
        raise ValueError(
            "'opensearchServerless' is not offered: a collection costs its minimum OpenSearch "
            "Compute Units around the clock, and Bedrock ingests from AWS's network, so its "
            "network policy would have to admit the service from outside the VPC (README, "
            "Knowledge base); use s3Vectors"
        )
    return value


ScheduleExpression = Annotated[
    str,
    BeforeValidator(
        rule(
            matches(
                r"rate\((1 (minute|hour|day)|[1-9][0-9]* (minutes|hours|days))\)"
                r"|cron\(\S+( \S+){5}\)"
            ),
            "must be an EventBridge Scheduler expression: rate(1 day), rate(6 hours) or "
            "cron(minutes hours day-of-month month day-of-week year)",
        )
    ),
]


class KnowledgeBaseConfig(Schema):
    """``bedrock.knowledgeBase``: a knowledge base over curated prefixes of the data bucket."""

    prefixes: Annotated[
        tuple[
            Annotated[
                Prefix,
                AfterValidator(
                    rule(bool, "must name a prefix: a knowledge base never indexes the bucket")
                ),
            ],
            ...,
        ],
        Field(min_length=1, max_length=MAX_PREFIXES),
        AfterValidator(unique),
    ]
    embedding_model_id: Annotated[
        str,
        BeforeValidator(
            rule(
                lambda value: value in EMBEDDING_MODELS,
                "is not an embedding model a knowledge base takes; one of "
                + ", ".join(EMBEDDING_MODELS),
            )
        ),
    ] = DEFAULT_EMBEDDING_MODEL_ID
    dimensions: int | None = None
    chunking: ChunkingConfig = ChunkingConfig()
    results: int = Field(DEFAULT_KNOWLEDGE_BASE_RESULTS, ge=1, le=MAX_KNOWLEDGE_BASE_RESULTS)
    ingestion_schedule: ScheduleExpression | None = None
    vector_store: Annotated[VectorStore, BeforeValidator(_vector_store)] = VectorStore.S3_VECTORS

    @property
    def vector_dimensions(self) -> int:
        return self.dimensions or EMBEDDING_MODELS[self.embedding_model_id][0]


def knowledge_base_problems(knowledge_base: KnowledgeBaseConfig, where: str) -> list[str]:
    """The rules between keys of one knowledge base; ``where`` is its key path ('' for the
    building block's own arguments)."""
    where = f"{where}." if where else ""
    problems = []
    dimensions = EMBEDDING_MODELS[knowledge_base.embedding_model_id]
    if knowledge_base.dimensions is not None and knowledge_base.dimensions not in dimensions:
        problems.append(
            f"{where}dimensions: {knowledge_base.embedding_model_id} produces "
            + " or ".join(map(str, sorted(dimensions)))
        )
    chunking = knowledge_base.chunking
    given = chunking.model_fields_set - {"strategy"}
    problems += [
        f"{where}chunking.{ChunkingConfig.model_fields[key].alias or key}: does not apply to "
        f"strategy {chunking.strategy.value}"
        for key in sorted(given - CHUNKING_KEYS[chunking.strategy])
    ]
    for index, prefix in enumerate(knowledge_base.prefixes):
        inside = [other for other in knowledge_base.prefixes if other != prefix]
        if any(prefix.startswith(other) for other in inside):
            problems.append(
                f"{where}prefixes[{index}]: '{prefix}' is within another of the prefixes; its "
                "documents would be indexed twice"
            )
    return problems


class KnowledgeBaseArgsConfig(KnowledgeBaseConfig):
    """The plain arguments of :class:`components.knowledge_base.KnowledgeBase`, under the
    rules of ``bedrock.knowledgeBase`` and the keys they come from."""

    region: Region
    account_id: AccountId
    name_prefix: NamePrefix
    bucket_name: BucketName
