"""Wire JSON -> typed rows with the reasons each record fails, as pure ``DataFrame -> DataFrame`` steps.

Every record of a source topic comes out exactly once: either with an empty ``_failed_rules`` and
all table columns filled, or with the names of the rules it broke, its raw value (as UTF-8 text, plus
base64 when the bytes are not UTF-8) and a readable error. Rule names are stable strings that land in
the ``quarantine`` table (``failed_rules``) and in ``data_quality.rule_failures``:

- ``empty_value``, ``invalid_utf8``, ``malformed_json`` (not a JSON object), ``wrong_type`` (a field
  does not fit the explicit schema: e.g. a string where a number belongs, a number too large);
- ``required:<field>``: completeness;
- ``format:<field>``: ids, RFC 3339 timestamps, currency, enumerations, time zones, money with more
  than two decimals;
- ``range:<field>``: amount > 0, quantity >= 1, unit price within the category's price range, ...;
- ``business:total_mismatch`` (subtotal - discount + tax != total within a cent),
  ``business:subtotal_mismatch`` (line items do not add up to the subtotal within a cent),
  ``business:max_amount``, ``business:future_event``, ``business:too_old``;
- ``unknown_product`` is added on the driver by :mod:`ecap.pipeline.quality` (it needs the product
  dimension, see there).
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from ecap.schemas import (
    CATEGORY_PRICE_RANGES,
    CHANNELS,
    CURRENCY,
    DEVICE_TYPES,
    LABEL_FIELD,
    PAYMENT_METHODS,
    PRODUCT_STATUSES,
    PRODUCT_UPDATE_TYPES,
    USER_EVENT_TYPES,
    VISITOR_SEGMENTS,
)
from ecap_operator.api.streaming_pipeline import QualitySettings

from .errors import PipelineConfigError
from .tables import EVENT_TABLES

# Money parses wide, so that a third decimal or an overflow is a rule failure, not a silent rounding.
WIRE_MONEY: Final = "decimal(20,6)"
_LOCATION: Final = (
    "struct<city:string,country:string,region:string,latitude:double,longitude:double,timezone:string>"
)
_DEVICE: Final = "struct<device_id:string,device_type:string,os:string>"
CORRUPT_COLUMN: Final = "_corrupt_record"

# The explicit wire schemas (ecap.schemas documents the fields), one per stream.
WIRE_SCHEMAS: Final[dict[str, str]] = {
    "transactions": ", ".join(
        [
            "event_id string",
            "transaction_id string",
            "customer_id string",
            "session_id string",
            "timestamp string",
            f"items array<struct<product_id:string,category:string,unit_price:{WIRE_MONEY},quantity:int>>",
            f"subtotal {WIRE_MONEY}",
            f"discount {WIRE_MONEY}",
            f"tax {WIRE_MONEY}",
            f"total_amount {WIRE_MONEY}",
            "currency string",
            "payment_method string",
            "channel string",
            f"location {_LOCATION}",
            f"device {_DEVICE}",
            f"{LABEL_FIELD} string",
            f"{CORRUPT_COLUMN} string",
        ]
    ),
    "user-events": ", ".join(
        [
            "event_id string",
            "session_id string",
            "customer_id string",
            "event_type string",
            "timestamp string",
            "sequence int",
            "visitor_segment string",
            "channel string",
            "product_id string",
            "category string",
            "search_query string",
            "page string",
            f"location {_LOCATION}",
            f"device {_DEVICE}",
            f"{CORRUPT_COLUMN} string",
        ]
    ),
    "product-updates": ", ".join(
        [
            "event_id string",
            "product_id string",
            "update_type string",
            "timestamp string",
            "name string",
            "category string",
            f"price {WIRE_MONEY}",
            f"previous_price {WIRE_MONEY}",
            "stock bigint",
            "status string",
            "description string",
            f"{CORRUPT_COLUMN} string",
        ]
    ),
}

REQUIRED_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "transactions": (
        "transaction_id",
        "customer_id",
        "timestamp",
        "items",
        "subtotal",
        "total_amount",
        "currency",
        "payment_method",
    ),
    "user-events": ("event_id", "session_id", "event_type", "timestamp"),
    "product-updates": ("event_id", "product_id", "update_type", "timestamp"),
}

RFC3339: Final = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$"
CUSTOMER_ID: Final = r"^cust_[0-9]{1,12}$"
PRODUCT_ID: Final = r"^prod_[A-Za-z0-9_-]{1,64}$"
# Transaction, event and session ids: a letter or digit first, then a short run of id characters.
GENERIC_ID: Final = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
TIMEZONES: Final = tuple(sorted(zoneinfo.available_timezones()))
MONEY_LIMIT: Final = 10**10  # decimal(12,2)
CENT: Final = 0.01

RULE_DESCRIPTIONS: Final[dict[str, str]] = {
    "empty_value": "the record has no value (a tombstone or an empty message)",
    "invalid_utf8": "the value is not UTF-8 text",
    "malformed_json": "the value is not a JSON object",
    "wrong_type": "a field has a type the schema does not allow (or a number out of range)",
    "unknown_product": "a product id that is not in the product dimension",
    "business:total_mismatch": "subtotal - discount + tax differs from total_amount by more than a cent",
    "business:subtotal_mismatch": "the line items do not add up to the subtotal within a cent",
    "business:max_amount": "total_amount is above quality.maxAmount",
    "business:future_event": "the event time is in the future beyond quality.maxFutureSkewSeconds",
    "business:too_old": "the event time is older than quality.maxEventAgeDays",
}


def describe_rule(rule: str) -> str:
    if rule in RULE_DESCRIPTIONS:
        return RULE_DESCRIPTIONS[rule]
    kind, _, field = rule.partition(":")
    return {
        "required": f"{field} is missing",
        "format": f"{field} has an invalid format or value",
        "range": f"{field} is out of its allowed range",
    }.get(kind, rule)


def _rule(name: str, failing: Column) -> Column:
    """The rule's name when ``failing`` is true; null (no failure) when false or unknown."""
    return F.when(failing, F.lit(name))


