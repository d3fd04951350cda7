"""Precision and recall of fraud detection on the generator's data, processed as the runner will.

Three replayed days at a 2 % fraud rate (for statistical power), cut into micro-batches in time
order, with the customer_profiles state carried from batch to batch (MERGE on customer_id).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ecap.generator import ShopGenerator
from ecap.pipeline.analytics.evaluate import FraudEvaluation, evaluate_alerts
from ecap.pipeline.analytics.fraud import fraud_alerts, score_transactions
from ecap.pipeline.analytics.profiles import update_customer_profiles
from ecap.schemas import FRAUD_TYPES
from ecap_operator.api.data_producer import DataProducerSpec
from ecap_operator.api.streaming_pipeline import FraudDetectionSettings
from tests.fixtures.analytics import wire_transactions

START = datetime(2026, 3, 2, tzinfo=UTC)
DAYS = 3
BATCH = timedelta(hours=24)


def run_detection(transactions: DataFrame, settings: FraudDetectionSettings) -> DataFrame:
    """Micro-batches in time order; profiles persisted between them like the runner's MERGE."""
    state: DataFrame | None = None
    alerts: DataFrame | None = None
    begin = START
    while begin < START + timedelta(days=DAYS, hours=1):
        batch = transactions.where((F.col("event_time") >= begin) & (F.col("event_time") < begin + BATCH))
        scored = score_transactions(batch.drop("injected_fraud"), state, settings).localCheckpoint()
        found = fraud_alerts(scored)
        alerts = found if alerts is None else alerts.unionByName(found)
        changed = update_customer_profiles(state, scored)
        kept = (
            state.join(changed.select("customer_id"), "customer_id", "left_anti")
            if state is not None
            else None
        )
        state = (changed if kept is None else kept.unionByName(changed)).localCheckpoint()
        begin += BATCH
    assert alerts is not None
    return alerts


@pytest.fixture(scope="module")
def evaluation(spark: SparkSession) -> FraudEvaluation:
    spec = DataProducerSpec.model_validate(
        {"topics": {"transactions": "transactions"}, "customers": 2000, "seed": 7, "fraud": {"rate": 0.02}}
    )
    values = [
        value
        for chunk in ShopGenerator(spec).replay(START, START + timedelta(days=DAYS), 1000)
        for batch in chunk
        if batch.stream == "transactions"
        for value in batch.values
    ]
    transactions = wire_transactions(spark, values).localCheckpoint()
    result = evaluate_alerts(transactions, run_detection(transactions, FraudDetectionSettings()))
    print(result.summary())  # shown with -s; the numbers the report quotes
    return result


@pytest.mark.slow
def test_overall_precision_and_recall_above_0_8(evaluation: FraudEvaluation) -> None:
    assert evaluation.true_positives + evaluation.false_negatives >= 40  # enough fraud to measure
    assert evaluation.precision > 0.8
    assert evaluation.recall > 0.8


@pytest.mark.slow
def test_every_injected_type_is_present_and_mostly_caught(evaluation: FraudEvaluation) -> None:
    assert set(evaluation.per_type) == set(FRAUD_TYPES)
    for fraud_type, recall in evaluation.per_type.items():
        # one-order types have a handful of cases at this size: allow one miss
        assert recall.detected >= min(recall.injected - 1, 0.8 * recall.injected), fraud_type


@pytest.mark.slow
def test_each_reason_points_at_its_own_fraud_type(evaluation: FraudEvaluation) -> None:
    for reason, stats in evaluation.per_reason.items():
        assert stats.precision > 0.8, reason
        assert stats.same_type >= 0.8 * stats.alerts, reason
