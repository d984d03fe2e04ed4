"""``bwp-lake sql``: SQL on a local lake directory, with the tables, views and named queries Athena has.

``local.lake_sql`` opens DuckDB over the directory; this command runs one statement given on the
command line, a named query (``--query``), or a prompt when stdin is a terminal (statements end
with ``;``), and statements read from stdin otherwise. Results print as a table, ``--csv`` or
``--json`` (one line).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from bwp_lake import athena
from bwp_lake.local.lake_sql import LakeSql, Result, cell_text

MAX_TABLE_ROWS = 200  # a table longer than this is cut on screen; --csv and --json print every row
PROMPT, CONTINUED = "lake> ", "  ..> "
_UNBOUNDED_WIDTH = 100_000
DOT_COMMANDS = ".tables  .queries  .query NAME  .help  .quit"


class SqlCommandError(Exception):
    """The command cannot run as asked: the message names the flag and the fix."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sql",
        help="query a local lake directory with SQL (DuckDB), with Athena's views and named queries",
        description="Run SQL on a local lake directory: one statement, a named query, or a prompt "
        "(statements end with ';'; .tables, .queries, .quit) when no SQL is given on a terminal.",
    )
    parser.add_argument("statement", nargs="?", metavar="SQL", help="one SQL statement")
    parser.add_argument("--lake-dir", type=Path, required=True, help="the local lake directory (bwp-lake local-run's)")
    parser.add_argument("--query", metavar="NAME", help="run the named query NAME (see --list)")
    parser.add_argument("--list", action="store_true", help="list the tables, views and named queries")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the result as one JSON line")
    output.add_argument("--csv", action="store_true", help="print the result as CSV with a header line")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        if sum((args.statement is not None, args.query is not None, args.list)) > 1:
            raise SqlCommandError("give one of SQL, --query NAME or --list")
        if not args.lake_dir.is_dir():
            raise SqlCommandError(f"--lake-dir {args.lake_dir} is not a directory")
        sql = args.statement if args.query is None else athena.named_query(args.query).sql
        lake = LakeSql(args.lake_dir)
    except (SqlCommandError, athena.UnknownNamedQuery) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except duckdb.Error as error:
        print(f"error: the lake in {args.lake_dir} cannot be read: {one_line(error)}", file=sys.stderr)
        return 1
    print_result = _printer(args)
    with lake:
        if args.list:
            print(listing(lake))
            return 0
        if sql is not None:
            return 0 if _run_statement(lake, sql, print_result) else 1
        if sys.stdin.isatty():
            _enable_line_editing()
            return statements_loop(lake, input, print_result, stop_at_error=False)
        return statements_loop(lake, _lines_of(sys.stdin), print_result, stop_at_error=True)


def statements_loop(
    lake: LakeSql, read_line: Callable[[str], str], print_result: Callable[[Result], None], *, stop_at_error: bool
) -> int:
    """Read lines until a statement ends with ';' and run it; dot commands between statements.
    Returns 1 if a statement failed (and ``stop_at_error`` stopped there), else 0."""
    buffer: list[str] = []
    failed = False
    while True:
        try:
            line = read_line(CONTINUED if buffer else PROMPT)
        except EOFError:
            break
        except KeyboardInterrupt:  # as a shell: drop the statement being typed, keep the prompt
            buffer = []
            print()
            continue
        text = line.strip()
        if not buffer and text.startswith("."):
            if text in (".quit", ".exit"):
                break
            print(_dot_command(lake, text, print_result))
            continue
        if text:
            buffer.append(line)
        if text.endswith(";"):
            statement, buffer = "\n".join(buffer), []
            try:
                failed = not _run_statement(lake, statement, print_result) or failed
            except KeyboardInterrupt:  # Ctrl-C stops the statement, not the prompt
                print("error: interrupted", file=sys.stderr)
                failed = True
            if failed and stop_at_error:
                return 1
    if buffer:
        failed = not _run_statement(lake, "\n".join(buffer), print_result) or failed
    return 1 if failed else 0


