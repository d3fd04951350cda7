"""Errors of the analytics transforms, under the pipeline's one exception root."""

from __future__ import annotations

from collections.abc import Iterable

from pyspark.sql import DataFrame

from ..errors import PipelineError


class AnalyticsError(PipelineError):
    """Root of every error raised by ``ecap.pipeline.analytics`` (a PipelineError, so the runner stops)."""


class AnalyticsInputError(AnalyticsError, ValueError):
    """An input DataFrame lacks columns a transform needs, or a setting is unusable."""


def require_columns(df: DataFrame, columns: Iterable[str], what: str) -> None:
    """Fail early with the missing names instead of an AnalysisException deep in a plan."""
    present = set(df.columns)
    missing = [name for name in columns if name not in present]
    if missing:
        raise AnalyticsInputError(
            f"{what}: missing column(s) {', '.join(missing)}; got {', '.join(sorted(present))}"
        )


def require_utc_session(df: DataFrame, what: str) -> None:
    """Wire timestamps are rendered with date_format, which uses the session time zone."""
    zone = df.sparkSession.conf.get("spark.sql.session.timeZone")
    if zone not in ("UTC", "Etc/UTC", "Z", "+00:00"):
        raise AnalyticsInputError(
            f"{what}: wire JSON needs spark.sql.session.timeZone=UTC "
            f"(ecap.spark.get_spark sets it); got {zone}"
        )
