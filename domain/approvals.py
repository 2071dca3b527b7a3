"""Four-eyes approval: which commands wait for a second person, and what a request is.

Concept
    A tenant's :class:`ApprovalPolicy` names the commands that move money at the office's
    discretion (a write-off, a credit note, a settlement offer, a refund, a payment reversal, a
    contractual adjustment) and, per currency, the amount above which such a command is not
    carried out on its maker's word: it is recorded as an :class:`ApprovalRequest` on the
    account (maker, amount, reason, the command itself) and takes effect only when another key
    with the approver role approves it; an approver may reject it with a reason instead, and a
    request not decided by its ``expires_on`` lapses.

Invariants
    - Only the commands of :data:`CONTROLLED_COMMANDS` can be controlled; a rule names one of
      them, a currency and a threshold of zero or more (zero: every such command waits).
    - A command the policy controls in some currency but not in the account's waits whatever
      its amount: a threshold is never assumed across currencies.
    - A request is decided once: approved, rejected or expired; its maker never approves or
      rejects it (the domain checks the keys differ, the services that the checker is an
      approver).
    - Requests expire after ``expires_after_days`` (1..366) business days from the day asked.

Vocabulary
    maker: the key that asked; checker: the key that decided; threshold; request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Final

from domain import errors
from domain.money import Money, check_currency

#: The commands a tenant may put under four-eyes control, by their stable names.
CONTROLLED_COMMANDS: Final = frozenset(
    {
        "write_off",
        "issue_credit_note",
        "offer_settlement",
        "refund_credit",
        "reverse_payment",
        "post_contractual_adjustment",
    }
)
PENDING: Final = "pending"
APPROVED: Final = "approved"
REJECTED: Final = "rejected"
EXPIRED: Final = "expired"
MAX_EXPIRY_DAYS: Final = 366
DEFAULT_EXPIRY_DAYS: Final = 30


@dataclass(frozen=True)
class ApprovalRule:
    """``command`` in ``currency`` waits for approval when its amount is above ``above``."""

    command: str
    currency: str
    above: Decimal


@dataclass(frozen=True)
class ApprovalPolicy:
    rules: tuple[ApprovalRule, ...]
    expires_after_days: int = DEFAULT_EXPIRY_DAYS

    def controls(self, command: str) -> bool:
        return any(rule.command == command for rule in self.rules)

    def needs_approval(self, command: str, amount: Money) -> bool:
        """Whether ``command`` moving ``amount`` waits for a second person."""
        rules = [rule for rule in self.rules if rule.command == command]
        if not rules:
            return False
        for rule in rules:
            if rule.currency == amount.currency:
                return amount.amount > rule.above
        return True


def check_policy(rules: Any, expires_after_days: Any) -> ApprovalPolicy:
    """The policy, or :class:`~domain.errors.InvalidApprovalPolicy` saying what is wrong."""
    if not isinstance(expires_after_days, int) or isinstance(expires_after_days, bool):
        raise errors.InvalidApprovalPolicy(
            "Requests expire after a whole number of days.", field="expires_after_days"
        )
    if not 1 <= expires_after_days <= MAX_EXPIRY_DAYS:
        raise errors.InvalidApprovalPolicy(
            f"Requests expire after 1 to {MAX_EXPIRY_DAYS} days.", field="expires_after_days"
        )
    checked: list[ApprovalRule] = []
    seen: set[tuple[str, str]] = set()
    for rule in rules:
        if not isinstance(rule, ApprovalRule):
            raise errors.InvalidApprovalPolicy("Each rule names a command, a currency and a limit.")
        if rule.command not in CONTROLLED_COMMANDS:
            raise errors.InvalidApprovalPolicy(
                f"{rule.command!r} cannot be put under approval; these can: "
                f"{', '.join(sorted(CONTROLLED_COMMANDS))}.",
                field="rules",
            )
        check_currency(rule.currency)
        if not isinstance(rule.above, Decimal) or not rule.above.is_finite() or rule.above < 0:
            raise errors.InvalidApprovalPolicy(
                f"The limit of {rule.command} in {rule.currency} is an amount of zero or more.",
                field="rules",
            )
        Money(rule.above, rule.currency)  # the currency's precision and the bounds of amounts
        if (rule.command, rule.currency) in seen:
            raise errors.InvalidApprovalPolicy(
                f"{rule.command} in {rule.currency} has two limits; give it one.", field="rules"
            )
        seen.add((rule.command, rule.currency))
        checked.append(rule)
    return ApprovalPolicy(rules=tuple(checked), expires_after_days=expires_after_days)


@dataclass(frozen=True)
class ApprovalRequest:
    """A command waiting for (or decided by) a second person."""

    request_id: str
    command: str
    #: The command's own arguments, as the services sent it (JSON values), ids made.
    params: dict[str, Any]
    amount: Money
    requested_on: date
    expires_on: date
    maker: str
    reason: str | None
    status: str = PENDING
    checker: str | None = None
    decided_on: date | None = None
    decision_reason: str | None = None

    def status_on(self, day: date) -> str:
        """The status as of ``day``: a pending request past its expiry has expired."""
        if self.status == PENDING and day > self.expires_on:
            return EXPIRED
        return self.status