def _invalid_pattern(col: Column, pattern: str) -> Column:
    return col.isNotNull() & ~col.rlike(pattern)


def _not_in(col: Column, allowed: tuple[str, ...] | list[str]) -> Column:
    return col.isNotNull() & ~col.isin(list(allowed))


def _too_precise(col: Column) -> Column:
    return col.isNotNull() & ((col != F.round(col, 2)) | (F.abs(col) >= MONEY_LIMIT))


def _category_bounds(category: Column) -> tuple[Column, Column]:
    low = F.lit(None).cast(WIRE_MONEY)
    high = F.lit(None).cast(WIRE_MONEY)
    for name, (lo, hi) in CATEGORY_PRICE_RANGES.items():
        low = F.when(category == name, F.lit(lo).cast(WIRE_MONEY)).otherwise(low)
        high = F.when(category == name, F.lit(hi).cast(WIRE_MONEY)).otherwise(high)
    return low, high


def _price_out_of_range(price: Column, category: Column) -> Column:
    low, high = _category_bounds(category)
    return price.isNotNull() & low.isNotNull() & ((price < low) | (price > high))


def _location_rules(loc: Column) -> list[Column]:
    return [
        _rule("range:latitude", F.abs(loc["latitude"]) > 90),
        _rule("range:longitude", F.abs(loc["longitude"]) > 180),
        _rule("format:timezone", _not_in(loc["timezone"], TIMEZONES)),
    ]


def _time_rules(event_time: Column, settings: QualitySettings) -> list[Column]:
    """Event time against the record's Kafka timestamp (when it was produced), not the wall clock,
    so that a replayed batch judges every record exactly as the first attempt did."""
    now_lit = F.col("timestamp")
    return [
        _rule(
            "business:future_event",
            event_time > now_lit + F.make_interval(secs=F.lit(settings.max_future_skew_seconds)),
        ),
        _rule(
            "business:too_old",
            event_time < now_lit - F.make_interval(days=F.lit(settings.max_event_age_days)),
        ),
    ]


