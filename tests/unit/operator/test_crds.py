"""The generated CRDs: committed copies match the models, schemas are structural and validate examples."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from ecap.commands import crds as crds_command
from ecap_operator import crdgen
from ecap_operator.api import KINDS
from tests.fixtures.upstream import PROJECT_ROOT, custom_errors, iter_documents

EXAMPLES = PROJECT_ROOT / "manifests" / "examples" / "platform.yaml"


def walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every schema node with its path."""
    found = [(path, node)]
    for name, sub in node.get("properties", {}).items():
        found += walk(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        found += walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        found += walk(node["additionalProperties"], f"{path}.*")
    return found


@pytest.fixture(scope="module")
def generated() -> dict[str, dict[str, Any]]:
    return {crd["spec"]["names"]["kind"]: crd for crd in crdgen.all_crds()}


def test_committed_crds_match_the_models() -> None:
    stale = crds_command.stale_files(PROJECT_ROOT)
    assert stale == [], f"run `ecap crds --write`; out of date: {stale}"


def test_drift_is_detected(tmp_path: Path) -> None:
    crdgen.write_crds(*crds_command.targets(tmp_path))
    assert crds_command.stale_files(tmp_path) == []
    victim = tmp_path / "helm" / "ecap" / "crds" / "kafkatopics.ecap.io.yaml"
    victim.write_text(victim.read_text().replace("maximum: 10000", "maximum: 20000"))
    assert crds_command.stale_files(tmp_path) == [victim]


def test_chart_copies_are_identical() -> None:
    for crd in crdgen.all_crds():
        name = crdgen.crd_filename(crd)
        assert (PROJECT_ROOT / "crds" / name).read_bytes() == (
            PROJECT_ROOT / "helm" / "ecap" / "crds" / name
        ).read_bytes()


def test_print_outputs_all_five(capsys: pytest.CaptureFixture[str]) -> None:
    from ecap.cli import main

    assert main(["crds"]) == 0
    import yaml

    docs = [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]
    assert sorted(d["metadata"]["name"] for d in docs) == sorted(
        f"{k.plural}.ecap.io" for k in KINDS.values()
    )


@pytest.mark.parametrize("kind", list(KINDS))
def test_schema_is_structural(generated: dict[str, dict[str, Any]], kind: str) -> None:
    version = generated[kind]["spec"]["versions"][0]
    root = version["schema"]["openAPIV3Schema"]
    for path, node in walk(root):
        assert "type" in node, f"{kind}{path} has no type"
        for banned in ("$ref", "$defs", "anyOf", "oneOf", "allOf", "title", "const", "uniqueItems"):
            assert banned not in node, f"{kind}{path} has {banned}"
        assert node.get("additionalProperties") is not False, f"{kind}{path}: additionalProperties false"
        assert not ("properties" in node and "additionalProperties" in node), f"{kind}{path}"
        for flag in ("exclusiveMinimum", "exclusiveMaximum"):
            assert node.get(flag, True) is True, f"{kind}{path}: {flag} must be the OpenAPI boolean"
        if "default" in node:
            assert node["default"] is not None, f"{kind}{path}: null default"
    assert version["subresources"] == {"status": {}}
    assert root["properties"]["status"]["x-kubernetes-preserve-unknown-fields"] is True


def test_names_columns_and_categories(generated: dict[str, dict[str, Any]]) -> None:
    topic = generated["KafkaTopic"]
    assert topic["spec"]["names"]["shortNames"] == ["ekt"]
    assert topic["spec"]["names"]["categories"] == ["ecap"]
    for crd in generated.values():
        columns = [c["name"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]]
        assert columns[:2] == ["Ready", "Phase"] and columns[-1] == "Age"
    assert "Available" in [
        c["name"] for c in generated["DataProducer"]["spec"]["versions"][0]["additionalPrinterColumns"]
    ]


def test_optional_fields_are_nullable_and_defaults_kept(generated: dict[str, dict[str, Any]]) -> None:
    spec = generated["KafkaTopic"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec["properties"]["topicName"]["nullable"] is True
    assert spec["properties"]["partitions"] == {
        "type": "integer",
        "default": 1,
        "maximum": 10000,
        "minimum": 1,
    }
    assert spec["properties"]["deletionPolicy"]["enum"] == ["Retain", "Delete"]
    assert spec["properties"]["deletionPolicy"]["default"] == "Retain"
    assert spec["properties"]["config"]["additionalProperties"] == {"type": "string"}
    producer = generated["DataProducer"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert producer["required"] == ["spec"]
    rate = producer["properties"]["spec"]["properties"]["rate"]
    assert rate["minimum"] == 0 and rate["exclusiveMinimum"] is True


def example_documents() -> list[dict[str, Any]]:
    return list(iter_documents(EXAMPLES))


@pytest.mark.parametrize("doc", example_documents(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_platform_examples_validate(generated: dict[str, dict[str, Any]], doc: dict[str, Any]) -> None:
    assert custom_errors(doc, generated[doc["kind"]]) == []


def test_status_written_by_jobs_is_accepted(generated: dict[str, dict[str, Any]]) -> None:
    run = {
        "apiVersion": "ecap.io/v1alpha1",
        "kind": "SegmentationRun",
        "metadata": {"name": "x"},
        "spec": {},
        "status": {
            "phase": "Succeeded",
            "customers": 10,
            "segments": {"Champions": 3},
            "meanClv": 12.5,
            "runId": "r1",
            "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded"}],
            "someFutureFigure": {"a": 1},
        },
    }
    assert custom_errors(run, generated["SegmentationRun"]) == []


def _first(kind: str) -> dict[str, Any]:
    return copy.deepcopy(next(d for d in example_documents() if d["kind"] == kind))


BAD: list[tuple[str, str, Any, str]] = [
    ("KafkaTopic", "spec.partitions", 0, "minimum"),
    ("KafkaTopic", "spec.cleanupPolicy", "forever", "is not one of"),
    ("KafkaTopic", "spec.topicName", "bad topic!", "does not match"),
    ("KafkaTopic", "spec.partition", 3, "Additional properties"),
    ("DataProducer", "spec.rate", 0, "less than or equal to the minimum"),
    ("DataProducer", "spec.topics.userEvents", "User_Events", "does not match"),
    ("DataProducer", "spec.fraud.rate", 0.9, "maximum"),
    ("StreamingPipeline", "spec.spark.executor.instances", 0, "minimum"),
    ("StreamingPipeline", "spec.startingOffsets", "middle", "is not one of"),
    ("DeltaTable", "spec.columns", [], "should be non-empty"),
    ("DeltaTable", "spec.columns.0.type", "varchar", "does not match"),
    ("SegmentationRun", "spec.schedule", "every night", "does not match"),
    ("SegmentationRun", "spec.clv.horizonDays", 0, "minimum"),
]


def _set(doc: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node: Any = doc
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    node[parts[-1]] = value


@pytest.mark.parametrize(("kind", "field", "value", "expected"), BAD, ids=[f"{b[0]}-{b[1]}" for b in BAD])
def test_bad_specs_are_rejected(
    generated: dict[str, dict[str, Any]], kind: str, field: str, value: Any, expected: str
) -> None:
    doc = _first(kind)
    _set(doc, field, value)
    problems = custom_errors(doc, generated[kind])
    assert problems, f"{kind} with {field}={value!r} was accepted"
    assert any(expected in p for p in problems), problems


def test_missing_required_field_is_rejected(generated: dict[str, dict[str, Any]]) -> None:
    doc = _first("DataProducer")
    del doc["spec"]["topics"]
    assert any("'topics' is a required property" in p for p in custom_errors(doc, generated["DataProducer"]))
    doc = _first("DataProducer")
    del doc["spec"]
    assert custom_errors(doc, generated["DataProducer"])


def test_null_is_accepted_where_optional(generated: dict[str, dict[str, Any]]) -> None:
    doc = _first("KafkaTopic")
    doc["spec"]["topicName"] = None
    doc["spec"]["maxMessageBytes"] = None
    assert custom_errors(doc, generated["KafkaTopic"]) == []


@pytest.mark.parametrize("kind", list(KINDS))
def test_crd_object_is_valid_for_the_api_server(generated: dict[str, dict[str, Any]], kind: str) -> None:
    from tests.fixtures.upstream import builtin_errors

    assert builtin_errors(generated[kind]) == []


@pytest.mark.parametrize("kind", list(KINDS))
def test_defaults_validate_against_their_own_schema(generated: dict[str, dict[str, Any]], kind: str) -> None:
    """The API server rejects a CRD whose defaults do not validate (structural schema rule)."""
    import jsonschema

    from tests.fixtures.upstream import to_jsonschema

    root = generated[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    checked = 0
    for path, node in walk(root):
        if "default" in node:
            try:
                jsonschema.validate(node["default"], to_jsonschema(node))
            except jsonschema.ValidationError as err:
                raise AssertionError(f"{kind}{path}: invalid default: {err.message}") from err
            checked += 1
    assert checked > 0, f"{kind}: no defaults found"
