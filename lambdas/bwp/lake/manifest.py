"""The landing manifest: one JSON line per (report type, day), written last, so its presence says
the partition landed.

This model is the manifest's one definition: the land step writes it, and the Glue manifests
table and DuckDB's manifests view take their columns from it (``glue_columns``,
``duckdb_columns``), so a field added here is queryable on both.
"""

from __future__ import annotations

import json
import types
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field

from bwp.lake.wire import WireModel


@dataclass(frozen=True)
class Bigint:
    """Marks a count that can outgrow a 32-bit column (rows, bytes)."""


BigCount = Annotated[int, Bigint()]


class ManifestPart(WireModel):
    # A key the writer passes without a field here would be dropped, and never reach a column.
    model_config = ConfigDict(extra="forbid")

    def to_json_line(self) -> bytes:
        return (json.dumps(self.to_wire(), separators=(",", ":")) + "\n").encode()


class Drift(ManifestPart):
    missing: list[str]
    unexpected: list[str]
    order_differs: bool


class CuratedFile(ManifestPart):
    key: str
    rows: BigCount
    rows_skipped: BigCount
    bytes: BigCount
    sha256: str
    row_groups: int
    extra_columns: list[str]
    invalid_utf8_values: BigCount  # values whose bytes were not UTF-8: U+FFFD in the curated file


class Timings(ManifestPart):
    requested_at: str | None
    completed_at: str | None
    generation_seconds: float | None
    polls: int
    landing_started_at: str
    landing_seconds: float
    curated_seconds: float


class Download(ManifestPart):
    source_gzip: bool
    link_refreshes: int
    resumes: int
    parts: int


class TaskOrigin(ManifestPart):
    adopted: bool  # an earlier run's task, taken over instead of started again
    started_by: str | None


class Manifest(ManifestPart):
    # The descriptions are the manifests table's column comments in Glue.
    store: str = Field(description="The store's id in the lake's configuration")
    target_id: str = Field(description="The API's target id of the store (the account the report came from)")
    report_type: str = Field(description="Report type, e.g. ORDER_FEES")
    day: str = Field(description="UTC day of the partition, YYYY-MM-DD")
    task_id: str = Field(description="The API's report task id the partition was downloaded from")
    key: str = Field(description="S3 key of the raw report object (gzip CSV)")
    rows: BigCount = Field(description="Data rows in the report, header excluded")
    bytes_in: BigCount = Field(description="Size of the report as downloaded (bytes fetched again on a resume once)")
    bytes_out: BigCount = Field(description="Size of the raw object stored (gzip)")
    sha256: str = Field(description="SHA-256 of the report's CSV text (after gunzip when served gzip), hex")
    columns: list[str] = Field(description="The report's header, as served")
    expected_columns: list[str] = Field(description="The registry's columns for the report type")
    provisional_schema: bool = Field(description="Whether the registry's schema for the report type is provisional")
    drift: Drift | None = Field(
        description="Header drift against the registry (columns missing, unexpected, order differs); null when none"
    )
    curated: CuratedFile = Field(
        description="The typed Parquet file: key, rows, rows skipped, bytes, sha256, row groups, extra columns"
    )
    landed_at: str = Field(description="When the partition landed (ISO 8601, UTC); the manifest is written last")
    timings: Timings = Field(
        description="Report requested and completed, generation seconds, polls, landing and curated seconds"
    )
    download: Download = Field(description="Download: gzip source, link refreshes, resumes, parts")
    attempts: int = Field(description="Attempts the window took to land")
    execution_id: str = Field(description="The Step Functions execution that landed the partition")
    task: TaskOrigin = Field(description="Whether the task was adopted from an earlier run, and which started it")


@dataclass(frozen=True)
class _Dialect:
    string: str
    boolean: str
    integer: str
    bigint: str
    double: str
    array: str  # format of an array type, {} the element's type
    struct: str  # format of a struct type, {} its members
    member: str  # format of one struct member
    separator: str
    lower_case: bool  # names as Glue keeps them


_GLUE = _Dialect(
    string="string", boolean="boolean", integer="int", bigint="bigint", double="double",
    array="array<{}>", struct="struct<{}>", member="{name}:{kind}", separator=",", lower_case=True,
)
_DUCKDB = _Dialect(
    string="VARCHAR", boolean="BOOLEAN", integer="INTEGER", bigint="BIGINT", double="DOUBLE",
    array="{}[]", struct="STRUCT({})", member='"{name}" {kind}', separator=", ", lower_case=False,
)


def glue_columns(model: type[BaseModel] = Manifest) -> list[tuple[str, str]]:
    """The Glue table's columns: lower case, as Athena keeps them (the JSON SerDe matches the
    manifest's camelCase keys case-insensitively)."""
    return _columns(model, _GLUE)


def glue_column_comments(model: type[BaseModel] = Manifest) -> dict[str, str]:
    """Glue column name -> the field's description, the column's comment."""
    return {(field.alias or name).lower(): field.description or "" for name, field in model.model_fields.items()}


def duckdb_columns(model: type[BaseModel] = Manifest) -> list[tuple[str, str]]:
    """The columns as DuckDB's read_json names them: the manifest's keys."""
    return _columns(model, _DUCKDB)


def _columns(model: type[BaseModel], dialect: _Dialect) -> list[tuple[str, str]]:
    columns = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        column = key.lower() if dialect.lower_case else key
        columns.append((column, _sql_type(field.annotation, field.metadata, dialect)))
    return columns


def _sql_type(annotation: Any, metadata: list[Any], dialect: _Dialect) -> str:
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *extra = get_args(annotation)
        return _sql_type(inner, [*metadata, *extra], dialect)
    if origin in (Union, types.UnionType):
        present = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(present) != 1:
            raise TypeError(f"a manifest field is one type or None, not {annotation}")
        return _sql_type(present[0], metadata, dialect)
    if origin is list:
        (element,) = get_args(annotation)
        return dialect.array.format(_sql_type(element, [], dialect))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        members = (dialect.member.format(name=name, kind=kind) for name, kind in _columns(annotation, dialect))
        return dialect.struct.format(dialect.separator.join(members))
    if annotation is bool:
        return dialect.boolean
    if annotation is int:
        return dialect.bigint if any(isinstance(item, Bigint) for item in metadata) else dialect.integer
    if annotation is float:
        return dialect.double
    if annotation is str:
        return dialect.string
    raise TypeError(f"no SQL column type for a manifest field of type {annotation}")