def _transaction_rules(j: Column, event_time: Column, settings: QualitySettings) -> list[Column]:
    items = j["items"]
    item_total = F.aggregate(
        items, F.lit(0).cast("decimal(38,6)"), lambda acc, it: acc + it["unit_price"] * it["quantity"]
    )
    net = j["subtotal"] - F.coalesce(j["discount"], F.lit(0)) + F.coalesce(j["tax"], F.lit(0))
    return [
        _rule("required:items", F.size(items) == 0),
        _rule("format:transaction_id", _invalid_pattern(j["transaction_id"], GENERIC_ID)),
        _rule("format:customer_id", _invalid_pattern(j["customer_id"], CUSTOMER_ID)),
        _rule("format:session_id", _invalid_pattern(j["session_id"], GENERIC_ID)),
        _rule("format:currency", _not_in(j["currency"], [CURRENCY])),
        _rule("format:payment_method", _not_in(j["payment_method"], list(PAYMENT_METHODS))),
        _rule("format:channel", _not_in(j["channel"], CHANNELS)),
        _rule("format:device_type", _not_in(j["device"]["device_type"], DEVICE_TYPES)),
        _rule(
            "required:product_id",
            F.exists(items, lambda it: it["product_id"].isNull() | it["unit_price"].isNull()),
        ),
        _rule("format:product_id", F.exists(items, lambda it: ~it["product_id"].rlike(PRODUCT_ID))),
        _rule(
            "format:category",
            F.exists(items, lambda it: _not_in(it["category"], list(CATEGORY_PRICE_RANGES))),
        ),
        _rule(
            "format:money",
            _too_precise(j["subtotal"])
            | _too_precise(j["discount"])
            | _too_precise(j["tax"])
            | _too_precise(j["total_amount"])
            | F.exists(items, lambda it: _too_precise(it["unit_price"])),
        ),
        _rule("range:total_amount", j["total_amount"] <= 0),
        _rule("range:subtotal", j["subtotal"] < 0),
        _rule("range:discount", j["discount"] < 0),
        _rule("range:tax", j["tax"] < 0),
        _rule("range:quantity", F.exists(items, lambda it: F.coalesce(it["quantity"], F.lit(0)) < 1)),
        _rule(
            "range:unit_price",
            F.exists(items, lambda it: _price_out_of_range(it["unit_price"], it["category"])),
        ),
        _rule("business:total_mismatch", F.abs(net - j["total_amount"]) > CENT),
        _rule("business:subtotal_mismatch", F.abs(item_total - j["subtotal"]) > CENT),
        _rule("business:max_amount", j["total_amount"] > F.lit(settings.max_amount)),
        *_location_rules(j["location"]),
        *_time_rules(event_time, settings),
    ]


def _user_event_rules(j: Column, event_time: Column, settings: QualitySettings) -> list[Column]:
    return [
        _rule("format:event_id", _invalid_pattern(j["event_id"], GENERIC_ID)),
        _rule("format:session_id", _invalid_pattern(j["session_id"], GENERIC_ID)),
        _rule("format:customer_id", _invalid_pattern(j["customer_id"], CUSTOMER_ID)),
        _rule("format:product_id", _invalid_pattern(j["product_id"], PRODUCT_ID)),
        _rule("format:event_type", _not_in(j["event_type"], USER_EVENT_TYPES)),
        _rule("format:visitor_segment", _not_in(j["visitor_segment"], VISITOR_SEGMENTS)),
        _rule("format:channel", _not_in(j["channel"], CHANNELS)),
        _rule("format:category", _not_in(j["category"], list(CATEGORY_PRICE_RANGES))),
        _rule("format:device_type", _not_in(j["device"]["device_type"], DEVICE_TYPES)),
        _rule("range:sequence", j["sequence"] < 0),
        *_location_rules(j["location"]),
        *_time_rules(event_time, settings),
    ]


