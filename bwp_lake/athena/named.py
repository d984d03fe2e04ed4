"""Named queries: ``queries/<name>.sql``, first line ``-- <description>``, reading the views (or a curated
table as it was, ``FOR TIMESTAMP AS OF``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

QUERIES_DIR = Path(__file__).parent / "queries"
_DESCRIPTION_PREFIX = "-- "


class UnknownNamedQuery(LookupError):
    """No file in athena/queries/ has this name."""


class MalformedNamedQuery(ValueError):
    """A query file does not start with its ``-- description`` line."""


@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    sql: str


def named_queries() -> list[NamedQuery]:
    return [_load(path) for path in sorted(QUERIES_DIR.glob("*.sql"))]


def named_query(name: str) -> NamedQuery:
    for query in named_queries():
        if query.name == name:
            return query
    known = ", ".join(query.name for query in named_queries())
    raise UnknownNamedQuery(f"no named query {name!r}; known: {known}")


def _load(path: Path) -> NamedQuery:
    first, _, rest = path.read_text(encoding="utf-8").partition("\n")
    description = first.removeprefix(_DESCRIPTION_PREFIX).strip()
    if not first.startswith(_DESCRIPTION_PREFIX) or not description or not rest.strip():
        raise MalformedNamedQuery(f"{path.name}: expected a '-- description' line, then the SQL")
    return NamedQuery(name=path.stem, description=description, sql=rest.strip())
