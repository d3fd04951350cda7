"""``DataProducer``: a synthetic shop that emits events to Kafka at a declared rate."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field, model_validator

from .common import DNS_LABEL, ApiModel, BaseStatus, KafkaConnection, Resources

TopicRef = Annotated[str, Field(pattern=DNS_LABEL, max_length=253)]


class ProducerTopics(ApiModel):
    """Which streams this producer emits, each to the ``KafkaTopic`` resource named here.

    Transactions come from completed checkouts of simulated sessions, so one producer that emits
    both ``userEvents`` and ``transactions`` keeps them consistent (same session and customer).
    """

    transactions: TopicRef | None = None
    user_events: TopicRef | None = None
    product_updates: TopicRef | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> ProducerTopics:
        if not (self.transactions or self.user_events or self.product_updates):
            raise ValueError("topics: name at least one of transactions, userEvents, productUpdates")
        return self

    def refs(self) -> dict[str, str]:
        """Stream name (wire topic role) -> referenced KafkaTopic resource name."""
        pairs = {
            "transactions": self.transactions,
            "user-events": self.user_events,
            "product-updates": self.product_updates,
        }
        return {stream: ref for stream, ref in pairs.items() if ref}


FraudType = Literal[
    "velocity_attack", "card_testing", "amount_anomaly", "location_anomaly", "time_anomaly", "device_anomaly"
]


class FraudSettings(ApiModel):
    rate: Annotated[float, Field(ge=0.0, le=0.5)] = 0.001
    """Share of transactions that are injected fraud (default 0.1 %)."""
    types: list[FraudType] = Field(default_factory=lambda: list(get_args(FraudType)), min_length=1)


class PatternSettings(ApiModel):
    daily: bool = True
    """Hour-of-day multipliers in the customer's local time."""
    weekly: bool = True
    seasonal: bool = True
    """Black Friday, Cyber Monday, Christmas run-up, Valentine's Day, back to school."""


class BackfillSettings(ApiModel):
    """A historical period replayed before live events (what ``ecap up`` runs first)."""

    days: Annotated[int, Field(ge=1, le=3650)] = 90
    end: Annotated[str | None, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None
    """Last day of the period (UTC date); defaults to yesterday."""
    events_per_day: Annotated[int, Field(ge=1, le=10_000_000)] = 2000


class DataProducerSpec(ApiModel):
    topics: ProducerTopics
    rate: Annotated[float, Field(gt=0, le=1_000_000)] = 100.0
    """Base events per second before temporal multipliers (per replica)."""
    seed: Annotated[int, Field(ge=0)] = 42
    customers: Annotated[int, Field(ge=1, le=10_000_000)] = 10_000
    products: Annotated[int, Field(ge=1, le=1_000_000)] = 500
    product_update_share: Annotated[float, Field(ge=0.0, le=1.0)] = 0.02
    """Share of emitted events that are product updates, when productUpdates is a target."""
    fraud: FraudSettings = Field(default_factory=FraudSettings)
    patterns: PatternSettings = Field(default_factory=PatternSettings)
    backfill: BackfillSettings | None = None
    dead_letter: bool = True
    """Records that fail for good go to ``<topic>.dlq`` with the reason in headers."""
    kafka: KafkaConnection = Field(default_factory=KafkaConnection)
    replicas: Annotated[int, Field(ge=0, le=100)] = 1
    image: str | None = None
    resources: Resources = Field(default_factory=Resources)
    metrics_port: Annotated[int, Field(ge=1024, le=65535)] = 8000
    mode: Literal["realtime", "replay"] = "realtime"
    """realtime paces events at ``rate``; replay emits the backfill period as fast as possible."""


class DataProducerStatus(BaseStatus):
    replicas: int | None = None
    available_replicas: int | None = None
    topics: dict[str, str] | None = None