def _product_update_rules(j: Column, event_time: Column, settings: QualitySettings) -> list[Column]:
    return [
        _rule("format:event_id", _invalid_pattern(j["event_id"], GENERIC_ID)),
        _rule("format:product_id", _invalid_pattern(j["product_id"], PRODUCT_ID)),
        _rule("format:update_type", _not_in(j["update_type"], PRODUCT_UPDATE_TYPES)),
        _rule("format:status", _not_in(j["status"], PRODUCT_STATUSES)),
        _rule("format:category", _not_in(j["category"], list(CATEGORY_PRICE_RANGES))),
        _rule("format:money", _too_precise(j["price"]) | _too_precise(j["previous_price"])),
        _rule("range:price", (j["price"] <= 0) | _price_out_of_range(j["price"], j["category"])),
        _rule("range:previous_price", j["previous_price"] <= 0),
        _rule("range:stock", j["stock"] < 0),
        *_time_rules(event_time, settings),
    ]


RuleBuilder = Callable[[Column, Column, QualitySettings], list[Column]]
STREAM_RULES: Final[dict[str, RuleBuilder]] = {
    "transactions": _transaction_rules,
    "user-events": _user_event_rules,
    "product-updates": _product_update_rules,
}


def _money(col: Column) -> Column:
    return col.cast("decimal(12,2)")


def _table_columns(stream: str, j: Column, event_time: Column) -> list[Column]:
    """The clean table's columns (without provenance) from the parsed JSON, in schema order."""
    if stream == "product-updates":
        return [
            j["event_id"].alias("event_id"),
            j["product_id"].alias("product_id"),
            j["update_type"].alias("update_type"),
            event_time.alias("event_time"),
            F.to_date(event_time).alias("event_date"),
            j["name"].alias("name"),
            j["category"].alias("category"),
            _money(j["price"]).alias("price"),
            _money(j["previous_price"]).alias("previous_price"),
            j["stock"].alias("stock"),
            j["status"].alias("status"),
            j["description"].alias("description"),
        ]
    loc = j["location"]
    location = [loc[name].alias(name) for name in ("city", "country", "region", "latitude", "longitude")]
    location.append(loc["timezone"].alias("timezone"))
    device = [j["device"]["device_id"].alias("device_id"), j["device"]["device_type"].alias("device_type")]
    if stream == "transactions":
        items = F.transform(
            j["items"],
            lambda it: F.struct(
                it["product_id"].alias("product_id"),
                it["category"].alias("category"),
                _money(it["unit_price"]).alias("unit_price"),
                it["quantity"].alias("quantity"),
            ),
        )
        return [
            j["transaction_id"].alias("transaction_id"),
            j["customer_id"].alias("customer_id"),
            j["session_id"].alias("session_id"),
            event_time.alias("event_time"),
            F.to_date(event_time).alias("event_date"),
            items.alias("items"),
            F.size(j["items"]).cast("int").alias("item_count"),
            _money(j["subtotal"]).alias("subtotal"),
            _money(j["discount"]).alias("discount"),
            _money(j["tax"]).alias("tax"),
            _money(j["total_amount"]).alias("total_amount"),
            j["currency"].alias("currency"),
            j["payment_method"].alias("payment_method"),
            j["channel"].alias("channel"),
            *device,
            *location,
            F.lit(None).cast("int").alias("local_hour"),
            F.lit(None).cast("int").alias("local_day_of_week"),
            j[LABEL_FIELD].alias(LABEL_FIELD),
        ]
    return [
        j["event_id"].alias("event_id"),
        j["session_id"].alias("session_id"),
        j["customer_id"].alias("customer_id"),
        j["event_type"].alias("event_type"),
        event_time.alias("event_time"),
        F.to_date(event_time).alias("event_date"),
        j["sequence"].alias("sequence"),
        j["visitor_segment"].alias("visitor_segment"),
        j["channel"].alias("channel"),
        j["product_id"].alias("product_id"),
        j["category"].alias("category"),
        j["search_query"].alias("search_query"),
        j["page"].alias("page"),
        *device,
        *location,
        F.lit(None).cast("int").alias("local_hour"),
    ]


