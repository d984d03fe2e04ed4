"""`bwp-lake dbt-sources`: a dbt sources.yml with every registry column, described and typed."""

import pytest
import yaml
from bwp.lake.contract import FRESHNESS_HOURS
from bwp.lake.manifest import glue_column_comments
from bwp.lake.schemas import REGISTRY

from bwp_lake import athena
from bwp_lake.cli.main import main


@pytest.fixture
def sources(capsys):
    assert main(["dbt-sources", "--database", "lake_prod"]) == 0
    document = yaml.safe_load(capsys.readouterr().out)
    assert document["version"] == 2
    (source,) = document["sources"]
    return source


def tables_of(source):
    return {table["name"]: table for table in source["tables"]}


def test_the_source_is_the_glue_database_in_athena_s_catalog(sources):
    assert (sources["database"], sources["schema"]) == ("awsdatacatalog", "lake_prod")


@pytest.mark.parametrize("schema", REGISTRY.values(), ids=list(REGISTRY))
def test_every_registry_column_is_in_the_raw_and_curated_tables_with_its_description_and_type(sources, schema):
    tables = tables_of(sources)
    descriptions = [schema.column_description(column) for column in schema.columns]
    for name, columns in (
        (schema.raw_table_name, athena.raw_table_columns(schema.report_type)),
        (schema.curated_table_name, athena.curated_table_columns(schema.report_type)),
    ):
        listed = tables[name]["columns"]
        # the registry's columns, then the partition keys: the store and the day
        assert [(c["name"], c["data_type"]) for c in listed] == [*columns, ("store", "string"), ("dt", "string")]
        assert [c["description"] for c in listed[:-2]] == descriptions
        assert listed[-2]["description"].startswith("The store's id")
        assert listed[-1]["description"].startswith("UTC day")
        assert tables[name].get("config", {}).get("meta") == (
            {"provisional_schema": True} if schema.provisional else None
        )


def test_the_manifests_carry_the_freshness_check_on_when_each_partition_landed(sources):
    manifests = tables_of(sources)["manifests"]
    # every manifest field, the store read from its folder as the partition key
    described = {c["name"]: c["description"] for c in manifests["columns"]}
    assert described.pop("report_type").startswith("Report type")
    assert described.pop("store").startswith(glue_column_comments()["store"])
    assert described == {name: text for name, text in glue_column_comments().items() if name != "store"}
    config = manifests["config"]
    assert config["loaded_at_field"] == "from_iso8601_timestamp(landedat)"
    assert config["freshness"]["warn_after"] == {"count": FRESHNESS_HOURS, "period": "hour"}
    assert all("freshness" not in table.get("config", {}) for table in sources["tables"] if table is not manifests)


def test_out_writes_the_file_and_says_so_in_one_line(tmp_path, capsys):
    target = tmp_path / "sources.yml"
    assert main(["dbt-sources", "--out", str(target)]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"wrote {target}: 5 tables")
    assert yaml.safe_load(target.read_text())["sources"][0]["schema"] == "bwp_report_lake"


@pytest.mark.parametrize(
    ("arguments", "code", "said"),
    [
        (["--out", "/nonexistent/dir/sources.yml"], 1, "error: cannot write --out /nonexistent/dir/sources.yml"),
        (["--database", "Lake-Prod"], 2, "error: --database 'Lake-Prod' is not a Glue database name"),
    ],
)
def test_bad_flags_are_one_line(arguments, code, said, capsys):
    assert main(["dbt-sources", *arguments]) == code
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1 and captured.err.startswith(said)
