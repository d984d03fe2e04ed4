"""``bwp-lake local-run`` and ``bwp-lake demo`` as a person runs them."""

from __future__ import annotations

import gzip
import json
import warnings
from types import SimpleNamespace

import pytest
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

from bwp_lake.cli import local_run
from bwp_lake.cli.main import main
from bwp_lake.emulator import Emulator, EmulatorConfig
from bwp_lake.local import engine
from tests.twin import manifest_key, report_key, series_folder

WINDOW = ["--report-types", "ORDER_FEES", "--start", "2024-08-22", "--end", "2024-08-23", "--rows-per-day", "30"]


def test_local_run_lands_the_window_in_the_lake_dir_and_prints_a_json_summary(tmp_path, capsys):
    # when one window is ingested with --json
    code = main(["local-run", *WINDOW, "--lake-dir", str(tmp_path), "--json"])
    # then it succeeds, the last line is the JSON summary, and the lake dir holds the partition
    out = capsys.readouterr().out.strip().splitlines()
    record = json.loads(out[-1])
    assert code == 0
    assert record["status"] == "SUCCEEDED"
    (execution,) = record["executions"]
    assert (execution["store"], execution["summary"]["landed"]) == ("default", 1)
    landed = tmp_path / report_key("ORDER_FEES", "2024-08-22")
    rows = gzip.decompress(landed.read_bytes()).decode().splitlines()
    assert rows[0].startswith("orderId,paymentId,")
    manifest = json.loads((tmp_path / manifest_key("ORDER_FEES", "2024-08-22")).read_text())
    assert manifest["rows"] == execution["summary"]["rows"] == len(rows) - 1


def test_local_run_exits_non_zero_and_says_why_when_the_execution_fails(tmp_path, capsys):
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps({"fail_reports": "always"}))
    code = main(["local-run", *WINDOW, "--lake-dir", str(tmp_path / "lake"), "--faults", str(faults)])
    out = capsys.readouterr().out
    assert code == 1
    assert "Execution FAILED: WindowsFailed" in out
    assert "default ORDER_FEES 2024-08-22: FAILED after 3 attempt(s): ReportFailed" in out
    assert not (tmp_path / "lake" / "reports").exists()


def test_a_failed_day_stays_known_across_runs_and_gaps_names_it_until_it_lands(tmp_path, capsys):
    # given a run whose report failed every time
    lake = tmp_path / "lake"
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps({"fail_reports": "always"}))
    main(["local-run", *WINDOW, "--lake-dir", str(lake), "--faults", str(faults)])
    capsys.readouterr()
    # when the lake's gaps are listed later, by another process reading the lake directory
    gaps = [
        "gaps",
        "--lake-dir",
        str(lake),
        "--from",
        "2024-08-22",
        "--to",
        "2024-08-23",
        "--report-types",
        "ORDER_FEES",
    ]
    assert main(gaps) == 1
    # then the day is named with the failure the run saw
    assert capsys.readouterr().out.startswith("default ORDER_FEES 2024-08-22 failed: ReportFailed: report task")
    # and once a later run lands it, it is no longer a gap
    assert main(["local-run", *WINDOW, "--lake-dir", str(lake)]) == 0
    assert main(gaps) == 0


EMPTY_RANGE = ["--report-types", "ORDER_FEES", "--start", "2024-08-22", "--end", "2024-08-22"]
REFUSED = "InvalidExecutionInput: startDate (2024-08-22) must be before endDate (2024-08-22)"


@pytest.fixture
def nothing_may_start(monkeypatch):
    """Fails the test if the emulator or the local engine is as much as constructed."""

    def refuse(*args, **kwargs):
        raise AssertionError("started, though the input is refused before anything starts")

    monkeypatch.setattr(local_run, "Emulator", refuse)
    monkeypatch.setattr(engine, "LocalEngine", refuse)


def test_bad_input_is_refused_once_naming_the_flags_before_anything_starts(tmp_path, capsys, nothing_may_start):
    # when the input is one Plan windows would refuse
    code = main(["local-run", *EMPTY_RANGE, "--lake-dir", str(tmp_path / "lake")])
    captured = capsys.readouterr()
    # then one line says why and which flags to fix, with no Lambda error JSON or stack trace,
    # and neither the emulator nor the engine was started (nor the lake directory touched)
    assert code == 1
    assert captured.out == ""
    assert captured.err == f"input refused: {REFUSED} (fix --start, --end)\n"
    assert "Traceback" not in captured.err and "errorType" not in captured.err
    assert not (tmp_path / "lake").exists()


