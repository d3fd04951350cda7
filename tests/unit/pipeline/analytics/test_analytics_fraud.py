"""Fraud signals on hand-made batches: each signal alone, within-batch ordering, state across batches."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pyspark.sql import DataFrame, Row, SparkSession

from ecap.pipeline.analytics.fraud import fraud_alert_messages, fraud_alerts, score_transactions
from ecap.pipeline.analytics.profiles import PROFILE_SCHEMA, update_customer_profiles
from ecap.pipeline.analytics.spark_types import spark_schema
from ecap_operator.api.streaming_pipeline import FraudDetectionSettings
from tests.fixtures.analytics import RowsToFrame, utc

SETTINGS = FraudDetectionSettings()
BERLIN: dict[str, Any] = {
    "city": "Berlin",
    "latitude": 52.52,
    "longitude": 13.405,
    "timezone": "Europe/Berlin",
}
POTSDAM: dict[str, Any] = {
    "city": "Potsdam",
    "latitude": 52.39,
    "longitude": 13.065,
    "timezone": "Europe/Berlin",
}
NEW_YORK: dict[str, Any] = {
    "city": "New York",
    "country": "US",
    "latitude": 40.71,
    "longitude": -74.006,
    "timezone": "America/New_York",
}
TOKYO: dict[str, Any] = {
    "city": "Tokyo",
    "country": "JP",
    "latitude": 35.68,
    "longitude": 139.69,
    "timezone": "Asia/Tokyo",
}


def profiles(spark: SparkSession, rows: Sequence[Mapping[str, Any]]) -> DataFrame:
    schema = spark_schema(PROFILE_SCHEMA)
    records = []
    for row in rows:
        full = dict(row)
        for key in ("last_trusted_time", "last_order_time", "first_order_time"):
            if isinstance(full.get(key), str):
                full[key] = utc(full[key])
        full["recent_amounts"] = [Decimal(str(a)) for a in full.get("recent_amounts", [])]
        full["recent_orders"] = [(utc(t), Decimal(str(a))) for t, a in full.get("recent_orders", [])]
        records.append(tuple(full.get(name) for name in schema.fieldNames()))
    return spark.createDataFrame(records, schema)


def tx(tid: str, customer: str, when: str, amount: float = 40.0, **extra: Any) -> dict[str, Any]:
    return {
        "transaction_id": tid,
        "customer_id": customer,
        "event_time": when,
        "total_amount": amount,
        **extra,
    }


def reasons_by_id(scored: DataFrame) -> dict[str, list[str]]:
    return {r["transaction_id"]: sorted(r["fraud_reasons"]) for r in scored.collect()}


# One batch holds every single-batch scenario, each with its own customers: one scoring run.
SCENARIO_PROFILES: list[dict[str, Any]] = [
    # amount: usual spend 25 (median of 20, 25, 30)
    {
        "customer_id": "am1",
        "orders": 3,
        "trusted_orders": 3,
        "recent_amounts": [20, 30, 25],
        "known_devices": ["dev-1"],
    },
    # travel: last seen in Berlin at 10:00
    {
        "customer_id": "tr1",
        "orders": 2,
        "trusted_orders": 2,
        "last_trusted_time": "2026-03-02T10:00:00",
        "last_latitude": 52.52,
        "last_longitude": 13.405,
        "known_devices": ["dev-1"],
        "recent_amounts": [40, 40],
    },
    # night and device: established customers on dev-1
    *[
        {
            "customer_id": c,
            "orders": 3,
            "trusted_orders": 3,
            "known_devices": ["dev-1"],
            "recent_amounts": [40, 40, 40],
        }
        for c in ("nd1", "nd2", "nd3")
    ],
]
SCENARIO_ORDERS: list[dict[str, Any]] = [
    # velocity: six orders in six minutes; six spread over six hours; five in ten minutes (allowed)
    *[tx(f"v-burst{i}", "v1", f"2026-03-02T12:0{i}:00") for i in range(6)],
    *[tx(f"v-calm{i}", "v2", f"2026-03-02T1{i}:00:00") for i in range(6)],
    *[tx(f"v-five{i}", "v3", f"2026-03-02T12:0{2 * i}:00") for i in range(5)],
    # card testing: three tiny orders in five minutes; a tiny one two hours later; a normal one
    # just before the burst; another customer with only two tiny orders
    tx("ct1", "ct1", "2026-03-02T12:00:00", 1.00),
    tx("ct2", "ct1", "2026-03-02T12:02:00", 2.00),
    tx("ct3", "ct1", "2026-03-02T12:05:00", 4.99),
    tx("ct-later", "ct1", "2026-03-02T14:00:00", 4.00),
    tx("ct-normal", "ct1", "2026-03-02T11:58:00", 60.00),
    tx("ct-two1", "ct2", "2026-03-02T12:00:00", 1.00),
    tx("ct-two2", "ct2", "2026-03-02T12:01:00", 1.00),
    # amount: 4.8 x usual; then 3.3 x (median of 20, 25, 30, 120 = 27.5); one earlier order is
    # not a "usual" yet; within one batch, two earlier orders are (median of 50 and 250 = 150)
    tx("am-big", "am1", "2026-03-02T12:00:00", 120.00),
    tx("am-ok", "am1", "2026-03-02T13:00:00", 90.00),
    tx("am-first", "am9", "2026-03-02T12:00:00", 50.00),
    tx("am-second", "am9", "2026-03-02T13:00:00", 250.00),
    tx("am-third", "am9", "2026-03-02T15:00:00", 900.00),
    # travel: New York an hour after Berlin; back home; 27 km away; a first-time customer jumping
    # to Tokyo within the batch; Tokyo again a day later
    tx("tr-ny", "tr1", "2026-03-02T11:00:00", **NEW_YORK),
    tx("tr-home", "tr1", "2026-03-02T11:30:00", **BERLIN),
    tx("tr-near", "tr1", "2026-03-02T11:35:00", **POTSDAM),
    tx("tr-a", "tr2", "2026-03-02T10:00:00", **BERLIN),
    tx("tr-b", "tr2", "2026-03-02T10:30:00", **TOKYO),
    tx("tr-c", "tr2", "2026-03-03T12:00:00", **TOKYO),
    # night (02:00-04:00 local) and unknown devices
    tx("nd-both", "nd1", "2026-03-02T02:30:00", device_id="dev-9"),  # 03:30 in Berlin (CET)
    tx("nd-device", "nd2", "2026-03-02T14:30:00", device_id="dev-9"),
    tx("nd-night", "nd3", "2026-03-02T01:15:00", device_id="dev-1"),  # 02:15 local
    tx("nd-newbie", "nd4", "2026-03-02T14:30:00", device_id="dev-7"),  # no history: nothing is known
    tx("nd-second", "nd4", "2026-03-02T16:30:00", device_id="dev-8"),  # after one order on dev-7
    tx("nd-utc", "nd5", "2026-03-02T02:30:00", timezone="America/New_York"),  # 21:30 local
]


@pytest.fixture(scope="module")
def scored_scenarios(spark: SparkSession, transactions_frame: RowsToFrame) -> DataFrame:
    return score_transactions(
        transactions_frame(SCENARIO_ORDERS), profiles(spark, SCENARIO_PROFILES), SETTINGS
    ).localCheckpoint()


@pytest.fixture(scope="module")
def scenarios(scored_scenarios: DataFrame) -> dict[str, Row]:
    return {r["transaction_id"]: r for r in scored_scenarios.collect()}


def fired(scenarios: dict[str, Row], prefix: str) -> dict[str, list[str]]:
    """Reasons of the scenario's orders that raised any signal."""
    return {
        tid: sorted(r["fraud_reasons"])
        for tid, r in scenarios.items()
        if tid.startswith(prefix) and r["fraud_reasons"]
    }


