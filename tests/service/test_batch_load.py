"""The accounts a batch needs are read together, as a replay reads them, on SQLite and PostgreSQL.

The group committer reads every account of a batch that is not in its cache in one query: each
from its newest snapshot and the events after it. These tests check that what is read that way
is the account as stored, and that an account whose history does not read still fails alone.
"""

from __future__ import annotations

from datetime import date
from uuid import uuid4

from domain.account import Account
from projections.database import events_table
from services.bootstrap import Runtime
from services.group_commit import Outcome
from services.recorders import IdempotentPostgresRecorder, IdempotentSQLiteRecorder
from services.unreadable import AccountUnreadable
from tests.store_faults import one_batch, submit_charge
from tests.support import CLERK, charge, open_charge_and_pay, run


def _accounts_with_and_without_a_snapshot(runtime: Runtime) -> None:
    """A-100: 3 events, no snapshot; LONG: 9 events, snapshots at 4 and 8."""
    runtime.app.committer.snapshot_interval = 4
    open_charge_and_pay(runtime.app)
    runtime.app.open_account(
        tenant_id="acme",
        account_number="LONG",
        name="Long history",
        currency="USD",
        opened_on=date(2026, 1, 1),
        meta=CLERK,
    )
    for n in range(8):
        run(
            runtime.app, charge(f"long-{n}", "2.50", date(2026, 1, 5), "LAB"), account_number="LONG"
        )


def test_accounts_read_together_from_their_newest_snapshot_are_built_on_as_stored(
    runtime: Runtime,
) -> None:
    _accounts_with_and_without_a_snapshot(runtime)
    recorder = runtime.app.recorder
    assert isinstance(recorder, IdempotentPostgresRecorder | IdempotentSQLiteRecorder)
    assert runtime.app.snapshots is not None
    snapshots = getattr(runtime.app.snapshots.recorder, "events_table_name")  # noqa: B009
    short, long, nobody = (
        Account.id_for("acme", "A-100"),
        Account.id_for("acme", "LONG"),
        uuid4(),
    )

    histories = recorder.select_histories([short, long, nobody], snapshots)

    assert set(histories) == {short, long}
    assert histories[short].snapshot is None
    assert [e.originator_version for e in histories[short].events] == [1, 2, 3]
    newest = histories[long].snapshot
    assert newest is not None
    assert newest.originator_version == 8
    assert [e.originator_version for e in histories[long].events] == [9]
    # Without snapshots, the whole history.
    whole = recorder.select_histories([long], None)
    assert [e.originator_version for e in whole[long].events] == list(range(1, 10))

    # A batch of those accounts, none of them in memory (as after a restart), builds on them.
    runtime.app.committer._cache.clear()

    results = one_batch(
        runtime,
        lambda: [
            submit_charge(runtime, "A-100", "k-short"),
            submit_charge(runtime, "LONG", "k-long"),
            submit_charge(runtime, "NOBODY", "k-nobody"),
            submit_charge(runtime, "LONG", "k-long-2"),
        ],
    )

    on_short, on_long, on_nobody, on_long_again = results
    assert isinstance(on_short, Outcome)
    assert on_short.body["version"] == 4
    assert isinstance(on_long, Outcome)
    assert on_long.body["version"] == 10
    assert isinstance(on_long_again, Outcome)
    assert on_long_again.body["version"] == 11
    assert type(on_nobody).__name__ == "AccountNotFound"
    replayed = runtime.app.get_account("acme", "LONG")
    assert replayed.version == 11
    assert on_long_again.body["balance"] == str(replayed.balance.amount)
    assert on_short.body["balance"] == str(runtime.app.get_account("acme", "A-100").balance.amount)


def test_an_account_whose_history_does_not_read_fails_alone_in_its_batch(
    runtime: Runtime,
) -> None:
    _accounts_with_and_without_a_snapshot(runtime)
    table = events_table(runtime.app)
    broken = Account.id_for("acme", "A-100")
    stored = next(
        e for e in runtime.app.recorder.select_events(broken) if e.originator_version == 2
    )
    runtime.db.execute(
        f"UPDATE {table} SET state = ? WHERE state = ?",
        (b"{not json", stored.state),
    )
    runtime.app.committer._cache.clear()

    results = one_batch(
        runtime,
        lambda: [
            submit_charge(runtime, "A-100", "k-broken"),
            submit_charge(runtime, "LONG", "k-long"),
        ],
    )

    assert isinstance(results[0], AccountUnreadable)
    assert results[0].version == 2
    assert isinstance(results[1], Outcome)
    assert results[1].body["version"] == 10
