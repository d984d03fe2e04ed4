"""One partition, every key of it: the layout the Glue tables, DuckDB and the local lake read."""

from datetime import date

from bwp.lake.partition import Partition, Series, day_of_key, location_template, store_prefix, table_files

FEES_DAY = Partition("acme", "ORDER_FEES", date(2024, 8, 22))


def test_a_partitions_keys_follow_the_documented_layout():
    # given a partition of store acme
    # then each of its keys is where the README's lake section says it is, the store outermost
    assert FEES_DAY.raw_key == "reports/store=acme/report_type=ORDER_FEES/dt=2024-08-22/ORDER_FEES_2024-08-22.csv.gz"
    assert (
        FEES_DAY.curated_data_key("t.1")
        == "iceberg/order_fees_curated/data/store=acme/dt=2024-08-22/ORDER_FEES_2024-08-22.t.1.parquet"
    )
    assert FEES_DAY.manifest_key == "manifests/store=acme/report_type=ORDER_FEES/dt=2024-08-22.json"
    assert FEES_DAY.staging_key("t.1.csv.gz") == "staging/store=acme/report_type=ORDER_FEES/dt=2024-08-22/t.1.csv.gz"
    assert (
        FEES_DAY.quarantine_key("t.1.csv.gz") == "quarantine/store=acme/report_type=ORDER_FEES/dt=2024-08-22/t.1.csv.gz"
    )


def test_every_key_of_a_store_is_under_its_folder_of_each_layer_and_no_other_stores_is():
    # given the same day of two stores
    other = Partition("acme-eu", "ORDER_FEES", FEES_DAY.day)
    keys = [FEES_DAY.raw_key, FEES_DAY.manifest_key, FEES_DAY.quarantine_key("x")]
    # then each key of acme is under acme's folder of its layer, and none of acme-eu's is
    for key in keys:
        layer = key.split("/", 1)[0] + "/"
        assert key.startswith(store_prefix(layer, "acme"))
    other_keys = [other.raw_key, other.manifest_key, other.quarantine_key("x")]
    assert not any(key.startswith(store_prefix(key.split("/", 1)[0] + "/", "acme")) for key in other_keys)
    # and in the curated table's location, each store's data files are under its own folder too
    assert "/data/store=acme/" in FEES_DAY.curated_data_key("x")
    assert "/data/store=acme/" not in other.curated_data_key("x")


def test_a_manifest_key_reads_back_as_its_partition_and_no_other_key_does():
    # when keys are read back
    # then a manifest key gives its partition, store included, and a table object or a foreign key none
    assert Partition.of_manifest_key(FEES_DAY.manifest_key) == FEES_DAY
    assert Partition.of_manifest_key(FEES_DAY.raw_key) is None
    assert Partition.of_manifest_key("manifests/store=acme/report_type=ORDER_FEES/latest.json") is None
    assert Partition.of_manifest_key("manifests/report_type=ORDER_FEES/dt=2024-08-22.json") is None


def test_the_day_of_an_object_in_a_table_location_is_read_from_its_folder():
    assert day_of_key(FEES_DAY.raw_key) == FEES_DAY.day
    assert day_of_key("reports/store=acme/report_type=ORDER_FEES/stray.csv.gz") is None
    assert (
        FEES_DAY.series.quarantine_key_without_day("x") == "quarantine/store=acme/report_type=ORDER_FEES/dt=unknown/x"
    )


def test_the_tables_globs_and_projection_template_match_the_partitions_keys():
    # given a partition's raw key
    key = FEES_DAY.raw_key
    # then the table's glob over every store and day matches it, and the template fills to its folder
    from fnmatch import fnmatch

    assert fnmatch(key, table_files("reports/", "ORDER_FEES", "*.csv.gz"))
    assert not fnmatch(key, table_files("reports/", "USER_EVENTS", "*.csv.gz"))
    folder = location_template("reports/", "ORDER_FEES").replace("${store}", "acme").replace("${dt}", "2024-08-22")
    assert key.startswith(folder)
    assert Series("acme", "ORDER_FEES").on(FEES_DAY.day) == FEES_DAY
