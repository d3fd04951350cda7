"""The resource loader every `ecap ... -f FILE` command uses: errors name the resource and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecap_operator.api import DataProducerSpec, ResourceError, check_references, load_resources

GOOD = """
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: ecap.io/v1alpha1
kind: KafkaTopic
metadata: {name: transactions}
spec: {partitions: 6, retentionMs: 604800000, compressionType: lz4}
---
apiVersion: ecap.io/v1alpha1
kind: DataProducer
metadata: {name: shop}
spec:
  topics: {transactions: transactions}
  rate: 50
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(text)
    return path


def test_loads_our_kinds_and_skips_others(tmp_path: Path) -> None:
    resources = load_resources(write(tmp_path, GOOD))
    assert [r.ref for r in resources] == ["KafkaTopic/transactions", "DataProducer/shop"]
    producer = resources[1].spec
    assert isinstance(producer, DataProducerSpec)
    assert producer.rate == 50
    assert producer.topics.refs() == {"transactions": "transactions"}
    check_references(resources)


def test_filter_by_kind(tmp_path: Path) -> None:
    assert [r.kind for r in load_resources(write(tmp_path, GOOD), kinds=["DataProducer"])] == ["DataProducer"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace("partitions: 6", "partitions: 0"), "KafkaTopic/transactions: spec.partitions"),
        (GOOD.replace("rate: 50", "rate: fast"), "DataProducer/shop: spec.rate"),
        (GOOD.replace("rate: 50", "rate: 50\n  colour: red"), "DataProducer/shop: spec.colour"),
        (GOOD.replace("kind: DataProducer", "kind: DataProduser"), "unknown kind 'DataProduser'"),
        (GOOD.replace("topics: {transactions: transactions}", "topics: {}"), "spec.topics"),
        (GOOD + "---" + GOOD.split("---")[2], "declared twice"),
    ],
)
def test_invalid_files_name_resource_and_field(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ResourceError, match=expected.replace(".", r"\.").replace("'", ".")):
        load_resources(write(tmp_path, text))


def test_missing_topic_reference_is_named(tmp_path: Path) -> None:
    text = GOOD.replace("topics: {transactions: transactions}", "topics: {transactions: orders}")
    with pytest.raises(
        ResourceError, match=r"DataProducer/shop: spec\.topics\.transactions: KafkaTopic 'orders'"
    ):
        check_references(load_resources(write(tmp_path, text)))
