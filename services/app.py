"""The Receivables application: the commands and queries billing clerks and auditors use.

An eventsourcing ``Application`` whose command methods describe what to do to one ``Account``
and hand it to the group committer (``services.group_commit``), which applies it and saves the
new events — with the request's idempotency key — in a transaction shared with the other
commands that arrived at the same moment. Every command answers with an ``Outcome``: the
response body (JSON-ready) and whether it replays an earlier request with the same key.
Library errors are translated here into the product's errors, so the HTTP API and the CLI
never see an eventsourcing exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import replace
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import JSONTranscoder
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.utils import EnvType

from domain.account import Account
from domain.approvals import CONTROLLED_COMMANDS, ApprovalRequest
from domain.errors import PeriodClosed
from domain.periods import Period
from domain.provenance import Provenance
from domain.transcodings import transcodings
from projections.database import Database
from services.approvals import ApprovalGate, approved_command, request_view
from services.commands import AccountCommand
from services.errors import AccountAlreadyExists, AccountNotFound
from services.group_commit import (
    Apply,
    Command,
    GroupCommitter,
    Idempotency,
    Outcome,
    Respond,
    fingerprint,
)
from services.tenants import Clock, TenantSettings, utc_now
from services.unreadable import readable
from services.views import account_summary


class Receivables(Application[UUID]):
    """Accounts receivable for every tenant; one ``Account`` aggregate per customer account."""

    name = "Receivables"
    is_snapshotting_enabled = True

    def __init__(self, env: EnvType | None = None) -> None:
        super().__init__(env)
        datastore = getattr(self.recorder, "datastore", None)
        if not isinstance(datastore, SQLiteDatastore | PostgresDatastore):
            msg = (
                f"unsupported persistence for the product's tables: {type(self.recorder).__name__}"
            )
            raise TypeError(msg)
        # The product's tables (idempotency keys, period barriers, ...) are the migrations'
        # to make (services.migrations), run by services.bootstrap before any command.
        self.db = Database(datastore)
        self.committer = GroupCommitter(self, self.db)
        #: What the services read the time from (the tenant's *today*); tests pass their own.
        self.clock: Clock = utc_now

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        for transcoding in transcodings():
            transcoder.register(transcoding)

    def close(self) -> None:
        self.committer.close()
        super().close()

    # --- commands -------------------------------------------------------------------------

    def open_account(
        self,
        *,
        tenant_id: str,
        account_number: str,
        name: str,
        currency: str,
        opened_on: date,
        meta: Provenance,
        payment_terms_days: int = 30,
        idempotency_key: str | None = None,
    ) -> Outcome:
        return self.submit_open_account(
            tenant_id=tenant_id,
            account_number=account_number,
            name=name,
            currency=currency,
            opened_on=opened_on,
            meta=meta,
            payment_terms_days=payment_terms_days,
            idempotency_key=idempotency_key,
        ).result()

    def submit_open_account(
        self,
        *,
        tenant_id: str,
        account_number: str,
        name: str,
        currency: str,
        opened_on: date,
        meta: Provenance,
        payment_terms_days: int = 30,
        idempotency_key: str | None = None,
    ) -> Future[Outcome]:
        """``open_account`` without waiting for the answer (see ``submit``)."""

        def apply(account: Account | None) -> Account:
            if account is not None:
                raise AccountAlreadyExists(account_number)
            return Account.open(
                tenant_id=tenant_id,
                account_number=account_number,
                name=name,
                currency=currency,
                effective_on=opened_on,
                meta=meta,
                payment_terms_days=payment_terms_days,
            )

        params = {
            "name": name,
            "currency": currency,
            "opened_on": opened_on,
            "payment_terms_days": payment_terms_days,
        }
        return self._submit(
            tenant_id,
            account_number,
            "open_account",
            params,
            apply,
            account_summary,
            idempotency_key,
        )

    def execute(
        self,
        *,
        tenant_id: str,
        account_number: str,
        command: AccountCommand,
        meta: Provenance,
        idempotency_key: str | None = None,
    ) -> Outcome:
        """Apply one command to an existing account (see ``services.commands``)."""
        return self.submit(
            tenant_id=tenant_id,
            account_number=account_number,
            command=command,
            meta=meta,
            idempotency_key=idempotency_key,
        ).result()

    def submit(
        self,
        *,
        tenant_id: str,
        account_number: str,
        command: AccountCommand,
        meta: Provenance,
        idempotency_key: str | None = None,
    ) -> Future[Outcome]:
        """Queue one command without waiting for it, for callers with many to send (an
        import): they are committed in large batches, in the order they were submitted."""

        command = command.with_id(idempotency_key)
        gate = self._approval_gate(tenant_id, command, idempotency_key)
        held: list[ApprovalRequest] = []

        def apply(account: Account | None) -> Account:
            if account is None:
                raise AccountNotFound(account_number)
            todo, todo_meta = self._redated_if_allowed(account, command, meta)
            if gate is not None:
                request = gate.hold_back(account, todo, todo_meta, self._refuse_closed_periods)
                if request is not None:
                    held[:] = [request]
                    return account
            held.clear()
            todo.apply_to(account, todo_meta)
            return account

        created_id = getattr(command, command.id_field) if command.id_field else None

        def respond(account: Account, recorded: Sequence[Any]) -> dict[str, Any]:
            body = account_summary(account, recorded, created_id)
            if held:
                body["approval_request"] = request_view(held[0])
            return body

        params = command.model_dump(mode="json")
        return self._submit(
            tenant_id,
            account_number,
            command.calls,
            params,
            apply,
            respond,
            idempotency_key,
        )

    def decide_approval(
        self,
        *,
        tenant_id: str,
        account_number: str,
        request_id: str,
        approve: bool,
        meta: Provenance,
        decided_on: date | None = None,
        idempotency_key: str | None = None,
    ) -> Future[Outcome]:
        """Approve a held-back command, which then takes effect in the same save, judged on the
        account as it is now (and, dated in a period closed since it was asked, refused or
        moved to the first open day as the tenant's back-dating policy says); or reject it
        (``meta.reason`` says why). The services check the checker's role; the domain that
        the checker is not the maker, and that a decision dated back does not revive an
        expired request."""
        today = self.today(tenant_id)
        on = decided_on if decided_on is not None else today

        def apply(account: Account | None) -> Account:
            if account is None:
                raise AccountNotFound(account_number)
            if not approve:
                account.reject_approval(request_id=request_id, rejected_on=on, meta=meta)
                return account
            request = account.grant_approval(
                request_id=request_id, approved_on=on, meta=meta, known_on=today
            )
            on_behalf = Provenance(
                actor=request.maker, correlation_id=meta.correlation_id, reason=request.reason
            )
            command, on_behalf = self._redated_if_allowed(
                account, approved_command(request), on_behalf
            )
            command.apply_to(account, on_behalf)
            return account

        def respond(account: Account, recorded: Sequence[Any]) -> dict[str, Any]:
            body = account_summary(account, recorded, request_id)
            body["approval_request"] = request_view(account.approval_requests[request_id])
            return body

        name = "approve_request" if approve else "reject_request"
        # The request as the caller sent it: a retry the next day without a date is the same
        # request (not the day it defaulted to), and a rejection's reason is part of it.
        params: dict[str, Any] = {
            "request_id": request_id,
            "decided_on": None if decided_on is None else decided_on.isoformat(),
        }
        if not approve:
            params["reason"] = meta.reason
        return self._submit(
            tenant_id, account_number, name, params, apply, respond, idempotency_key, status=200
        )

    def today(self, tenant_id: str) -> date:
        """The tenant's business date now (its close schedule's time zone; UTC without one)."""
        return TenantSettings(self, self.clock).today(tenant_id)

    def _approval_gate(
        self, tenant_id: str, command: AccountCommand, idempotency_key: str | None
    ) -> ApprovalGate | None:
        """What holds ``command`` back for a second person, if the tenant's policy may."""
        if command.calls not in CONTROLLED_COMMANDS:
            return None
        settings = TenantSettings(self, self.clock)
        tenant = settings.get(tenant_id)
        policy = None if tenant is None else tenant.approval_policy
        if policy is None or not policy.controls(command.calls):
            return None
        return ApprovalGate(policy, settings.today(tenant_id, tenant), idempotency_key)

    def _redated_if_allowed(
        self, account: Account, command: AccountCommand, meta: Provenance
    ) -> tuple[AccountCommand, Provenance]:
        """The command, moved to the first open day when it is dated in a closed period and
        the tenant's back-dating policy says so, its reason naming the period it corrects."""
        barrier = self.committer.barrier_of(account.tenant_id)
        on = command.effective_date()
        if barrier is None or not barrier.redates or on is None or on > barrier.closed_through:
            return command, meta
        note = f"Corrects {Period.of(on)} (dated {on}, in a closed period)"
        reason = f"{note}: {meta.reason}" if meta.reason else note
        return command.redated(barrier.first_open_day), replace(meta, reason=reason)

    def _refuse_closed_periods(self, account: Account, before: int) -> None:
        """Refuse a command whose events would take effect in a closed period."""
        barrier = self.committer.barrier_of(account.tenant_id)
        if barrier is None:
            return
        dates = [getattr(e, "effective_on", None) for e in account.pending_events[before:]]
        inside = sorted(d for d in dates if d is not None and d <= barrier.closed_through)
        if inside:
            raise PeriodClosed(
                f"{inside[0]} is in {Period.of(barrier.closed_through)} or earlier, which is"
                f" closed; the first open date is {barrier.first_open_day}. Record the"
                " correction on or after it, saying in its reason what it corrects.",
                field=None,
            )

    # --- queries --------------------------------------------------------------------------

    def get_account(
        self, tenant_id: str, account_number: str, as_known_at: datetime | None = None
    ) -> Account:
        """The account as it stands, or as it stood when only what was recorded by
        ``as_known_at`` was known (later corrections, even back-dated ones, left out)."""
        account_id = Account.id_for(tenant_id, account_number)
        version = None
        with readable(self, account_id, account_number):  # an unreadable history: 409, not 500
            if as_known_at is not None:
                version = self._last_version_recorded_by(account_id, as_known_at)
                if version == 0:
                    raise AccountNotFound(account_number)
            try:
                account: object = self.repository.get(account_id, version=version)
            except AggregateNotFoundError:
                raise AccountNotFound(account_number) from None
        if not isinstance(account, Account):  # pragma: no cover - ids are derived from Account only
            raise AccountNotFound(account_number)
        return account

    def history(
        self, tenant_id: str, account_number: str, *, after_version: int = 0, limit: int = 100
    ) -> list[Any]:
        """The account's events in version order, after ``after_version``, at most ``limit``."""
        account_id = Account.id_for(tenant_id, account_number)
        with readable(self, account_id, account_number):
            events = list(self.events.get(account_id, gt=after_version, limit=limit))
        if not events and after_version == 0:
            raise AccountNotFound(account_number)
        return events

    def _last_version_recorded_by(self, aggregate_id: UUID, moment: datetime) -> int:
        """The highest version of an aggregate (an account, a tenant) recorded at or before
        ``moment`` (0: none).

        An aggregate's events are recorded in version order, so their recording times rise with
        the version; a binary search reads a handful of single events, not the history, and the
        replay that follows starts from the nearest snapshot.
        """
        newest = next(iter(self.events.get(aggregate_id, desc=True, limit=1)), None)
        if newest is None:
            return 0
        low, high = 0, newest.originator_version
        while low < high:
            middle = (low + high + 1) // 2
            event: Any = next(iter(self.events.get(aggregate_id, gt=middle - 1, lte=middle)))
            if event.timestamp <= moment:
                low = middle
            else:
                high = middle - 1
        return low

    # --- internals ------------------------------------------------------------------------

    def _submit(
        self,
        tenant_id: str,
        account_number: str,
        name: str,
        params: dict[str, Any],
        apply: Apply,
        respond: Respond,
        idempotency_key: str | None,
        status: int = 201,
    ) -> Future[Outcome]:
        idempotency = None
        if idempotency_key is not None:
            request = fingerprint(name, {"account_number": account_number, **params})
            idempotency = Idempotency(
                tenant_id=tenant_id, key=idempotency_key, request_sha256=request
            )

        def guarded(account: Account | None) -> Account:
            before = len(account.pending_events) if account is not None else 0
            result = apply(account)
            self._refuse_closed_periods(result, before)
            return result

        command = Command(
            account_id=Account.id_for(tenant_id, account_number),
            apply=guarded,
            respond=respond,
            idempotency=idempotency,
            status=status,
        )
        return self.committer.submit(command)
