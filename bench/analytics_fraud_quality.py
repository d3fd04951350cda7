"""Fraud detection quality on generator data: precision and recall, overall and per fraud type.

Replays a period of the synthetic shop (transactions only), parses it with the pipeline's own
parser, cuts it into micro-batches in time order and runs ``score_transactions`` ->
``fraud_alerts`` -> ``update_customer_profiles`` with the profile state carried between batches
(MERGE on customer_id), exactly as the runner does; then ``evaluate_alerts`` against the label.

    python bench/analytics_fraud_quality.py                      # default fraud rate 0.1 %, 14 days
    python bench/analytics_fraud_quality.py --rate 0.02 --days 7 --events-per-day 3000
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ecap.generator import ShopGenerator
from ecap.pipeline.analytics.evaluate import evaluate_alerts
from ecap.pipeline.analytics.fraud import fraud_alerts, score_transactions
from ecap.pipeline.analytics.profiles import update_customer_profiles
from ecap.pipeline.parsing import parse_and_validate
from ecap.pipeline.tables import EVENT_TABLES
from ecap.schemas import LABEL_FIELD
from ecap.spark import get_spark
from ecap_operator.api.data_producer import DataProducerSpec
from ecap_operator.api.streaming_pipeline import FraudDetectionSettings, QualitySettings


def clean_transactions(spark: SparkSession, values: list[bytes], timestamps: list[int]) -> DataFrame:
    raw = spark.createDataFrame(
        [
            ("transactions", 0, i, datetime.fromtimestamp(ts / 1000, UTC), None, v)
            for i, (v, ts) in enumerate(zip(values, timestamps, strict=True))
        ],
        "topic string, partition int, offset long, timestamp timestamp, key binary, value binary",
    )
    parsed = parse_and_validate(raw, "transactions", QualitySettings()).localCheckpoint()
    failed = parsed.where(F.size("_failed_rules") > 0)
    if failed.count():
        failed.groupBy(F.explode("_failed_rules").alias("rule")).count().show(truncate=False)
    columns = [f.name for f in EVENT_TABLES["transactions"].schema]
    return parsed.where(F.size("_failed_rules") == 0).select(*columns).localCheckpoint()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=0.001)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--events-per-day", type=int, default=3000)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--batch-hours", type=float, default=12.0)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    spark = get_spark("bench-fraud-quality")
    spec = DataProducerSpec.model_validate(
        {
            "topics": {"transactions": "transactions"},
            "customers": args.customers,
            "seed": args.seed,
            "fraud": {"rate": args.rate},
        }
    )
    start = datetime(2026, 3, 2, tzinfo=UTC)
    end = start + timedelta(days=args.days)
    began = time.perf_counter()
    values: list[bytes] = []
    stamps: list[int] = []
    for chunk in ShopGenerator(spec).replay(start, end, args.events_per_day):
        for records in chunk:
            if records.stream == "transactions":
                values += records.values
                stamps += records.timestamps_ms
    transactions = clean_transactions(spark, values, stamps)
    print(f"generated and parsed {transactions.count()} transactions in {time.perf_counter() - began:.1f}s")

    settings = FraudDetectionSettings()
    state: DataFrame | None = None
    alerts: list[DataFrame] = []
    step = timedelta(hours=args.batch_hours)
    begin, batches = start, 0
    scoring = time.perf_counter()
    while begin < end + timedelta(hours=1):
        batch = transactions.where((F.col("event_time") >= begin) & (F.col("event_time") < begin + step))
        scored = score_transactions(batch.drop(LABEL_FIELD), state, settings).localCheckpoint()
        alerts.append(fraud_alerts(scored).localCheckpoint())
        changed = update_customer_profiles(state, scored)
        kept = (
            state.join(changed.select("customer_id"), "customer_id", "left_anti")
            if state is not None
            else None
        )
        state = (changed if kept is None else kept.unionByName(changed)).localCheckpoint()
        begin += step
        batches += 1
    print(f"{batches} micro-batches scored in {time.perf_counter() - scoring:.1f}s")
    all_alerts = alerts[0]
    for more in alerts[1:]:
        all_alerts = all_alerts.unionByName(more)
    print(f"rate={args.rate} days={args.days} events/day={args.events_per_day} batch={args.batch_hours}h")
    print(evaluate_alerts(transactions, all_alerts).summary())
    missed = transactions.join(all_alerts, "transaction_id", "left_anti").where(
        F.col(LABEL_FIELD).isNotNull()
    )
    missed.select("customer_id", "event_time", "total_amount", LABEL_FIELD, "city").show(20, truncate=False)
    false_alarms = all_alerts.join(transactions.where(F.col(LABEL_FIELD).isNull()), "transaction_id")
    false_alarms.select("transaction_id", all_alerts["customer_id"], "reasons", "total_amount").show(
        20, truncate=False
    )


if __name__ == "__main__":
    main()
