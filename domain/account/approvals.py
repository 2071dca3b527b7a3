"""Approval requests on an account: a command waiting for a second person's word.

Concept
    When the tenant's approval policy (:mod:`domain.approvals`) holds a command back, the
    account records ``ApprovalRequested``: the command's name and arguments, the amount at
    stake, the maker (the key that asked), their reason and the day the request expires. Until
    it is decided nothing of the command happens: no balance, no aging, no ledger line moves.
    ``ApprovalGranted`` records the checker's approval, and the services carry out the command
    right after it, in the same save, judged on the account as it is then (an invoice paid in
    the meantime is not written off twice: the command is refused and nothing is recorded).
    ``ApprovalRejected`` records a refusal with its reason; ``ApprovalExpired`` a request
    the close of day found undecided after its last day.

Invariants
    - A request is decided once; its maker never decides it; it cannot be approved after its
      ``expires_on`` (:class:`~domain.errors.ApprovalExpired`), nor by an approval dated back
      into its life once that has ended.
    - Request ids are unique on the account.
    - Nothing here moves the balance; the command approved moves it with its own events.
    - The record lives in ``approval_requests``, a class-level empty default replaced (never
      mutated) on change, so accounts and snapshots from before it read as having none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from types import MappingProxyType
from typing import Any

from domain import errors
from domain.account.core import AccountState, Event, require_date
from domain.approvals import (
    APPROVED,
    CONTROLLED_COMMANDS,
    EXPIRED,
    MAX_EXPIRY_DAYS,
    PENDING,
    REJECTED,
    ApprovalRequest,
)
from domain.contacts import check_text
from domain.money import Money
from domain.provenance import Provenance


class ApprovalRequested(Event):
    TOPIC = "receivables.account:ApprovalRequested"

    request_id: str
    command: str
    params: dict[str, Any]
    amount: Money
    expires_on: date
    maker: str

    def evolve(self, account: AccountState) -> None:
        _store(
            account,
            ApprovalRequest(
                request_id=self.request_id,
                command=self.command,
                params=self.params,
                amount=self.amount,
                requested_on=self.effective_on,
                expires_on=self.expires_on,
                maker=self.maker,
                reason=self.reason,
            ),
        )


class ApprovalGranted(Event):
    TOPIC = "receivables.account:ApprovalGranted"

    request_id: str
    checker: str

    def evolve(self, account: AccountState) -> None:
        _decide(account, self.request_id, APPROVED, self.checker, self.effective_on, self.reason)


class ApprovalRejected(Event):
    TOPIC = "receivables.account:ApprovalRejected"

    request_id: str
    checker: str

    def evolve(self, account: AccountState) -> None:
        _decide(account, self.request_id, REJECTED, self.checker, self.effective_on, self.reason)


class ApprovalExpired(Event):
    TOPIC = "receivables.account:ApprovalExpired"

    request_id: str

    def evolve(self, account: AccountState) -> None:
        _decide(account, self.request_id, EXPIRED, None, self.effective_on, None)


def requests_of(account: AccountState) -> Mapping[str, ApprovalRequest]:
    found: Mapping[str, ApprovalRequest] = getattr(account, "approval_requests", {})
    return found


def _store(account: AccountState, request: ApprovalRequest) -> None:
    # A new dict (snapshots store it), never the shared class-level default changed in place.
    account.approval_requests = {  # type: ignore[attr-defined]
        **requests_of(account),
        request.request_id: request,
    }


def _decide(
    account: AccountState,
    request_id: str,
    status: str,
    checker: str | None,
    on: date,
    reason: str | None,
) -> None:
    request = requests_of(account)[request_id]
    _store(
        account,
        replace(request, status=status, checker=checker, decided_on=on, decision_reason=reason),
    )


def expire_requests(account: AccountState, as_of: date, meta: Provenance) -> None:
    """The close of ``as_of``: every request still pending after its last day expires."""
    for request in list(requests_of(account).values()):
        if request.status == PENDING and request.expires_on < as_of:
            account._trigger(
                ApprovalExpired, effective_on=as_of, meta=meta, request_id=request.request_id
            )


class ApprovalCommands(AccountState):
    """Asking for, granting and refusing approval of a controlled command."""

    approval_requests: Mapping[str, ApprovalRequest] = MappingProxyType({})

    def request_approval(
        self,
        *,
        request_id: str,
        command: str,
        params: dict[str, Any],
        amount: Money,
        requested_on: date,
        expires_on: date,
        meta: Provenance,
    ) -> None:
        """Hold ``command`` back until another key approves it."""
        self._check_open()
        check_text(request_id, "request_id", "The request id", max_length=200)
        if request_id in self.approval_requests:
            raise errors.DuplicateApprovalRequest(
                f"Approval request {request_id} is already recorded on this account.",
                field="request_id",
            )
        if command not in CONTROLLED_COMMANDS:
            raise errors.InvalidApprovalPolicy(f"{command!r} is not a command approval controls.")
        self._check_money(amount, "amount", positive=False)
        require_date(requested_on, "requested_on")
        require_date(expires_on, "expires_on")
        if not 0 <= (expires_on - requested_on).days <= MAX_EXPIRY_DAYS:
            raise errors.InvalidApprovalPolicy(
                f"A request expires 0 to {MAX_EXPIRY_DAYS} days after it is made.",
                field="expires_on",
            )
        self._trigger(
            ApprovalRequested,
            effective_on=requested_on,
            meta=meta,
            request_id=request_id,
            command=command,
            params=params,
            amount=amount,
            expires_on=expires_on,
            maker=meta.actor,
        )

    def grant_approval(
        self,
        *,
        request_id: str,
        approved_on: date,
        meta: Provenance,
        known_on: date | None = None,
    ) -> ApprovalRequest:
        """Record the approval of a pending request; the caller then carries out its command.
        ``known_on``: the day the approval is really given (the tenant's today), when the
        approval is dated earlier: a request expired by then is not revived by back-dating.
        Returns the request as it was asked."""
        request = self._pending_request(request_id, meta, approved_on, "approve")
        if known_on is not None:
            require_date(known_on, "known_on")
        if max(approved_on, known_on or approved_on) > request.expires_on:
            raise errors.ApprovalExpired(
                f"Approval request {request_id} expired after {request.expires_on}; ask again.",
                field="request_id",
            )
        self._trigger(
            ApprovalGranted,
            effective_on=approved_on,
            meta=meta,
            request_id=request_id,
            checker=meta.actor,
        )
        return request

    def reject_approval(self, *, request_id: str, rejected_on: date, meta: Provenance) -> None:
        """Refuse a pending request, with a reason (``meta.reason``)."""
        self._pending_request(request_id, meta, rejected_on, "reject")
        if not meta.reason or not meta.reason.strip():
            raise errors.ReasonRequired("A rejection says why: give a reason.", field="reason")
        self._trigger(
            ApprovalRejected,
            effective_on=rejected_on,
            meta=meta,
            request_id=request_id,
            checker=meta.actor,
        )

    def _pending_request(
        self, request_id: str, meta: Provenance, on: date, verb: str
    ) -> ApprovalRequest:
        request = self.approval_requests.get(request_id)
        if request is None:
            raise errors.UnknownApprovalRequest(
                f"There is no approval request {request_id} on account {self.account_number}.",
                field="request_id",
            )
        if request.status != PENDING:
            raise errors.ApprovalAlreadyDecided(
                f"Approval request {request_id} is already {request.status}"
                + (f" by {request.checker}" if request.checker else "")
                + "; it is decided once.",
                field="request_id",
            )
        if meta.actor == request.maker:
            raise errors.OwnApprovalRequest(
                f"{meta.actor} asked for request {request_id}; another approver must {verb} it.",
                field="request_id",
            )
        require_date(on, "decided_on")
        if on < request.requested_on:
            raise errors.InvalidDate(
                f"{on} is before the request was made on {request.requested_on}.",
                field="decided_on",
            )
        return request
