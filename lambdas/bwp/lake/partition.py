"""One partition of the lake and every key of it: the one place that builds them and reads them back.

A partition is a report type's UTC day. Its objects live in Hive-style folders that the Glue
tables, the DuckDB views and the local lake directory all read, so the layout is written here
once: ``<layer>/report_type=<type>/dt=<day>/...``, and the manifest ``manifests/report_type=<type>/dt=<day>.json``.
A coordinate added to the partition (a store, say) is a field here and a folder level in
``_folders``; nothing else spells a key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from bwp.lake.contract import CURATED_PREFIX, MANIFESTS_PREFIX, QUARANTINE_PREFIX, REPORTS_PREFIX, STAGING_PREFIX

# A table location's files, relative to it (DuckDB and a local lake glob them).
RAW_FILES = "dt=*/*.csv.gz"
CURATED_FILES = "dt=*/*.parquet"
MANIFEST_FILES = f"{MANIFESTS_PREFIX}report_type=*/dt=*.json"

_MANIFEST_KEY = re.compile(r"report_type=(?P<type>[A-Z0-9_]+)/dt=(?P<day>\d{4}-\d{2}-\d{2})\.json$")
_DAY_FOLDER = re.compile(r"/dt=(?P<day>\d{4}-\d{2}-\d{2})/")
_UNKNOWN_DAY = "unknown"


@dataclass(frozen=True, order=True)
class Partition:
    report_type: str
    day: date

    def __str__(self) -> str:
        return f"{self.report_type} {self.day}"

    @property
    def raw_key(self) -> str:
        """The report as served: gzip CSV with its header."""
        return f"{self._folder(REPORTS_PREFIX)}{self._file_stem}.csv.gz"

    @property
    def curated_key(self) -> str:
        """The same rows, typed, in one Parquet file."""
        return f"{self._folder(CURATED_PREFIX)}{self._file_stem}.parquet"

    @property
    def manifest_key(self) -> str:
        """The landing's record; its existence is what makes the day landed."""
        return f"{MANIFESTS_PREFIX}{_folders(self.report_type)}dt={self.day}.json"

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
        return cls(match["type"], date.fromisoformat(match["day"])) if match else None

    def _folder(self, layer_prefix: str) -> str:
        return f"{table_location_prefix(layer_prefix, self.report_type)}dt={self.day}/"

    @property
    def _file_stem(self) -> str:
        return f"{self.report_type}_{self.day}"


def _folders(report_type: str) -> str:
    """The partition's folders above its day (``dt=``), which is the last."""
    return f"report_type={report_type}/"


def table_location_prefix(layer_prefix: str, report_type: str) -> str:
    """A report type's table location under a layer's prefix (``reports/`` or ``curated/``)."""
    return f"{layer_prefix}{_folders(report_type)}"


def day_of_key(key: str) -> date | None:
    """The day of a key inside a table location, or None if it names none."""
    match = _DAY_FOLDER.search(key)
    return date.fromisoformat(match["day"]) if match else None


def quarantine_key_without_day(report_type: str, name: str) -> str:
    """Where an object of a report type's table location that names no day is kept."""
    return f"{table_location_prefix(QUARANTINE_PREFIX, report_type)}dt={_UNKNOWN_DAY}/{name}"
