"""Purchase attribution: the interval join on static data and as a real streaming query."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from ecap.pipeline.analytics.attribution import attribute_purchases, session_starts
from ecap.pipeline.analytics.errors import AnalyticsInputError
from tests.fixtures.analytics import RowsToFrame, assert_rows, utc


def start(session: str, customer: str | None, channel: str, when: str, sequence: int = 1) -> dict[str, Any]:
    return {
        "event_id": f"{session}-{sequence}",
        "session_id": session,
        "customer_id": customer,
        "event_type": "page_view",
        "channel": channel,
        "event_time": when,
        "sequence": sequence,
    }


def purchase(tid: str, session: str, customer: str, when: str) -> dict[str, Any]:
    return {"transaction_id": tid, "session_id": session, "customer_id": customer, "event_time": when}


def expected(
    tid: str,
    session: str,
    customer: str,
    channel: str | None,
    session_start: str | None,
    purchase_time: str,
    minutes: float | None,
    converted: bool,
) -> tuple[Any, ...]:
    return (
        tid,
        session,
        customer,
        channel,
        utc(session_start) if session_start else None,
        utc(purchase_time),
        minutes,
        converted,
    )


EVENTS = [
    start("s1", "c1", "web", "2026-03-02T12:00:00"),
    start("s1", "c1", "web", "2026-03-02T12:05:00", sequence=2),  # not a start
    start("s2", "c2", "mobile_app", "2026-03-02T12:00:00"),
    start("s4", "c4", "marketplace", "2026-03-02T10:00:00"),
    start("s5", None, "mobile_web", "2026-03-02T12:10:00"),  # anonymous browsing, then a purchase
]
PURCHASES = [
    purchase("t1", "s1", "c1", "2026-03-02T12:20:00"),  # 20 min: inside the 30 min window
    purchase("t2", "s2", "c2", "2026-03-02T13:00:00"),  # 60 min: attributed, but converted late
    purchase("t3", "s3", "c3", "2026-03-02T12:30:00"),  # its session start never arrived
    purchase("t4", "s4", "c4", "2026-03-02T14:30:00"),  # 270 min: beyond the 120 min lookback
    purchase("t5", "s5", "c5", "2026-03-02T12:40:00"),  # exactly 30 min
]
EXPECTED = [
    expected("t1", "s1", "c1", "web", "2026-03-02T12:00:00", "2026-03-02T12:20:00", 20.0, True),
    expected("t2", "s2", "c2", "mobile_app", "2026-03-02T12:00:00", "2026-03-02T13:00:00", 60.0, False),
    expected("t3", "s3", "c3", None, None, "2026-03-02T12:30:00", None, False),
    expected("t4", "s4", "c4", None, None, "2026-03-02T14:30:00", None, False),
    expected("t5", "s5", "c5", "mobile_web", "2026-03-02T12:10:00", "2026-03-02T12:40:00", 30.0, True),
]


def test_static_attribution_with_hand_computed_minutes(
    user_events_frame: RowsToFrame, transactions_frame: RowsToFrame
) -> None:
    events, purchases = user_events_frame(EVENTS), transactions_frame(PURCHASES)
    assert session_starts(events).count() == 4
    assert_rows(
        attribute_purchases(events, purchases, attribution_window_minutes=30, watermark_seconds=600), EXPECTED
    )


def test_lookback_must_cover_the_window(
    user_events_frame: RowsToFrame, transactions_frame: RowsToFrame
) -> None:
    with pytest.raises(AnalyticsInputError, match="lookback_minutes"):
        attribute_purchases(
            user_events_frame(EVENTS), transactions_frame(PURCHASES), 30, 600, lookback_minutes=10
        )


def _append(frame: DataFrame, folder: Path) -> None:
    frame.coalesce(1).write.mode("append").parquet(str(folder))


def test_streaming_interval_join_with_watermarks(
    spark: SparkSession, tmp_path: Path, user_events_frame: RowsToFrame, transactions_frame: RowsToFrame
) -> None:
    events_dir, purchases_dir = tmp_path / "events", tmp_path / "purchases"
    events, purchases = user_events_frame(EVENTS), transactions_frame(PURCHASES)
    _append(events, events_dir)
    _append(purchases, purchases_dir)
    stream_events = spark.readStream.schema(events.schema).parquet(str(events_dir))
    stream_purchases = spark.readStream.schema(purchases.schema).parquet(str(purchases_dir))
    attributed = attribute_purchases(stream_events, stream_purchases, 30, watermark_seconds=600)
    assert attributed.isStreaming
    query = (
        attributed.writeStream.format("memory")
        .queryName("attribution_test")
        .outputMode("append")
        .option("checkpointLocation", str(tmp_path / "checkpoint"))
        .start()
    )
    try:
        query.processAllAvailable()
        # matches come out as soon as both sides have arrived
        matched = spark.table("attribution_test")
        assert sorted(r["transaction_id"] for r in matched.collect()) == ["t1", "t2", "t5"]
        # later traffic moves both watermarks past the purchases: the unmatched ones are written
        # with null session columns instead of waiting in state forever
        _append(user_events_frame([start("s9", "c9", "web", "2026-03-03T12:00:00")]), events_dir)
        _append(transactions_frame([purchase("t9", "s9", "c9", "2026-03-03T12:05:00")]), purchases_dir)
        deadline = time.monotonic() + 90
        while spark.table("attribution_test").count() < 6 and time.monotonic() < deadline:
            query.processAllAvailable()
            time.sleep(0.5)
        assert_rows(
            spark.table("attribution_test"),
            [
                *EXPECTED,
                expected("t9", "s9", "c9", "web", "2026-03-03T12:00:00", "2026-03-03T12:05:00", 5.0, True),
            ],
        )
        assert query.lastProgress is not None
        state_rows = [op["numRowsTotal"] for op in query.lastProgress["stateOperators"]]
        assert state_rows and max(state_rows) <= 2  # old sessions and purchases were evicted
    finally:
        query.stop()
