"""``apply_topics`` as ``ecap up`` calls it: bootstrap string in, list of TopicChange out."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka.admin import AdminClient

from ecap.broker import EmbeddedBroker
from ecap.topics import Action, TopicApplyError, apply_topics
from ecap_operator.api import parse_resource


def topic(name: str, **spec: object) -> object:
    return parse_resource(
        {"apiVersion": "ecap.io/v1alpha1", "kind": "KafkaTopic", "metadata": {"name": name}, "spec": spec}
    )


def test_dry_run_changes_nothing_then_apply_creates_then_nothing_to_do(broker: EmbeddedBroker) -> None:
    name = f"clicks-{uuid.uuid4().hex[:6]}"
    producer = parse_resource(
        {"apiVersion": "ecap.io/v1alpha1", "kind": "DataProducer", "metadata": {"name": "p"},
         "spec": {"topics": {"userEvents": "clicks"}}}
    )  # fmt: skip
    resources = [
        topic("clicks", topicName=name, partitions=3, retentionMs=5000),
        producer,
    ]  # other kinds ignored

    planned = apply_topics(resources, broker.bootstrap_servers, dry_run=True)  # type: ignore[arg-type]
    assert [(c.topic, c.action) for c in planned] == [(name, Action.CREATED)]
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    assert name not in admin.list_topics(timeout=10).topics

    created = apply_topics(resources, broker.bootstrap_servers)  # type: ignore[arg-type]
    assert [(c.topic, c.action, c.partitions) for c in created] == [(name, Action.CREATED, 3)]
    assert len(admin.list_topics(timeout=10).topics[name].partitions) == 3

    again = apply_topics(resources, broker.bootstrap_servers)  # type: ignore[arg-type]
    assert [(c.topic, c.action) for c in again] == [(name, Action.UNCHANGED)]


def test_a_refused_decrease_touches_no_topic(broker: EmbeddedBroker) -> None:
    big, small = f"big-{uuid.uuid4().hex[:6]}", f"small-{uuid.uuid4().hex[:6]}"
    apply_topics([topic("big", topicName=big, partitions=4)], broker.bootstrap_servers)  # type: ignore[list-item]

    with pytest.raises(TopicApplyError, match="cannot remove partitions"):
        apply_topics(
            [topic("small", topicName=small), topic("big", topicName=big, partitions=2)],  # type: ignore[list-item]
            broker.bootstrap_servers,
        )

    assert (
        small
        not in AdminClient({"bootstrap.servers": broker.bootstrap_servers}).list_topics(timeout=10).topics
    )