def _dot_command(lake: LakeSql, text: str, print_result: Callable[[Result], None]) -> str:
    command, _, argument = text.partition(" ")
    if command == ".tables":
        return "\n".join(_relations(lake))
    if command == ".queries":
        return "\n".join(f"{query.name}: {query.description}" for query in athena.named_queries())
    if command == ".query" and argument.strip():
        try:
            _run_statement(lake, athena.named_query(argument.strip()).sql, print_result)
        except athena.UnknownNamedQuery as error:
            return f"error: {error}"
        return ""
    return f"commands: {DOT_COMMANDS}; SQL statements end with ';'"


def listing(lake: LakeSql) -> str:
    queries = [f"  {query.name}: {query.description}" for query in athena.named_queries()]
    return "\n".join(["tables and views:", *(f"  {name}" for name in _relations(lake)), "named queries:", *queries])


def _relations(lake: LakeSql) -> list[str]:
    _, rows = lake.query("SELECT table_name FROM information_schema.tables ORDER BY table_name")
    return [name for (name,) in rows]


def _run_statement(lake: LakeSql, sql: str, print_result: Callable[[Result], None]) -> bool:
    """Run ``sql`` and print its result, or one line naming what DuckDB refused; whether it ran."""
    try:
        result = lake.query(sql)
    except duckdb.Error as error:
        print(f"error: {one_line(error)}", file=sys.stderr)
        return False
    print_result(result)
    return True


def one_line(error: duckdb.Error) -> str:
    """DuckDB's message without the quoted statement and caret lines it adds below."""
    lines = []
    for line in str(error).splitlines():
        if line.startswith("LINE "):
            break
        if line.strip():
            lines.append(line.strip())
    return " ".join(lines) or type(error).__name__


def _printer(args: argparse.Namespace) -> Callable[[Result], None]:
    if args.json:
        return print_json
    if args.csv:
        return print_csv
    return print_table


def print_json(result: Result) -> None:
    columns, rows = result
    print(json.dumps({"columns": columns, "rows": [list(row) for row in rows]}, default=_json_value))


def _json_value(value: Any) -> Any:
    # Decimals as text, so that amounts keep every digit; dates and times in ISO 8601.
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def print_csv(result: Result) -> None:
    columns, rows = result
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([_csv_value(value) for value in row] for row in rows)


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, dt.date | dt.time) else value


def print_table(result: Result) -> None:
    """A table; on a terminal too narrow for it, one block a row (column, value), as psql's expanded display."""
    columns, rows = result
    console = Console(highlight=False)
    if not columns:
        console.print("OK")
        return
    table = Table(show_edge=False, header_style="bold")
    for index, name in enumerate(columns):
        numeric = bool(rows) and all(isinstance(row[index], int | float | Decimal | None) for row in rows)
        table.add_column(name, justify="right" if numeric else "left", no_wrap=True)
    shown = rows[:MAX_TABLE_ROWS]
    for row in shown:
        table.add_row(*(cell_text(value) for value in row))
    if not console.is_terminal:  # a file or a pipe: every column at its full width
        console = Console(highlight=False, width=_UNBOUNDED_WIDTH)
    if Measurement.get(console, console.options.update(width=_UNBOUNDED_WIDTH), table).maximum <= console.width:
        console.print(table)
    else:
        for number, row in enumerate(shown, start=1):
            record = Table.grid(padding=(0, 2))
            record.add_column(style="bold")
            record.add_column(overflow="fold")
            for name, value in zip(columns, row, strict=True):
                record.add_row(name, cell_text(value))
            console.rule(f"row {number}", align="left", style="dim")
            console.print(record)
    more = f", {len(shown)} shown: --csv or --json prints every row" if len(shown) < len(rows) else ""
    console.print(f"({len(rows)} row{'s' if len(rows) != 1 else ''}{more})", style="dim")


def _lines_of(stream) -> Callable[[str], str]:
    lines: Iterator[str] = iter(stream)

    def read_line(_prompt: str) -> str:
        try:
            return next(lines).rstrip("\n")
        except StopIteration:
            raise EOFError from None

    return read_line


def _enable_line_editing() -> None:
    with contextlib.suppress(ImportError):  # not on every platform; the prompt works without it
        import readline  # noqa: F401 - importing it gives input() history and line editing
