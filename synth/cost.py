"""Monthly cost of the network path (this stack's VPC endpoints against the NAT-gateway design
they replace) and of the knowledge base (vectors, queries, embeddings). Rough, stated estimates
from fixed price tables, not a bill: no AWS call."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from synth.collect import KnowledgeBaseRecord, NetworkShape

# List prices written down here, not fetched: the synth runs without network or credentials.
PRICES_REGION = "us-east-1"
PRICES_AS_OF = "2026-11-29"
HOURS_PER_MONTH = 730
DEFAULT_GB_PER_MONTH = Decimal(100)


@dataclass(frozen=True)
class Prices:
    """USD, for ``PRICES_REGION`` on ``PRICES_AS_OF``."""

    interface_endpoint_per_az_hour: Decimal = Decimal("0.01")
    interface_endpoint_per_gb: Decimal = Decimal("0.01")
    gateway_endpoint_per_hour: Decimal = Decimal("0")
    gateway_endpoint_per_gb: Decimal = Decimal("0")
    nat_gateway_per_hour: Decimal = Decimal("0.045")
    nat_gateway_per_gb: Decimal = Decimal("0.045")
    hours_per_month: int = HOURS_PER_MONTH
    region: str = PRICES_REGION
    as_of: str = PRICES_AS_OF

    def rows(self) -> list[tuple[str, str]]:
        """The price table as (item, price) rows, for the summary."""
        return [
            (
                "interface endpoint (PrivateLink)",
                f"{usd(self.interface_endpoint_per_az_hour)} per endpoint per AZ-hour, "
                f"{usd(self.interface_endpoint_per_gb)} per GB processed",
            ),
            (
                "gateway endpoint (S3, DynamoDB)",
                f"{usd(self.gateway_endpoint_per_hour)} per hour, "
                f"{usd(self.gateway_endpoint_per_gb)} per GB (free)",
            ),
            (
                "NAT gateway",
                f"{usd(self.nat_gateway_per_hour, places=3)} per gateway-hour, "
                f"{usd(self.nat_gateway_per_gb, places=3)} per GB processed",
            ),
            ("hours in a month", str(self.hours_per_month)),
        ]


@dataclass(frozen=True)
class DesignCost:
    design: str
    hours: Decimal
    """The hourly charges over a month."""
    data: Decimal
    """The per-GB charges for the assumed traffic."""

    @property
    def total(self) -> Decimal:
        return self.hours + self.data


@dataclass(frozen=True)
class CostEstimate:
    gb_per_month: Decimal
    endpoint_az_count: int
    """Interface endpoint x AZ pairs: each is one ENI billed by the hour."""
    designs: tuple[DesignCost, ...]
    prices: Prices = field(default_factory=Prices)

    @property
    def this_stack(self) -> DesignCost:
        return self.designs[0]

    @property
    def nat_per_az(self) -> DesignCost:
        return self.designs[1]


def estimate(
    network: NetworkShape, gb_per_month: Decimal, prices: Prices | None = None
) -> CostEstimate:
    """This stack's endpoints, then a NAT gateway in each AZ (the resilient design the endpoints
    replace), then a single NAT gateway (the cheapest one, down when its AZ is).

    The traffic is the part that would go to AWS services other than S3 and DynamoDB: it passes
    an interface endpoint here and a NAT gateway otherwise. S3 and DynamoDB traffic goes through
    the free gateway endpoints in every design, so it costs the same and is left out.
    """
    prices = prices or Prices()
    hours = Decimal(prices.hours_per_month)
    endpoint_azs = sum(e.availability_zones for e in network.interface_endpoints)
    zones = len(network.availability_zones)
    services = len(network.interface_endpoints)
    gateways = len(network.gateway_endpoints)
    this_stack = DesignCost(
        design=(
            f"this stack: {services} interface endpoint{_s(services)} in "
            f"{endpoint_azs} endpoint-AZ{_s(endpoint_azs)}, {gateways} gateway "
            f"endpoint{_s(gateways)} (free)"
        ),
        hours=endpoint_azs * hours * prices.interface_endpoint_per_az_hour
        + gateways * hours * prices.gateway_endpoint_per_hour,
        data=gb_per_month * prices.interface_endpoint_per_gb,
    )
    nat_per_az = DesignCost(
        design=f"replaced design: a NAT gateway in each of the {zones} AZ{_s(zones)}",
        hours=zones * hours * prices.nat_gateway_per_hour,
        data=gb_per_month * prices.nat_gateway_per_gb,
    )
    single_nat = DesignCost(
        design="cheapest NAT design: one NAT gateway (not AZ-resilient)",
        hours=hours * prices.nat_gateway_per_hour,
        data=gb_per_month * prices.nat_gateway_per_gb,
    )
    return CostEstimate(
        gb_per_month=gb_per_month,
        endpoint_az_count=endpoint_azs,
        designs=(this_stack, nat_per_az, single_nat),
        prices=prices,
    )


def usd(amount: Decimal, places: int = 2) -> str:
    quantum = Decimal(1).scaleb(-places)
    return f"${amount.quantize(quantum, rounding=ROUND_HALF_UP):,}"


def _s(count: int) -> str:
    return "" if count == 1 else "s"


# --- The knowledge base: vectors, queries and embeddings ----------------------------------------

S3_VECTORS_PRICING = "https://aws.amazon.com/s3/pricing/ (S3 Vectors)"
BEDROCK_PRICING = "https://aws.amazon.com/bedrock/pricing/ (Amazon Titan, Cohere)"
DEFAULT_CORPUS_GB = Decimal(1)
DEFAULT_QUESTIONS_PER_MONTH = 10_000
DEFAULT_CHANGED_SHARE = Decimal("0.1")
BYTES_PER_TOKEN = 4  # English text, as Bedrock's pricing examples count it
METADATA_BYTES = 512  # the passage's source and Bedrock's own keys, beside its text
KEY_BYTES = 40
QUESTION_TOKENS = 30
TIER_VECTORS = 100_000


@dataclass(frozen=True)
class KnowledgeBasePrices:
    """USD, for ``PRICES_REGION`` on ``PRICES_AS_OF``: S3 Vectors and the embedding models."""

    storage_per_gb_month: Decimal = Decimal("0.06")
    writes_per_gb: Decimal = Decimal("0.20")
    queries_per_million: Decimal = Decimal("2.50")
    processed_per_tb_first_tier: Decimal = Decimal("0.004")
    """Per TB of an index's first 100,000 vectors that a query processes."""
    processed_per_tb_beyond: Decimal = Decimal("0.002")
    embedding_per_million_tokens: dict[str, Decimal] = field(
        default_factory=lambda: {
            "amazon.titan-embed-text-v2:0": Decimal("0.02"),
            "amazon.titan-embed-text-v1": Decimal("0.10"),
            "cohere.embed-english-v3": Decimal("0.10"),
            "cohere.embed-multilingual-v3": Decimal("0.10"),
        }
    )
    region: str = PRICES_REGION
    as_of: str = PRICES_AS_OF

    def rows(self, embedding_model_id: str) -> list[tuple[str, str]]:
        return [
            ("S3 Vectors storage", f"{usd(self.storage_per_gb_month)} per GB-month"),
            ("S3 Vectors writes (PutVectors)", f"{usd(self.writes_per_gb)} per GB written"),
            ("S3 Vectors queries", f"{usd(self.queries_per_million)} per million requests"),
            (
                "S3 Vectors query data processed",
                f"{usd(self.processed_per_tb_first_tier, places=3)} per TB of an index's first "
                f"{TIER_VECTORS:,} vectors, {usd(self.processed_per_tb_beyond, places=3)} beyond",
            ),
            (
                f"{embedding_model_id} embeddings",
                f"{usd(self.embedding_per_million_tokens[embedding_model_id])} per million "
                "input tokens",
            ),
        ]


