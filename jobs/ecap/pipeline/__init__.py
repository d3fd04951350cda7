"""The streaming pipeline: Kafka -> validated, deduplicated Delta tables exactly once, plus analytics.

Modules: ``kafka_source`` (Spark Python Data Source over confluent-kafka), ``parsing`` (wire JSON and
row rules in Spark), ``quality`` (referential rule, dedup and statistics on the driver),
``delta_sink`` (exactly-once delta-rs commits), ``batch`` (the one micro-batch engine used by the
stream and by backfills), ``runner`` (the streaming query), ``backfill``, ``metrics``, ``tables``.
"""

from __future__ import annotations

from .batch import BatchContext, BatchResult, TopicCounts, process_batch
from .errors import KafkaSourceError, PipelineConfigError, PipelineError, SinkError
from .runner import PipelineReport, plan_pipeline, run_pipeline

__all__ = [
    "BatchContext",
    "BatchResult",
    "KafkaSourceError",
    "PipelineConfigError",
    "PipelineError",
    "PipelineReport",
    "SinkError",
    "TopicCounts",
    "plan_pipeline",
    "process_batch",
    "run_pipeline",
]
