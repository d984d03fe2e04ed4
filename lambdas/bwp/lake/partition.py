"""One partition of the lake and every key of it: the one place that builds them and reads them back.

A partition is one store's report type on one UTC day. Its objects live in Hive-style folders
that the Glue tables, the DuckDB views and the local lake directory all read, so the layout is
written here once: ``<layer>/store=<id>/report_type=<type>/dt=<day>/...``, and the manifest
``manifests/store=<id>/report_type=<type>/dt=<day>.json``. Every layer keeps one store's objects
under ``<layer>/store=<id>/``: a departed store's data is found, and deleted, by that folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from bwp.lake.contract import (
    ICEBERG_PREFIX,
    MANIFESTS_PREFIX,
    QUARANTINE_PREFIX,
    REPORTS_PREFIX,
    STAGING_PREFIX,
)
from bwp.lake.schemas import schema_for

# Every layer whose keys carry the store: where one store's objects are.
STORE_LAYERS = (REPORTS_PREFIX, MANIFESTS_PREFIX, QUARANTINE_PREFIX, STAGING_PREFIX)
# Every manifest of the lake, relative to the lake's root (a local lake globs them).
MANIFEST_FILES = f"{MANIFESTS_PREFIX}store=*/report_type=*/dt=*.json"
# The partition keys of the tables, outermost first, as the Glue tables and DuckDB name them.
PARTITION_KEYS = ("store", "dt")

_MANIFEST_KEY = re.compile(
    r"store=(?P<store>[a-z0-9-]+)/report_type=(?P<type>[A-Z0-9_]+)/dt=(?P<day>\d{4}-\d{2}-\d{2})\.json$"
)
_DAY_FOLDER = re.compile(r"/dt=(?P<day>\d{4}-\d{2}-\d{2})/")
_UNKNOWN_DAY = "unknown"


@dataclass(frozen=True, order=True)
class Series:
    """One store's report type, day after day: what a table holds of one store."""

    store: str
    report_type: str

    def __str__(self) -> str:
        return f"{self.store} {self.report_type}"

    def on(self, day: date) -> Partition:
        return Partition(self.store, self.report_type, day)

    def prefix(self, layer_prefix: str) -> str:
        """The series' folder under a layer's prefix (``reports/``, ``curated/``, ...)."""
        return f"{store_prefix(layer_prefix, self.store)}report_type={self.report_type}/"

    def quarantine_key_without_day(self, name: str) -> str:
        """Where an object of the series' table location that names no day is kept."""
        return f"{self.prefix(QUARANTINE_PREFIX)}dt={_UNKNOWN_DAY}/{name}"


@dataclass(frozen=True, order=True)
class Partition:
    store: str
    report_type: str
    day: date

    def __str__(self) -> str:
        return f"{self.store} {self.report_type} {self.day}"

    @property
    def series(self) -> Series:
        return Series(self.store, self.report_type)

    @property
    def raw_key(self) -> str:
        """The report as served: gzip CSV with its header."""
        return f"{self._folder(REPORTS_PREFIX)}{self._file_stem}.csv.gz"

    def curated_data_key(self, name: str) -> str:
        """The same rows, typed: a Parquet data file of the report type's Iceberg table, inside the
        table's location (``iceberg/<table>/data/store=<id>/dt=<day>/``), named for the landing
        that wrote it. Written once, never overwritten: a snapshot that lists it reads the same
        bytes for as long as the snapshot lives."""
        return f"{curated_data_prefix(self.report_type, self.store)}dt={self.day}/{self._file_stem}.{name}.parquet"

    @property
    def manifest_key(self) -> str:
        """The landing's record; its existence is what makes the day landed."""
        return f"{self.series.prefix(MANIFESTS_PREFIX)}dt={self.day}.json"

    def staging_key(self, name: str) -> str:
        """An object of a landing before it is published, beside the tables."""
        return f"{self._folder(STAGING_PREFIX)}{name}"

    def quarantine_key(self, name: str) -> str:
        """A report as served that could not be curated, kept beside the tables."""
        return f"{self._folder(QUARANTINE_PREFIX)}{name}"

    @classmethod
    def of_manifest_key(cls, key: str) -> Partition | None:
        """The partition a manifest key names, or None for any other key."""
        match = _MANIFEST_KEY.search(key)
        return cls(match["store"], match["type"], date.fromisoformat(match["day"])) if match else None

    def _folder(self, layer_prefix: str) -> str:
        return f"{self.series.prefix(layer_prefix)}dt={self.day}/"

    @property
    def _file_stem(self) -> str:
        return f"{self.report_type}_{self.day}"


def store_prefix(layer_prefix: str, store: str) -> str:
    """One store's folder under a layer's prefix."""
    return f"{layer_prefix}store={store}/"


def curated_data_prefix(report_type: str, store: str) -> str:
    """One store's data files of the report type's Iceberg table, every day (``iceberg/<table>/data/store=<id>/``)."""
    return f"{ICEBERG_PREFIX}{schema_for(report_type).curated_table_name}/data/{store_prefix('', store)}"


def table_files(layer_prefix: str, report_type: str, file_glob: str) -> str:
    """A report type's files in a layer, every store and day, relative to the lake's root."""
    return f"{layer_prefix}store=*/report_type={report_type}/dt=*/{file_glob}"


def location_template(layer_prefix: str, report_type: str) -> str:
    """A report type's partition folder in a layer, with the partition keys as Athena's
    projection writes them (``${store}``, ``${dt}``)."""
    return f"{layer_prefix}store=${{store}}/report_type={report_type}/dt=${{dt}}/"


def day_of_key(key: str) -> date | None:
    """The day of a key inside a table location, or None if it names none."""
    match = _DAY_FOLDER.search(key)
    return date.fromisoformat(match["day"]) if match else None
