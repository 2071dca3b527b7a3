"""Four-eyes approval in the application: holding a command back, and carrying it out later.

Concept
    ``Receivables.submit`` asks an :class:`ApprovalGate` (made only when the tenant's approval
    policy controls the command, see :mod:`domain.approvals`) whether a command waits for a
    second person. The gate tries the command on a copy of the account first: a command that
    would be refused now is refused now (not recorded as a request that can never succeed),
    and the copy's events say what is at stake (the amount written off, credited, refunded,
    reversed, adjusted, or the settlement's discount). Above the policy's limit the account
    records ``ApprovalRequested`` instead of the command, and the answer is 202 with the
    request. ``Receivables.decide_approval`` later grants it and carries the command out (as
    stored, on the account as it is then) or rejects it.

Invariants
    - A held-back command changes nothing but the request: no balance, aging or ledger moves.
    - The request id comes from the idempotency key when there is one (a retry names the same
      request), at random otherwise.
    - The command carried out on approval is the one stored on the request, validated again
      by its model (JSON in, as from a client): an approval can never run anything else; a
      stored command its model no longer reads is refused (:class:`ApprovalNotApplicable`),
      never a fault, and the request can still be rejected.
    - A command is held back only if it could be recorded now: the caller's own checks (a
      closed period) are run on the trial too, so no request is made that cannot succeed.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from domain.approvals import ApprovalPolicy, ApprovalRequest
from domain.money import Money
from domain.provenance import Provenance
from services.commands import AccountCommand, command_models
from services.errors import ServiceError, a_or_an

if TYPE_CHECKING:
    from domain.account import Account

_REQUEST_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "receivables:approval-request")


class ApprovalNotApplicable(ServiceError):
    """A request whose stored command its model no longer reads (stored by an older release):
    it cannot be approved as it stands; it can be rejected, and asked again."""

    code = "approval_not_applicable"
    status = 409

    def __init__(self, request_id: str, command: str) -> None:
        super().__init__(
            f"Approval request {request_id} holds {a_or_an(command)} this release cannot read any more;"
            " nothing was recorded. Reject it and ask again.",
            field="request_id",
        )


def stake_of(events: Sequence[Any]) -> Money | None:
    """The money a controlled command moves: its first event's amount (a settlement offer's:
    its discount)."""
    for event in events:
        for name in ("amount", "discount"):
            value = getattr(event, name, None)
            if isinstance(value, Money):
                return value
    return None


class ApprovalGate:
    """The policy a command is judged by, the day it is asked, and the request's id."""

    def __init__(self, policy: ApprovalPolicy, today: date, idempotency_key: str | None) -> None:
        self.policy = policy
        self.today = today
        seed = uuid.uuid5(_REQUEST_NAMESPACE, idempotency_key) if idempotency_key else uuid.uuid4()
        self.request_id = f"apr_{seed.hex[:20]}"

    def hold_back(
        self,
        account: Account,
        command: AccountCommand,
        meta: Provenance,
        also_refuse: Callable[[Account, int], None] | None = None,
    ) -> ApprovalRequest | None:
        """Record the request on ``account`` and return it, if ``command`` waits; None if it
        may go ahead (the caller applies it). Raises the domain's refusal if it could not, or
        ``also_refuse``'s (given the trial account and its pending events before the command:
        the caller's own checks, such as a closed period)."""
        trial = copy.deepcopy(account)
        before = len(trial.pending_events)
        command.apply_to(trial, meta)
        if also_refuse is not None:
            also_refuse(trial, before)
        stake = stake_of(trial.pending_events[before:])
        if stake is None or not self.policy.needs_approval(command.calls, stake):
            return None
        account.request_approval(
            request_id=self.request_id,
            command=command.calls,
            params=command.model_dump(mode="json"),
            amount=stake,
            requested_on=self.today,
            expires_on=self.today + timedelta(days=self.policy.expires_after_days),
            meta=meta,
        )
        return account.approval_requests[self.request_id]


def approved_command(request: ApprovalRequest) -> AccountCommand:
    """The command a request holds, as its model reads it from JSON."""
    model = command_models().get(request.command)
    if model is None:
        raise ApprovalNotApplicable(request.request_id, request.command)
    try:
        return model.model_validate_json(json.dumps(request.params))
    except ValidationError:
        raise ApprovalNotApplicable(request.request_id, request.command) from None


def request_view(request: ApprovalRequest) -> dict[str, Any]:
    """A request, JSON-ready."""
    return {
        "request_id": request.request_id,
        "command": request.command,
        "params": request.params,
        "amount": str(request.amount.amount),
        "currency": request.amount.currency,
        "status": request.status,
        "maker": request.maker,
        "reason": request.reason,
        "requested_on": request.requested_on.isoformat(),
        "expires_on": request.expires_on.isoformat(),
        "checker": request.checker,
        "decided_on": None if request.decided_on is None else request.decided_on.isoformat(),
        "decision_reason": request.decision_reason,
    }
