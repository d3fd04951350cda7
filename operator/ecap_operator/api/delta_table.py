"""``DeltaTable``: a managed Delta Lake table with its schema, partitioning and maintenance."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from .common import CRON, ApiModel, BaseStatus, DeletionPolicy, Resources

COLUMN_NAME = r"^[a-z_][a-z0-9_]*$"
COLUMN_TYPE = (
    r"^(string|long|integer|short|byte|double|float|boolean|timestamp|timestamp_ntz|date|binary"
    r"|decimal\(([1-9]|[1-2][0-9]|3[0-8]),([0-9]|[1-2][0-9]|3[0-8])\)"
    r"|array<.+>|map<.+>|struct<.+>)$"
)


class Column(ApiModel):
    name: Annotated[str, Field(pattern=COLUMN_NAME, max_length=128)]
    type: Annotated[str, Field(pattern=COLUMN_TYPE)]
    nullable: bool = True
    comment: str | None = None


class Maintenance(ApiModel):
    enabled: bool = True
    """false switches scheduled maintenance off (a merge patch cannot null ``maintenance``: it would drop the
    key and bring the default back)."""
    schedule: Annotated[str, Field(pattern=CRON)] = "0 3 * * *"
    optimize: bool = True
    z_order_by: list[Annotated[str, Field(pattern=COLUMN_NAME)]] = Field(default_factory=list)
    vacuum: bool = True
    retention_hours: Annotated[int, Field(ge=0, le=87600)] = 168
    """Files older than this and no longer in the table are removed by VACUUM."""


class DeltaTableSpec(ApiModel):
    table_name: Annotated[str | None, Field(pattern=COLUMN_NAME)] = None
    """Folder under the lake; defaults to the resource name with dashes as underscores."""
    lake: Annotated[str, Field(min_length=1)] = "/lake"
    columns: Annotated[list[Column], Field(min_length=1)]
    partition_by: list[Annotated[str, Field(pattern=COLUMN_NAME)]] = Field(default_factory=list)
    properties: dict[str, str] = Field(default_factory=dict)
    description: str | None = None
    min_retention_hours: Annotated[int, Field(ge=0, le=87600)] = 168
    """Floor for any VACUUM retention: time travel inside this window is always possible."""
    maintenance: Maintenance | None = Field(default_factory=Maintenance)
    deletion_policy: DeletionPolicy = DeletionPolicy.RETAIN
    image: str | None = None
    resources: Resources = Field(default_factory=Resources)

    @model_validator(mode="after")
    def _consistent(self) -> DeltaTableSpec:
        names = [c.name for c in self.columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"columns: duplicate column names {dupes}")
        for key in self.partition_by:
            if key not in names:
                raise ValueError(f"partitionBy: {key!r} is not a column (columns: {names})")
        if self.maintenance is not None:
            for key in self.maintenance.z_order_by:
                if key not in names:
                    raise ValueError(f"maintenance.zOrderBy: {key!r} is not a column (columns: {names})")
                if key in self.partition_by:
                    raise ValueError(f"maintenance.zOrderBy: {key!r} is a partition column")
            if self.maintenance.retention_hours < self.min_retention_hours:
                raise ValueError(
                    f"maintenance.retentionHours: {self.maintenance.retention_hours} is below "
                    f"minRetentionHours {self.min_retention_hours}"
                )
        return self


class DeltaTableStatus(BaseStatus):
    location: str | None = None
    version: int | None = None
    num_files: int | None = None
    size_bytes: int | None = None
    partitions: int | None = None
    last_optimize: str | None = None
    last_vacuum: str | None = None
