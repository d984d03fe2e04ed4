"""The states' logic without Lambda: plan, check (statuses, poll cap, adaptive wait), summarize."""

import json
from datetime import UTC, date, datetime, timedelta

import boto3
import pytest
from bwp import clock, errors, polling, runs
from bwp.client import ReportTask
from bwp.coordination import TaskLedger
from bwp.lake.partition import Partition
from bwp.models import (
    CheckReportEvent,
    ExpectedGeneration,
    PlanWindowsEvent,
    ReportProgress,
    SummarizeEvent,
    Window,
    WindowLanded,
)
from bwp.states import check_report, plan_windows, summarize

from tests.moto_account import STORE, settings_with

NOW = datetime(2024, 8, 25, 6, 0, tzinfo=UTC)
WINDOW = Window(
    store=STORE,
    report_type="ORDER_FEES",
    day=date(2024, 8, 22),
    start_date="2024-08-22T00:00:00Z",
    end_date="2024-08-23T00:00:00Z",
)


class ScriptedApi:
    """Answers reportTask with the statuses a test scripts, in order."""

    def __init__(self, *statuses: str, requested: datetime = NOW - timedelta(minutes=1)) -> None:
        self.statuses = list(statuses)
        self.requested = requested

    def report_task(self, task_id: str) -> ReportTask:
        return ReportTask(task_id, "ORDER_FEES", self.statuses.pop(0), self.requested.isoformat(), NOW.isoformat())


class CredentialsCheck:
    """The API as Plan windows sees it: a token request that succeeds or is refused."""

    def __init__(self, refusal: Exception | None = None) -> None:
        self.refusal = refusal
        self.checks = 0

    def check_credentials(self) -> None:
        self.checks += 1
        if self.refusal:
            raise self.refusal


@pytest.fixture
def lake(state_table):
    """An empty lake bucket (moto), beside the state table."""
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="lake")
    return s3


def plan(
    request, lake, *, api=None, table=None, projection_start="2024-01-01", started="2024-08-25T06:00:00Z", **environment
):
    """The state's output, and the windows in the plan object it points at. ``api`` answers for
    every store, or is a mapping of store id -> its API."""
    event = PlanWindowsEvent(
        request=request, execution_start_time=started, execution_id="arn:run-1", execution_name="run-1"
    )
    settings = settings_with(PROJECTION_START_DATE=projection_start, **environment)
    apis = api if isinstance(api, dict) else {}
    table = table if table is not None else boto3.resource("dynamodb", region_name="us-east-1").Table("bwp-local-state")
    run = plan_windows.plan(
        lambda store: apis.get(store) or api or CredentialsCheck(), lake, table, settings, lambda: NOW, event
    )
    return run, list(runs.read_plan(lake, run.plan))


def landed_output(window: Window, *, rows: int, drift: dict | None = None) -> dict:
    """A landed window's child output, as Land report returns it: its day staged for the commit."""
    staged = window.partition.staging_key
    return WindowLanded(
        store=window.store,
        report_type=window.report_type,
        day=window.day,
        rows=rows,
        bytes_out=rows * 10,
        drift=drift,
        attempts=1,
        task_id=f"{window.report_type}:{window.day}",
        raw_sha256="0" * 64,
        staged_raw_key=staged("t.1.csv.gz"),
        staged_manifest_key=staged("t.1.manifest.json"),
        data_key=window.partition.curated_data_key("t.1"),
    ).to_wire()


def land_manifest(lake, report_type, day, body=b"{}"):
    key = Partition(STORE, report_type, date.fromisoformat(str(day))).manifest_key
    lake.put_object(Bucket="lake", Key=key, Body=body)


@pytest.fixture
def check(state_table):
    def check(api, polls=0, wait=10, window=WINDOW):
        progress = ReportProgress(
            task_id="ORDER_FEES:abc", report_type="ORDER_FEES", status="STARTED", polls=polls, wait_seconds=wait
        )
        event = CheckReportEvent(window=window, report=progress)
        return check_report.check_report(api, state_table, settings_with(), lambda: NOW, event)

    return check


