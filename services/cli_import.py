"""``ar import``: a book of receivables from another system's CSV export (``services.importer``).

All or nothing by default: every row is checked — its fields, then the business rules in a
rehearsal over the whole file — before anything is recorded, and one bad row means nothing is
recorded. ``--dry-run`` checks and stops there; ``--partial`` records the rows that pass.
Every refused row is named once on stderr (the first ``SHOWN`` of them; ``--rejects FILE``
writes them all, with their cells and reasons, as CSV) and the exit status is then 1. On a
terminal a progress bar shows each phase with its total and the time left; in a pipe, nothing
but the summary.

The importer and the store are imported when the command runs, so ``ar --help`` stays light.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from services.cli_guard import cli_provenance, refusals_exit

if TYPE_CHECKING:
    from rich.console import Console

    from services.bootstrap import Runtime
    from services.importer import ImportReport, Progress

#: Refused rows printed on stderr before the rest are only counted (the rejects file has all).
SHOWN = 20


class ProgressBar:
    """Each phase of an import as a bar with its total, the count done and the time left."""

    def __init__(self, console: Console) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description:<9}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._task: Any = None

    def __enter__(self) -> ProgressBar:
        self._progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._progress.stop()

    def start(self, phase: str, total: int) -> None:
        if self._task is not None:
            self._progress.update(self._task, visible=False)
        self._task = self._progress.add_task(phase, total=total)

    def advance(self, done: int = 1) -> None:
        self._progress.advance(self._task, done)


@contextmanager
def progress_on_terminal() -> Iterator[Progress | None]:
    """A progress bar on stderr when it is a terminal; None (nothing drawn) otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console

    with ProgressBar(Console(stderr=True)) as bar:
        yield bar


def summary(report: ImportReport) -> str:
    refused = len(report.rejected)
    if report.checked_only:
        return (
            f"{report.rows} rows, {report.commands} commands checked: {report.to_record} to record,"
            f" {report.already_imported} already imported, {refused} refused;"
            " nothing was recorded (--dry-run)"
        )
    said = (
        f"{report.rows} rows, {report.commands} commands: {report.recorded} recorded,"
        f" {report.already_imported} already imported, {refused} refused"
    )
    if report.nothing_recorded:
        said += "; nothing was recorded (all or nothing: --partial records the rows that pass)"
    return said


def register(app: typer.Typer, runtime_factory: Callable[[], Runtime]) -> None:
    @app.command("import")
    def import_csv(
        file: Annotated[
            Path, typer.Argument(exists=True, dir_okay=False, help="The CSV file to import.")
        ],
        tenant: Annotated[
            str, typer.Option(envvar="AR_TENANT", help="The tenant the accounts belong to.")
        ],
        actor: Annotated[
            str, typer.Option(envvar="AR_ACTOR", help="Your name, recorded on the events.")
        ],
        mapping: Annotated[
            Path | None,
            typer.Option(
                exists=True,
                dir_okay=False,
                help="A YAML or JSON file mapping another system's columns and words to ours.",
                show_default=False,
            ),
        ] = None,
        delimiter: Annotated[
            str | None,
            typer.Option(
                help="The delimiter, e.g. ';' or 'tab'; told by the header otherwise.",
                show_default=False,
            ),
        ] = None,
        date_format: Annotated[
            str | None,
            typer.Option(
                help="How dates are written, e.g. %d/%m/%Y or %d.%m.%Y (default: ISO).",
                show_default=False,
            ),
        ] = None,
        decimal_comma: Annotated[
            bool | None,
            typer.Option(
                "--decimal-comma/--decimal-point",
                help="Amounts like 1.234,56 (or 1 234,56); default 1,234.56.",
                show_default=False,
            ),
        ] = None,
        encoding: Annotated[
            str | None,
            typer.Option(help="The file's encoding if not UTF-8, e.g. cp1252.", show_default=False),
        ] = None,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Check every row; record nothing.")
        ] = False,
        partial: Annotated[
            bool, typer.Option("--partial", help="Record the rows that pass, not the others.")
        ] = False,
        rejects: Annotated[
            Path | None,
            typer.Option(
                dir_okay=False,
                help="Write the refused rows here as CSV: line, reason and the row's cells.",
                show_default=False,
            ),
        ] = None,
        reason: Annotated[str | None, typer.Option(help="Why: recorded on the events.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    ) -> None:
        """Import accounts, invoices and payments from a CSV export (see services/importer.py).

        Every row is checked, against the business rules too, before anything is recorded: one
        bad row and nothing is recorded, unless --partial. Importing a file again records
        nothing twice. Refused rows are named on stderr and the exit status is 1.
        """
        from services.importer import Dialect, ImportFileInvalid, import_file, load_mapping

        if dry_run and partial:
            typer.echo("error: --dry-run records nothing; --partial says what to record", err=True)
            raise typer.Exit(2)
        try:
            dialect = Dialect.of(
                load_mapping(mapping) if mapping is not None else None,
                encoding=encoding,
                delimiter=_delimiter(delimiter),
                date_format=date_format,
                decimal_comma=decimal_comma,
            )
            _check_encoding(dialect.encoding)
            with (
                refusals_exit(runtime_factory, "the row") as runtime,
                progress_on_terminal() as progress,
            ):
                report = import_file(
                    runtime.app,
                    file,
                    tenant_id=tenant,
                    meta=cli_provenance(actor, reason),
                    dialect=dialect,
                    partial=partial,
                    check_only=dry_run,
                    progress=progress,
                )
        except ImportFileInvalid as invalid:
            for problem in invalid.problems:
                typer.echo(f"error: {problem}", err=True)
            typer.echo("error: the file cannot be imported; nothing was recorded", err=True)
            raise typer.Exit(1) from None
        if rejects is not None:
            report.write_rejects(rejects)
        if as_json:
            typer.echo(json.dumps(report.as_dict(), indent=2))
        else:
            typer.echo(summary(report))
        for refused in report.refused[:SHOWN]:
            typer.echo(f"refused: {refused}", err=True)
        if len(report.refused) > SHOWN:
            more = len(report.refused) - SHOWN
            where = f" (all in {rejects})" if rejects is not None else "; --rejects FILE lists all"
            typer.echo(f"refused: and {more} more rows{where}", err=True)
        if report.rejected:
            raise typer.Exit(1)


def _delimiter(given: str | None) -> str | None:
    if given is None:
        return None
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    delimiter = named.get(given.lower(), given)
    if len(delimiter) != 1:
        typer.echo(f"error: --delimiter {given!r} is not one character (or tab)", err=True)
        raise typer.Exit(2)
    return delimiter


def _check_encoding(encoding: str) -> None:
    import codecs

    try:
        codecs.lookup(encoding)
    except LookupError:
        typer.echo(f"error: there is no encoding {encoding!r} (e.g. utf-8, cp1252)", err=True)
        raise typer.Exit(2) from None