@functools.cache
def _arrow_zone(zone: str) -> str:
    """The zone Arrow computes in: the name itself, or UTC for a tz database name Arrow lacks
    (``Factory``, which is UTC by definition)."""
    try:
        pc.hour(pa.array([0], pa.timestamp("us", tz=zone)))
    except pa.ArrowInvalid:
        return "UTC"
    return zone


_VALID_ZONES: Final = pa.array(TIMEZONES, pa.string())


def fill_local_time(rows: pa.Table) -> pa.Table:
    """Fill ``local_hour`` (and ``local_day_of_week``, ISO 1 = Monday) from the row's own zone.

    Done on the driver in Arrow, one vectorised step per distinct zone: a per-row zone conversion in
    Spark (``convert_timezone`` with a zone column) cost more than parsing the JSON itself. Rows
    without a valid IANA zone read the UTC wall clock; rows without an event time stay null.
    """
    wanted = [name for name in ("local_hour", "local_day_of_week") if name in rows.column_names]
    if not wanted or rows.num_rows == 0:
        return rows
    times = rows["event_time"].combine_chunks()
    zones = rows["timezone"].combine_chunks()
    valid = pc.fill_null(pc.is_in(zones, value_set=_VALID_ZONES), False)
    zones = pc.if_else(valid, zones, pa.scalar("UTC"))
    encoded = zones.dictionary_encode()
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    values = {name: np.zeros(rows.num_rows, np.int32) for name in wanted}
    for group in np.split(order, bounds):
        zone = _arrow_zone(str(encoded.dictionary[int(codes[group[0]])]))
        local = times.take(pa.array(group)).cast(pa.timestamp("us", tz=zone))
        values["local_hour"][group] = pc.fill_null(pc.hour(local), 0).to_numpy(zero_copy_only=False)
        if "local_day_of_week" in values:
            day = pc.fill_null(pc.day_of_week(local, count_from_zero=False, week_start=1), 0)
            values["local_day_of_week"][group] = day.to_numpy(zero_copy_only=False)
    missing = pc.is_null(times)
    for name in wanted:
        column = pa.array(values[name], pa.int32(), mask=missing.to_numpy(zero_copy_only=False))
        rows = rows.set_column(rows.schema.get_field_index(name), name, column)
    return rows


def _product_ids(stream: str, j: Column) -> Column:
    if stream == "transactions":
        return F.transform(j["items"], lambda it: it["product_id"])
    if stream == "user-events":
        return F.when(j["product_id"].isNull(), F.array().cast("array<string>")).otherwise(
            F.array(j["product_id"])
        )
    return F.array().cast("array<string>")


def _all_null(j: Column, fields: list[str]) -> Column:
    condition = j[fields[0]].isNull()
    for name in fields[1:]:
        condition = condition & j[name].isNull()
    return condition


