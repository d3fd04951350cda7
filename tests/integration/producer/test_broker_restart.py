"""The broker dies and comes back on the same port while the producer runs.

The embedded broker keeps records in memory, so its restart loses every record it had acknowledged:
what can be checked honestly is that the producer survives (a new idempotent producer replaces the
one whose state the broker forgot), resumes, accounts for every record, and that everything
acknowledged after the restart is on the new broker. That records acknowledged before a crash stay
readable is a property of a durable broker (real Kafka with replication), not testable here.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from ecap.broker import EmbeddedBroker
from ecap.producer import DeliverySettings, ProduceReport, RetryPolicy, run_producers
from tests.fixtures.producer import consume, numbered_source, producer_resources

TOPIC = "tx-restart"


def create_topic(broker: EmbeddedBroker, partitions: int = 3) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    try:
        admin.create_topics([NewTopic(TOPIC, partitions, 1)])[TOPIC].result(15)
    except KafkaException as err:
        if "already exists" not in str(err).lower():
            raise


@pytest.mark.slow
def test_producer_recovers_from_a_broker_restart_and_accounts_for_every_record(
    dedicated_broker: EmbeddedBroker,
) -> None:
    create_topic(dedicated_broker)
    resources = producer_resources({"transactions": TOPIC}, rate=2000)
    stop = threading.Event()
    phase: dict[str, Any] = {}

    def progress(report: ProduceReport) -> None:
        if "killed" not in phase and report.delivered >= 500:
            assert dedicated_broker.process is not None
            dedicated_broker.process.kill()
            dedicated_broker.process.wait()
            dedicated_broker.process = None
            phase["killed"] = time.monotonic()
        elif "killed" in phase and "restarted" not in phase and time.monotonic() - phase["killed"] > 1.5:
            phase["delivered_before"] = report.delivered  # acks cannot arrive while the broker is down
            dedicated_broker.start()
            create_topic(dedicated_broker)
            phase["restarted"] = time.monotonic()
        elif "restarted" in phase and report.delivered >= phase["delivered_before"] + 1000:
            stop.set()
        elif "restarted" in phase and time.monotonic() - phase["restarted"] > 60:
            stop.set()  # a deadline for the test; the assertions below then say what did not recover

    # librdkafka rides out the outage itself; the restarted broker has forgotten the idempotent producer
    # (UNKNOWN_PRODUCER_ID, fatal), so our layer must replace the client and re-produce its records.
    settings = DeliverySettings(
        message_timeout_s=30.0, stall_timeout_s=2.0, retry=RetryPolicy(max_attempts=5, base_s=0.2, cap_s=1.0)
    )
    report = run_producers(
        resources,
        dedicated_broker.bootstrap_servers,
        stop_event=stop,
        progress_callback=progress,
        progress_interval_s=0.1,
        flush_timeout_s=20.0,
        settings=settings,
        source_factory=numbered_source(per_batch=50),
    )

    assert "restarted" in phase, "the broker was never restarted"
    # Every record is accounted for: delivered before the crash, delivered after it, or failed with a reason.
    assert report.finished and report.unaccounted == 0, report.summary()
    assert report.produced == report.delivered + report.dead_lettered + report.failed
    assert report.failed == 0, report.summary()  # the broker came back in time: nothing was given up
    assert report.topics[TOPIC].retries > 0  # records caught by the outage were produced again
    assert report.client_rebuilds >= 1  # on a new idempotent producer
    delivered_after = report.delivered - phase["delivered_before"]
    assert delivered_after >= 1000  # it resumed
    # Everything acknowledged after the restart is on the new broker (duplicates possible: at-least-once).
    records = consume(dedicated_broker.bootstrap_servers, TOPIC, delivered_after, timeout=30)
    assert len({json.loads(m.value())["seq"] for m in records}) == delivered_after