def test_plan_reads_the_execution_start_time_and_input(lake):
    result, windows = plan(
        {"lookbackDays": 1, "reportTypes": ["USER_EVENTS"]}, lake, started="2024-08-25T06:00:00.123Z"
    )
    assert [(w.report_type, w.day) for w in windows] == [("USER_EVENTS", date(2024, 8, 24))]
    # and the state's output carries where the windows are and how many, not the windows
    assert result.plan.to_wire() == {"bucket": "lake", "key": "_runs/plans/run-1.json"}
    assert result.windows == 1


def test_plan_refuses_a_null_input_rather_than_taking_the_default_range(lake):
    with pytest.raises(errors.InvalidExecutionInput, match="execution input: must be a JSON object, got null"):
        plan(None, lake)


def test_plan_refuses_days_before_the_projection_start_it_is_given(lake):
    with pytest.raises(errors.InvalidExecutionInput, match="lookbackDays: the first day, 2024-08-22, is before"):
        plan({"lookbackDays": 3}, lake, projection_start="2024-08-23")


def test_plan_refuses_bad_input_before_it_reads_the_lake_or_asks_for_a_token():
    # given an API and a bucket that fail the test if they are used at all
    class Untouchable:
        def __getattr__(self, name):
            raise AssertionError(f"{name} called before the input was checked")

    # when the input asks for an end before its start, then it is refused, naming the fields
    with pytest.raises(errors.InvalidExecutionInput, match="startDate .* must be before endDate"):
        plan(
            {"startDate": "2024-08-20", "endDate": "2024-08-10"}, Untouchable(), api=Untouchable(), table=Untouchable()
        )


def test_plan_checks_the_credentials_once_and_a_refusal_fails_the_whole_run(lake):
    api = CredentialsCheck()
    plan({"lookbackDays": 7}, lake, api=api)
    assert api.checks == 1
    refused = CredentialsCheck(errors.AccessDeniedException("token request refused (HTTP 401, invalid_client)"))
    with pytest.raises(errors.AccessDeniedException, match="invalid_client"):
        plan({"lookbackDays": 7}, lake, api=refused)


TWO_STORES = json.dumps([{"id": "acme", "secretId": "s1"}, {"id": "globex", "secretId": "s2"}])


def test_a_store_whose_credentials_are_refused_is_not_served_and_its_windows_are_recorded_failed(lake, state_table):
    # given two stores, globex's credentials refused by the API
    refused = CredentialsCheck(errors.AccessDeniedException("token request refused (HTTP 401, invalid_client)"))
    apis = {"acme": CredentialsCheck(), "globex": refused}
    # when a run of both plans two days
    result, windows = plan({"lookbackDays": 2}, lake, api=apis, BWP_STORES=TWO_STORES)
    # then only acme's windows go to the Map, and the Map still runs five per store asked for
    assert {w.store for w in windows} == {"acme"}
    assert (result.windows, result.max_concurrency) == (4, 10)
    # and globex's four windows are the run's failures, each with the refusal naming the store
    failures = list(runs.read_refused(lake, "lake", "run-1"))
    assert sorted((f.window.store, f.window.report_type, str(f.window.day)) for f in failures) == [
        ("globex", "ORDER_FEES", "2024-08-23"),
        ("globex", "ORDER_FEES", "2024-08-24"),
        ("globex", "USER_EVENTS", "2024-08-23"),
        ("globex", "USER_EVENTS", "2024-08-24"),
    ]
    assert {(f.error, f.cause) for f in failures} == {
        ("AccessDeniedException", "store globex: token request refused (HTTP 401, invalid_client)")
    }
    # and the ledger remembers why globex's days are missing, for bwp-lake gaps
    entry = TaskLedger(state_table, clock.utc_now).find(Partition("globex", "ORDER_FEES", date(2024, 8, 24)))
    assert entry.last_error == "AccessDeniedException"
    assert TaskLedger(state_table, clock.utc_now).find(Partition("acme", "ORDER_FEES", date(2024, 8, 24))) is None


