"""What each state of the workflow receives and returns (camelCase on the wire, as in the ASL)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter

from bwp.lake.partition import Partition, Series
from bwp.lake.stores import STORE_ID_PATTERN
from bwp.lake.wire import WireModel


class ReportStatus(StrEnum):
    """A report task's status: the API's, and the ledger's own once the task's report landed.

    The API may answer a status not named here (``ReportTask.status`` keeps it as a string): the
    check step refuses it by name.
    """

    STARTED = "STARTED"
    RUNNING = "RUNNING"  # not among the API's examples, but possible
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    LANDED = "LANDED"  # ours: the ledger's, once the window's report is in the lake


class ExpectedGeneration(WireModel):
    """How long a report type's recent reports took the API to generate (bwp.generation)."""

    typical_seconds: float = Field(gt=0)
    earliest_seconds: float = Field(gt=0)  # the fastest of them


class Window(WireModel):
    """One report task: one store's report type over one whole UTC day."""

    store: str = Field(pattern=STORE_ID_PATTERN)
    report_type: str
    day: date
    start_date: str
    end_date: str
    expected_generation: ExpectedGeneration | None = None  # None: too little history

    @property
    def partition(self) -> Partition:
        return Partition(self.store, self.report_type, self.day)


class StoreScope(WireModel):
    """One store of a run and the report types the run answers for in it."""

    store: str
    report_types: list[str]

    @property
    def series(self) -> list[Series]:
        return [Series(self.store, report_type) for report_type in self.report_types]


class RunScope(WireModel):
    """What a run answers for, decided once by planning."""

    max_concurrency: int  # the Map's: the per-store concurrency asked for, times the stores
    first_day: date
    end_day: date
    widened: bool
    stores: list[StoreScope]
    # The days whose partitions this run answers for: backfillFrom, or else the first planned day.
    coverage_from: date
    backfilled: int = 0


class Plan(RunScope):
    """What planning decides: the windows, and what the summary answers for."""

    windows: list[Window]


class ObjectLocation(WireModel):
    bucket: str
    key: str


class PlannedRun(RunScope):
    """What "Plan windows" hands the Map: where the windows are (the Map reads them from S3),
    how many, and what the summary answers for. Its size does not depend on the windows'."""

    plan: ObjectLocation
    windows: int


class PlanWindowsEvent(WireModel):
    request: Any = None
    execution_start_time: str
    execution_id: str = Field(min_length=1)
    execution_name: str = Field(min_length=1)  # names the plan object: unique per state machine


class ReportProgress(WireModel):
    """One report task as the workflow knows it between polls."""

    task_id: str
    report_type: str
    status: str
    request_time: str | None = None
    last_updated_time: str | None = None
    polls: int = 0
    wait_seconds: int
    slot: int | None = None  # the task slot held while the task is in progress (bwp.coordination)
    adopted: bool = False  # an earlier run's task, taken over instead of started again
    started_by: str | None = None  # the execution that started the task


class StartReportEvent(WireModel):
    window: Window
    attempt: int = Field(ge=1)
    execution_id: str


class CheckReportEvent(WireModel):
    window: Window
    report: ReportProgress


class LandReportEvent(WireModel):
    window: Window
    report: ReportProgress
    attempt: int = 1
    execution_id: str


class WindowLanded(WireModel):
    """A window whose report is staged and typed, for *Commit curated tables* to commit and
    publish. Kept small: it is the child execution's output, in the Map's result files; the
    staged manifest has the rest."""

    status: Literal["LANDED"] = "LANDED"
    store: str
    report_type: str
    day: date
    rows: int
    bytes_out: int
    drift: dict[str, Any] | None = None
    attempts: int
    task_id: str
    raw_sha256: str
    staged_raw_key: str  # the raw report, published into reports/ once the day is committed
    staged_manifest_key: str  # its manifest, published last: what makes the day landed
    data_key: str  # the typed Parquet data file the commit adds to the table

    @property
    def partition(self) -> Partition:
        return Partition(self.store, self.report_type, self.day)


class WindowFailed(WireModel):
    status: Literal["FAILED"] = "FAILED"
    window: Window
    error: str
    cause: str | None = None
    attempts: int = 1


# A child execution's output: what its last state returned.
WINDOW_RESULT = TypeAdapter(Annotated[WindowLanded | WindowFailed, Field(discriminator="status")])


class CommitCuratedEvent(WireModel):
    map_results: ObjectLocation  # the ResultWriter's manifest.json, which lists the result files
    execution_id: str


class TableCommit(WireModel):
    """One curated table's commit in a run."""

    report_type: str
    snapshot_id: int | None
    days_replaced: int
    days_in_place: int  # already the table's (an earlier attempt of the commit landed them)
    attempts: int
    snapshots_expired: int = 0


class CuratedCommit(WireModel):
    """*Commit curated tables*' output: one entry per table, whatever the number of windows."""

    published: int  # windows whose day this state committed and published
    tables: list[TableCommit]


class CommitOutcome(WireModel):
    """What Summarize is told of the commit: its output, or, when the state failed for good, the
    error object its Catch put in its place; then every window it left unpublished failed."""

    published: int = 0
    error: str | None = Field(None, alias="Error")
    cause: str | None = Field(None, alias="Cause")


class SummarizeEvent(WireModel):
    plan: ObjectLocation
    map_results: ObjectLocation  # the ResultWriter's manifest.json, which lists the result files
    commit: CommitOutcome  # what *Commit curated tables* did, or its error
    execution_id: str
    execution_name: str = Field(min_length=1)
    stores: list[StoreScope]
    coverage_from: date  # the days this run answers for: [coverageFrom, endDay)
    end_day: date


class RunTotals(WireModel):
    execution_id: str
    windows: int
    landed: int
    failed: int  # failed or without a result, whatever the cause
    rows: int
    bytes_out: int
    message: str
    missing: int  # partitions still missing in the days the run answers for, after it


class RunReport(RunTotals):
    """Summarize's full account of a run, kept in the bucket: one line per window."""

    drifted: list[str]
    lines: list[str]


class Summary(RunTotals):
    """Summarize's output: the totals, a sample of the failed and drifted windows, and where the
    full report is; bounded whatever the number of windows."""

    drifted: list[str]  # the first few
    failures: list[str]  # the first few failed windows' lines
    report: ObjectLocation
