"""What to do with a record whose delivery failed: a pure decision on the Kafka error code.

Three outcomes, chosen so that no record is silently lost:

- ``RETRY``: the error is about the path, not the record (timeouts, broker down, leader moves, the
  idempotent producer losing its state after a broker restart). The record is produced again after
  an exponential backoff with jitter, up to a bounded number of attempts.
- ``DEAD_LETTER``: the record itself can never be accepted (too large, invalid, not authorised);
  it goes to ``<topic>.dlq`` with the reason in headers.
- ``FAIL``: anything else; counted under its reason and logged. Unknown codes land here rather
  than being retried forever.
"""

from __future__ import annotations

import enum
from typing import Final

from confluent_kafka import KafkaError


class Disposition(enum.Enum):
    RETRY = "retry"
    DEAD_LETTER = "dead_letter"
    FAIL = "fail"


# librdkafka already retries these inside one produce() call; they reach a delivery report only when
# message.timeout.ms ran out or the idempotent producer could not safely retry, so one more
# application-level attempt on a fresh producer is the right answer.
RETRIABLE_CODES: Final = frozenset(
    {
        KafkaError._MSG_TIMED_OUT,
        KafkaError._TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._UNKNOWN_PARTITION,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.NETWORK_EXCEPTION,
        KafkaError.NOT_ENOUGH_REPLICAS,
        KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.KAFKA_STORAGE_ERROR,
        KafkaError.THROTTLING_QUOTA_EXCEEDED,
        # The idempotent producer's state is gone (e.g. the broker restarted): a new producer id fixes it.
        KafkaError.UNKNOWN_PRODUCER_ID,
        KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
        KafkaError.INVALID_PRODUCER_EPOCH,
        KafkaError._FATAL,
        KafkaError._PURGE_QUEUE,
        KafkaError._PURGE_INFLIGHT,
    }
)

# The record is the problem: sending it again can only fail again.
PERMANENT_CODES: Final = frozenset(
    {
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.INVALID_MSG_SIZE,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError.INVALID_MSG,
        KafkaError.INVALID_RECORD,
        KafkaError.INVALID_TIMESTAMP,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.POLICY_VIOLATION,
    }
)


def classify(code: int, retriable_hint: bool = False) -> Disposition:
    """The disposition of a failed record from its error code (``retriable_hint``: KafkaError.retriable())."""
    if code in PERMANENT_CODES:
        return Disposition.DEAD_LETTER
    if code in RETRIABLE_CODES or retriable_hint:
        return Disposition.RETRY
    return Disposition.FAIL


def reason_of(code: int) -> str:
    """A stable, label-friendly name for an error code (``MSG_SIZE_TOO_LARGE``, ``_MSG_TIMED_OUT``)."""
    return ERROR_NAMES.get(code, f"ERR_{code}")


ERROR_NAMES: Final[dict[int, str]] = {
    value: name for name, value in vars(KafkaError).items() if isinstance(value, int) and name.upper() == name
}
