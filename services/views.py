"""How the application describes an account in its answers (HTTP bodies, CLI output)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.account import Account
from services.envelope import event_type


def account_summary(account: Account, recorded: Sequence[Any] = ()) -> dict[str, Any]:
    """The account's identity and headline figures, JSON-ready (amounts as decimal strings),
    with the events the command just recorded (type and account version), so a client can
    trace its request to them."""
    return {
        "recorded": [{"type": event_type(e), "version": e.originator_version} for e in recorded],
        "account_id": str(account.id),
        "account_number": account.account_number,
        "name": account.name,
        "currency": account.currency,
        "version": account.version,
        "balance": str(account.balance.amount),
        "unapplied_credit": str(account.unapplied_credit.amount),
    }
