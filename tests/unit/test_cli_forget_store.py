"""`bwp-lake forget-store --lake-dir`: a local lake directory forgets a store as the bucket does."""

from bwp.lake.schemas import ORDER_FEES

from bwp_lake.cli.main import main
from bwp_lake.local.lake_tables import LakeDirTables
from tests.unit.test_lake_sql import NEXT_DAY, SEED_DAY, SEED_ROWS, STORE, write_report

OTHER_STORE = "shop-b"


def test_a_lake_directory_forgets_a_store_its_rows_its_snapshots_and_its_folders(tmp_path, capsys):
    # given a lake directory with two days of shop-a's fees (one restated) and a day of shop-b's
    write_report(tmp_path, "ORDER_FEES", SEED_DAY, ORDER_FEES.column_names, SEED_ROWS, task="first")
    write_report(tmp_path, "ORDER_FEES", NEXT_DAY, ORDER_FEES.column_names, SEED_ROWS, task="next")
    write_report(tmp_path, "ORDER_FEES", SEED_DAY, ORDER_FEES.column_names, SEED_ROWS[1:], task="again")
    write_report(tmp_path, "ORDER_FEES", SEED_DAY, ORDER_FEES.column_names, SEED_ROWS, store=OTHER_STORE, task="b")
    # when shop-a is forgotten without --yes, nothing goes
    assert main(["forget-store", "--lake-dir", str(tmp_path), "--store", STORE]) == 1
    out = capsys.readouterr().out
    assert f"order_fees_curated: {2 * len(SEED_ROWS) - 1} row(s) of store {STORE}" in out
    assert any(tmp_path.rglob(f"store={STORE}"))
    # when it is forgotten with --yes
    assert main(["forget-store", "--lake-dir", str(tmp_path), "--store", STORE, "--yes"]) == 0
    # then no file or folder of shop-a is left in the directory
    assert [str(path) for path in tmp_path.rglob(f"store={STORE}")] == []
    # and the table holds shop-b's rows alone, in its one snapshot
    table = LakeDirTables(tmp_path).table("ORDER_FEES")
    assert table is not None and len(table.snapshots()) == 1
    assert set(LakeDirTables(tmp_path).rows("ORDER_FEES").column("store").to_pylist()) == {OTHER_STORE}
    assert len(LakeDirTables(tmp_path).rows("ORDER_FEES")) == len(SEED_ROWS)
