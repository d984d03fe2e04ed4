"""Gaps as ranges: consecutive days of one report type missing for one reason are one line."""

from datetime import date

from bwp.gaps import Gap

from bwp_lake.cli.gaps import GapRange, gap_ranges


def day(n: int) -> date:
    return date(2024, 8, n)


def test_consecutive_missing_days_join_and_a_landed_day_between_splits_them():
    gaps = [Gap("acme", "USER_EVENTS", day(n)) for n in (2, 3, 4, 6)]
    assert gap_ranges(gaps) == [
        GapRange("acme", "USER_EVENTS", day(2), day(4), None),
        GapRange("acme", "USER_EVENTS", day(6), day(6), None),
    ]


def test_a_failure_keeps_its_own_range_and_identical_causes_join():
    gaps = [
        Gap("acme", "ORDER_FEES", day(1)),
        Gap("acme", "ORDER_FEES", day(2), "ReportFailed: A"),
        Gap("acme", "ORDER_FEES", day(3), "ReportFailed: A"),
        Gap("acme", "ORDER_FEES", day(4), "ReportFailed: B"),
        Gap("acme", "ORDER_FEES", day(5)),
    ]
    assert [r.describe() for r in gap_ranges(gaps)] == [
        "acme ORDER_FEES 2024-08-01 missing",
        "acme ORDER_FEES 2024-08-02..2024-08-03 failed (2 days): ReportFailed: A",
        "acme ORDER_FEES 2024-08-04 failed: ReportFailed: B",
        "acme ORDER_FEES 2024-08-05 missing",
    ]


def test_the_same_days_of_two_report_types_stay_apart():
    gaps = [Gap("acme", "ORDER_FEES", day(1)), Gap("acme", "USER_EVENTS", day(2))]
    assert [r.report_type for r in gap_ranges(gaps)] == ["ORDER_FEES", "USER_EVENTS"]


def test_the_same_days_of_two_stores_stay_apart():
    gaps = [Gap("acme", "ORDER_FEES", day(1)), Gap("globex", "ORDER_FEES", day(2))]
    assert [(r.store, r.first) for r in gap_ranges(gaps)] == [("acme", day(1)), ("globex", day(2))]
