"""One partition, every key of it: the layout the Glue tables, DuckDB and the local lake read."""

from datetime import date

from bwp.lake.partition import Partition, day_of_key, quarantine_key_without_day

FEES_DAY = Partition("ORDER_FEES", date(2024, 8, 22))


def test_a_partitions_keys_follow_the_documented_layout():
    # given a partition
    # then each of its keys is where the README's lake section says it is
    assert FEES_DAY.raw_key == "reports/report_type=ORDER_FEES/dt=2024-08-22/ORDER_FEES_2024-08-22.csv.gz"
    assert FEES_DAY.curated_key == "curated/report_type=ORDER_FEES/dt=2024-08-22/ORDER_FEES_2024-08-22.parquet"
    assert FEES_DAY.manifest_key == "manifests/report_type=ORDER_FEES/dt=2024-08-22.json"
    assert FEES_DAY.staging_key("t.1.csv.gz") == "staging/report_type=ORDER_FEES/dt=2024-08-22/t.1.csv.gz"
    assert FEES_DAY.quarantine_key("t.1.csv.gz") == "quarantine/report_type=ORDER_FEES/dt=2024-08-22/t.1.csv.gz"


def test_a_manifest_key_reads_back_as_its_partition_and_no_other_key_does():
    # when keys are read back
    # then a manifest key gives its partition, and a table object or a foreign key none
    assert Partition.of_manifest_key(FEES_DAY.manifest_key) == FEES_DAY
    assert Partition.of_manifest_key(FEES_DAY.raw_key) is None
    assert Partition.of_manifest_key("manifests/report_type=ORDER_FEES/latest.json") is None


def test_the_day_of_an_object_in_a_table_location_is_read_from_its_folder():
    assert day_of_key(FEES_DAY.curated_key) == FEES_DAY.day
    assert day_of_key("reports/report_type=ORDER_FEES/stray.csv.gz") is None
    assert quarantine_key_without_day("ORDER_FEES", "x") == "quarantine/report_type=ORDER_FEES/dt=unknown/x"
