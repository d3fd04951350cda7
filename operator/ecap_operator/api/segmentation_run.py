"""``SegmentationRun``: RFM segments and customer lifetime value computed from the transactions table."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .common import CRON, ApiModel, BaseStatus, SparkSettings


class ClvSettings(ApiModel):
    horizon_days: Annotated[int, Field(ge=1, le=3650)] = 365
    annual_discount_rate: Annotated[float, Field(ge=0, le=1)] = 0.10
    time_unit_days: Annotated[int, Field(ge=1, le=365)] = 7
    """Time unit of the BG/NBD summary (7 = weeks)."""


class SegmentationRunSpec(ApiModel):
    lake: Annotated[str, Field(min_length=1)] = "/lake"
    transactions_table: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*$")] = "transactions"
    output_table: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*$")] = "customer_segments"
    as_of: Annotated[str | None, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None
    """Reference date (UTC); orders after it are ignored. Defaults to the day of the run."""
    schedule: Annotated[str | None, Field(pattern=CRON)] = None
    """When set, runs on this cron schedule (a ScheduledSparkApplication)."""
    clv: ClvSettings = Field(default_factory=ClvSettings)
    report: bool = True
    """Write PNG/HTML charts next to the output table."""
    spark: SparkSettings = Field(default_factory=SparkSettings)


class SegmentationRunStatus(BaseStatus):
    run_id: str | None = None
    as_of: str | None = None
    customers: int | None = None
    segments: dict[str, int] | None = None
    mean_clv: float | None = None
    completed_at: str | None = None
    report: str | None = None
    application_state: str | None = None
