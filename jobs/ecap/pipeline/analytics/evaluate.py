"""Precision and recall of fraud alerts against the generator's injected label.

The only module allowed to read ``injected_fraud``: it measures detection, it never feeds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ecap.schemas import LABEL_FIELD

from .errors import require_columns


@dataclass(frozen=True)
class TypeRecall:
    """How many injected frauds of one type there were and how many raised an alert."""

    fraud_type: str
    injected: int
    detected: int

    @property
    def recall(self) -> float:
        return self.detected / self.injected if self.injected else float("nan")


@dataclass(frozen=True)
class ReasonPrecision:
    """Of the alerts carrying one reason, how many were injected fraud (of any / of the same type)."""

    reason: str
    alerts: int
    fraudulent: int
    same_type: int

    @property
    def precision(self) -> float:
        return self.fraudulent / self.alerts if self.alerts else float("nan")


@dataclass(frozen=True)
class FraudEvaluation:
    transactions: int
    true_positives: int
    false_positives: int
    false_negatives: int
    per_type: dict[str, TypeRecall] = field(default_factory=dict)
    per_reason: dict[str, ReasonPrecision] = field(default_factory=dict)

    @property
    def precision(self) -> float:
        alerts = self.true_positives + self.false_positives
        return self.true_positives / alerts if alerts else float("nan")

    @property
    def recall(self) -> float:
        frauds = self.true_positives + self.false_negatives
        return self.true_positives / frauds if frauds else float("nan")

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def summary(self) -> str:
        lines = [
            f"transactions={self.transactions} tp={self.true_positives} fp={self.false_positives} "
            f"fn={self.false_negatives} precision={self.precision:.3f} recall={self.recall:.3f} "
            f"f1={self.f1:.3f}"
        ]
        lines += [
            f"  type {t.fraud_type}: {t.detected}/{t.injected} recall={t.recall:.3f}"
            for t in self.per_type.values()
        ]
        lines += [
            f"  reason {r.reason}: {r.fraudulent}/{r.alerts} precision={r.precision:.3f} "
            f"same_type={r.same_type}"
            for r in self.per_reason.values()
        ]
        return "\n".join(lines)


def evaluate_alerts(transactions: DataFrame, alerts: DataFrame) -> FraudEvaluation:
    """Labelled transactions + alerts (one per transaction_id) -> confusion counts, precision, recall."""
    require_columns(transactions, ("transaction_id", LABEL_FIELD), "labelled transactions")
    require_columns(alerts, ("transaction_id", "reasons"), "alerts")
    labels = transactions.select("transaction_id", F.col(LABEL_FIELD).alias("label")).dropDuplicates(
        ["transaction_id"]
    )
    flagged = alerts.select("transaction_id", "reasons").dropDuplicates(["transaction_id"])
    joined = labels.join(flagged, "transaction_id", "full_outer").withColumn(
        "alerted", F.col("reasons").isNotNull()
    )
    counts = joined.agg(
        F.count(F.lit(1)).alias("n"),
        F.count(F.when(F.col("alerted") & F.col("label").isNotNull(), 1)).alias("tp"),
        F.count(F.when(F.col("alerted") & F.col("label").isNull(), 1)).alias("fp"),
        F.count(F.when(~F.col("alerted") & F.col("label").isNotNull(), 1)).alias("fn"),
    ).first()
    assert counts is not None  # noqa: S101 - a global aggregate always has one row
    per_type = {
        row["label"]: TypeRecall(row["label"], row["injected"], row["detected"])
        for row in joined.where(F.col("label").isNotNull())
        .groupBy("label")
        .agg(F.count(F.lit(1)).alias("injected"), F.count(F.when(F.col("alerted"), 1)).alias("detected"))
        .orderBy("label")
        .collect()
    }
    per_reason = {
        row["reason"]: ReasonPrecision(row["reason"], row["alerts"], row["fraudulent"], row["same_type"])
        for row in joined.where(F.col("alerted"))
        .select("label", F.explode("reasons").alias("reason"))
        .groupBy("reason")
        .agg(
            F.count(F.lit(1)).alias("alerts"),
            F.count(F.when(F.col("label").isNotNull(), 1)).alias("fraudulent"),
            F.count(F.when(F.col("label") == F.col("reason"), 1)).alias("same_type"),
        )
        .orderBy("reason")
        .collect()
    }
    return FraudEvaluation(
        transactions=counts["n"],
        true_positives=counts["tp"],
        false_positives=counts["fp"],
        false_negatives=counts["fn"],
        per_type=per_type,
        per_reason=per_reason,
    )
