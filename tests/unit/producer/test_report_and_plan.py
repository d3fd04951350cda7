"""Run planning (mode, rate, replay window) and the final account, without a broker."""

from __future__ import annotations

from datetime import date

import pytest

from ecap.producer import ProduceReport, ProducerError, TopicReport, plan_for, producer_jobs
from ecap.producer.runner import resolve_metrics_port
from ecap_operator.api import DataProducerSpec, ResourceError
from tests.fixtures.producer import producer_resources

TODAY = date(2026, 11, 30)


def spec(**fields: object) -> DataProducerSpec:
    return DataProducerSpec.model_validate({"topics": {"transactions": "tx"}, **fields})


def test_realtime_by_default_with_the_spec_rate_or_the_override() -> None:
    assert plan_for(spec(rate=50), today=TODAY).mode == "realtime"
    assert plan_for(spec(rate=50), today=TODAY).rate == 50
    assert plan_for(spec(rate=50), rate=7, today=TODAY).rate == 7


def test_replay_covers_the_backfill_days_up_to_yesterday() -> None:
    plan = plan_for(spec(mode="replay", backfill={"days": 3, "eventsPerDay": 100}), today=TODAY)
    assert (plan.mode, plan.replay_start, plan.replay_end, plan.events_per_day) == (
        "replay",
        date(2026, 11, 27),
        date(2026, 11, 29),
        100,
    )


def test_replay_days_override_implies_replay_and_respects_a_declared_end() -> None:
    plan = plan_for(spec(backfill={"days": 90, "end": "2026-06-30"}), replay_days=2, today=TODAY)
    assert (plan.mode, plan.replay_start, plan.replay_end) == ("replay", date(2026, 6, 29), date(2026, 6, 30))
    assert plan_for(spec(), replay=True, today=TODAY).events_per_day == 2000  # BackfillSettings defaults


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"rate": 0}, "--rate"), ({"replay_days": 0}, "--replay-days")]
)
def test_bad_overrides_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ProducerError, match=message):
        plan_for(spec(), today=TODAY, **kwargs)  # type: ignore[arg-type]


def test_jobs_resolve_broker_topic_names_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ECAP_BOOTSTRAP_SERVERS", raising=False)
    resources = producer_resources(
        {"transactions": "orders.v1", "user-events": "clicks"}, seed=1, deadLetter=False
    )
    [job] = producer_jobs(resources, "kafka:9092", seed=99, events=10)
    assert job.topics == {"transactions": "orders.v1", "user-events": "clicks"}
    assert job.resource.spec.seed == 99
    assert job.config["bootstrap.servers"] == "kafka:9092"
    assert job.events_limit == 10
    assert job.settings.dead_letter is False


def test_a_file_without_producers_or_with_dangling_references_is_refused() -> None:
    resources = producer_resources({"transactions": "tx"})
    with pytest.raises(ProducerError, match="no DataProducer"):
        producer_jobs(resources[:-1], "kafka:9092")
    with pytest.raises(ResourceError, match="is not declared"):
        producer_jobs(resources[-1:], "kafka:9092")


def test_metrics_port_flag_then_env_then_spec() -> None:
    resources = producer_resources({"transactions": "tx"}, metricsPort=9100)
    assert resolve_metrics_port(resources, 9200, env={"ECAP_METRICS_PORT": "9300"}) == 9200
    assert resolve_metrics_port(resources, None, env={"ECAP_METRICS_PORT": "9300"}) == 9300
    assert resolve_metrics_port(resources, None, env={}) == 9100
    with pytest.raises(ProducerError, match="not a port"):
        resolve_metrics_port(resources, None, env={"ECAP_METRICS_PORT": "http"})


def test_the_report_accounts_for_every_record() -> None:
    report = ProduceReport(
        topics={
            "a": TopicReport(produced=10, delivered=7, dead_lettered=2, failed={"SHUTDOWN_DEADLINE": 1}),
            "b": TopicReport(produced=5, delivered=5),
        },
        elapsed_s=2.0,
    )
    assert (report.produced, report.delivered, report.dead_lettered, report.failed) == (15, 12, 2, 1)
    assert report.unaccounted == 0
    assert not report.ok  # one record failed
    assert "SHUTDOWN_DEADLINE: 1" in report.summary()
    report.topics["a"].failed.clear()
    assert report.unaccounted == 1 and not report.ok
    report.topics["a"].delivered += 1
    assert report.ok