def test_velocity_flags_every_order_of_a_burst_and_nothing_else(scenarios: dict[str, Row]) -> None:
    assert fired(scenarios, "v-") == {f"v-burst{i}": ["velocity_attack"] for i in range(6)}
    assert scenarios["v-burst0"]["fraud_velocity_count"] == 6


def test_card_testing_needs_enough_tiny_orders_close_together(scenarios: dict[str, Row]) -> None:
    assert fired(scenarios, "ct") == {
        "ct1": ["card_testing"],
        "ct2": ["card_testing"],
        "ct3": ["card_testing"],
    }


def test_amount_far_above_the_customers_median(scenarios: dict[str, Row]) -> None:
    assert fired(scenarios, "am-") == {"am-big": ["amount_anomaly"], "am-third": ["amount_anomaly"]}
    usual = {
        tid: scenarios[tid]["fraud_usual_amount"] for tid in ("am-big", "am-ok", "am-second", "am-third")
    }
    assert usual == {"am-big": 25.0, "am-ok": 27.5, "am-second": None, "am-third": 150.0}


def test_impossible_travel_flags_the_far_order_not_the_return_home(scenarios: dict[str, Row]) -> None:
    assert fired(scenarios, "tr-") == {"tr-ny": ["location_anomaly"], "tr-b": ["location_anomaly"]}
    assert 6300 < scenarios["tr-ny"]["fraud_travel_kmh"] < 6450


