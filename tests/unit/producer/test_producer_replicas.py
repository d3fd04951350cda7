"""DataProducer replicas > 1: every pod draws its own stream in live mode (env ECAP_POD_NAME)."""

from __future__ import annotations

import pytest

from ecap.producer import producer_jobs
from ecap.producer.runner import pod_instance
from tests.fixtures.producer import producer_resources


def test_outside_a_pod_the_stream_is_the_seed_s_own() -> None:
    assert pod_instance(None) == 0
    assert pod_instance("") == 0


def test_stateful_set_ordinals_give_stable_distinct_instances() -> None:
    assert [pod_instance(f"shop-producer-{i}") for i in range(3)] == [1, 2, 3]


def test_deployment_pods_get_distinct_stable_instances_from_their_names() -> None:
    a, b = pod_instance("shop-producer-7d9f8c6b5-x2k4q"), pod_instance("shop-producer-7d9f8c6b5-pq8zt")
    assert a != b and a > 0 and b > 0
    assert a == pod_instance("shop-producer-7d9f8c6b5-x2k4q")


def test_live_producers_take_their_instance_from_the_pod_name(monkeypatch: pytest.MonkeyPatch) -> None:
    resources = producer_resources({"transactions": "tx"}, mode="realtime")
    monkeypatch.setenv("ECAP_POD_NAME", "shop-producer-4")
    [job] = producer_jobs(resources, "kafka:9092")
    assert job.plan.mode == "realtime" and job.plan.instance == 5
    monkeypatch.delenv("ECAP_POD_NAME")
    [job] = producer_jobs(resources, "kafka:9092")
    assert job.plan.instance == 0


def test_a_replay_stays_the_seed_s_reproducible_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECAP_POD_NAME", "shop-producer-4")
    [job] = producer_jobs(producer_resources({"transactions": "tx"}), "kafka:9092", replay=True)
    assert job.plan.mode == "replay" and job.plan.instance == 0
