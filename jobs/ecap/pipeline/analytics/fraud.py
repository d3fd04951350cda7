"""Fraud detection on one micro-batch of transactions, against each customer's own history.

The batch DataFrame handed to ``foreachBatch`` is static, so several orders of one customer in the
same batch are put in time order with window functions here; what happened in earlier batches comes
from the ``customer_profiles`` state (see :mod:`.profiles`). Those earlier orders are unioned into
the windows as context rows, so a burst split across two micro-batches still counts as one burst.
The ground-truth label column is never read.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from ecap.schemas import FRAUD_TYPES, TS
from ecap_operator.api.streaming_pipeline import FraudDetectionSettings

from .enrich import local_wall_clock
from .errors import require_columns, require_utc_session
from .kpis import rfc3339
from .profiles import PROFILE_COLUMNS, RECENT_AMOUNTS_KEPT, empty_profiles, usual_amount

REQUIRED: Final = (
    "transaction_id",
    "customer_id",
    "event_time",
    "total_amount",
    "device_id",
    "latitude",
    "longitude",
    "timezone",
)
# Reasons are the fraud type each signal is evidence of, so alerts and labels speak one language.
VELOCITY, CARD_TESTING, AMOUNT, LOCATION, NIGHT, DEVICE = FRAUD_TYPES
SIGNAL_WEIGHTS: Final[dict[str, float]] = {
    VELOCITY: 0.75,
    CARD_TESTING: 0.85,
    AMOUNT: 0.7,
    LOCATION: 0.75,
    NIGHT: 0.5,
    DEVICE: 0.5,
}
"""Evidence per signal, combined as a noisy-or: 1 - prod(1 - w). Every signal alone reaches the
default threshold 0.5; night time and a new device alone stay at severity "medium", two signals
together make "high" or more. Raise alert_threshold above 0.5 to require two weak signals."""
SEVERITIES: Final = ((0.9, "critical"), (0.75, "high"), (0.5, "medium"))
EARTH_RADIUS_KM: Final = 6371.0088
MIN_TRAVEL_KM: Final = 100.0
"""Below this distance a jump between orders is city-scale noise, never impossible travel."""
MIN_AMOUNT_HISTORY: Final = 2
"""Trusted earlier orders needed before an amount can be unusual for the customer: against a single
order, an ordinary two-item basket already looks like 4x "the usual"."""
ESTABLISHED_ORDERS: Final = 1
"""Trusted earlier orders after which an unknown device is suspicious: one order on record already
tells which device the customer uses."""

ALERT_SCHEMA: Final = pa.schema(
    [
        pa.field("alert_id", pa.string(), nullable=False),
        pa.field("transaction_id", pa.string(), nullable=False),
        pa.field("customer_id", pa.string()),
        pa.field("score", pa.float64()),
        pa.field("reasons", pa.list_(pa.string())),
        pa.field("severity", pa.string()),
        pa.field("timestamp", TS),
        pa.field("event_date", pa.date32()),
    ]
)


def haversine_km(lat1: Column, lon1: Column, lat2: Column, lon2: Column) -> Column:
    """Great-circle distance between two points in degrees."""
    dlat = F.radians(lat2 - lat1)
    dlon = F.radians(lon2 - lon1)
    a = F.pow(F.sin(dlat / 2), 2) + F.cos(F.radians(lat1)) * F.cos(F.radians(lat2)) * F.pow(
        F.sin(dlon / 2), 2
    )
    return 2 * EARTH_RADIUS_KM * F.asin(F.least(F.sqrt(a), F.lit(1.0)))


def severity(score: Column) -> Column:
    expr = F.when(F.lit(False), F.lit(None))
    for floor, name in SEVERITIES:
        expr = expr.when(score >= floor, F.lit(name))
    return expr.otherwise(F.lit("low"))


def score_transactions(
    transactions: DataFrame, profiles: DataFrame | None, settings: FraudDetectionSettings
) -> DataFrame:
    """One batch + profiles before it -> every transaction with fraud_score, reasons, severity, is_alert."""
    require_columns(transactions, REQUIRED, "transactions")
    before = profiles if profiles is not None else empty_profiles(transactions)
    require_columns(before, PROFILE_COLUMNS, "customer profiles")
    velocity_s = settings.velocity_window_minutes * 60
    night_start, night_end = settings.night_hours

    batch = transactions.withColumn(
        "_local_hour", F.hour(local_wall_clock(transactions, "event_time", "timezone"))
    )
    profile = before.select(
        "customer_id",
        F.col("trusted_orders").alias("_p_trusted"),
        F.col("recent_amounts").alias("_p_amounts"),
        F.col("known_devices").alias("_p_devices"),
        F.col("last_trusted_time").alias("_p_time"),
        F.col("last_latitude").alias("_p_lat"),
        F.col("last_longitude").alias("_p_lon"),
        F.col("recent_orders").alias("_p_recent"),
    )
    batch = batch.join(profile, "customer_id", "left")

    # ---- bursts (velocity, card testing): batch rows plus earlier batches' orders as context rows
    rows = batch.select(
        "customer_id",
        "transaction_id",
        F.unix_micros("event_time").alias("_t_us"),
        F.col("total_amount").cast("double").alias("_amount"),
        F.lit(False).alias("_context"),
    )
    context = (
        profile.select("customer_id", F.explode("_p_recent").alias("o"))
        .join(rows.select("customer_id").distinct(), "customer_id", "left_semi")
        .select(
            "customer_id",
            F.lit(None).cast("string").alias("transaction_id"),
            F.unix_micros("o.event_time").alias("_t_us"),
            F.col("o.amount").cast("double").alias("_amount"),
            F.lit(True).alias("_context"),
        )
    )
    timeline = rows.unionByName(context)
    line = Window.partitionBy("customer_id").orderBy("_t_us")
    span = velocity_s * 1_000_000
    small = F.col("_amount") <= settings.card_testing_max_amount
    timeline = timeline.withColumn("_fwd_all", F.count(F.lit(1)).over(line.rangeBetween(0, span))).withColumn(
        "_fwd_small", F.count(F.when(small, 1)).over(line.rangeBetween(0, span))
    )
    bursts = (
        timeline.withColumn("_velocity_count", F.max("_fwd_all").over(line.rangeBetween(-span, 0)))
        .withColumn("_small_count", F.max("_fwd_small").over(line.rangeBetween(-span, 0)))
        .where(~F.col("_context"))
        .select(
            "transaction_id",
            "_velocity_count",
            F.when(small, F.col("_small_count")).otherwise(F.lit(0)).alias("_small_count"),
        )
    )
    # one row per id even if the batch repeats a transaction, so the join never multiplies rows
    batch = batch.join(bursts.dropDuplicates(["transaction_id"]), "transaction_id", "left")

    # ---- per-customer order inside the batch: earlier orders' amounts, devices and position
    in_batch = Window.partitionBy("customer_id").orderBy("event_time", "transaction_id")
    earlier = in_batch.rowsBetween(Window.unboundedPreceding, -1)
    everything = in_batch.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    batch = (
        batch.withColumn(
            "_earlier_amounts", F.collect_list(F.col("total_amount").cast("decimal(12,2)")).over(earlier)
        )
        .withColumn("_earlier_devices", F.collect_set("device_id").over(earlier))
        .withColumn("_earlier_count", F.count(F.lit(1)).over(earlier))
        .withColumn("_prev_time", F.lag("event_time").over(in_batch))
        .withColumn("_prev_lat", F.lag("latitude").over(in_batch))
        .withColumn("_prev_lon", F.lag("longitude").over(in_batch))
        .withColumn("_first_lat", F.first("latitude").over(everything))
        .withColumn("_first_lon", F.first("longitude").over(everything))
    )

    # amount far above the customer's usual (median of trusted earlier amounts)
    history = F.concat(
        F.coalesce(F.col("_p_amounts"), F.array().cast("array<decimal(12,2)>")), F.col("_earlier_amounts")
    )
    history = F.slice(
        history, F.greatest(F.size(history) - RECENT_AMOUNTS_KEPT + 1, F.lit(1)), RECENT_AMOUNTS_KEPT
    )
    batch = batch.withColumn(
        "_usual_amount", F.when(F.size(history) >= MIN_AMOUNT_HISTORY, usual_amount(history))
    )
    amount_signal = F.coalesce(
        F.col("total_amount").cast("double") > settings.amount_multiplier * F.col("_usual_amount"),
        F.lit(False),
    )

    # impossible travel from the previous order (this batch, else the profile's last trusted one);
    # the order must also be far from where the customer usually is, so returning home never alerts
    prev_time = F.coalesce(F.col("_prev_time"), F.col("_p_time"))
    prev_lat = F.when(F.col("_prev_time").isNotNull(), F.col("_prev_lat")).otherwise(F.col("_p_lat"))
    prev_lon = F.when(F.col("_prev_time").isNotNull(), F.col("_prev_lon")).otherwise(F.col("_p_lon"))
    anchor_lat = F.coalesce(F.col("_p_lat"), F.col("_first_lat"))
    anchor_lon = F.coalesce(F.col("_p_lon"), F.col("_first_lon"))
    batch = (
        batch.withColumn(
            "_travel_km", haversine_km(prev_lat, prev_lon, F.col("latitude"), F.col("longitude"))
        )
        .withColumn(
            "_travel_hours", (F.unix_micros("event_time") - F.unix_micros(prev_time)) / F.lit(3_600_000_000.0)
        )
        .withColumn(
            "_from_anchor_km", haversine_km(anchor_lat, anchor_lon, F.col("latitude"), F.col("longitude"))
        )
    )
    travel_signal = F.coalesce(
        (F.col("_travel_km") > MIN_TRAVEL_KM)
        & (F.col("_from_anchor_km") > MIN_TRAVEL_KM)
        & (
            (F.col("_travel_hours") <= 0)
            | (F.col("_travel_km") / F.col("_travel_hours") > settings.max_travel_kmh)
        ),
        F.lit(False),
    )

    hour = F.col("_local_hour")
    if night_start <= night_end:
        night_signal = (hour >= night_start) & (hour < night_end)
    else:
        night_signal = (hour >= night_start) | (hour < night_end)

    known = F.array_union(
        F.coalesce(F.col("_p_devices"), F.array().cast("array<string>")), F.col("_earlier_devices")
    )
    established = (F.coalesce(F.col("_p_trusted"), F.lit(0)) + F.col("_earlier_count")) >= ESTABLISHED_ORDERS
    device_signal = F.coalesce(
        established & F.col("device_id").isNotNull() & ~F.array_contains(known, F.col("device_id")),
        F.lit(False),
    )

    signals: dict[str, Column] = {
        VELOCITY: F.coalesce(F.col("_velocity_count") > settings.velocity_max_orders, F.lit(False)),
        CARD_TESTING: F.coalesce(F.col("_small_count") >= settings.card_testing_min_count, F.lit(False)),
        AMOUNT: amount_signal,
        LOCATION: travel_signal,
        NIGHT: F.coalesce(night_signal, F.lit(False)),
        DEVICE: device_signal,
    }
    keep_none = F.lit(1.0)
    for name, fired in signals.items():
        keep_none = keep_none * F.when(fired, F.lit(1.0 - SIGNAL_WEIGHTS[name])).otherwise(F.lit(1.0))
    score = F.round(F.lit(1.0) - keep_none, 6)
    reasons = F.filter(
        F.array(*[F.when(fired, F.lit(name)) for name, fired in signals.items()]), lambda r: r.isNotNull()
    )
    scored = (
        batch.withColumn("fraud_score", score)
        .withColumn("fraud_reasons", reasons)
        .withColumn("fraud_severity", severity(F.col("fraud_score")))
        .withColumn("is_alert", F.col("fraud_score") >= settings.alert_threshold)
        .withColumn("fraud_usual_amount", F.col("_usual_amount"))
        .withColumn("fraud_velocity_count", F.col("_velocity_count"))
        .withColumn(
            "fraud_travel_kmh",
            F.when(F.col("_travel_hours") > 0, F.col("_travel_km") / F.col("_travel_hours")),
        )
    )
    return scored.drop(*[c for c in scored.columns if c.startswith("_")])


def alert_id(transaction_id: Column) -> Column:
    """Deterministic: a replayed batch produces the same id, so the MERGE keeps one alert."""
    return F.concat(
        F.lit("alert_"), F.substring(F.sha2(F.concat(F.lit("fraud-alert/"), transaction_id), 256), 1, 32)
    )


def fraud_alerts(scored: DataFrame) -> DataFrame:
    """Scored transactions -> alert rows (ALERT_SCHEMA) for those at or above the threshold."""
    require_columns(
        scored,
        ("transaction_id", "customer_id", "event_time", "fraud_score", "fraud_reasons", "is_alert"),
        "scored",
    )
    return scored.where(F.col("is_alert")).select(
        alert_id(F.col("transaction_id")).alias("alert_id"),
        "transaction_id",
        "customer_id",
        F.col("fraud_score").alias("score"),
        F.col("fraud_reasons").alias("reasons"),
        F.col("fraud_severity").alias("severity"),
        F.col("event_time").alias("timestamp"),
        F.to_date("event_time").alias("event_date"),
    )


def fraud_alert_message_columns() -> list[Column]:
    """Kafka ``key`` (transaction_id) and ``value`` (fraud-alerts wire JSON) of an alert row.

    Columns rather than a DataFrame so a caller can collect alerts and their messages in one job.
    """
    return [
        F.col("transaction_id").alias("key"),
        F.to_json(
            F.struct(
                "alert_id",
                "transaction_id",
                "customer_id",
                "score",
                "reasons",
                "severity",
                rfc3339(F.col("timestamp")).alias("timestamp"),
            )
        ).alias("value"),
    ]


def fraud_alert_messages(alerts: DataFrame) -> DataFrame:
    """Alert rows -> Kafka ``key`` (transaction_id) and ``value`` (fraud-alerts wire JSON)."""
    require_columns(alerts, [f.name for f in ALERT_SCHEMA if f.name != "event_date"], "fraud alerts")
    require_utc_session(alerts, "fraud_alert_messages")
    return alerts.select(*fraud_alert_message_columns())
