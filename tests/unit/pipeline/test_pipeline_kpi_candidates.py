"""Which stored KPI windows a batch may update is decided on the driver, before any Spark job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from ecap.pipeline.analytics.kpis import KPI_SCHEMA
from ecap.pipeline.batch import kpi_candidates

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _stored(starts: list[tuple[int, datetime]]) -> pa.Table:
    columns = {name: pa.nulls(len(starts), KPI_SCHEMA.field(name).type) for name in KPI_SCHEMA.names}
    columns["window_seconds"] = pa.array([s for s, _ in starts], pa.int32())
    columns["window_start"] = pa.array([t for _, t in starts], KPI_SCHEMA.field("window_start").type)
    return pa.table(columns, schema=KPI_SCHEMA)


def test_windows_around_the_batch_events_are_candidates() -> None:
    stored = _stored(
        [
            (3600, T0 - timedelta(hours=2)),  # ended before the batch's first event
            (3600, T0 - timedelta(minutes=30)),  # an hour window holding the first event
            (60, T0),
            (60, T0 + timedelta(minutes=5)),  # the last event's minute
            (60, T0 + timedelta(minutes=6)),  # after the last event
        ]
    )
    found = kpi_candidates(
        stored, T0 + timedelta(seconds=10), T0 + timedelta(minutes=5, seconds=1), [60, 3600]
    )
    assert found is not None
    assert [(r["window_seconds"], r["window_start"]) for r in found.to_pylist()] == [
        (3600, T0 - timedelta(minutes=30)),
        (60, T0),
        (60, T0 + timedelta(minutes=5)),
    ]
    assert kpi_candidates(None, T0, T0, [60]) is None
