"""An auditor's questions: the balance as of a date, as known at a moment; the history; snapshots."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from domain.money import Money
from services.bootstrap import Runtime
from services.commands import IssueInvoice, PostCharge
from services.errors import AccountNotFound
from services.views import balance_view, open_items_view
from tests.support import CLERK, payment, run


def _open_and_invoice_100(runtime: Runtime) -> None:
    runtime.app.open_account(
        tenant_id="acme",
        account_number="A-1",
        name="Ann",
        currency="USD",
        opened_on=date(2026, 3, 1),
        meta=CLERK,
    )
    run(
        runtime.app,
        PostCharge(
            charge_id="c1",
            code="X",
            description="Visit",
            unit_price=Decimal(100),
            service_date=date(2026, 3, 1),
        ),
        "A-1",
    )
    run(
        runtime.app,
        IssueInvoice(invoice_number="INV-1", issued_on=date(2026, 3, 1), due_on=date(2026, 3, 31)),
        "A-1",
    )


def test_a_back_dated_payment_changes_the_figure_as_of_a_date_but_not_what_was_known_before_it(
    runtime: Runtime,
) -> None:
    _open_and_invoice_100(runtime)
    known_on_5_april = datetime.now(UTC)
    said_then = balance_view(runtime.app.get_account("acme", "A-1"), date(2026, 3, 31), None)

    run(
        runtime.app, payment("40.00", "pay-late", received_on=date(2026, 3, 20)), "A-1"
    )  # posted later, back-dated

    now = runtime.app.get_account("acme", "A-1")
    as_known_then = runtime.app.get_account("acme", "A-1", as_known_at=known_on_5_april)
    assert now.balance_as_of(date(2026, 3, 31)) == Money("60.00", "USD")
    assert as_known_then.balance_as_of(date(2026, 3, 31)) == Money("100.00", "USD")
    assert (
        balance_view(as_known_then, date(2026, 3, 31), None)["balance"]
        == said_then["balance"]
        == "100.00"
    )
    assert open_items_view(now, date(2026, 3, 19))[0]["outstanding"] == "100.00"
    assert open_items_view(now, date(2026, 3, 20))[0]["outstanding"] == "60.00"


def test_asking_before_the_account_existed_finds_no_account(runtime: Runtime) -> None:
    before = datetime(2000, 1, 1, tzinfo=UTC)
    _open_and_invoice_100(runtime)
    with pytest.raises(AccountNotFound):
        runtime.app.get_account("acme", "A-1", as_known_at=before)


def test_the_history_is_read_a_page_at_a_time_in_version_order(runtime: Runtime) -> None:
    _open_and_invoice_100(runtime)
    run(runtime.app, payment("10.00", "p1", date(2026, 4, 1)), "A-1")
    run(runtime.app, payment("10.00", "p2", date(2026, 4, 1)), "A-1")

    first = runtime.app.history("acme", "A-1", after_version=0, limit=2)
    second = runtime.app.history("acme", "A-1", after_version=first[-1].originator_version, limit=2)
    third = runtime.app.history("acme", "A-1", after_version=second[-1].originator_version, limit=2)

    versions = [e.originator_version for e in first + second + third]
    assert versions == [1, 2, 3, 4, 5]


def _replayed_from_every_event(runtime: Runtime, account_id: Any) -> Any:
    account = None
    for event in runtime.app.events.get(account_id):
        account = event.mutate(account)
    return account


def test_a_long_account_is_loaded_from_its_latest_snapshot_and_equals_a_full_replay(
    runtime: Runtime,
) -> None:
    _open_and_invoice_100(runtime)
    for i in range(450):
        run(runtime.app, payment("0.01", f"p{i}", date(2026, 4, 1)), "A-1")

    account = runtime.app.get_account("acme", "A-1")
    snapshots = list(runtime.app.snapshots.get(account.id, desc=True, limit=1))  # type: ignore[union-attr]
    assert account.version == 453
    assert snapshots
    assert snapshots[0].originator_version >= 400  # the committer took one every 200 versions
    full = _replayed_from_every_event(runtime, account.id)
    assert full.balance == account.balance == Money("95.50", "USD")
    assert full.outstanding("INV-1") == account.outstanding("INV-1")
    assert vars(full).keys() == vars(account).keys()