def test_a_refused_input_as_json_has_the_message_as_its_cause(tmp_path, capsys, nothing_may_start):
    code = main(["local-run", *EMPTY_RANGE, "--lake-dir", str(tmp_path), "--json"])
    (line,) = capsys.readouterr().out.strip().splitlines()
    record = json.loads(line)
    assert code == 1
    assert (record["status"], record["error"]) == ("FAILED", "InvalidExecutionInput")
    assert record["cause"] == "startDate (2024-08-22) must be before endDate (2024-08-22) (fix --start, --end)"


def test_an_input_past_the_lakes_first_day_is_refused_by_the_same_check_as_plan_windows(capsys, nothing_may_start):
    code = main(["local-run", "--start", "2020-01-01", "--end", "2020-01-02"])
    assert code == 1
    assert capsys.readouterr().err.startswith(
        "input refused: InvalidExecutionInput: startDate: the first day, 2020-01-01, is before the lake's first day"
    )


def test_json_output_of_a_multi_window_run_is_one_json_line(tmp_path, capsys):
    # given three days of both report types
    window = ["--start", "2024-08-20", "--end", "2024-08-23", "--rows-per-day", "10"]
    # when they are ingested with --json
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        code = main(["local-run", *window, "--lake-dir", str(tmp_path), "--json"])
    # then stdout is exactly one line, the JSON record, and Powertools warned of nothing
    out = capsys.readouterr().out
    assert code == 0
    assert out.endswith("\n") and out.count("\n") == 1
    assert json.loads(out)["executions"][0]["summary"]["landed"] == 6
    assert [str(w.message) for w in warned if w.category.__name__.startswith("Powertools")] == []
    # and the commit's metrics went where Lambda sends them, to the functions' log, on their own:
    # each store's report type, its three days' rows and partitions
    logged = [json.loads(line) for line in (tmp_path / "_logs" / "lambdas.jsonl").read_text().splitlines()]
    rows = sorted((r["Store"], r["ReportType"], r["RowsLanded"]) for r in logged if "RowsLanded" in r)
    partitions = sorted((r["ReportType"], r["PartitionsLanded"]) for r in logged if "PartitionsLanded" in r)
    assert rows == [("default", "ORDER_FEES", [30.0]), ("default", "USER_EVENTS", [30.0])]
    assert partitions == [("ORDER_FEES", [3.0]), ("USER_EVENTS", [3.0])]


@pytest.mark.parametrize(("content", "named"), [("{not json", "--faults"), ('{"no_such_switch": 1}', "no_such_switch")])
def test_a_bad_faults_file_is_refused_before_anything_runs(tmp_path, content, named):
    faults = tmp_path / "faults.json"
    faults.write_text(content)
    with pytest.raises(SystemExit) as refused:
        main(["local-run", *WINDOW, "--lake-dir", str(tmp_path / "lake"), "--faults", str(faults)])
    assert named in str(refused.value)
    assert not (tmp_path / "lake").exists()


def test_demo_lands_both_report_types_of_two_stores_and_answers_the_named_queries(tmp_path, capsys):
    code = main(["demo", "--lake-dir", str(tmp_path), "--rows-per-day", "20"])
    out = capsys.readouterr().out
    assert code == 0
    assert "store-1: 14 of 14 windows landed" in out and "store-2: 14 of 14 windows landed" in out
    for query in ("daily_fees_by_fee_type", "order_fee_reconciliation", "daily_events_by_type"):
        assert f"\n{query}: " in out
    for store in ("store-1", "store-2"):
        for report_type in ("ORDER_FEES", "USER_EVENTS"):
            assert len(list((tmp_path / series_folder(report_type, store)).rglob("*.csv.gz"))) == 7


