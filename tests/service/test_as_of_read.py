"""An auditor's as-of read starts from a compact snapshot and gives the very account a replay
of every event gives: same figures, same order, same digits; older snapshots still read."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal
from typing import Any

from eventsourcing.domain import Snapshot

from bench.workload import AccountScript
from domain.account import Account
from domain.account.snapshots import compact, expand
from domain.money import Money
from services.app import Receivables
from services.bootstrap import Runtime
from tests.support import CLERK, run
from tests.unit.unit_support import transcoder as store_transcoder


def _record_history(app: Receivables, commands: int) -> Any:
    """An account with charges, invoices, partial payments, credit notes and a plan."""
    app.open_account(
        tenant_id="acme",
        account_number="A-1",
        name="Ann",
        currency="USD",
        opened_on=date(2026, 1, 1),
        meta=CLERK,
    )
    script, rng = AccountScript("A-1"), random.Random(7)  # a plan and a credit note early
    for _ in range(commands):
        run(app, script.next_command(rng), "A-1")
    return Account.id_for("acme", "A-1")


def _replayed(app: Receivables, account_id: Any, version: int) -> Any:
    account = None
    event: Any
    for event in app.events.get(account_id, lte=version):
        account = event.mutate(account)
    return account


def _assert_same(app: Receivables, read: Any, replayed: Any) -> None:
    # Equal values (tuples stay tuples), and each in the same stored form: the order of
    # every dict, the exact digits of every amount.
    assert vars(read) == vars(replayed)
    encode = app.mapper.transcoder.encode
    assert {k: encode(v) for k, v in vars(read).items()} == {
        k: encode(v) for k, v in vars(replayed).items()
    }


def test_every_as_known_at_read_from_a_compact_snapshot_equals_a_replay_of_every_event(
    runtime: Runtime,
) -> None:
    app = runtime.app
    account_id = _record_history(app, 30)
    newest = app.get_account("acme", "A-1").version
    for version in range(10, newest, 12):
        app.take_snapshot(account_id, version=version)
    assert app.snapshots is not None
    stored = app.snapshots.recorder.select_events(account_id)
    assert {s.topic for s in stored} == {"receivables.account:Snapshot"}

    later: list[Any] = list(app.events.get(account_id, gt=8))
    for event in [*later[::3], later[-1]]:
        read = app.get_account("acme", "A-1", as_known_at=event.timestamp)
        _assert_same(app, read, _replayed(app, account_id, read.version))
    assert read.version == newest
    assert read.plans
    assert read.notes


def test_a_snapshot_stored_in_the_library_form_is_still_read(runtime: Runtime) -> None:
    app = runtime.app
    account_id = _record_history(app, 12)
    older: Account = app.repository.get(account_id, version=9)
    assert app.snapshots is not None
    app.snapshots.put([Snapshot.take(older)])
    assert [s.topic for s in app.snapshots.recorder.select_events(account_id)] == [
        "eventsourcing.domain:Snapshot"
    ]

    newest = app.get_account("acme", "A-1")
    _assert_same(app, newest, _replayed(app, account_id, newest.version))


def test_what_the_compact_form_does_not_describe_is_stored_as_it_is() -> None:
    transcoder = store_transcoder()
    usd = Money("1.50", "USD")
    state = {
        "currency": "USD",
        "ratio": Decimal("0.50"),  # no shape for a bare Decimal: as it is
        "mixed": [usd, "not money"],  # shaped by its first item, which the second does not fit
        "owed": {"P-1": usd, "P-2": Money("7", "EUR")},  # another currency keeps its own
        "dates": [date(2026, 1, 2)],
        "count": 2**70,  # past what JSON numbers hold exactly everywhere
    }
    packed = compact(state)
    assert set(packed["as_is"]) == {"ratio", "mixed", "count"}

    restored = expand(transcoder.decode(transcoder.encode(packed)))
    assert restored == state
    assert list(restored) == list(state)
    assert restored["owed"]["P-2"].amount.as_tuple() == Decimal("7.00").as_tuple()
