"""The example platform declares its Delta tables with exactly the schemas the jobs write.

If they drifted, applying the DeltaTable before the pipeline or segmentation first wrote would create a
table the job cannot append to (or the apply would refuse the job's table).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from ecap.lake import LakeError
from ecap.lake.tables import parse_type, spec_type
from ecap.schemas import TRANSACTIONS_SCHEMA
from ecap.segmentation.runner import CUSTOMER_SEGMENTS_SCHEMA
from ecap_operator.api import DeltaTableSpec, load_resources

PLATFORM = Path(__file__).resolve().parents[3] / "manifests" / "examples" / "platform.yaml"
WRITTEN = {"transactions": TRANSACTIONS_SCHEMA, "customer_segments": CUSTOMER_SEGMENTS_SCHEMA}


@pytest.mark.parametrize("table", sorted(WRITTEN))
def test_declared_columns_match_what_jobs_write(table: str) -> None:
    specs = [r.spec for r in load_resources(PLATFORM, kinds=["DeltaTable"])]
    spec = next(s for s in specs if isinstance(s, DeltaTableSpec) and s.table_name == table)
    declared = [(c.name, c.type, c.nullable) for c in spec.columns]
    written = [(f.name, spec_type(f.type), f.nullable) for f in WRITTEN[table]]
    assert declared == written


def test_spec_type_round_trips_through_parse_type() -> None:
    for field in TRANSACTIONS_SCHEMA:
        text = spec_type(field.type)
        assert spec_type_of_delta(parse_type(text).to_json()) == text


def spec_type_of_delta(delta_json: str) -> str:
    """Delta JSON back to our type string, independently of spec_type (primitives are bare JSON strings)."""
    import json

    node = json.loads(delta_json) if delta_json.startswith(("{", '"')) else delta_json

    def walk(n: object) -> str:
        if isinstance(n, str):
            return n
        assert isinstance(n, dict)
        if n["type"] == "array":
            return f"array<{walk(n['elementType'])}>"
        if n["type"] == "map":
            return f"map<{walk(n['keyType'])},{walk(n['valueType'])}>"
        return "struct<" + ",".join(f"{f['name']}:{walk(f['type'])}" for f in n["fields"]) + ">"

    return walk(node)


def test_unknown_arrow_type_is_refused() -> None:
    with pytest.raises(LakeError, match="no Delta column type"):
        spec_type(pa.duration("s"))
