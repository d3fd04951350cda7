"""The one exception root of the streaming pipeline, with a subclass per failing layer."""

from __future__ import annotations


class PipelineError(RuntimeError):
    """Anything that stops the pipeline: bad configuration, an unreachable broker, a broken table."""


class PipelineConfigError(PipelineError):
    """The StreamingPipeline resource or the command line cannot be run as given."""


class KafkaSourceError(PipelineError):
    """The Kafka source could not read an offset range it had planned (missing records, broker errors)."""


class SinkError(PipelineError):
    """A Delta or Kafka sink refused a write."""
