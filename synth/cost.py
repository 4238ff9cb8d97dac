"""Monthly cost of the network path: this stack's VPC endpoints against the NAT-gateway design
they replace. A rough, stated estimate from a fixed price table, not a bill: no AWS call."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from synth.collect import NetworkShape

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
