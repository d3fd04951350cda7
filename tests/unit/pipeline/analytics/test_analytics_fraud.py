"""Fraud signals on hand-made batches: each signal alone, within-batch ordering, state across batches."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ecap.pipeline.analytics.fraud import fraud_alert_messages, fraud_alerts, score_transactions
from ecap.pipeline.analytics.profiles import update_customer_profiles
from ecap_operator.api.streaming_pipeline import FraudDetectionSettings
from tests.fixtures.analytics import RowsToFrame

SETTINGS = FraudDetectionSettings()


def reasons_by_id(scored: DataFrame) -> dict[str, list[str]]:
    return {r["transaction_id"]: sorted(r["fraud_reasons"]) for r in scored.collect()}


def test_velocity_flags_every_order_of_a_burst_and_nothing_else(transactions_frame: RowsToFrame) -> None:
    burst = [
        {"transaction_id": f"b{i}", "customer_id": "c1", "event_time": f"2026-03-02T12:0{i}:00", "total_amount": 40.0}
        for i in range(6)
    ]
    calm = [
        {"transaction_id": f"n{i}", "customer_id": "c2", "event_time": f"2026-03-02T1{i}:00:00", "total_amount": 40.0}
        for i in range(6)
    ]
    scored = score_transactions(transactions_frame(burst + calm), None, SETTINGS)
    reasons = reasons_by_id(scored)
    assert all(reasons[f"b{i}"] == ["velocity_attack"] for i in range(6))
    assert all(reasons[f"n{i}"] == [] for i in range(6))
