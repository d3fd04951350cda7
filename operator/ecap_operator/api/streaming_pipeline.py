"""``StreamingPipeline``: Kafka in, validated and enriched Delta tables and alerts out, exactly once."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .common import DNS_LABEL, ApiModel, BaseStatus, KafkaConnection, SparkSettings

TopicRef = Annotated[str, Field(pattern=DNS_LABEL, max_length=253)]


class PipelineSources(ApiModel):
    """The ``KafkaTopic`` resources the pipeline reads."""

    transactions: TopicRef
    user_events: TopicRef | None = None
    product_updates: TopicRef | None = None


class PipelineSinks(ApiModel):
    """The ``KafkaTopic`` resources the pipeline writes back to."""

    fraud_alerts: TopicRef | None = None
    analytics_results: TopicRef | None = None


class QualitySettings(ApiModel):
    z_score_threshold: Annotated[float, Field(gt=0, le=100)] = 3.0
    iqr_factor: Annotated[float, Field(gt=0, le=100)] = 1.5
    max_amount: Annotated[float, Field(gt=0)] = 100_000.0
    """Business rule: a single order above this total is quarantined."""
    max_event_age_days: Annotated[int, Field(ge=1, le=36500)] = 3650
    max_future_skew_seconds: Annotated[int, Field(ge=0, le=86400)] = 300


class FraudDetectionSettings(ApiModel):
    enabled: bool = True
    velocity_max_orders: Annotated[int, Field(ge=2, le=1000)] = 5
    velocity_window_minutes: Annotated[int, Field(ge=1, le=1440)] = 10
    amount_multiplier: Annotated[float, Field(ge=1.5, le=1000)] = 4.0
    """Alert when an order is this many times the customer's usual spend."""
    max_travel_kmh: Annotated[float, Field(gt=0, le=20000)] = 900.0
    card_testing_max_amount: Annotated[float, Field(gt=0)] = 5.0
    card_testing_min_count: Annotated[int, Field(ge=2, le=1000)] = 3
    night_hours: Annotated[list[int], Field(min_length=2, max_length=2)] = Field(
        default_factory=lambda: [2, 4]
    )
    """Local hours [start, end) considered night-time anomalies."""
    alert_threshold: Annotated[float, Field(ge=0, le=1)] = 0.5


class StreamingPipelineSpec(ApiModel):
    sources: PipelineSources
    sinks: PipelineSinks = Field(default_factory=PipelineSinks)
    lake: Annotated[str, Field(min_length=1)] = "/lake"
    """Root of the Delta tables (local path, or s3a:// in a cluster)."""
    checkpoint_location: Annotated[str | None, Field(min_length=1)] = None
    """Defaults to ``<lake>/_checkpoints/<namespace>/<name>``; part of the query's identity."""
    starting_offsets: Literal["earliest", "latest"] = "earliest"
    trigger_seconds: Annotated[float, Field(ge=0, le=3600)] = 1.0
    max_records_per_batch: Annotated[int, Field(ge=100, le=50_000_000)] = 200_000
    watermark_seconds: Annotated[int, Field(ge=0, le=86400 * 7)] = 600
    """Event-time lateness tolerated for deduplication, windows and joins."""
    kpi_window_seconds: Annotated[list[Annotated[int, Field(ge=10, le=86400)]], Field(min_length=1)] = Field(
        default_factory=lambda: [60, 3600]
    )
    attribution_window_minutes: Annotated[int, Field(ge=1, le=1440)] = 30
    quality: QualitySettings = Field(default_factory=QualitySettings)
    fraud: FraudDetectionSettings = Field(default_factory=FraudDetectionSettings)
    kafka: KafkaConnection = Field(default_factory=KafkaConnection)
    spark: SparkSettings = Field(default_factory=SparkSettings)


class StreamingPipelineStatus(BaseStatus):
    application_state: str | None = None
    spark_application: str | None = None
