"""The streaming pipeline against the real broker, real Spark and real Delta tables.

Every produced record must end in exactly one place: a clean table (once), the quarantine table
(with the reason) or the duplicate count of its topic.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow.compute as pc
from deltalake import DeltaTable
from prometheus_client import CollectorRegistry
from pyspark.sql import SparkSession

from ecap.pipeline import run_pipeline
from ecap.pipeline.metrics import PipelineMetrics
from ecap_operator.api import load_resources
from tests.fixtures.pipeline import (
    PipelineTopics,
    encode,
    product_update,
    recent,
    transaction,
    user_event,
)


def _table(lake: Path, name: str) -> DeltaTable:
    return DeltaTable(str(lake / name))


def test_every_record_lands_in_exactly_one_place(
    spark: SparkSession, pipeline_topics: PipelineTopics, tmp_path: Path
) -> None:
    t = pipeline_topics
    # Product dimension first: products 1..5 exist.
    t.produce(t.product_updates, [encode(product_update(p, recent(3600))) for p in range(1, 6)])
    good_tx = [transaction(n, recent(600 - n), product=1 + n % 5) for n in range(40)]
    bad_type = dict(transaction(100, recent(60)), total_amount="lots")
    mismatch = dict(transaction(101, recent(60)), total_amount=999.99)
    future = transaction(102, recent(-7200))
    late = transaction(103, recent(3 * 3600))  # hours behind the rest: late for the watermark, still clean
    tx_values = [encode(e) for e in good_tx]
    tx_values += [encode(good_tx[0]), encode(good_tx[1])]  # duplicates
    tx_values += [
        b"{not json",
        encode(bad_type),
        encode(mismatch),
        encode(future),
        encode(late),
        b"\xff\xfe\x00",
    ]
    t.produce(t.transactions, tx_values, key=lambda i: f"k{i % 4}".encode())
    ue = [
        user_event(n, recent(700 - n), product=1 + n % 5) for n in range(30)
    ]  # sessions start before the orders
    unknown_product = encode(user_event(99, recent(30), product=77))
    ue_values = [encode(e) for e in ue] + [encode(ue[3])] + [unknown_product]
    t.produce(t.user_events, ue_values)

    resources = load_resources(t.resources_file)
    pipeline = next(r for r in resources if r.kind == "StreamingPipeline")
    lake = tmp_path / "lake"
    registry = CollectorRegistry()
    report = run_pipeline(
        pipeline,
        resources,
        bootstrap=t.bootstrap,
        lake=str(lake),
        until_idle=3.0,
        spark=spark,
        metrics=PipelineMetrics(registry),
    )
    assert report.stopped_because.startswith("idle")

    tx = _table(lake, "transactions").to_pyarrow_table()
    ids = Counter(tx["transaction_id"].to_pylist())
    assert max(ids.values()) == 1, "a transaction was written twice"
    assert set(ids) == {e["transaction_id"] for e in good_tx} | {late["transaction_id"]}
    quarantine = _table(lake, "quarantine").to_pyarrow_table()
    rows = quarantine.to_pylist()
    raw = {r["raw_value"] or r["raw_value_base64"]: r["failed_rules"] for r in rows}
    assert raw["{not json"] == ["malformed_json"]
    assert "wrong_type" in raw[encode(bad_type).decode()]
    assert "business:total_mismatch" in raw[encode(mismatch).decode()]
    assert "business:future_event" in raw[encode(future).decode()]
    assert raw["//4A"] == ["invalid_utf8"]
    assert raw.get(unknown_product.decode()) == ["unknown_product"], (report, sorted(map(str, raw.items())))
    # Every quarantined record keeps its Kafka coordinates and a readable reason.
    assert {r["source_topic"] for r in rows} == {t.transactions, t.user_events}
    assert all(r["error"] and r["source_offset"] >= 0 and r["kafka_timestamp"] for r in rows)

    c = report.topics[t.transactions]
    assert (c.records, c.clean, c.quarantined, c.duplicates) == (len(tx_values), 41, 5, 2)
    u = report.topics[t.user_events]
    assert (u.records, u.clean, u.quarantined, u.duplicates) == (len(ue_values), 30, 1, 1)
    assert u.records == u.clean + u.quarantined + u.duplicates

    # The Prometheus metrics say the same.
    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert sample("ecap_pipeline_records_in_total", topic=t.transactions) == len(tx_values)
    assert sample("ecap_pipeline_records_quarantined_total", topic=t.transactions) == 5
    assert sample("ecap_pipeline_duplicates_total", topic=t.user_events) == 1
    assert sample("ecap_pipeline_records_out_total", table="transactions") == 41
    assert sample("ecap_pipeline_consumer_lag", topic=t.transactions, partition="0") == 0
    assert (sample("ecap_pipeline_freshness_seconds_count") or 0) > 0

    dq = _table(lake, "data_quality").to_pyarrow_table()
    sums = {
        topic: int(pc.sum(dq.filter(pc.equal(dq["topic"], topic))["duplicates"]).as_py())
        for topic in (t.transactions, t.user_events)
    }
    assert sums == {t.transactions: 2, t.user_events: 1}
    # The stream-stream join: one row per purchase at most, sessions matched by id and time.
    attribution = _table(lake, "attribution").to_pyarrow_table()
    matched = {r["transaction_id"]: r["session_id"] for r in attribution.to_pylist() if r["session_start"]}
    assert matched == {f"txn_{k:06d}": f"sess_{k}" for k in range(10)}
    assert len(set(attribution["transaction_id"].to_pylist())) == attribution.num_rows
    # KPIs and the fraud state were written by the analytics transforms.
    assert _table(lake, "kpis").to_pyarrow_table().num_rows >= 1
    assert _table(lake, "customer_profiles").to_pyarrow_table().num_rows >= 1
    products = _table(lake, "products").to_pyarrow_table()
    assert sorted(products["product_id"].to_pylist()) == [f"prod_{p:05d}" for p in range(1, 6)]
