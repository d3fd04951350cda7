"""The end-of-run summary, read back from the tables themselves rather than from in-memory counters.

The tables are the source of truth: a resumed run reports the same figures as an uninterrupted one,
and the reconciliation ``produced = clean + quarantined + duplicates`` is checked against what is on disk.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ecap.lake import open_table, table_exists, table_path
from ecap.schemas import (
    LABEL_FIELD,
    TABLE_DATA_QUALITY,
    TABLE_FRAUD_ALERTS,
    TABLE_KPIS,
    TABLE_PRODUCT_UPDATES,
    TABLE_QUARANTINE,
    TABLE_TRANSACTIONS,
    TABLE_USER_EVENTS,
)

# Source stream -> its clean table (the pipeline's EVENT_TABLES, by name only: no Spark import here).
CLEAN_TABLES: dict[str, str] = {
    "transactions": TABLE_TRANSACTIONS,
    "user-events": TABLE_USER_EVENTS,
    "product-updates": TABLE_PRODUCT_UPDATES,
}


def read_table(lake: str, name: str, columns: list[str] | None = None) -> pa.Table | None:
    path = table_path(lake, name)
    if not table_exists(path):
        return None
    data = pa.table(open_table(path).to_pyarrow_table(columns=columns))
    return data


def _count_by(table: pa.Table | None, column: str) -> dict[str, int]:
    if table is None or table.num_rows == 0:
        return {}
    counts = table.group_by(column).aggregate([([], "count_all")])
    return dict(zip(counts[column].to_pylist(), counts["count_all"].to_pylist(), strict=True))


def _sum_by(table: pa.Table | None, key: str, value: str) -> dict[str, int]:
    if table is None or table.num_rows == 0:
        return {}
    sums = table.group_by(key).aggregate([(value, "sum")])
    return dict(
        zip(sums[key].to_pylist(), [int(v or 0) for v in sums[f"{value}_sum"].to_pylist()], strict=True)
    )


@dataclass
class TopicFlow:
    """One source topic: what was produced to it and where every record ended up."""

    stream: str
    topic: str
    produced: int
    dead_lettered: int
    clean: int
    quarantined: int
    duplicates: int

    @property
    def accounted(self) -> int:
        return self.clean + self.quarantined + self.duplicates

    @property
    def balanced(self) -> bool:
        return self.produced == self.accounted

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "produced": self.produced,
            "dead_lettered": self.dead_lettered,
            "clean": self.clean,
            "quarantined": self.quarantined,
            "duplicates": self.duplicates,
            "balanced": self.balanced,
        }


def topic_flows(lake: str, topics: dict[str, str], produced: dict[str, tuple[int, int]]) -> list[TopicFlow]:
    """``topics``: stream -> broker topic; ``produced``: broker topic -> (delivered, dead-lettered)."""
    quarantine = read_table(lake, TABLE_QUARANTINE, ["source_topic"])
    quality = read_table(lake, TABLE_DATA_QUALITY, ["topic", "duplicates"])
    quarantined = _count_by(quarantine, "source_topic")
    duplicates = _sum_by(quality, "topic", "duplicates")
    flows = []
    for stream, topic in topics.items():
        clean_rows = read_table(lake, CLEAN_TABLES[stream], ["source_topic"])
        clean = _count_by(clean_rows, "source_topic").get(topic, 0)
        delivered, dead = produced.get(topic, (0, 0))
        flows.append(
            TopicFlow(
                stream, topic, delivered, dead, clean, quarantined.get(topic, 0), duplicates.get(topic, 0)
            )
        )
    return flows


def table_stats(lake: str, names: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        path = table_path(lake, name)
        if not table_exists(path):
            continue
        table = open_table(path)
        actions = pa.table(table.get_add_actions(flatten=True))
        out[name] = {
            "path": path,
            "version": table.version(),
            "rows": int(pc.sum(actions["num_records"]).as_py() or 0) if actions.num_rows else 0,
            "files": actions.num_rows,
            "size_bytes": int(pc.sum(actions["size_bytes"]).as_py() or 0) if actions.num_rows else 0,
        }
    return out


def quality_figures(lake: str) -> dict[str, Any]:
    quality = read_table(lake, TABLE_DATA_QUALITY)
    if quality is None or quality.num_rows == 0:
        return {}
    records = int(pc.sum(quality["records"]).as_py() or 0)
    valid = int(pc.sum(quality["valid"]).as_py() or 0)
    rule_failures: dict[str, int] = {}
    if "rule_failures" in quality.column_names:
        for row in quality["rule_failures"].to_pylist():
            for rule, count in row or []:
                rule_failures[rule] = rule_failures.get(rule, 0) + int(count)
    completeness = [c for c in quality["completeness"].to_pylist() if c is not None]
    weights = [
        r
        for r, c in zip(quality["records"].to_pylist(), quality["completeness"].to_pylist(), strict=True)
        if c is not None
    ]
    return {
        "batches": len(set(quality["batch_id"].to_pylist())),
        "records": records,
        "valid": valid,
        "validity_rate": round(valid / records, 6) if records else None,
        "completeness": round(
            sum(c * w for c, w in zip(completeness, weights, strict=True)) / sum(weights), 6
        )
        if weights and sum(weights)
        else None,
        "late": int(pc.sum(quality["late"]).as_py() or 0),
        "zscore_outliers": int(pc.sum(quality["zscore_outliers"]).as_py() or 0),
        "iqr_outliers": int(pc.sum(quality["iqr_outliers"]).as_py() or 0),
        "rule_failures": dict(sorted(rule_failures.items(), key=lambda kv: -kv[1])),
    }


def fraud_figures(lake: str) -> dict[str, Any]:
    """Alerts by severity, and precision/recall against the generator's injected labels."""
    alerts = read_table(lake, TABLE_FRAUD_ALERTS, ["transaction_id", "severity"])
    transactions = read_table(lake, TABLE_TRANSACTIONS, ["transaction_id", LABEL_FIELD])
    if transactions is None:
        return {}
    if alerts is None:  # the pipeline creates the table with its first alert
        empty = pa.array([], pa.string())
        alerts = pa.table({"transaction_id": empty, "severity": empty})
    flagged = set(alerts["transaction_id"].to_pylist())
    labels = dict(
        zip(transactions["transaction_id"].to_pylist(), transactions[LABEL_FIELD].to_pylist(), strict=True)
    )
    fraud = {t for t, label in labels.items() if label}
    true_pos = len(flagged & fraud)
    per_type: dict[str, dict[str, int]] = {}
    for txn, label in labels.items():
        if label:
            row = per_type.setdefault(label, {"injected": 0, "detected": 0})
            row["injected"] += 1
            row["detected"] += txn in flagged
    return {
        "alerts": alerts.num_rows,
        "by_severity": _count_by(alerts, "severity"),
        "injected_fraud": len(fraud),
        "true_positives": true_pos,
        "precision": round(true_pos / len(flagged), 4) if flagged else None,
        "recall": round(true_pos / len(fraud), 4) if fraud else None,
        "per_type": per_type,
    }


