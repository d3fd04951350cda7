"""Fraud signals on hand-made batches: each signal alone, within-batch ordering, state across batches."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from ecap.pipeline.analytics.fraud import alert_id, fraud_alert_messages, fraud_alerts, score_transactions
from ecap.pipeline.analytics.profiles import PROFILE_SCHEMA, update_customer_profiles
from ecap.pipeline.analytics.spark_types import spark_schema
from ecap_operator.api.streaming_pipeline import FraudDetectionSettings
from tests.fixtures.analytics import RowsToFrame, utc

SETTINGS = FraudDetectionSettings()
BERLIN = {"city": "Berlin", "latitude": 52.52, "longitude": 13.405, "timezone": "Europe/Berlin"}
POTSDAM = {"city": "Potsdam", "latitude": 52.39, "longitude": 13.065, "timezone": "Europe/Berlin"}
NEW_YORK = {
    "city": "New York",
    "country": "US",
    "latitude": 40.71,
    "longitude": -74.006,
    "timezone": "America/New_York",
}
TOKYO = {"city": "Tokyo", "country": "JP", "latitude": 35.68, "longitude": 139.69, "timezone": "Asia/Tokyo"}


def profiles(spark: SparkSession, rows: list[Mapping[str, Any]]) -> DataFrame:
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


def test_velocity_flags_every_order_of_a_burst_and_nothing_else(transactions_frame: RowsToFrame) -> None:
    burst = [tx(f"b{i}", "c1", f"2026-03-02T12:0{i}:00") for i in range(6)]
    calm = [tx(f"n{i}", "c2", f"2026-03-02T1{i}:00:00") for i in range(6)]
    # five orders in ten minutes is the allowed maximum
    allowed = [tx(f"a{i}", "c3", f"2026-03-02T12:0{2 * i}:00") for i in range(5)]
    scored = score_transactions(transactions_frame(burst + calm + allowed), None, SETTINGS)
    reasons = reasons_by_id(scored)
    assert {tid: r for tid, r in reasons.items() if r} == {f"b{i}": ["velocity_attack"] for i in range(6)}


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


def test_card_testing_needs_enough_tiny_orders_close_together(transactions_frame: RowsToFrame) -> None:
    rows = [
        tx("t1", "c1", "2026-03-02T12:00:00", 1.00),
        tx("t2", "c1", "2026-03-02T12:02:00", 2.00),
        tx("t3", "c1", "2026-03-02T12:05:00", 4.99),
        tx("t4", "c1", "2026-03-02T14:00:00", 4.00),  # two hours later: alone
        tx("t5", "c1", "2026-03-02T11:58:00", 60.00),  # inside the burst window but not tiny
        tx("u1", "c2", "2026-03-02T12:00:00", 1.00),
        tx("u2", "c2", "2026-03-02T12:01:00", 1.00),  # only two
    ]
    reasons = reasons_by_id(score_transactions(transactions_frame(rows), None, SETTINGS))
    assert {tid: r for tid, r in reasons.items() if r} == {
        "t1": ["card_testing"],
        "t2": ["card_testing"],
        "t3": ["card_testing"],
    }


def test_amount_far_above_the_customers_median(spark: SparkSession, transactions_frame: RowsToFrame) -> None:
    state = profiles(
        spark,
        [
            {
                "customer_id": "c1",
                "orders": 3,
                "trusted_orders": 3,
                "recent_amounts": [20, 30, 25],
                "known_devices": ["dev-1"],
            }
        ],
    )
    rows = [
        tx("big", "c1", "2026-03-02T12:00:00", 120.00),  # 4.8 x 25
        tx("ok", "c1", "2026-03-02T13:00:00", 90.00),  # median now 27.5 (20, 25, 30, 120): 3.3 x
        tx("first", "c9", "2026-03-02T12:00:00", 5000.00),  # no history: nothing to compare with
        tx("second", "c9", "2026-03-02T15:00:00", 25000.00),  # 5 x the first order of the same batch
    ]
    scored = score_transactions(transactions_frame(rows), state, SETTINGS)
    assert reasons_by_id(scored) == {
        "big": ["amount_anomaly"],
        "ok": [],
        "first": [],
        "second": ["amount_anomaly"],
    }
    usual = {r["transaction_id"]: r["fraud_usual_amount"] for r in scored.collect()}
    assert usual == {"big": 25.0, "ok": 27.5, "first": None, "second": 5000.0}


def test_impossible_travel_flags_the_far_order_not_the_return_home(
    spark: SparkSession, transactions_frame: RowsToFrame
) -> None:
    state = profiles(
        spark,
        [
            {
                "customer_id": "c1",
                "orders": 2,
                "trusted_orders": 2,
                "last_trusted_time": "2026-03-02T10:00:00",
                "last_latitude": 52.52,
                "last_longitude": 13.405,
                "known_devices": ["dev-1"],
                "recent_amounts": [40, 40],
            }
        ],
    )
    rows = [
        tx("ny", "c1", "2026-03-02T11:00:00", **NEW_YORK),  # 6,385 km in one hour
        tx("home", "c1", "2026-03-02T11:30:00", **BERLIN),  # back where the customer lives
        tx("near", "c1", "2026-03-02T11:35:00", **POTSDAM),  # 27 km: city-scale
        tx("a", "c2", "2026-03-02T10:00:00", **BERLIN),
        tx("b", "c2", "2026-03-02T10:30:00", **TOKYO),  # first-time customer, within the batch
        tx("c", "c2", "2026-03-03T12:00:00", **TOKYO),  # a day later: flights exist
    ]
    scored = score_transactions(transactions_frame(rows), state, SETTINGS)
    assert reasons_by_id(scored) == {
        "ny": ["location_anomaly"],
        "home": [],
        "near": [],
        "a": [],
        "b": ["location_anomaly"],
        "c": [],
    }
    speed = {r["transaction_id"]: r["fraud_travel_kmh"] for r in scored.collect()}
    assert 6300 < speed["ny"] < 6450


def test_night_and_unknown_device_alert_together_not_alone(
    spark: SparkSession, transactions_frame: RowsToFrame
) -> None:
    state = profiles(
        spark,
        [
            {
                "customer_id": c,
                "orders": 3,
                "trusted_orders": 3,
                "known_devices": ["dev-1"],
                "recent_amounts": [40, 40, 40],
            }
            for c in ("c1", "c2", "c3")
        ],
    )
    rows = [
        tx("both", "c1", "2026-03-02T02:30:00", device_id="dev-9"),  # 03:30 in Berlin (CET)
        tx("device", "c2", "2026-03-02T14:30:00", device_id="dev-9"),
        tx("night", "c3", "2026-03-02T01:15:00", device_id="dev-1"),  # 02:15 local
        tx("newbie", "c4", "2026-03-02T14:30:00", device_id="dev-7"),  # not established: any device is new
        tx("utc-night", "c5", "2026-03-02T02:30:00", timezone="America/New_York"),  # 21:30 local
    ]
    scored = {
        r["transaction_id"]: r
        for r in score_transactions(transactions_frame(rows), state, SETTINGS).collect()
    }
    assert sorted(scored["both"]["fraud_reasons"]) == ["device_anomaly", "time_anomaly"]
    assert scored["both"]["fraud_score"] == 0.61 and scored["both"]["is_alert"]
    assert scored["both"]["fraud_severity"] == "medium"
    assert scored["device"]["fraud_reasons"] == ["device_anomaly"] and not scored["device"]["is_alert"]
    assert scored["night"]["fraud_reasons"] == ["time_anomaly"] and not scored["night"]["is_alert"]
    assert scored["newbie"]["fraud_reasons"] == [] and scored["utc-night"]["fraud_reasons"] == []


def test_alerts_and_wire_messages_are_deterministic(transactions_frame: RowsToFrame) -> None:
    batch = transactions_frame(
        [tx(f"b{i}", "c1", f"2026-03-02T12:0{i}:00") for i in range(6)]
        + [tx("ok", "c2", "2026-03-02T12:00:00")]
    )
    alerts = fraud_alerts(score_transactions(batch, None, SETTINGS))
    again = fraud_alerts(score_transactions(batch, None, SETTINGS))
    assert sorted(r["alert_id"] for r in alerts.collect()) == sorted(r["alert_id"] for r in again.collect())
    assert alerts.count() == 6
    messages = {r["key"]: json.loads(r["value"]) for r in fraud_alert_messages(alerts).collect()}
    first_id = (
        alerts.sparkSession.range(1)
        .select(alert_id(__import__("pyspark.sql.functions", fromlist=["lit"]).lit("b0")))
        .first()
    )
    assert first_id is not None
    assert messages["b0"] == {
        "alert_id": first_id[0],
        "transaction_id": "b0",
        "customer_id": "c1",
        "score": 0.75,
        "reasons": ["velocity_attack"],
        "severity": "high",
        "timestamp": "2026-03-02T12:00:00.000Z",
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
                "known_devices": ["dev-1"],
                "recent_orders": [("2026-03-01T10:00:00", 30)],
            }
        ],
    )
    rows = [
        tx("fine", "c1", "2026-03-02T12:00:00", 35.00, device_id="dev-2", **POTSDAM),
        tx("fraud", "c1", "2026-03-02T12:30:00", 900.00, device_id="dev-6", **TOKYO),
        tx("new", "c3", "2026-03-02T13:00:00", 12.00, country="FR"),
    ]
    scored = score_transactions(transactions_frame(rows), state, SETTINGS)
    updated = {r["customer_id"]: r.asDict() for r in update_customer_profiles(state, scored).collect()}
    c1 = updated["c1"]
    assert (c1["orders"], c1["trusted_orders"], c1["trusted_amount_total"]) == (4, 3, Decimal("85.00"))
    assert c1["recent_amounts"] == [Decimal("20.00"), Decimal("30.00"), Decimal("35.00")]
    assert c1["known_devices"] == ["dev-1", "dev-2"]
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
