"""The producer's exception root: everything ``ecap produce`` raises on purpose derives from it."""

from __future__ import annotations

from ecap.kafka import KafkaSetupError


class ProducerError(KafkaSetupError):
    """The producer cannot start or continue as configured; the message says what to change."""


class MissingTopicError(ProducerError):
    """A target topic does not exist on the broker."""