def latest_kpis(lake: str) -> list[dict[str, Any]]:
    """The most recent window of each size, as people read it."""
    kpis = read_table(lake, TABLE_KPIS)
    if kpis is None or kpis.num_rows == 0:
        return []
    out = []
    for size in sorted(set(kpis["window_seconds"].to_pylist())):
        rows = kpis.filter(pc.equal(kpis["window_seconds"], size))
        last = rows.take(
            [int(pc.index(rows["window_start"], pc.max(rows["window_start"])).as_py())]
        ).to_pylist()[0]
        out.append(
            {
                "window_seconds": size,
                "window_start": _iso(last["window_start"]),
                "window_end": _iso(last.get("window_end")),
                "revenue": _num(last.get("revenue")),
                "orders": last.get("orders"),
                "average_order_value": _num(last.get("average_order_value")),
                "active_sessions": last.get("active_sessions"),
                "conversion_rate": last.get("conversion_rate"),
                "top_products": [
                    {"product_id": p["product_id"], "revenue": _num(p["revenue"])}
                    for p in last.get("top_products") or []
                ],
            }
        )
    return out


def _iso(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return None if value is None else str(value)


def _num(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else round(number, 2)


@dataclass
class UpSummary:
    file: str
    lake: str
    bootstrap: str
    interrupted: bool
    elapsed_seconds: float
    flows: list[TopicFlow]
    produced: dict[str, dict[str, int]]
    pipeline: dict[str, Any]
    tables: dict[str, dict[str, Any]]
    quality: dict[str, Any]
    fraud: dict[str, Any]
    kpis: list[dict[str, Any]]
    segmentation: list[dict[str, Any]]
    maintenance: list[dict[str, Any]]
    metrics_url: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return all(flow.balanced for flow in self.flows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "lake": self.lake,
            "bootstrap": self.bootstrap,
            "interrupted": self.interrupted,
            "elapsed_seconds": round(self.elapsed_seconds, 1),
            "balanced": self.balanced,
            "topics": {flow.stream: flow.to_dict() for flow in self.flows},
            "produced": self.produced,
            "pipeline": self.pipeline,
            "tables": self.tables,
            "quality": self.quality,
            "fraud": self.fraud,
            "kpis": self.kpis,
            "segmentation": self.segmentation,
            "maintenance": self.maintenance,
            "metrics_url": self.metrics_url,
            "notes": self.notes,
        }