def test_when_no_store_can_be_served_the_run_fails_in_plan_naming_the_store(lake, state_table):
    refused = CredentialsCheck(errors.ApiUnavailable("token endpoint answered HTTP 503"))
    with pytest.raises(errors.ApiUnavailable, match="store acme: token endpoint answered HTTP 503"):
        plan({"lookbackDays": 1, "stores": ["acme"]}, lake, api={"acme": refused}, BWP_STORES=TWO_STORES)


def test_summary_counts_the_refused_stores_windows_per_store(lake, state_table):
    # given a plan in which globex was refused and acme's one window landed
    refused = CredentialsCheck(errors.AccessDeniedException("token request refused (HTTP 401)"))
    apis = {"acme": CredentialsCheck(), "globex": refused}
    result, (acme_window,) = plan(
        {"lookbackDays": 1, "reportTypes": ["ORDER_FEES"]}, lake, api=apis, BWP_STORES=TWO_STORES
    )
    results = map_results(lake, {"SUCCEEDED": [child(acme_window, output=landed_output(acme_window, rows=1))]})
    event = SummarizeEvent.model_validate(
        {
            "plan": result.plan.to_wire(),
            "mapResults": results,
            "commit": {"published": 1},
            "executionId": "arn:run-1",
            "executionName": "run-1",
            "stores": [s.to_wire() for s in result.stores],
            "coverageFrom": str(result.coverage_from),
            "endDay": str(result.end_day),
        }
    )
    # when the run is summarized
    summary = summarize.summarize(lake, state_table, settings_with(BWP_STORES=TWO_STORES), lambda: NOW, event)
    # then the refused window is a failure of globex's, and acme reads as whole
    assert (summary.windows, summary.landed, summary.failed) == (2, 1, 1)
    assert summary.message.startswith("1 of 2 windows failed (acme: all 1 landed; globex: 0 landed, 1 failed): globex")


def test_plan_heals_the_oldest_missing_days_since_backfill_from_within_the_limit(lake):
    # given a lake that holds 2024-08-10 and 2024-08-12 of ORDER_FEES only
    land_manifest(lake, "ORDER_FEES", "2024-08-10")
    land_manifest(lake, "ORDER_FEES", "2024-08-12")
    # when the schedule plans a 2-day look-back, healing from 2024-08-10, at most 4 windows
    request = {"lookbackDays": 2, "backfillFrom": "2024-08-10", "maxBackfillWindows": 4}
    result, windows = plan(request, lake)
    # then the look-back comes first, then the oldest missing days of each type
    planned = [(w.report_type, str(w.day)) for w in windows]
    assert planned[:4] == [
        ("ORDER_FEES", "2024-08-23"),
        ("USER_EVENTS", "2024-08-23"),
        ("ORDER_FEES", "2024-08-24"),
        ("USER_EVENTS", "2024-08-24"),
    ]
    assert planned[4:] == [
        ("USER_EVENTS", "2024-08-10"),
        ("ORDER_FEES", "2024-08-11"),
        ("USER_EVENTS", "2024-08-11"),
        ("USER_EVENTS", "2024-08-12"),
    ]
    assert (result.backfilled, str(result.coverage_from)) == (4, "2024-08-10")


def test_plan_without_backfill_from_plans_only_what_was_asked(lake):
    result, windows = plan({"lookbackDays": 2}, lake)
    assert (len(windows), result.windows, result.backfilled) == (4, 4, 0)


