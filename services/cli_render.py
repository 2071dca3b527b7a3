"""How ``ar`` shows its results to a person: tables and labelled values, drawn by rich.

A listing is a ``table``: a header, one row per record, amounts and counts right-aligned, and,
where it has amounts, a total row (one per currency when the rows mix currencies) under a rule.
A single record (an account, a balance) is ``pairs``: one labelled value per line, its amounts
right-aligned with each other. Every value is shown as a clerk reads it, never as a Python
repr: nothing (``None``) is a dash, an empty list or mapping too, a list of records is a small
table, a mapping is labelled values. Values are text, never rich markup, so a customer named
``[red]`` is printed as typed.

On a terminal rich fits the tables to its width and may use colour (``NO_COLOR`` is honoured).
Anywhere else (a pipe, a file, a test's runner) the output is plain text whatever the
environment says: no escape codes, no wrapping (each row on one line, however long), no
trailing spaces, so it reads the same everywhere and a row can be found with grep.
Machine output (``--json``, ``--format csv``) never comes here: it stays as scripts know it.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TextIO

import typer
from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

NOTHING = "—"

# Wide enough that no row of a pipe's output is ever wrapped; lines end where their text does.
_PIPE_WIDTH = 10_000


@dataclass(frozen=True)
class Column:
    """One column of a ``table``: the row key it shows, its header, and its kind of value.

    An ``amount`` is a decimal string (or ``Decimal``) of one currency: right-aligned and added
    up in the total rows. A ``number`` (a count, a position, a version) is right-aligned and
    never added up.
    """

    key: str
    header: str = ""
    amount: bool = False
    number: bool = False

    @property
    def title(self) -> str:
        return self.header or label(self.key)


def label(key: str) -> str:
    """A field's name as a heading: ``unapplied_credit`` → ``unapplied credit``."""
    return key.replace("_", " ")


def plain(value: Any) -> str:
    """A value as a clerk reads it: a dash for nothing, ISO dates, yes/no, never a repr."""
    if value is None or (
        isinstance(value, Collection) and not isinstance(value, str) and not value
    ):
        return NOTHING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Enum):
        return plain(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return ", ".join(f"{label(str(k))} {plain(v)}" for k, v in value.items())
    if isinstance(value, Collection) and not isinstance(value, str):
        return ", ".join(plain(v) for v in value)
    return str(value)


def table(
    columns: Sequence[Column | str],
    rows: Iterable[Mapping[str, Any]],
    *,
    totals: bool | Sequence[Mapping[str, Any]] = False,
    per: str | None = None,
    total_label: str = "total",
    title: str | None = None,
    empty: str | None = None,
) -> RenderableType:
    """The rows as a table of the given columns (a bare name is a text column).

    With ``totals=True`` the amount columns are added up under a rule: one row labelled
    ``total_label`` in the first column, or one per value of the ``per`` column (a currency),
    for amounts of different currencies are never added together. Total rows already worked
    out (a report's own) are given as ``totals`` instead. With ``empty``, no rows is that
    sentence instead of a bare header.
    """
    spec = [c if isinstance(c, Column) else Column(c) for c in columns]
    records = list(rows)
    if not records and empty is not None:
        return Text(empty)
    if totals is True:
        total_rows: Sequence[Mapping[str, Any]] = _totals(spec, records, per, total_label)
    else:
        total_rows = totals or []
    grid = _grid(spec, records, box.HORIZONTALS, title, ruled=bool(total_rows))
    for total in total_rows:
        grid.add_row(*(Text(plain(total.get(c.key, ""))) for c in spec), style="bold")
    return grid


def _grid(
    spec: Sequence[Column],
    records: Sequence[Mapping[str, Any]],
    lines: box.Box | None,
    title: str | None = None,
    *,
    ruled: bool = False,
) -> Table:
    grid = Table(
        box=lines,
        show_edge=False,
        pad_edge=False,
        header_style="bold",
        title=Text(title) if title else None,
        title_justify="left",
        title_style="bold",
    )
    for column in spec:
        grid.add_column(
            Text(column.title), justify="right" if column.amount or column.number else "left"
        )
    for index, record in enumerate(records):
        grid.add_row(
            *(Text(plain(record.get(c.key))) for c in spec),
            end_section=ruled and index == len(records) - 1,
        )
    return grid


def _totals(
    spec: Sequence[Column], records: Sequence[Mapping[str, Any]], per: str | None, name: str
) -> list[dict[str, str]]:
    amounts = [c.key for c in spec if c.amount]
    groups: dict[Any, dict[str, Decimal]] = {}
    for record in records:
        sums = groups.setdefault(record.get(per) if per else None, {})
        for key in amounts:
            if record.get(key) not in (None, ""):
                sums[key] = sums.get(key, Decimal(0)) + Decimal(str(record[key]))
    rows = []
    for group, sums in groups.items():
        row = {key: str(amount) for key, amount in sums.items()}
        row[spec[0].key] = name
        if per is not None:
            row[per] = plain(group)
        rows.append(row)
    return rows


def pairs(
    values: Mapping[str, Any], *, amounts: Collection[str] = (), title: str | None = None
) -> Table:
    """One labelled value per line; the ``amounts`` are right-aligned with each other.

    A value that is a mapping is shown as labelled values in turn (its values amounts when its
    key is one of ``amounts``); a list of records as a small table.
    """
    grid = Table(
        box=None,
        show_header=False,
        pad_edge=False,
        title=Text(title) if title else None,
        title_justify="left",
        title_style="bold",
    )
    grid.add_column(style="bold")
    grid.add_column()
    amount_width = max(
        (len(plain(v)) for k, v in values.items() if k in amounts and _is_scalar(v)), default=0
    )
    for key, value in values.items():
        cell: RenderableType
        if _is_scalar(value) or not value:
            shown = plain(value)
            cell = Text(shown.rjust(amount_width) if key in amounts else shown)
        elif isinstance(value, Mapping):
            inner = value.keys() if key in amounts else ()
            cell = pairs({str(k): v for k, v in value.items()}, amounts=inner)
        elif all(isinstance(v, Mapping) for v in value):
            cell = _grid(_inferred_columns(value), value, None)
        else:
            cell = Text(plain(value))
        grid.add_row(Text(label(key)), cell)
    return grid


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str) or not isinstance(value, Collection)


def _inferred_columns(records: Sequence[Mapping[str, Any]]) -> list[Column]:
    first = records[0]
    return [
        Column(str(k), number=isinstance(v, int) and not isinstance(v, bool))
        for k, v in first.items()
    ]


def show(*things: RenderableType | str) -> None:
    """Print to standard output: fitted to a terminal, plain anywhere else (see the module)."""
    out = sys.stdout
    shown = [Text(t) if isinstance(t, str) else t for t in things]
    if _is_terminal(out):
        Console(file=out, force_terminal=True, highlight=False).print(*shown)
        return
    console = Console(
        file=out,
        force_terminal=False,
        force_jupyter=False,
        width=_PIPE_WIDTH,
        no_color=True,
        highlight=False,
    )
    with console.capture() as captured:
        console.print(*shown)
    typer.echo("".join(line.rstrip() + "\n" for line in captured.get().splitlines()), nl=False)


def _is_terminal(out: TextIO) -> bool:
    try:
        return out.isatty()
    except ValueError:  # closed, as at the very end of a test run
        return False
