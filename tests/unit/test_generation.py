"""Expected generation times from the manifests' own records."""

from datetime import date

from bwp.generation import MIN_SAMPLES, Sample, expected_generation, recent_manifest_keys, sample_of
from bwp.lake.partition import Partition
from bwp.models import ExpectedGeneration


def test_expectation_is_recent_seconds_per_row_times_recent_rows():
    samples = [Sample(100, 1000), Sample(210, 2000), Sample(900, 3000)]
    # seconds per row: 0.1, 0.105, 0.3 -> typically 0.105, at the fastest 0.1; rows: 2000
    assert expected_generation(samples) == ExpectedGeneration(typical_seconds=210, earliest_seconds=200)


def test_too_little_history_gives_no_expectation():
    assert expected_generation([Sample(100, 1000)] * (MIN_SAMPLES - 1)) is None
    assert expected_generation([Sample(0, 1000)] * MIN_SAMPLES) is None


def test_without_row_counts_the_median_generation_time_serves():
    assert expected_generation([Sample(60, 0), Sample(90, 0), Sample(600, 0)]) == ExpectedGeneration(
        typical_seconds=90, earliest_seconds=60
    )


def test_a_manifest_without_a_generation_time_is_no_sample():
    assert sample_of({"rows": 5, "timings": {"generationSeconds": 12.5}}) == Sample(12.5, 5)
    assert sample_of({"rows": 5, "timings": {"generationSeconds": None}}) is None
    assert sample_of({"rows": 5}) is None
    assert sample_of({"rows": True, "timings": {"generationSeconds": 3}}) == Sample(3.0, 0)
    assert sample_of([1, 2]) is None


def test_only_the_latest_days_of_the_report_type_are_read():
    keys = [Partition("acme", "ORDER_FEES", date(2024, 8, day)).manifest_key for day in (3, 1, 2)]
    keys += [Partition("acme", "USER_EVENTS", date(2024, 8, 9)).manifest_key, "manifests/other.txt"]
    assert recent_manifest_keys(keys, "ORDER_FEES", limit=2) == [
        Partition("acme", "ORDER_FEES", date(2024, 8, 2)).manifest_key,
        Partition("acme", "ORDER_FEES", date(2024, 8, 3)).manifest_key,
    ]
