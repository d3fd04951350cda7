"""Pure decisions: what a failed record becomes, and how long a retry waits."""

from __future__ import annotations

import random

import pytest
from confluent_kafka import KafkaError

from ecap.producer.classify import Disposition, classify, reason_of
from ecap.producer.retry import RetryPolicy


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (KafkaError._MSG_TIMED_OUT, Disposition.RETRY),
        (KafkaError._TRANSPORT, Disposition.RETRY),
        (KafkaError.NOT_LEADER_FOR_PARTITION, Disposition.RETRY),
        (KafkaError.UNKNOWN_PRODUCER_ID, Disposition.RETRY),
        (KafkaError._PURGE_INFLIGHT, Disposition.RETRY),
        (KafkaError.MSG_SIZE_TOO_LARGE, Disposition.DEAD_LETTER),
        (KafkaError.TOPIC_AUTHORIZATION_FAILED, Disposition.DEAD_LETTER),
        (KafkaError.INVALID_RECORD, Disposition.DEAD_LETTER),
        (KafkaError.CLUSTER_AUTHORIZATION_FAILED, Disposition.FAIL),
        (KafkaError.UNKNOWN_TOPIC_OR_PART, Disposition.FAIL),
    ],
)
def test_classify(code: int, expected: Disposition) -> None:
    assert classify(code) is expected


def test_a_code_librdkafka_calls_retriable_is_retried_even_if_we_do_not_list_it() -> None:
    assert classify(KafkaError.COORDINATOR_NOT_AVAILABLE, retriable_hint=True) is Disposition.RETRY
    assert classify(KafkaError.COORDINATOR_NOT_AVAILABLE) is Disposition.FAIL


def test_a_permanent_code_wins_over_a_retriable_hint() -> None:
    assert classify(KafkaError.MSG_SIZE_TOO_LARGE, retriable_hint=True) is Disposition.DEAD_LETTER


def test_reason_names_are_the_kafka_error_names() -> None:
    assert reason_of(KafkaError.MSG_SIZE_TOO_LARGE) == "MSG_SIZE_TOO_LARGE"
    assert reason_of(KafkaError._MSG_TIMED_OUT) == "_MSG_TIMED_OUT"
    assert reason_of(123456) == "ERR_123456"


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    policy = RetryPolicy(max_attempts=10, base_s=0.5, cap_s=4.0)
    rng = random.Random(1)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 4.0), (9, 4.0)]:
        delays = [policy.delay(attempt, rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), attempt
        assert max(delays) - min(delays) > ceiling / 4  # jitter spreads retries out