@pytest.mark.parametrize("status", ["STARTED", "RUNNING"])
def test_in_progress_report_is_polled_again_after_a_growing_wait(check, status):
    result = check(ScriptedApi(status), polls=2, wait=20)
    assert (result.status, result.polls) == (status, 3)
    assert result.wait_seconds == 40


def test_completed_report_is_ready_and_keeps_its_times(check):
    result = check(ScriptedApi("COMPLETED"))
    assert result.status == "COMPLETED"
    assert result.last_updated_time == NOW.isoformat()


def test_failed_report_raises_report_failed_with_everything_the_api_said(check):
    with pytest.raises(errors.ReportFailed, match='"status": "FAILED"'):
        check(ScriptedApi("FAILED"))


def test_unknown_status_is_never_taken_for_success(check):
    with pytest.raises(errors.UnknownReportStatus, match="'CANCELLED'"):
        check(ScriptedApi("CANCELLED"))


def test_poll_cap_ends_the_wait_with_report_timed_out(check):
    check(ScriptedApi("RUNNING"), polls=polling.MAX_POLLS - 2)
    with pytest.raises(errors.ReportTimedOut, match=f"after {polling.MAX_POLLS} polls"):
        check(ScriptedApi("RUNNING"), polls=polling.MAX_POLLS - 1)


def test_wait_never_exceeds_five_minutes_and_tracks_an_old_reports_age():
    assert polling.next_wait_seconds(250, None, NOW) == polling.MAX_WAIT_SECONDS
    # a report requested 10 minutes ago is checked every 2.5 minutes, not every 10 s
    assert polling.next_wait_seconds(10, NOW - timedelta(minutes=10), NOW) == 150
    assert polling.next_wait_seconds(1, NOW, NOW) == polling.MIN_WAIT_SECONDS


def test_with_history_the_first_check_comes_before_the_fastest_recent_report_then_by_age():
    # given a report type that took 300 s at the fastest and typically 600 s
    expected = ExpectedGeneration(typical_seconds=600, earliest_seconds=300)
    # then a fresh report is first checked at 90% of the fastest time
    assert polling.next_wait_seconds(0, NOW, NOW, expected) == 270
    assert polling.next_wait_seconds(200, NOW - timedelta(seconds=200), NOW, expected) == 70
    # and from then on after 8% of its age, whatever the previous wait: at most 8% of a
    # finished report's generation time passes before it is seen
    assert polling.next_wait_seconds(70, NOW - timedelta(seconds=270), NOW, expected) == 21
    assert polling.next_wait_seconds(21, NOW - timedelta(seconds=1000), NOW, expected) == 80
    # and still capped at the five-minute Wait, and never below the shortest
    assert polling.next_wait_seconds(80, NOW - timedelta(hours=3), NOW, expected) == polling.MAX_WAIT_SECONDS
    assert (
        polling.next_wait_seconds(
            0, NOW - timedelta(seconds=100), NOW, ExpectedGeneration(typical_seconds=60, earliest_seconds=50)
        )
        == polling.MIN_WAIT_SECONDS
    )
    # and without a request time the history cannot place the report: the plain growth
    assert polling.next_wait_seconds(20, None, NOW, expected) == 40


def test_check_reads_the_windows_expected_generation_time(check):
    # given a window whose report type took 200 s at the fastest, requested a minute ago
    window = WINDOW.model_copy(
        update={"expected_generation": ExpectedGeneration(typical_seconds=250, earliest_seconds=200)}
    )
    # when it is still running
    result = check(ScriptedApi("RUNNING"), polls=1, wait=10, window=window)
    # then the next check is at 90% of the 200 s, not after a doubled wait
    assert result.wait_seconds == 180 - 60


def manifest_body(generation_seconds, rows):
    return json.dumps({"rows": rows, "timings": {"generationSeconds": generation_seconds}}).encode()