@dataclass(frozen=True)
class KnowledgeBaseCost:
    corpus_gb: Decimal
    questions: int
    changed_share: Decimal
    vectors: int
    stored_gb: Decimal
    monthly: tuple[tuple[str, Decimal], ...]
    first_ingestion: tuple[tuple[str, Decimal], ...]
    prices: KnowledgeBasePrices

    @property
    def monthly_total(self) -> Decimal:
        return sum((amount for _, amount in self.monthly), Decimal(0))

    @property
    def first_ingestion_total(self) -> Decimal:
        return sum((amount for _, amount in self.first_ingestion), Decimal(0))


@dataclass(frozen=True)
class KnowledgeBaseUsage:
    """What the knowledge base's estimate assumes (``--kb-corpus-gb``, ``--kb-questions``)."""

    corpus_gb: Decimal = DEFAULT_CORPUS_GB
    """Text in its prefixes."""
    questions: int = DEFAULT_QUESTIONS_PER_MONTH
    """Retrievals a month."""
    changed_share: Decimal = DEFAULT_CHANGED_SHARE
    """Of the corpus, new or changed each month: an ingestion embeds and writes only those."""


def knowledge_base_estimate(
    record: KnowledgeBaseRecord,
    usage: KnowledgeBaseUsage | None = None,
    prices: KnowledgeBasePrices | None = None,
) -> KnowledgeBaseCost:
    """A month of the knowledge base under ``usage``. Each passage is stored with its text and
    metadata beside its vector (S3 Vectors bills that logical size); a query processes the
    index's vectors."""
    usage = usage or KnowledgeBaseUsage()
    corpus_gb, questions, changed_share = usage.corpus_gb, usage.questions, usage.changed_share
    prices = prices or KnowledgeBasePrices()
    corpus_tokens = corpus_gb * Decimal(10**9) / BYTES_PER_TOKEN
    embedded_tokens = corpus_tokens * Decimal(1 + record.overlap)
    vectors = int(embedded_tokens / record.chunk_tokens) + 1
    vector_bytes = record.dimensions * 4 + KEY_BYTES
    stored_bytes = vector_bytes + record.chunk_tokens * BYTES_PER_TOKEN + METADATA_BYTES
    stored_gb = Decimal(vectors * stored_bytes) / Decimal(10**9)
    per_token = prices.embedding_per_million_tokens[record.embedding_model_id] / Decimal(10**6)
    first_tier = min(vectors, TIER_VECTORS) * vector_bytes
    beyond = max(vectors - TIER_VECTORS, 0) * vector_bytes
    processed_per_query = (
        first_tier * prices.processed_per_tb_first_tier + beyond * prices.processed_per_tb_beyond
    ) / Decimal(10**12)
    monthly = (
        ("vector storage", stored_gb * prices.storage_per_gb_month),
        ("vector writes (changed documents)", stored_gb * changed_share * prices.writes_per_gb),
        ("embeddings (changed documents)", embedded_tokens * changed_share * per_token),
        ("query requests", questions * prices.queries_per_million / Decimal(10**6)),
        ("query data processed", questions * processed_per_query),
        ("question embeddings", questions * QUESTION_TOKENS * per_token),
    )
    first = (
        ("vector writes", stored_gb * prices.writes_per_gb),
        ("embeddings", embedded_tokens * per_token),
    )
    return KnowledgeBaseCost(
        corpus_gb, questions, changed_share, vectors, stored_gb, monthly, first, prices
    )