def test_night_and_unknown_device_each_alert_and_together_score_higher(scenarios: dict[str, Row]) -> None:
    assert fired(scenarios, "nd-") == {
        "nd-both": ["device_anomaly", "time_anomaly"],
        "nd-device": ["device_anomaly"],
        "nd-night": ["time_anomaly"],
        "nd-second": ["device_anomaly"],
    }
    both, device = scenarios["nd-both"], scenarios["nd-device"]
    assert (both["fraud_score"], both["fraud_severity"], both["is_alert"]) == (0.75, "high", True)
    assert (device["fraud_score"], device["fraud_severity"], device["is_alert"]) == (0.5, "medium", True)


def test_no_signal_means_score_zero_and_no_alert(scenarios: dict[str, Row]) -> None:
    quiet = [r for r in scenarios.values() if not r["fraud_reasons"]]
    assert quiet and all(
        r["fraud_score"] == 0.0 and not r["is_alert"] and r["fraud_severity"] == "low" for r in quiet
    )


def test_a_burst_split_across_micro_batches_counts_as_one(
    spark: SparkSession, transactions_frame: RowsToFrame
) -> None:
    first = transactions_frame([tx(f"b{i}", "c1", f"2026-03-02T12:0{i}:00") for i in range(4)])
    state = update_customer_profiles(None, score_transactions(first, None, SETTINGS))
    second = transactions_frame([tx(f"b{i}", "c1", f"2026-03-02T12:0{i}:00") for i in range(4, 6)])
    assert reasons_by_id(score_transactions(second, state, SETTINGS)) == {
        "b4": ["velocity_attack"],
        "b5": ["velocity_attack"],
    }


def test_alerts_and_wire_messages(scored_scenarios: DataFrame, scenarios: dict[str, Row]) -> None:
    alerts = {r["transaction_id"]: r for r in fraud_alerts(scored_scenarios).collect()}
    assert set(alerts) == {tid for tid, r in scenarios.items() if r["is_alert"]}
    # the id depends on the transaction id alone, so a replayed batch MERGEs onto the same alert
    digest = hashlib.sha256(b"fraud-alert/v-burst0").hexdigest()[:32]
    assert alerts["v-burst0"]["alert_id"] == f"alert_{digest}"
    assert alerts["v-burst0"]["event_date"] == date(2026, 3, 2)
    messages = {
        r["key"]: json.loads(r["value"])
        for r in fraud_alert_messages(
            fraud_alerts(scored_scenarios).where("transaction_id = 'v-burst0'")
        ).collect()
    }
    assert messages == {
        "v-burst0": {
            "alert_id": f"alert_{digest}",
            "transaction_id": "v-burst0",
            "customer_id": "v1",
            "score": 0.75,
            "reasons": ["velocity_attack"],
            "severity": "high",
            "timestamp": "2026-03-02T12:00:00.000Z",
        }
    }


def test_profile_update_learns_only_from_trusted_orders(
    spark: SparkSession, transactions_frame: RowsToFrame
) -> None:
    state = profiles(
        spark,
        [
            {
                "customer_id": "c1",
                "orders": 2,
                "trusted_orders": 2,
                "trusted_amount_total": Decimal("50.00"),
                "recent_amounts": [20, 30],
                "first_order_time": "2026-03-01T09:00:00",
                "last_order_time": "2026-03-01T10:00:00",
                "last_trusted_time": "2026-03-01T10:00:00",
                "last_latitude": 52.52,
                "last_longitude": 13.405,
                "home_country": "DE",
                "known_devices": ["dev-0", "dev-1"],
                "recent_orders": [("2026-03-01T10:00:00", 30)],
            }
        ],
    )
    rows = [
        tx("fine", "c1", "2026-03-02T12:00:00", 35.00, device_id="dev-0", **POTSDAM),
        tx("fraud", "c1", "2026-03-02T12:30:00", 900.00, device_id="dev-6", **TOKYO),
        tx("new", "c3", "2026-03-02T13:00:00", 12.00, country="FR"),
    ]
    scored = score_transactions(transactions_frame(rows), state, SETTINGS)
    updated = {r["customer_id"]: r.asDict() for r in update_customer_profiles(state, scored).collect()}
    c1 = updated["c1"]
    assert (c1["orders"], c1["trusted_orders"], c1["trusted_amount_total"]) == (4, 3, Decimal("85.00"))
    assert c1["recent_amounts"] == [Decimal("20.00"), Decimal("30.00"), Decimal("35.00")]
    assert c1["known_devices"] == ["dev-1", "dev-0"]  # most recently used last; dev-6 not learned
    assert (c1["last_latitude"], c1["last_longitude"]) == (52.39, 13.065)
    assert c1["home_country"] == "DE"
    assert [a for _, a in c1["recent_orders"]] == [
        Decimal("35.00"),
        Decimal("900.00"),
    ]  # a day old order aged out
    c3 = updated["c3"]
    assert (c3["orders"], c3["trusted_orders"], c3["home_country"], c3["known_devices"]) == (
        1,
        1,
        "FR",
        ["dev-1"],
    )