def test_plan_gives_each_window_its_report_types_generation_time_from_recent_manifests(lake):
    # given three recent ORDER_FEES manifests at 0.1 to 0.12 s per row, and USER_EVENTS with one
    for day, seconds, rows in [("2024-08-20", 100, 1000), ("2024-08-21", 240, 2000), ("2024-08-22", 330, 3000)]:
        land_manifest(lake, "ORDER_FEES", day, manifest_body(seconds, rows))
    land_manifest(lake, "ORDER_FEES", "2024-08-19", b"not json")
    land_manifest(lake, "USER_EVENTS", "2024-08-22", manifest_body(50, 500))
    # when a run is planned
    _, windows = plan({"lookbackDays": 1}, lake)
    # then ORDER_FEES windows expect 0.11 s/row (0.1 at the fastest) x 2000 rows; USER_EVENTS
    # has too little history
    expected = {w.report_type: w.expected_generation for w in windows}
    assert expected == {
        "ORDER_FEES": ExpectedGeneration(typical_seconds=220, earliest_seconds=200),
        "USER_EVENTS": None,
    }


def window_on(day):
    return WINDOW.model_copy(update={"day": date.fromisoformat(day), "start_date": f"{day}T00:00:00Z"})


def child(window, status="SUCCEEDED", output=None, **failure):
    """One child execution as a ResultWriter result file lists it: input and output as JSON text."""
    entry = {
        "ExecutionArn": f"arn:exec:{window.day}",
        "Status": status,
        "Input": json.dumps({"window": window.to_wire(), "attempt": 1, "executionId": "arn:exec"}),
    }
    if output is not None:
        entry["Output"] = json.dumps(output)
    return {**entry, **failure}


def map_results(lake, files):
    """The ResultWriter's manifest and result files, as Step Functions writes them."""
    listing = {"DestinationBucket": "lake", "MapRunArn": "arn:maprun", "ResultFiles": {}}
    for kind, entries in files.items():
        key = f"_runs/map-results/run/{kind}_0.json"
        lake.put_object(Bucket="lake", Key=key, Body=json.dumps(entries).encode())
        listing["ResultFiles"][kind] = [{"Key": key, "Size": 1}]
    lake.put_object(Bucket="lake", Key="_runs/map-results/run/manifest.json", Body=json.dumps(listing).encode())
    return {"bucket": "lake", "key": "_runs/map-results/run/manifest.json"}


