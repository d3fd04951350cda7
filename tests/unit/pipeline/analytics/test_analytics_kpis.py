"""Windowed KPI partials, their merge across micro-batches, and the analytics-results records."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from deltalake import DeltaTable, write_deltalake
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ecap.pipeline.analytics.kpis import (
    KPI_SCHEMA,
    analytics_result_messages,
    analytics_result_records,
    kpi_partials,
    merge_kpis,
)
from tests.fixtures.analytics import RowsToFrame, assert_rows, utc

DERIVED = (
    "window_seconds",
    "window_start",
    "window_end",
    "revenue",
    "orders",
    "items_sold",
    "average_order_value",
    "active_sessions",
    "converted_sessions",
    "active_customers",
    "conversion_rate",
    "top_products",
)


def item(product: str, price: float, quantity: int = 1) -> tuple[str, str, Decimal, int]:
    return (product, "Books", Decimal(str(price)), quantity)


def order(tid: str, customer: str, session: str, when: str, items: list[Any]) -> dict[str, Any]:
    total = sum(float(i[2]) * i[3] for i in items)
    return {
        "transaction_id": tid,
        "customer_id": customer,
        "session_id": session,
        "event_time": when,
        "items": items,
        "total_amount": total,
    }


def event(eid: str, session: str, customer: str | None, kind: str, when: str) -> dict[str, Any]:
    return {
        "event_id": eid,
        "session_id": session,
        "customer_id": customer,
        "event_type": kind,
        "event_time": when,
    }


def kpis_only(df: DataFrame) -> DataFrame:
    return df.select(*DERIVED)


def row(
    seconds: int,
    start: str,
    end: str,
    revenue: str,
    orders: int,
    items: int,
    aov: str | None,
    sessions: int,
    converted: int,
    customers: int,
    rate: float | None,
    top: list[tuple[str, str]],
) -> tuple[Any, ...]:
    return (
        seconds,
        utc(start),
        utc(end),
        Decimal(revenue),
        orders,
        items,
        Decimal(aov) if aov else None,
        sessions,
        converted,
        customers,
        rate,
        [(p, Decimal(r)) for p, r in top],
    )


def test_partials_per_window_size_with_hand_computed_values(
    transactions_frame: RowsToFrame, user_events_frame: RowsToFrame
) -> None:
    tx = transactions_frame(
        [
            order("t1", "c1", "s1", "2026-03-02T12:00:10", [item("p1", 5.00, 2)]),
            order("t2", "c2", "s2", "2026-03-02T12:00:50", [item("p2", 30.00), item("p3", 1.00, 3)]),
            order("t3", "c1", "s3", "2026-03-02T12:01:10", [item("p1", 7.50)]),
        ]
    )
    events = user_events_frame(
        [
            event("e1", "s1", "c1", "page_view", "2026-03-02T12:00:01"),
            event("e2", "s1", "c1", "complete_checkout", "2026-03-02T12:00:09"),
            event("e3", "s2", "c2", "page_view", "2026-03-02T12:00:20"),
            event("e4", "s4", None, "search", "2026-03-02T12:00:30"),
            event("e5", "s4", None, "page_view", "2026-03-02T12:00:40"),
        ]
    )
    partials = kpi_partials(tx, events, [3600, 60])
    assert_rows(
        kpis_only(partials),
        [
            row(
                60,
                "2026-03-02T12:00:00",
                "2026-03-02T12:01:00",
                "43.00",
                2,
                6,
                "21.50",
                3,
                1,
                2,
                1 / 3,
                [("p2", "30.00"), ("p1", "10.00"), ("p3", "3.00")],
            ),
            row(
                60,
                "2026-03-02T12:01:00",
                "2026-03-02T12:02:00",
                "7.50",
                1,
                1,
                "7.50",
                0,
                0,
                1,
                None,
                [("p1", "7.50")],
            ),
            row(
                3600,
                "2026-03-02T12:00:00",
                "2026-03-02T13:00:00",
                "50.50",
                3,
                7,
                "16.83",
                3,
                1,
                2,
                1 / 3,
                [("p2", "30.00"), ("p1", "17.50"), ("p3", "3.00")],
            ),
        ],
    )


def test_merge_adds_parts_unions_sessions_and_recomputes_ratios(
    transactions_frame: RowsToFrame, user_events_frame: RowsToFrame
) -> None:
    # batch 1: a session starts; batch 2: the same session checks out, a new one arrives, and six
    # products compete for the top five
    first = kpi_partials(
        transactions_frame([order("t1", "c1", "s1", "2026-03-02T12:00:05", [item("p1", 10.00)])]),
        user_events_frame([event("e1", "s1", "c1", "page_view", "2026-03-02T12:00:01")]),
        [60],
    )
    second = kpi_partials(
        transactions_frame(
            [
                order(
                    "t2",
                    "c2",
                    "s2",
                    "2026-03-02T12:00:30",
                    [
                        item("p2", 9.00),
                        item("p3", 8.00),
                        item("p4", 7.00),
                        item("p5", 6.00),
                        item("p6", 5.00),
                    ],
                ),
            ]
        ),
        user_events_frame(
            [
                event("e2", "s1", "c1", "complete_checkout", "2026-03-02T12:00:04"),
                event("e3", "s2", "c2", "page_view", "2026-03-02T12:00:20"),
            ]
        ),
        [60],
    )
    merged = merge_kpis(first, second)
    assert_rows(
        kpis_only(merged),
        [
            row(
                60,
                "2026-03-02T12:00:00",
                "2026-03-02T12:01:00",
                "45.00",
                2,
                6,
                "22.50",
                2,
                1,
                2,
                0.5,
                [("p1", "10.00"), ("p2", "9.00"), ("p3", "8.00"), ("p4", "7.00"), ("p5", "6.00")],
            )
        ],
    )
    # merging is associative: folding the same batches in another grouping gives the same row
    assert_rows(kpis_only(merge_kpis(second, first)), [tuple(r) for r in kpis_only(merged).collect()])
    # rows of other windows in the table are not returned
    assert (
        merge_kpis(
            merged.unionByName(
                kpi_partials(
                    None,
                    user_events_frame([event("e9", "s9", None, "page_view", "2026-03-02T15:00:00")]),
                    [60],
                )
            ),
            second,
        ).count()
        == 1
    )


def test_analytics_results_records_and_wire_json(transactions_frame: RowsToFrame) -> None:
    kpis = kpi_partials(
        transactions_frame(
            [order("t1", "c1", "s1", "2026-03-02T12:00:05", [item("p1", 10.00), item("p2", 2.5, 2)])]
        ),
        None,
        [60],
    )
    records = analytics_result_records(kpis)
    by_metric = {(r["metric"], r["dimensions"].get("rank")): r for r in records.collect()}
    assert {k: v["value"] for k, v in by_metric.items()} == {
        ("revenue", None): 15.0,
        ("orders", None): 1.0,
        ("average_order_value", None): 15.0,
        ("active_sessions", None): 0.0,
        ("active_customers", None): 1.0,
        ("conversion_rate", None): None,
        ("top_product_revenue", "1"): 10.0,
        ("top_product_revenue", "2"): 5.0,
    }
    messages = analytics_result_messages(records.where(F.col("metric") == "top_product_revenue"))
    values = sorted((json.loads(r["value"]) for r in messages.collect()), key=lambda v: v["value"])
    assert {r["key"] for r in messages.collect()} == {"top_product_revenue"}
    assert values[0] == {
        "metric": "top_product_revenue",
        "window_start": "2026-03-02T12:00:00.000Z",
        "window_end": "2026-03-02T12:01:00.000Z",
        "value": 5.0,
        "dimensions": {"window_seconds": "60", "product_id": "p2", "rank": "2"},
    }


def test_kpi_rows_round_trip_through_a_delta_table(
    tmp_path: Path, transactions_frame: RowsToFrame, user_events_frame: RowsToFrame
) -> None:
    """Sketches and the revenue map survive Delta (delta-rs) and merge with the next batch's partials."""
    table = str(tmp_path / "kpis")
    first = kpi_partials(
        transactions_frame([order("t1", "c1", "s1", "2026-03-02T12:00:05", [item("p1", 10.00)])]),
        user_events_frame([event("e1", "s1", "c1", "page_view", "2026-03-02T12:00:01")]),
        [60],
    )
    arrow = first.toArrow()
    # the Arrow the runner writes has exactly the table's column names and types
    assert [(f.name, f.type) for f in arrow.schema] == [(f.name, f.type) for f in KPI_SCHEMA]
    write_deltalake(table, arrow)
    stored = first.sparkSession.createDataFrame(DeltaTable(table).to_pyarrow_table())
    second = kpi_partials(
        None,
        user_events_frame(
            [
                event("e2", "s1", "c1", "complete_checkout", "2026-03-02T12:00:30"),
                event("e3", "s2", "c2", "page_view", "2026-03-02T12:00:40"),
            ]
        ),
        [60],
    )
    merged = merge_kpis(stored, second)
    assert_rows(
        kpis_only(merged),
        [
            row(
                60,
                "2026-03-02T12:00:00",
                "2026-03-02T12:01:00",
                "10.00",
                1,
                1,
                "10.00",
                2,
                1,
                2,
                0.5,
                [("p1", "10.00")],
            )
        ],
    )
