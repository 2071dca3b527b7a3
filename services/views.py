"""How the application describes an account in its answers (HTTP bodies, CLI output)."""

from __future__ import annotations

from typing import Any

from domain.account import Account


def account_summary(account: Account) -> dict[str, Any]:
    """The account's identity and headline figures, JSON-ready (amounts as decimal strings)."""
    return {
        "account_id": str(account.id),
        "account_number": account.account_number,
        "name": account.name,
        "currency": account.currency,
        "version": account.version,
        "balance": str(account.balance.amount),
        "unapplied_credit": str(account.unapplied_credit.amount),
    }
