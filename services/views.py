"""How the application describes an account in its answers (HTTP bodies, CLI output).

Invariant: amounts are decimal strings of the account's currency, never floats; a read
model's minor units become amounts only through ``domain.money.from_minor_units``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from domain.account import Account
from services.envelope import event_type


def account_summary(
    account: Account, recorded: Sequence[Any] = (), created_id: str | None = None
) -> dict[str, Any]:
    """The account's identity and headline figures, JSON-ready (amounts as decimal strings),
    with the events the command just recorded (type and account version), so a client can
    trace its request to them, and the id of what the command created, so a client that let
    the product make the id can name it next time."""
    return {
        "recorded": [{"type": event_type(e), "version": e.originator_version} for e in recorded],
        "created_id": created_id,
        "account_id": str(account.id),
        "account_number": account.account_number,
        "name": account.name,
        "currency": account.currency,
        "version": account.version,
        "balance": str(account.balance.amount),
        "unapplied_credit": str(account.unapplied_credit.amount),
    }


def as_utc(moment: datetime | None) -> datetime | None:
    """A moment asked for without an offset is taken as UTC, the store's clock."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def balance_view(
    account: Account, as_of: date | None, as_known_at: datetime | None
) -> dict[str, Any]:
    """What the account owes, now or as of a business date, as known at a moment.

    As of a date, the balance counts the movements effective on or before it. Unapplied credit
    and insurers' shares are current figures, so they are given only when no date is asked.
    """
    return {
        "account_number": account.account_number,
        "currency": account.currency,
        "as_of": as_of.isoformat() if as_of else None,
        "as_known_at": as_known_at.isoformat() if as_known_at else None,
        "version": account.version,
        "balance": str((account.balance if as_of is None else account.balance_as_of(as_of)).amount),
        "unapplied_credit": str(account.unapplied_credit.amount) if as_of is None else None,
        "owed_by_insurers": {payer: str(m.amount) for payer, m in account.owed_by_insurers.items()}
        if as_of is None
        else None,
    }


def open_items_view(account: Account, as_of: date | None) -> list[dict[str, Any]]:
    """Every invoice, note or patient share with something outstanding as of the date (or now),
    with its due terms, oldest first."""
    rows = []
    for item in account.items.values():
        outstanding = item.outstanding_as_of(as_of)
        if not outstanding.is_positive:
            continue
        rows.append(
            {
                "number": item.number,
                "kind": item.kind,
                "issued_on": item.issued_on.isoformat(),
                "total": str(item.total.amount),
                "outstanding": str(outstanding.amount),
                "disputed": item.disputed,
                "plan_id": item.plan_id,
                "claim_id": item.claim_id,
                "terms": [
                    {
                        "due_on": t.due_on.isoformat(),
                        "amount": str(t.amount.amount),
                        "outstanding": str(t.outstanding.amount),
                    }
                    for t in item.term_statuses(as_of)
                ],
            }
        )
    return sorted(
        rows, key=lambda r: (r["terms"][0]["due_on"] if r["terms"] else r["issued_on"], r["number"])
    )
