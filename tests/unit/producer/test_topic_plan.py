"""The pure diff behind ``ecap topics apply``."""

from __future__ import annotations

import pytest

from ecap.topics import Action, DesiredTopic, ExistingTopic, TopicApplyError, desired_topics, plan_change
from ecap_operator.api import parse_resource

DESIRED = DesiredTopic(
    "orders", 6, 3, {"retention.ms": "1000", "cleanup.policy": "delete"}, "KafkaTopic/orders"
)


def test_a_missing_topic_is_created_with_replicas_capped_to_the_brokers() -> None:
    change = plan_change(DESIRED, None, broker_count=1)
    assert change.action is Action.CREATED
    assert change.warnings == ("KafkaTopic/orders: replicas 3 capped to 1 (the cluster has 1 broker)",)
    assert change.describe() == "orders: created (6 partitions)"
    assert plan_change(DESIRED, None, broker_count=3).warnings == ()


def test_the_same_topic_is_unchanged() -> None:
    existing = ExistingTopic("orders", 6, {"retention.ms": "1000", "cleanup.policy": "delete", "other": "x"})
    assert plan_change(DESIRED, existing, 1).action is Action.UNCHANGED


def test_config_drift_and_more_partitions_are_alterations() -> None:
    existing = ExistingTopic("orders", 4, {"retention.ms": "5"})
    change = plan_change(DESIRED, existing, 1)
    assert change.action is Action.ALTERED
    assert change.config_changes == {"retention.ms": ("5", "1000"), "cleanup.policy": (None, "delete")}
    assert change.describe() == (
        "orders: altered partitions 4 -> 6 cleanup.policy <default> -> delete retention.ms 5 -> 1000"
    )


def test_fewer_partitions_are_refused_with_the_numbers() -> None:
    with pytest.raises(TopicApplyError, match="has 8 partitions and 6 are declared"):
        plan_change(DESIRED, ExistingTopic("orders", 8, {}), 1)


def test_desired_topics_use_topic_name_and_refuse_duplicates() -> None:
    def topic(name: str, **spec: object) -> object:
        return parse_resource(
            {"apiVersion": "ecap.io/v1alpha1", "kind": "KafkaTopic", "metadata": {"name": name}, "spec": spec}
        )

    resources = [topic("tx-dlq", topicName="tx.dlq", partitions=1), topic("tx", partitions=6)]
    assert [(t.name, t.partitions) for t in desired_topics(resources)] == [("tx.dlq", 1), ("tx", 6)]  # type: ignore[arg-type]
    with pytest.raises(TopicApplyError, match="also declared"):
        desired_topics([topic("a", topicName="tx"), topic("tx")])  # type: ignore[list-item]