def test_summary_names_each_failed_window_its_cause_and_the_days_still_missing(lake, state_table, capsys):
    # given a lake that holds USER_EVENTS 2024-08-22 and ORDER_FEES 2024-08-21 only
    land_manifest(lake, "USER_EVENTS", "2024-08-22")
    land_manifest(lake, "ORDER_FEES", "2024-08-21")
    # and a plan of five windows: two landed, one failed in a way its child caught, one whose
    # child execution failed uncaught, and one the Map recorded nothing for
    user_events = WINDOW.model_copy(update={"report_type": "USER_EVENTS"})
    uncaught, unrecorded = window_on("2024-08-20"), window_on("2024-08-19")
    plan_object = runs.write_plan(
        lake, "lake", "run", [WINDOW, user_events, window_on("2024-08-21"), uncaught, unrecorded]
    )
    results = map_results(
        lake,
        {
            "SUCCEEDED": [
                child(window_on("2024-08-21"), output=landed_output(window_on("2024-08-21"), rows=10)),
                child(
                    user_events,
                    output=landed_output(user_events, rows=5, drift={"missing": ["ip"], "unexpected": ["ipAddress"]}),
                ),
                child(
                    WINDOW,
                    output={
                        "status": "FAILED",
                        "window": WINDOW.to_wire(),
                        "attempts": 3,
                        "error": "ReportFailed",
                        "cause": '{"errorMessage": "report task X FAILED"}',
                    },
                ),
            ],
            "FAILED": [child(uncaught, "FAILED", Error="States.Runtime", Cause="Invalid path '$.report.status'")],
        },
    )
    event = SummarizeEvent.model_validate(
        {
            "plan": plan_object.to_wire(),
            "mapResults": results,
            "commit": {"published": 1},
            "executionId": "arn:exec",
            "executionName": "run",
            "stores": [{"store": STORE, "reportTypes": ["ORDER_FEES", "USER_EVENTS"]}],
            "coverageFrom": "2024-08-21",
            "endDay": "2024-08-23",
        }
    )
    summary = summarize.summarize(lake, state_table, settings_with(), lambda: NOW, event)
    assert (summary.windows, summary.landed, summary.failed, summary.rows, summary.bytes_out) == (5, 2, 3, 15, 150)
    assert summary.message.startswith(
        "3 of 5 windows failed (acme: 2 landed, 3 failed): acme ORDER_FEES 2024-08-22 (ReportFailed: report task X "
        "FAILED); acme ORDER_FEES 2024-08-20 (States.Runtime: Invalid path '$.report.status'); "
        "acme ORDER_FEES 2024-08-19 (WindowWithoutResult: "
    )
    assert summary.message.endswith("; 2 partition(s) since 2024-08-21 still missing (bwp-lake gaps lists them)")
    assert summary.missing == 2
    # and every failure, caught or not, is remembered beyond the execution, for bwp-lake gaps
    ledger = TaskLedger(state_table, clock.utc_now)
    entry = ledger.find(Partition(STORE, "ORDER_FEES", date(2024, 8, 22)))
    assert (entry.last_error, entry.last_cause) == ("ReportFailed", "report task X FAILED")
    assert ledger.find(Partition(STORE, "ORDER_FEES", date(2024, 8, 20))).last_error == "States.Runtime"
    assert ledger.find(Partition(STORE, "ORDER_FEES", date(2024, 8, 19))).last_error == "WindowWithoutResult"
    # and each report type's count of missing partitions is a metric, zero or not
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "PartitionsMissing" in line]
    assert {m["Store"] for m in emitted} == {STORE}
    counts = {m["ReportType"]: m["PartitionsMissing"] for m in emitted}
    assert counts in ({"ORDER_FEES": 1, "USER_EVENTS": 1}, {"ORDER_FEES": [1], "USER_EVENTS": [1]})
    assert summary.drifted == ["acme USER_EVENTS 2024-08-22"]
    # and the full report, one line per window, is where the output says
    report = runs.read_report(lake, summary.report)
    assert summary.report.key == "_runs/summaries/run.json"
    assert len(report.lines) == 5
    assert any("FAILED after 3 attempt(s): ReportFailed" in line for line in report.lines)
    assert [line.split(":")[0] for line in summary.failures] == [
        "acme ORDER_FEES 2024-08-19",
        "acme ORDER_FEES 2024-08-20",
        "acme ORDER_FEES 2024-08-22",
    ]


def test_the_summarys_output_stays_small_however_many_windows_fail(lake, state_table):
    # given 400 windows whose children all failed uncaught, with long causes
    windows = [WINDOW.model_copy(update={"day": date(2023, 1, 1) + timedelta(days=n)}) for n in range(400)]
    plan_object = runs.write_plan(lake, "lake", "run", windows)
    results = map_results(
        lake, {"FAILED": [child(w, "FAILED", Error="States.Timeout", Cause="x" * 2000) for w in windows]}
    )
    event = SummarizeEvent.model_validate(
        {
            "plan": plan_object.to_wire(),
            "mapResults": results,
            "commit": {"published": 1},
            "executionId": "arn:exec",
            "executionName": "run",
            "stores": [{"store": STORE, "reportTypes": ["ORDER_FEES"]}],
            "coverageFrom": "2023-01-01",
            "endDay": "2023-02-01",
        }
    )
    # when the run is summarized
    summary = summarize.summarize(lake, state_table, settings_with(), lambda: NOW, event)
    # then all 400 are counted and in the report, and the output names a bounded sample
    assert (summary.windows, summary.failed) == (400, 400)
    assert len(runs.read_report(lake, summary.report).lines) == 400
    assert len(summary.failures) == summarize.SUMMARY_SAMPLE
    assert len(json.dumps(summary.to_wire())) < 64 * 1024


