"""Deliver generated shop events to Kafka with an exact account of every record.

Public API (what ``ecap produce`` and ``ecap up`` call)::

    from ecap.producer import run_producers
    report = run_producers(load_resources("platform.yaml"), "127.0.0.1:9092", events=10_000)
    assert report.ok, report.summary()
"""

from ecap.producer.delivery import DeliveryEngine, DeliverySettings, TopicStats
from ecap.producer.errors import MissingTopicError, ProducerError
from ecap.producer.retry import RetryPolicy
from ecap.producer.runner import (
    EventBatchLike,
    ProduceReport,
    RunPlan,
    TopicReport,
    install_signal_handlers,
    plan_for,
    producer_jobs,
    run_producers,
)

__all__ = [
    "DeliveryEngine",
    "DeliverySettings",
    "EventBatchLike",
    "MissingTopicError",
    "ProduceReport",
    "ProducerError",
    "RetryPolicy",
    "RunPlan",
    "TopicReport",
    "TopicStats",
    "install_signal_handlers",
    "plan_for",
    "producer_jobs",
    "run_producers",
]
