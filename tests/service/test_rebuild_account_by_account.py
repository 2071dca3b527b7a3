"""A rebuild goes account by account, yet ends where a catch-up from the first event ends.

``Projector.rebuild`` replays the store one account after the other, in one transaction. Its
tables, park rows and tracking records must be those a catch-up in the log's order leaves: on
a clean store (parts cut between accounts: ``verify`` finds nothing), and with an account
whose event does not decode, whose event a model's handler fails on, or whose row the database
refuses (parked at the same event, for the same models, with the same events passed by). A
rebuild that fails half-way leaves the read models as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from projections.balances import AccountBalances
from projections.catalogue import read_models
from projections.runner import Projector, ReadModel, tracked_positions
from projections.verify import verify
from services.bootstrap import Runtime
from tests.service.test_parked_accounts import (
    BalancesWithABug,
    LedgerWithABug,
    balances,
    poisoned,
    two_tenants,
)


def _models(swap: type[ReadModel] | None) -> list[ReadModel]:
    models = read_models()
    if swap is None:
        return models
    return [swap() if model.name == swap.name else model for model in models]


def _park_rows(projector: Projector) -> list[tuple[str, str, int, int, int, str]]:
    return sorted(
        (r.consumer, r.account_id, r.position, r.event_version, r.skipped, r.error)
        for r in projector.parked()
    )


def _audit(runtime: Runtime) -> list[dict[str, Any]]:
    return runtime.db.query("SELECT * FROM audit_trail ORDER BY position")


@pytest.mark.parametrize(
    ("spoil", "swap"),
    [
        (None, None),
        (poisoned, None),  # an event that does not decode: every model parks its account
        (None, LedgerWithABug),  # a handler that fails: the ledger parks it
        (None, BalancesWithABug),  # a row refused: balances park it at that event
    ],
    ids=["clean", "unreadable", "handler-fails", "row-refused"],
)
def test_a_rebuild_ends_where_a_catch_up_ends(
    runtime: Runtime,
    spoil: Callable[[Runtime], None] | None,
    swap: type[ReadModel] | None,
) -> None:
    two_tenants(runtime)
    if spoil is not None:
        spoil(runtime)
    caught_up = Projector(runtime.app, runtime.db, _models(swap), batch_size=4)
    caught_up.catch_up()
    expected = (balances(runtime), _park_rows(caught_up), _audit(runtime))

    rebuilt = Projector(runtime.app, runtime.db, _models(swap), batch_size=4)
    head = runtime.app.recorder.max_notification_id()
    assert rebuilt.rebuild() == head

    assert (balances(runtime), _park_rows(rebuilt), _audit(runtime)) == expected
    assert set(tracked_positions(runtime.db).values()) == {head}
    if spoil is None and swap is None:
        assert verify(runtime.app, runtime.db).discrepancies == []


class BalancesThatLoseTheDatabase(AccountBalances):
    """Balances whose second write finds the database gone."""

    flushes = 0

    def flush(self, c: Any, db: Any) -> None:
        self.flushes += 1
        if self.flushes == 2:
            raise OSError("connection lost")
        super().flush(c, db)


def test_a_rebuild_that_fails_half_way_leaves_the_read_models_as_they_were(
    runtime: Runtime,
) -> None:
    two_tenants(runtime)
    Projector(runtime.app, runtime.db, read_models()).catch_up()
    before = (balances(runtime), _audit(runtime), tracked_positions(runtime.db))

    failing = Projector(runtime.app, runtime.db, _models(BalancesThatLoseTheDatabase), batch_size=3)
    with pytest.raises(OSError, match="connection lost"):
        failing.rebuild()

    assert (balances(runtime), _audit(runtime), tracked_positions(runtime.db)) == before
