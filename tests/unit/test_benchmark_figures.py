"""The arithmetic behind the benchmarks' headline figures and the table they are shown in."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from benchmarks import workflow_metrics as metrics
from benchmarks.headline import TARGETS, headline_table

T0 = datetime(2024, 7, 1, tzinfo=UTC)


def minutes(start: float, end: float) -> metrics.Interval:
    return metrics.Interval(T0 + timedelta(minutes=start), T0 + timedelta(minutes=end))


def test_utilization_is_busy_time_over_slots_times_duration():
    # Tasks of 10 and 5 minutes in a 10-minute run on 5 slots: 15 of 50 slot-minutes
    busy = [minutes(0, 10), minutes(2, 7)]
    assert metrics.slot_utilization(busy, slots=5, wall_seconds=600) == pytest.approx(0.3)
    # The same tasks judged against 2 slots
    assert metrics.slot_utilization(busy, slots=2, wall_seconds=600) == pytest.approx(0.75)


def test_an_interval_that_ends_before_it_starts_counts_nothing():
    assert metrics.slot_utilization([minutes(5, 3)], slots=1, wall_seconds=60) == 0


def test_utilization_of_a_run_without_duration_is_refused():
    with pytest.raises(ValueError):
        metrics.slot_utilization([minutes(0, 1)], slots=5, wall_seconds=0)


def test_polling_overhead_is_the_wait_after_completion_per_second_of_generation():
    completed = T0 + timedelta(minutes=10)
    assert metrics.polling_overhead_share(completed, completed + timedelta(seconds=60), 600) == pytest.approx(0.1)


def test_transitions_count_states_entered_and_task_retries():
    events = Counter(
        ExecutionStarted=1,
        TaskStateEntered=3,
        WaitStateEntered=2,
        ChoiceStateEntered=2,
        MapStateEntered=1,
        LambdaFunctionScheduled=5,  # two of the three tasks were retried once
        LambdaFunctionSucceeded=3,
        TaskStateExited=3,
    )
    assert metrics.state_transitions(events) == 8 + 2


def test_lambda_bills_started_milliseconds_at_the_configured_memory():
    # 10.1 ms at 1024 MB bills 11 ms of 1 GB; a whole second at 256 MB a quarter GB-second
    assert metrics.gb_seconds([(1024, 0.0101), (256, 1.0)]) == pytest.approx(0.011 + 0.25)
    # An exact millisecond is not rounded up to the next one
    assert metrics.gb_seconds([(1024, 0.003)]) == pytest.approx(0.003)


def test_cost_adds_transitions_gb_seconds_and_requests():
    assert metrics.cost_usd(transitions=40, lambda_gb_seconds=2.0, requests=1_000_000) == pytest.approx(
        40 * 0.000025 + 2.0 * 0.0000133334 + 0.20
    )


def headline_values(**changes: float) -> dict[str, float]:
    """Every figure on its target, or untargeted at 1."""
    values = {target.key: target.limit if target.limit is not None else 1.0 for target in TARGETS}
    return values | changes


def row(lines: list[str], key: str) -> list[str]:
    (line,) = [line for line in lines if f"(`{key}`)" in line]
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_the_headline_row_says_met_when_the_value_is_on_its_limit():
    lines = headline_table(headline_values(), {"landing_peak_rss_mb_1gb": "not shown when met"})
    assert row(lines, "landing_peak_rss_mb_1gb")[1:] == ["100 MiB", "≤ 100 MiB", "met"]
    assert row(lines, "backfill_slot_utilization")[2:] == ["≥ 0.85", "met"]


def test_a_missed_target_says_by_how_much_and_why():
    lines = headline_table(
        headline_values(landing_peak_rss_mb_1gb=105.4, backfill_slot_utilization=0.6),
        {"landing_peak_rss_mb_1gb": "the interpreter's own 74 MiB"},
    )
    assert row(lines, "landing_peak_rss_mb_1gb")[3] == "missed by 5 MiB: the interpreter's own 74 MiB"
    assert row(lines, "backfill_slot_utilization")[3] == "missed by 0.25"


def test_a_figure_without_a_target_is_shown_without_a_verdict():
    lines = headline_table(headline_values(polls_per_window=6.31), {})
    assert row(lines, "polls_per_window")[1:] == ["6.3", "-", "-"]