def test_each_run_reports_how_long_ago_a_report_type_last_landed_and_nothing_for_one_never_landed(
    lake, state_table, capsys
):
    # given a lake where ORDER_FEES landed once and USER_EVENTS never did
    land_manifest(lake, "ORDER_FEES", "2024-08-21")
    written = lake.list_objects_v2(Bucket="lake", Prefix="manifests/")["Contents"][0]["LastModified"]
    # and a run, 30 hours later, whose one window failed
    plan_object = runs.write_plan(lake, "lake", "run", [WINDOW])
    results = map_results(lake, {"FAILED": [child(WINDOW, "FAILED", Error="States.Runtime", Cause="boom")]})
    event = SummarizeEvent.model_validate(
        {
            "plan": plan_object.to_wire(),
            "mapResults": results,
            "commit": {"published": 1},
            "executionId": "arn:exec",
            "executionName": "run",
            "stores": [{"store": STORE, "reportTypes": ["ORDER_FEES", "USER_EVENTS"]}],
            "coverageFrom": "2024-08-22",
            "endDay": "2024-08-23",
        }
    )
    # when it is summarized
    summarize.summarize(lake, state_table, settings_with(), lambda: written + timedelta(hours=30), event)
    # then ORDER_FEES is 30 hours stale, and USER_EVENTS reports nothing: its alarm stays quiet
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "HoursSinceLastLanding" in line]
    hours = {m["ReportType"]: m["HoursSinceLastLanding"] for m in emitted}
    assert hours in ({"ORDER_FEES": 30.0}, {"ORDER_FEES": [30.0]})


def test_when_the_commit_failed_the_windows_it_left_staged_count_as_failed_with_its_error(lake, state_table):
    # given a run of two landed windows, whose commit published one (its staged manifest is gone)
    # and then failed for good on the other's table
    published, staged = WINDOW, WINDOW.model_copy(update={"report_type": "USER_EVENTS"})
    plan_object = runs.write_plan(lake, "lake", "run", [published, staged])
    outputs = [landed_output(window, rows=3) for window in (published, staged)]
    lake.put_object(Bucket="lake", Key=outputs[1]["stagedManifestKey"], Body=b"{}")
    results = map_results(
        lake, {"SUCCEEDED": [child(w, output=out) for w, out in zip((published, staged), outputs, strict=True)]}
    )
    event = SummarizeEvent.model_validate(
        {
            "plan": plan_object.to_wire(),
            "mapResults": results,
            "commit": {"Error": "CuratedCommitConflict", "Cause": '{"errorMessage": "another writer committed first"}'},
            "executionId": "arn:exec",
            "executionName": "run",
            "stores": [{"store": STORE, "reportTypes": ["ORDER_FEES", "USER_EVENTS"]}],
            "coverageFrom": "2024-08-22",
            "endDay": "2024-08-23",
        }
    )
    # when the run is summarized
    summary = summarize.summarize(lake, state_table, settings_with(), lambda: NOW, event)
    # then the published window landed, and the staged one failed with the commit's error and cause
    assert (summary.landed, summary.failed) == (1, 1)
    (line,) = summary.failures
    assert line.startswith(f"{staged.partition}: FAILED after 1 attempt(s): CuratedCommitConflict: ")
    assert "not committed to its curated table" in line and "another writer committed first" in line
    # and the ledger remembers why, for `bwp-lake gaps`
    entry = TaskLedger(state_table, lambda: NOW).find(staged.partition)
    assert entry is not None and entry.last_error == "CuratedCommitConflict"