def test_local_run_works_against_an_api_that_is_already_running(tmp_path, capsys, monkeypatch):
    # given an API on loopback that this command did not start (waits then take real time:
    # one 10 s wait, as the report is ready at once)
    with Emulator(EmulatorConfig(seed=9, rows_per_day=15, generation_seconds=0.0)) as api:
        for name, value in zip(
            ("BWP_CLIENT_ID", "BWP_CLIENT_SECRET", "BWP_TARGET_ID"), api.credentials.values(), strict=True
        ):
            monkeypatch.setenv(name, value)
        # when one window is ingested from it
        code = main(["local-run", *WINDOW[:6], "--api-url", api.base_url, "--lake-dir", str(tmp_path), "--json"])
    # then it landed, and the report tasks were the API's own
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0, record
    assert record["executions"][0]["summary"]["rows"] == 15
    assert api.state()["calls"]["startReportTask"] == 1


def test_local_run_uses_the_api_bwp_api_url_names_as_bwp_lake_emulator_suggests(tmp_path, capsys, monkeypatch):
    # given the variables `bwp-lake emulator` prints, exported, and no --api-url
    with Emulator(EmulatorConfig(seed=9, rows_per_day=15, generation_seconds=0.0)) as api:
        api_url = api.base_url
        monkeypatch.setenv("BWP_API_URL", api_url)
        for name, value in zip(
            ("BWP_CLIENT_ID", "BWP_CLIENT_SECRET", "BWP_TARGET_ID"), api.credentials.values(), strict=True
        ):
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(local_run, "Emulator", lambda *a, **k: pytest.fail("started an emulator of its own"))
        # when one window is ingested
        code = main(["local-run", *WINDOW[:6], "--lake-dir", str(tmp_path)])
    # then the first line names that API and where it came from, and that API served the report
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0].startswith(f"API: {api_url} (BWP_API_URL; waits take real time)")
    assert api.state()["calls"]["startReportTask"] == 1


def test_an_unreachable_api_names_the_step_and_its_retries_instead_of_refusing_the_input(tmp_path, capsys, monkeypatch):
    # given an API URL nothing listens on, and Plan windows' retries made instant
    for name in ("BWP_CLIENT_ID", "BWP_CLIENT_SECRET", "BWP_TARGET_ID"):
        monkeypatch.setenv(name, "x")
    monkeypatch.setattr(retrier_decl, "time", SimpleNamespace(sleep=lambda seconds: None))
    # when a run starts
    code = main(["local-run", *WINDOW[:6], "--api-url", "http://127.0.0.1:1", "--lake-dir", str(tmp_path)])
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    # then each retry was said as it happened, and the last line names the step, the error and the retries
    assert code == 1
    assert [line for line in lines if line.startswith("default: Plan windows: ApiUnavailable")][-1].endswith(
        "retry 5 of 5 in up to 80 s"
    )
    assert lines[-1].startswith("default: Execution FAILED: Plan windows failed after 5 retries over ")
    assert "ApiUnavailable: store default: http://127.0.0.1:1/token" in lines[-1]
    assert "refused" not in out and "Traceback" not in out


def test_a_multi_window_run_prints_a_counter_not_a_line_per_step_unless_verbose(tmp_path, capsys):
    window = ["--start", "2024-08-20", "--end", "2024-08-23", "--rows-per-day", "10"]
    # when six windows are ingested into a log (not a terminal)
    assert main(["local-run", *window, "--lake-dir", str(tmp_path / "quiet")]) == 0
    quiet = capsys.readouterr().out.splitlines()
    # then no step of a window has a line of its own; the counter ends all done; the summary has a line per window
    assert not any("  started     " in line or "  landed      " in line for line in quiet)
    counters = [line for line in quiet if line.startswith("windows: ")]
    assert counters[-1].startswith("windows: 6 of 6 done (6 landed, 0 failed), 0 in progress; ")
    assert sum(line.startswith("  default ORDER_FEES 2024-08-2") for line in quiet) == 3
    # and with --verbose, every window's steps are back
    assert main(["local-run", *window, "--lake-dir", str(tmp_path / "verbose"), "--verbose"]) == 0
    verbose = capsys.readouterr().out.splitlines()
    assert sum("  landed      10 rows" in line for line in verbose) == 6


def test_an_api_url_without_credentials_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("BWP_CLIENT_SECRET", raising=False)
    with pytest.raises(SystemExit, match="BWP_CLIENT_SECRET"):
        main(["local-run", *WINDOW, "--api-url", "http://127.0.0.1:9", "--lake-dir", str(tmp_path)])
