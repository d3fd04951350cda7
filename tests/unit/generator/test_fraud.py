"""Injected fraud: configured rate and types, labels on every order of an incident, and each type
recognisable by the signal DOMAIN.md names while normal orders never show it."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ecap import schemas
from ecap.generator import ShopGenerator, decode

from .conftest import Dataset, make_spec


def _ms(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


def _km(a: dict[str, Any], b: dict[str, Any]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a["latitude"], a["longitude"], b["latitude"], b["longitude"]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def _local_hour(tx: dict[str, Any]) -> int:
    moment = datetime.fromisoformat(tx["timestamp"].replace("Z", "+00:00"))
    return moment.astimezone(ZoneInfo(tx["location"]["timezone"])).hour


def reference_detector(transactions: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Plain rules on the signals of DOMAIN.md (offline: a burst is judged as a whole).

    Returns flagged transaction ids per rule. Never reads the label.
    """
    flagged: dict[str, set[str]] = defaultdict(set)
    ordered = sorted(transactions, key=lambda t: t["timestamp"])
    by_customer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for tx in ordered:
        by_customer[tx["customer_id"]].append(tx)
    for txs in by_customer.values():
        times = [_ms(t["timestamp"]) for t in txs]
        for i, tx in enumerate(txs):
            txid = tx["transaction_id"]
            near = sum(1 for t in times if abs(t - times[i]) <= 10 * 60_000)
            if tx["total_amount"] < 3.0:
                flagged["card_testing"].add(txid)
            elif near >= 5:
                flagged["velocity_attack"].add(txid)
            if _local_hour(tx) in (2, 3):
                flagged["time_anomaly"].add(txid)
            history = [t for t in txs[:i] if t["total_amount"] >= 3.0]
            if len(history) >= 2:
                usual = sum(t["total_amount"] for t in history) / len(history)
                if tx["total_amount"] > 4.5 * usual:
                    flagged["amount_anomaly"].add(txid)
                if tx["device"]["device_id"] not in {t["device"]["device_id"] for t in history}:
                    flagged["device_anomaly"].add(txid)
            if i:
                previous = txs[i - 1]
                hours = max((times[i] - times[i - 1]) / 3_600_000, 1 / 60)
                if _km(previous["location"], tx["location"]) / hours > 1000:
                    flagged["location_anomaly"].add(txid)
    return flagged


def test_fraud_rate_and_every_type_present(fraud_shop: Dataset) -> None:
    txs = fraud_shop.events["transactions"]
    labels = Counter(t[schemas.LABEL_FIELD] for t in txs)
    fraud = sum(n for label, n in labels.items() if label is not None)
    assert fraud / len(txs) == pytest.approx(0.03, rel=0.2)
    assert set(labels) - {None} == set(schemas.FRAUD_TYPES)


def test_bursts_are_labelled_throughout(fraud_shop: Dataset) -> None:
    bursts: dict[tuple[str, str], list[int]] = defaultdict(list)
    for tx in fraud_shop.events["transactions"]:
        if tx["injected_fraud"] in ("velocity_attack", "card_testing"):
            bursts[(tx["customer_id"], tx["injected_fraud"])].append(_ms(tx["timestamp"]))
    assert bursts
    for (customer, fraud_type), times in bursts.items():
        times.sort()
        assert len(times) >= 5, (customer, fraud_type)
        # Consecutive orders of one incident are seconds apart.
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert sum(g <= 60_000 for g in gaps) >= 4


def test_each_type_is_recognisable_and_normal_orders_are_not(fraud_shop: Dataset) -> None:
    txs = fraud_shop.events["transactions"]
    label = {t["transaction_id"]: t["injected_fraud"] for t in txs}
    flagged = reference_detector(txs)
    for fraud_type in schemas.FRAUD_TYPES:
        truth = {txid for txid, lab in label.items() if lab == fraud_type}
        caught = flagged[fraud_type] & truth
        assert len(caught) / len(truth) > 0.9, (fraud_type, len(caught), len(truth))
    any_flag = set().union(*flagged.values())
    truth_any = {txid for txid, lab in label.items() if lab is not None}
    precision = len(any_flag & truth_any) / len(any_flag)
    recall = len(any_flag & truth_any) / len(truth_any)
    assert precision > 0.9 and recall > 0.9, (precision, recall)


def test_normal_behaviour_is_normal(fraud_shop: Dataset) -> None:
    normal = [t for t in fraud_shop.events["transactions"] if t["injected_fraud"] is None]
    assert not [t for t in normal if _local_hour(t) in (2, 3)]
    assert min(t["total_amount"] for t in normal) >= 5.0
    homes: dict[str, set[str]] = defaultdict(set)
    devices: dict[str, set[str]] = defaultdict(set)
    for tx in normal:
        homes[tx["customer_id"]].add(tx["location"]["city"])
        devices[tx["customer_id"]].add(tx["device"]["device_id"])
    assert max(len(v) for v in homes.values()) == 1
    assert max(len(v) for v in devices.values()) == 1


@pytest.mark.parametrize("types", [["card_testing"], ["amount_anomaly", "device_anomaly"]])
def test_fraud_types_are_selectable(types: list[str]) -> None:
    spec = make_spec(
        topics={"transactions": "transactions"}, customers=800, fraud={"rate": 0.05, "types": types}
    )
    start = datetime(2026, 5, 4, tzinfo=UTC)
    txs = ShopGenerator(spec).events(start, start + timedelta(days=20), 200)["transactions"]
    labels = {t["injected_fraud"] for t in txs} - {None}
    assert labels == set(types)


def test_zero_rate_injects_nothing() -> None:
    spec = make_spec(topics={"transactions": "transactions"}, customers=500, fraud={"rate": 0.0})
    start = datetime(2026, 5, 4, tzinfo=UTC)
    chunks = ShopGenerator(spec).replay(start, start + timedelta(days=3), 300)
    assert {t["injected_fraud"] for t in decode(chunks)["transactions"]} == {None}


def test_fraud_sessions_appear_in_user_events(shop: Dataset) -> None:
    fraud = [t for t in shop.events["transactions"] if t["injected_fraud"]]
    assert fraud
    checkouts = Counter(
        e["session_id"] for e in shop.events["user-events"] if e["event_type"] == "complete_checkout"
    )
    assert all(checkouts[t["session_id"]] == 1 for t in fraud)
