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
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import JSONTranscoder
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.utils import EnvType

from domain.account import Account
from domain.provenance import Provenance
from domain.transcodings import transcodings
from projections.database import Database
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
from services.recorders import IDEMPOTENCY_TABLE
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
        self.db = Database(datastore)
        self.db.create_tables([IDEMPOTENCY_TABLE])
        self.committer = GroupCommitter(self, self.db)

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

        def apply(account: Account | None) -> Account:
            if account is None:
                raise AccountNotFound(account_number)
            command.apply_to(account, meta)
            return account

        created_id = getattr(command, command.id_field) if command.id_field else None

        def respond(account: Account, recorded: Sequence[Any]) -> dict[str, Any]:
            return account_summary(account, recorded, created_id)

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
        command = Command(
            account_id=Account.id_for(tenant_id, account_number),
            apply=apply,
            respond=respond,
            idempotency=idempotency,
            status=status,
        )
        return self.committer.submit(command)
