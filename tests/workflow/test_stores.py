"""Several stores on one deployment, end to end on the local engine: an emulator serving two
merchants (store-1 and store-2, each its own credentials, data and five-task limit)."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta

from bwp.clock import utc_now
from bwp.coordination import TaskLedger
from bwp.lake.partition import Series

from bwp_lake.cli.main import main
from bwp_lake.local.api_endpoint import ApiEndpoint, StoreCredentials, stores_serving
from bwp_lake.local.engine import LocalEngine
from tests.twin import TWO_STORES, assert_landed, assert_nothing_landed, calls, landed_csv, manifest, report_key

TYPES = ("ORDER_FEES", "USER_EVENTS")
DAYS = ("2024-08-21", "2024-08-22")
TWO_DAYS = {"startDate": DAYS[0], "endDate": "2024-08-23"}


def one_execution_per_store(request: dict) -> list[dict]:
    return [{**request, "stores": [store]} for store in TWO_STORES]


def test_two_stores_land_side_by_side_each_its_own_merchants_bytes(engine_for, two_store_emulator):
    # given an engine serving both merchants of the emulator as stores
    engine = engine_for(api=two_store_emulator)
    # when each store's execution runs, together, as the schedule starts them
    outcomes = engine.run_together(one_execution_per_store(TWO_DAYS))
    # then both succeed, each saying only its own windows landed
    for store, outcome in zip(TWO_STORES, outcomes, strict=True):
        assert outcome.succeeded, outcome.cause
        assert outcome.summary["landed"] == 4
        assert all(line.startswith(f"{store} ") for line in outcome.summary["lines"])
    # and each store's partitions hold exactly what its merchant served, with a manifest naming it
    for store, report_type, day in itertools.product(TWO_STORES, TYPES, DAYS):
        landed = assert_landed(engine, report_type, day, store=store)
        assert landed["targetId"] == store
    # and the two stores' data are not the same bytes (the check above could not mix them up)
    for report_type, day in itertools.product(TYPES, DAYS):
        first, second = (landed_csv(engine, report_key(report_type, day, store)) for store in TWO_STORES)
        assert first != second


def test_a_store_with_bad_credentials_fails_only_its_own_windows(two_store_emulator, tmp_path, capsys):
    # given store-2's secret holding a wrong client secret, store-1's right
    good, bad = stores_serving(two_store_emulator.all_credentials)
    refused = StoreCredentials(bad.store, bad.client_id, "not-the-secret", bad.target_id)
    endpoint = ApiEndpoint(two_store_emulator.base_url, (good, refused))
    with LocalEngine(endpoint, lake_dir=tmp_path) as engine:
        # when one execution asks for both stores' two days
        outcome = engine.run({"stores": list(TWO_STORES), **TWO_DAYS})
        ledger = TaskLedger(engine.state_table, utc_now)
        store_2_failures = [entry.last_error for one in TYPES for entry in ledger.entries(Series("store-2", one))]
        for report_type, day in itertools.product(TYPES, DAYS):
            # then store-1's windows all landed, store-2's none
            assert_landed(engine, report_type, day, store="store-1")
            assert_nothing_landed(engine, report_type, day, store="store-2")
    # and the execution fails naming store-2, its cause and the healthy store's windows
    assert (outcome.status, outcome.error) == ("FAILED", "WindowsFailed")
    assert "4 of 8 windows failed (store-1: all 4 landed; store-2: 0 landed, 4 failed)" in outcome.cause
    assert "store-2 ORDER_FEES 2024-08-21 (AccessDeniedException: store store-2: " in outcome.cause
    failed = [line for line in outcome.summary["lines"] if "FAILED" in line]
    assert len(failed) == 4 and all(line.startswith("store-2 ") and "AccessDeniedException" in line for line in failed)
    # and the ledger remembers each of store-2's days with the refusal, and gaps names them
    assert store_2_failures == ["AccessDeniedException"] * 4
    assert main(["gaps", "--lake-dir", str(tmp_path), "--from", DAYS[0], "--to", "2024-08-23"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("store-2 ORDER_FEES 2024-08-21..2024-08-22 failed (2 days): AccessDeniedException: ")
    assert lines[1].startswith("store-2 USER_EVENTS 2024-08-21..2024-08-22 failed (2 days): AccessDeniedException: ")
    assert lines[-1].endswith("(store-1 0, store-2 4)")
    # and nothing of store-2's refusal reached store-1's merchant or its secret
    assert "not-the-secret" not in outcome.cause + "\n".join(lines)
    assert two_store_emulator.state()["merchants"][1]["calls"].get("startReportTask", 0) == 0


def test_two_busy_stores_run_five_tasks_each_and_more_than_five_in_all(engine_for, two_store_emulator):
    # given two stores with four days of both report types each (eight windows a store)
    engine = engine_for(api=two_store_emulator)
    four_days = {"startDate": "2024-08-19", "endDate": "2024-08-23"}
    # when both stores' executions run together
    outcomes = engine.run_together(one_execution_per_store(four_days))
    assert all(outcome.succeeded for outcome in outcomes), [outcome.cause for outcome in outcomes]
    state = two_store_emulator.state()
    # then each merchant had at most (and, busy, exactly) five tasks in progress at once,
    # and our windows never asked for a sixth (no start was throttled: they waited for a slot)
    assert [merchant["maxConcurrentInProgress"] for merchant in state["merchants"]] == [5, 5]
    starts = calls(outcomes[0], "bwp-start-report")
    assert not any(call.error_type == "ThrottlingException" for call in starts)
    # and the two stores ran side by side: more than five tasks in progress in all at some moment
    assert most_in_progress_at_once(state["tasks"]) > 5


def most_in_progress_at_once(tasks: list[dict]) -> int:
    """From the API's side: each task in progress from its request until it completed."""
    events = []
    for task in tasks:
        assert task["status"] == "COMPLETED", task
        events += [(_instant(task["requestTime"]), 1), (_instant(task["lastUpdatedTime"]), -1)]
    running = most = 0
    for _, change in sorted(events, key=lambda event: (event[0], event[1])):
        running += change
        most = max(most, running)
    return most


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_store_added_later_fills_its_history_from_backfill_from(two_store_emulator, tmp_path):
    store_1, store_2 = stores_serving(two_store_emulator.all_credentials)
    history = [date(2024, 8, 18) + timedelta(days=n) for n in range(4)]
    nightly = {"reportTypes": ["ORDER_FEES"], "startDate": "2024-08-22", "endDate": "2024-08-23"}
    # given a lake where store-1 alone has run, its history since backfillFrom landed
    with LocalEngine(ApiEndpoint(two_store_emulator.base_url, (store_1,)), lake_dir=tmp_path) as engine:
        first = engine.run({**nightly, "startDate": str(history[0])})
        assert first.succeeded and first.summary["landed"] == 5, first.cause
    # when store-2 is added to the configuration and the nightly run asks for both, healing from backfillFrom
    with LocalEngine(ApiEndpoint(two_store_emulator.base_url, (store_1, store_2)), lake_dir=tmp_path) as engine:
        outcome = engine.run({**nightly, "backfillFrom": str(history[0])})
        # then store-2's history since backfillFrom landed, and store-1 had nothing to heal
        assert outcome.succeeded, outcome.cause
        planned = sorted(line.split(":")[0] for line in outcome.summary["lines"])
        assert planned == ["store-1 ORDER_FEES 2024-08-22"] + [
            f"store-2 ORDER_FEES {day}" for day in [*history, "2024-08-22"]
        ]
        for day in history:
            assert_landed(engine, "ORDER_FEES", str(day), store="store-2")
            assert manifest(engine, "ORDER_FEES", str(day), "store-1")["store"] == "store-1"
