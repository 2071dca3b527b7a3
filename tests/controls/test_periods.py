"""Closed accounting periods at the application: closed in order once their days are, sealed
by a hash that ``verify`` checks, guarded against back-dated commands (refused, or posted on
the first open day where the tenant allows), reopened only by an approver with a reason; on
embedded SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain import errors
from domain.provenance import Provenance
from projections.database import events_table
from projections.verify import verify
from services.bootstrap import Runtime
from services.close_day import CloseOfDay
from services.commands import ReceivePayment
from services.controls import Controls
from services.period_barriers import Barrier
from tests.controls.controls_story import ACCOUNT, ADMIN, TENANT, clock_at, do, open_and_invoice

APRIL_10 = date(2026, 4, 10)
REOPEN = Provenance(actor="approver-bea", correlation_id="r", reason="Bank statement late")


def payment(payment_id: str, on: date, amount: str = "100.00") -> ReceivePayment:
    return ReceivePayment(
        payment_id=payment_id,
        amount=Decimal(amount),
        method="cheque",
        reference=f"chq {payment_id}",
        received_on=on,
    )


def close_days(runtime: Runtime, through: date) -> None:
    CloseOfDay(runtime, clock=clock_at(APRIL_10)).close(TENANT, through, started_by="ops")


@pytest.fixture
def office(runtime: Runtime) -> Runtime:
    """A1 invoiced in January and paid 100.00 in February; days closed through 2026-02-28."""
    runtime.app.clock = clock_at(APRIL_10)
    open_and_invoice(runtime)
    do(runtime, payment("p-feb", date(2026, 2, 10)))
    close_days(runtime, date(2026, 2, 28))
    return runtime


def test_a_period_closes_once_its_days_are_and_is_sealed_over_its_events(office: Runtime) -> None:
    closed = Controls(office).close_period(TENANT, "2026-02", ADMIN)
    assert closed.closed_through == date(2026, 2, 28)
    assert len(closed.seal) == 64
    # February's events: the payment and what the closes of its days recorded on the account.
    february = [e for e in office.app.history(TENANT, ACCOUNT) if e.effective_on.month == 2]
    assert closed.events == len(february) >= 1
    assert [p.period for p in Controls(office).periods(TENANT)] == ["2026-02"]
    assert verify(office.app, office.db).ok


def test_a_back_dated_command_into_a_closed_period_is_refused_naming_the_first_open_date(
    office: Runtime,
) -> None:
    Controls(office).close_period(TENANT, "2026-02", ADMIN)
    version = office.app.get_account(TENANT, ACCOUNT).version
    with pytest.raises(errors.PeriodClosed, match="first open date is 2026-03-01"):
        do(office, payment("p-late", date(2026, 2, 20)))
    assert office.app.get_account(TENANT, ACCOUNT).version == version
    do(office, payment("p-march", date(2026, 3, 1)))  # the first open day is open


def test_where_the_policy_allows_it_is_posted_on_the_first_open_day_naming_what_it_corrects(
    office: Runtime,
) -> None:
    controls = Controls(office)
    controls.set_backdating(TENANT, "first_open_day", ADMIN)
    controls.close_period(TENANT, "2026-02", ADMIN)
    do(office, payment("p-late", date(2026, 2, 20)))
    account = office.app.get_account(TENANT, ACCOUNT)
    assert account.payments["p-late"].received_on == date(2026, 3, 1)
    (event,) = [
        e for e in office.app.history(TENANT, ACCOUNT) if getattr(e, "payment_id", "") == "p-late"
    ]
    assert event.effective_on == date(2026, 3, 1)
    assert event.reason == (
        "Corrects 2026-02 (dated 2026-02-20, in a closed period): Customer bankrupt"
    )
    assert verify(office.app, office.db).ok  # the seal of February still holds


def test_periods_close_in_order_once_their_days_are_closed(office: Runtime) -> None:
    controls = Controls(office)
    with pytest.raises(errors.PeriodHasOpenDays, match="close the days through 2026-03-31"):
        controls.close_period(TENANT, "2026-03", ADMIN)
    controls.close_period(TENANT, "2026-01", ADMIN)
    with pytest.raises(errors.PeriodOutOfOrder, match="already closed"):
        controls.close_period(TENANT, "2026-01", ADMIN)
    close_days(office, date(2026, 3, 31))
    with pytest.raises(errors.PeriodOutOfOrder, match="2026-02 is next, not 2026-03"):
        controls.close_period(TENANT, "2026-03", ADMIN)
    for text in ("2026-13", "March", "2026-3"):
        with pytest.raises(errors.DomainError) as refused:
            controls.close_period(TENANT, text, ADMIN)
        assert refused.value.code == "invalid_period"
    assert [p.period for p in controls.periods(TENANT)] == ["2026-01"]


def test_a_tenant_with_no_day_closed_cannot_close_a_period(runtime: Runtime) -> None:
    runtime.app.clock = clock_at(APRIL_10)
    with pytest.raises(errors.PeriodHasOpenDays, match="no day is closed yet"):
        Controls(runtime).close_period(TENANT, "2026-02", ADMIN)


def test_an_altered_event_of_a_closed_period_breaks_its_seal(office: Runtime) -> None:
    Controls(office).close_period(TENANT, "2026-02", ADMIN)
    table = events_table(office.app)
    rows = office.db.query(f"SELECT state FROM {table} WHERE topic LIKE ?", ("%PaymentReceived",))
    (state,) = [bytes(r["state"]) for r in rows if b"p-feb" in bytes(r["state"])]
    office.db.execute(
        f"UPDATE {table} SET state = ? WHERE state = ?",
        (state.replace(b'"chq p-feb"', b'"chq p-FEB"'), state),
    )
    result = verify(office.app, office.db)
    (seal,) = [d for d in result.discrepancies if d.table == "period seals"]
    assert (seal.account, seal.key, seal.figure) == ("tenant acme", "2026-02", "seal_broken")


def test_reopening_needs_a_reason_and_only_the_latest_period_reopens(office: Runtime) -> None:
    controls = Controls(office)
    controls.close_period(TENANT, "2026-01", ADMIN)
    controls.close_period(TENANT, "2026-02", ADMIN)
    with pytest.raises(errors.PeriodOutOfOrder, match="Only the latest closed period"):
        controls.reopen_period(TENANT, "2026-01", REOPEN)
    with pytest.raises(errors.ReasonRequired):
        controls.reopen_period(
            TENANT, "2026-02", Provenance(actor="approver-bea", correlation_id="r")
        )
    assert controls.reopen_period(TENANT, "2026-02", REOPEN) == date(2026, 1, 31)
    do(office, payment("p-late", date(2026, 2, 20)))  # February is open again
    with pytest.raises(errors.PeriodClosed, match="first open date is 2026-02-01"):
        do(office, payment("p-jan", date(2026, 1, 20)))


def test_a_command_judged_on_a_stale_barrier_is_refused_by_the_store_not_recorded(
    office: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer believed no period was closed (the close came between its check and its
    insert): the insert itself finds the barrier and is refused; judged again, the command is
    refused with the sentence, and nothing of it is stored."""
    Controls(office).close_period(TENANT, "2026-02", ADMIN)
    committer = office.app.committer
    real = committer.barrier_of
    calls: list[str] = []

    def stale_first(tenant_id: str) -> Barrier | None:
        calls.append(tenant_id)
        return None if len(calls) <= 2 else real(tenant_id)

    monkeypatch.setattr(committer, "barrier_of", stale_first)
    version = office.app.get_account(TENANT, ACCOUNT).version
    with pytest.raises(errors.PeriodClosed):
        do(office, payment("p-late", date(2026, 2, 20)))
    assert office.app.get_account(TENANT, ACCOUNT).version == version
    assert len(calls) > 2


def test_closing_is_recorded_on_the_tenant_with_who_closed_it(office: Runtime) -> None:
    Controls(office).close_period(TENANT, "2026-02", ADMIN)
    (view,) = Controls(office).periods(TENANT)
    assert view.closed_by == "admin-ops"
    tenant: Any = Controls(office).settings.get(TENANT)
    assert tenant.closed_through == date(2026, 2, 28)