@functools.cache
def _validation_columns(stream: str, settings: QualitySettings) -> tuple[list[Column], list[Column]]:
    """The Spark expressions of one stream's parsing and rules, built once per settings.

    Building them costs thousands of JVM calls (rule literals, time zones); they hold no per-batch
    value, so every micro-batch reuses them.
    """
    text = F.col("value").cast("string")
    utf8_ok = F.is_valid_utf8(text)
    parse = [
        F.col("topic"),
        F.col("partition"),
        F.col("offset"),
        F.col("timestamp"),
        F.col("key"),
        F.col("value"),
        F.from_json(
            F.when(utf8_ok, text),
            WIRE_SCHEMAS[stream],
            {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_COLUMN},
        ).alias("_j"),
        utf8_ok.alias("_utf8"),
    ]
    j = F.col("_j")
    fields = [
        name.split(" ")[0] for name in WIRE_SCHEMAS[stream].split(", ") if not name.startswith(CORRUPT_COLUMN)
    ]
    # One JSON parse per record: a value the parser could not read as an object leaves every field
    # null and only the corrupt-record column set (a wrong type keeps the fields it could read).
    is_object = F.coalesce(~(j[CORRUPT_COLUMN].isNotNull() & _all_null(j, fields)), F.lit(False))
    ts_text = j["timestamp"]
    event_time = F.when(ts_text.rlike(RFC3339), F.try_to_timestamp(ts_text))
    required = REQUIRED_FIELDS[stream]
    present = [F.when(j[name].isNotNull(), 1).otherwise(0) for name in required]
    completeness = sum(present[1:], present[0]) / F.lit(len(required))
    envelope = (
        F.when(F.col("value").isNull(), F.array(F.lit("empty_value")))
        .when(~F.col("_utf8"), F.array(F.lit("invalid_utf8")))
        .when(~is_object, F.array(F.lit("malformed_json")))
    )
    field_rules = [
        _rule("wrong_type", j[CORRUPT_COLUMN].isNotNull()),
        *[_rule(f"required:{name}", j[name].isNull()) for name in required],
        _rule("format:timestamp", ts_text.isNotNull() & event_time.isNull()),
        *STREAM_RULES[stream](j, event_time, settings),
    ]
    failed = F.coalesce(envelope, F.array_compact(F.array(*field_rules)))
    if stream == "transactions":
        amount = j["total_amount"]
    elif stream == "product-updates":
        amount = j["price"]
    else:
        amount = F.lit(None)
    rows = [
        *_table_columns(stream, j, event_time),
        F.col("topic").alias("source_topic"),
        F.col("partition").cast("int").alias("source_partition"),
        F.col("offset").cast("long").alias("source_offset"),
        F.lit(None).cast("timestamp").alias("ingested_at"),
        failed.alias("_failed_rules"),
        F.col("timestamp").alias("_kafka_timestamp"),
        F.col("key").cast("string").alias("_key_text"),
        F.when(is_object, _product_ids(stream, j))
        .otherwise(F.array().cast("array<string>"))
        .alias("_product_ids"),
        F.when(is_object, completeness).otherwise(F.lit(0.0)).alias("_completeness"),
        amount.cast("double").alias("_amount"),
        F.col("value").alias("_value"),
        F.col("_utf8"),
    ]
    return parse, rows


def parse_and_validate(raw: DataFrame, stream: str, settings: QualitySettings) -> DataFrame:
    """Kafka records of one stream -> table columns + provenance + ``_failed_rules`` and friends.

    ``raw`` has the Kafka source's columns (topic, partition, offset, timestamp, key, value).
    Extra columns for the driver side: ``_failed_rules`` (array<string>), ``_kafka_timestamp``,
    ``_key_text``, ``_raw_value``, ``_raw_value_base64`` (raw fields only on failed rows),
    ``_product_ids`` (for the referential rule), ``_completeness`` (share of required fields
    present) and ``_amount`` (double, for outlier statistics). ``ingested_at`` is left null for the
    driver to stamp, ``local_hour`` / ``local_day_of_week`` null for :func:`fill_local_time`.
    """
    if stream not in WIRE_SCHEMAS:
        raise PipelineConfigError(f"unknown stream {stream!r}; streams are {', '.join(WIRE_SCHEMAS)}")
    parse, rows = _validation_columns(stream, settings)
    out = raw.select(*parse).select(*rows)
    bad = F.size("_failed_rules") > 0
    out = out.select(
        *[c for c in out.columns if c not in ("_value", "_utf8")],
        F.when(bad, F.when(F.col("_utf8"), F.col("_value").cast("string"))).alias("_raw_value"),
        F.when(bad & ~F.col("_utf8"), F.base64("_value")).alias("_raw_value_base64"),
    )
    expected = [f.name for f in EVENT_TABLES[stream].schema]
    missing = [name for name in expected if name not in out.columns]
    if missing:
        raise PipelineConfigError(f"{stream}: parser does not produce table columns {missing}")
    return out
