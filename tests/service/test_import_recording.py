"""The import records what its check applied, chunk by chunk: on SQLite and PostgreSQL.

Each test writes between the check and the recording through the ``Progress`` the import
reports to, which is told when the recording starts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from domain.account import Account
from domain.hash_chain import verify_chain
from domain.money import Money
from services.bootstrap import Runtime
from services.errors import AccountNotFound
from services.importer import ImportReport, import_file
from tests.support import CLERK

HEADER = "kind,account,date,number,amount,due_on,invoice,method,name,currency\n"


class _BeforeRecording:
    """A progress report that does ``write`` when the recording starts, and notes when."""

    def __init__(self, write: Callable[[], None] = lambda: None) -> None:
        self.write = write
        self.recording_from: datetime | None = None

    def start(self, phase: str, total: int) -> None:
        if phase == "recording":
            self.recording_from = datetime.now(UTC)
            self.write()

    def advance(self, done: int = 1) -> None:
        pass


def _import(
    runtime: Runtime, tmp_path: Path, text: str, progress: _BeforeRecording
) -> ImportReport:
    path = tmp_path / "book.csv"
    path.write_text(HEADER + text)
    return import_file(runtime.app, path, tenant_id="acme", meta=CLERK, progress=progress)


def test_imported_events_are_known_from_their_recording_on_and_chain_from_a_snapshot(
    runtime: Runtime, tmp_path: Path
) -> None:
    runtime.app.committer.snapshot_interval = 4
    rows = "account,S-1,2026-01-01,,,,,,Sam,USD\n" + "".join(
        f"invoice,S-1,2026-01-0{n},INV-{n},10.00,,,,,\n" for n in range(1, 4)
    )
    progress = _BeforeRecording()

    _import(runtime, tmp_path, rows, progress)

    assert progress.recording_from is not None
    app = runtime.app
    # Known only from when the store had it, not from when the file was checked.
    with pytest.raises(AccountNotFound):
        app.get_account("acme", "S-1", as_known_at=progress.recording_from)
    events = app.history("acme", "S-1")
    assert [e.originator_version for e in events] == list(range(1, 8))
    assert all(e.timestamp >= progress.recording_from for e in events)
    assert verify_chain(events) == []
    # The save crossed version 4: the account is snapshotted, with the store's times.
    assert app.snapshots is not None
    [snapshot] = app.snapshots.get(Account.id_for("acme", "S-1"))
    assert snapshot.originator_version == 7
    assert isinstance(snapshot, Account.Snapshot)
    account = app.get_account("acme", "S-1")
    assert (account.version, account.balance) == (7, Money("30.00", "USD"))
    assert account.created_on == events[0].timestamp


def test_a_row_another_writer_came_before_is_the_only_one_not_recorded(
    runtime: Runtime, tmp_path: Path
) -> None:
    app = runtime.app

    def a_clerk_opens_b_2() -> None:
        app.open_account(
            tenant_id="acme",
            account_number="B-2",
            name="Bob, by hand",
            currency="USD",
            opened_on=date(2026, 1, 1),
            meta=CLERK,
        )

    rows = (
        "account,B-1,2026-01-01,,,,,,Ann,USD\n"
        + "invoice,B-1,2026-01-02,INV-1,10.00,,,,,\n"
        + "account,B-2,2026-01-01,,,,,,Bob,USD\n"
        + "invoice,B-2,2026-01-05,INV-9,30.00,,,,,\n"
    )

    report = _import(runtime, tmp_path, rows, _BeforeRecording(a_clerk_opens_b_2))

    assert [(r.line, r.reason.split(":")[0]) for r in report.rejected] == [
        (4, "refused while recording (the account changed since the check)")
    ]
    assert (report.recorded, report.refused_while_recording) == (5, 1)
    assert app.get_account("acme", "B-1").balance == Money("10.00", "USD")
    bob = app.get_account("acme", "B-2")
    assert (bob.name, bob.balance) == ("Bob, by hand", Money("30.00", "USD"))
    for account in ("B-1", "B-2"):
        assert verify_chain(app.history("acme", account)) == []
