"""Document runs: a statement for every account, dunning letters at the close of day.

Concept
    A *run* produces one kind of document for many accounts of a tenant as of one business
    date, and delivers each: by e-mail through the tenant's SMTP server, or into the run's
    *print batch* (one PDF, in account order, after a cover list). A statement run covers the
    tenant's accounts (those with nothing to state are skipped); a dunning run covers the
    accounts the close of a day moved to a new dunning level.

    A run is identified by what it was asked for (tenant, kind, date, period, delivery), so
    asking again resumes it: each account's document is produced once per run. Its figures
    are those known at the moment the run first started (kept on the run), so a resumed run,
    a reprint and the print batch all say exactly what the first pass said.

Invariants
    - One process works a run at a time (a named lock); a second asker is told it is busy.
    - An account's item moves pending → sent (the mail server took it) → done (recorded on
      the account as ``DocumentSent``), or to skipped or failed with a stable code and a
      sentence. A failure is that account's alone: the run goes on; resuming retries failed
      items and records (without sending again) items sent but not yet recorded.
    - Done items are never produced again by the run; the print batch re-renders them as
      known at the run's moment and checks each against the hash recorded when it was made.
    - The run's tables are not read models: they are the run's own record (created at start
      with the store's other tables).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Final

from domain import documents as content
from domain import errors
from domain.account import Account
from domain.account.sent_documents import EMAIL_CHANNEL, PRINT_CHANNEL
from domain.provenance import Provenance
from services.documents import mail
from services.documents.rendering import Rendered, combine_pdfs
from services.documents.service import Documents, Produced, cover_list, outgoing
from services.errors import AccountNotFound, ServiceError
from services.relay_lock import named_lock

if TYPE_CHECKING:
    from services.bootstrap import Runtime

RUNS_NAMESPACE: Final = uuid.UUID("6c0f6b8e-2f5d-4f0e-9a57-0d8f3a1c9e21")

#: How documents leave: by the account's preferred channel, all by e-mail, all printed, or
#: produced only (to look at, nothing recorded as sent).
AUTO: Final = "auto"
EMAIL: Final = "email"
PRINT: Final = "print"
NONE: Final = "none"
DELIVERIES: Final = (AUTO, EMAIL, PRINT, NONE)

PENDING: Final = "pending"
SENT: Final = "sent"
DONE: Final = "done"
SKIPPED: Final = "skipped"
FAILED: Final = "failed"

RUN_TABLES: Final = [
    "CREATE TABLE IF NOT EXISTS document_runs ("
    " run_id TEXT PRIMARY KEY,"
    " tenant_id TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " as_of {date} NOT NULL,"
    " period_from {date},"
    " open_items_only INTEGER NOT NULL,"
    " delivery TEXT NOT NULL,"
    " known_at TEXT NOT NULL,"
    " started_by TEXT NOT NULL,"
    " started_at TEXT NOT NULL,"
    " finished_at TEXT)",
    "CREATE INDEX IF NOT EXISTS document_runs_by_tenant"
    " ON document_runs (tenant_id, started_at, run_id)",
    "CREATE TABLE IF NOT EXISTS document_run_items ("
    " run_id TEXT NOT NULL,"
    " account_number TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " channel TEXT,"
    " recipient TEXT,"
    " document_id TEXT NOT NULL,"
    " pdf_sha256 TEXT,"
    " html_sha256 TEXT,"
    " pages INTEGER,"
    " code TEXT,"
    " sentence TEXT,"
    " PRIMARY KEY (run_id, account_number))",
]


class DocumentRunBusy(ServiceError):
    code = "document_run_busy"
    status = 409

    def __init__(self, run_id: str) -> None:
        super().__init__(
            f"Document run {run_id} is being worked (here or on another server); ask again"
            " once it is over to resume it."
        )


class UnknownDocumentRun(ServiceError):
    code = "unknown_document_run"
    status = 404

    def __init__(self, run_id: str) -> None:
        super().__init__(f"There is no document run {run_id}.")


class NothingToPrint(ServiceError):
    code = "nothing_to_print"
    status = 409

    def __init__(self, run_id: str) -> None:
        super().__init__(f"Document run {run_id} has no printed document.")


@dataclass(frozen=True)
class RunItem:
    account_number: str
    status: str
    channel: str | None
    recipient: str | None
    document_id: str
    pdf_sha256: str | None
    html_sha256: str | None
    pages: int | None
    code: str | None
    sentence: str | None

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    tenant_id: str
    kind: str
    as_of: date
    period_from: date | None
    open_items_only: bool
    delivery: str
    known_at: str
    started_by: str
    started_at: str
    finished_at: str | None
    counts: Mapping[str, int]
    channels: Mapping[str, int]
    failures: Sequence[RunItem] = field(default_factory=tuple)

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "kind": self.kind,
            "as_of": self.as_of.isoformat(),
            "period_from": self.period_from.isoformat() if self.period_from else None,
            "open_items_only": self.open_items_only,
            "delivery": self.delivery,
            "known_at": self.known_at,
            "started_by": self.started_by,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "accounts": sum(self.counts.values()),
            **{
                status: self.counts.get(status, 0)
                for status in (DONE, SKIPPED, FAILED, PENDING, SENT)
            },
            "emailed": self.channels.get(EMAIL_CHANNEL, 0),
            "printed": self.channels.get(PRINT_CHANNEL, 0),
            "failures": [
                {"account_number": f.account_number, "code": f.code, "sentence": f.sentence}
                for f in self.failures
            ],
        }


class _Failure(Exception):
    def __init__(self, code: str, sentence: str) -> None:
        super().__init__(sentence)
        self.code = code
        self.sentence = sentence


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class DocumentRuns:
    """Runs of one runtime's tenants (see the module)."""

    def __init__(
        self,
        runtime: Runtime,
        documents: Documents,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.runtime = runtime
        self.db = runtime.db
        self.documents = documents
        self.clock = clock
        self.environ = environ

    # --- starting and resuming ------------------------------------------------------------

    @staticmethod
    def run_id_for(
        tenant_id: str,
        kind: str,
        as_of: date,
        period_from: date | None,
        open_items_only: bool,
        delivery: str,
    ) -> str:
        key = "|".join(
            [tenant_id, kind, as_of.isoformat(), str(period_from), str(open_items_only), delivery]
        )
        return str(uuid.uuid5(RUNS_NAMESPACE, key))

    def statement_run(
        self,
        tenant_id: str,
        as_of: date,
        *,
        started_by: str,
        period_from: date | None = None,
        open_items_only: bool = False,
        delivery: str = AUTO,
        progress: Callable[[int, int], None] | None = None,
    ) -> RunSummary:
        """A statement for each of the tenant's accounts as of ``as_of`` (resumed if asked
        before)."""
        if period_from is not None and period_from > as_of:
            raise errors.InvalidDate(
                f"The period starts on {period_from}, after its end {as_of}.", field="from"
            )
        numbers = [
            str(row["account_number"])
            for row in self.db.query(
                "SELECT account_number FROM account_directory WHERE tenant_id = ?"
                " ORDER BY account_number",
                (tenant_id,),
            )
        ]
        return self._run(
            tenant_id,
            content.STATEMENT_DOCUMENT,
            as_of,
            numbers,
            started_by=started_by,
            period_from=period_from or date(as_of.year, as_of.month, 1),
            open_items_only=open_items_only,
            delivery=_check_delivery(delivery),
            progress=progress,
        )

    def dunning_letters(
        self,
        tenant_id: str,
        day: date,
        account_numbers: Sequence[str],
        *,
        started_by: str,
        delivery: str = AUTO,
    ) -> RunSummary:
        """A dunning letter, at its new level, for each account the close of ``day`` moved."""
        return self._run(
            tenant_id,
            content.DUNNING_LETTER,
            day,
            sorted(account_numbers),
            started_by=started_by,
            period_from=None,
            open_items_only=False,
            delivery=_check_delivery(delivery),
            progress=None,
        )

    def _run(
        self,
        tenant_id: str,
        kind: str,
        as_of: date,
        numbers: Sequence[str],
        *,
        started_by: str,
        period_from: date | None,
        open_items_only: bool,
        delivery: str,
        progress: Callable[[int, int], None] | None,
    ) -> RunSummary:
        run_id = self.run_id_for(tenant_id, kind, as_of, period_from, open_items_only, delivery)
        with self._alone(run_id):
            run = self._row(tenant_id, run_id)
            if run is None:
                now = self.clock()
                self.db.execute(
                    "INSERT INTO document_runs (run_id, tenant_id, kind, as_of, period_from,"
                    " open_items_only, delivery, known_at, started_by, started_at, finished_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                    (
                        run_id,
                        tenant_id,
                        kind,
                        as_of.isoformat(),
                        period_from.isoformat() if period_from else None,
                        int(open_items_only),
                        delivery,
                        _utc(now),
                        started_by,
                        _utc(now),
                    ),
                )
                run = self._row(tenant_id, run_id)
                assert run is not None
                self._add_pending(run_id, numbers)
            known_at = datetime.fromisoformat(str(run["known_at"]))
            # The accounts are those of the first start: a resumed run works the same set.
            finished = {
                str(r["account_number"]): str(r["status"])
                for r in self.db.query(
                    "SELECT account_number, status FROM document_run_items WHERE run_id = ?",
                    (run_id,),
                )
            }
            numbers = sorted(finished)
            meta = Provenance(
                actor=started_by,
                correlation_id=f"document-run:{run_id}",
                reason=f"{kind} run as of {as_of.isoformat()}",
            )
            total = len(numbers)
            for done, number in enumerate(numbers, start=1):
                if finished.get(number) not in (DONE, SKIPPED):
                    self._one(
                        tenant_id, run_id, kind, number, as_of, period_from,
                        open_items_only, delivery, known_at, meta, finished.get(number),
                    )  # fmt: skip
                if progress is not None:
                    progress(done, total)
            self.db.execute(
                "UPDATE document_runs SET finished_at = ? WHERE run_id = ?",
                (_utc(self.clock()), run_id),
            )
        summary = self.summary(tenant_id, run_id)
        assert summary is not None
        return summary

    def resume(self, tenant_id: str, run_id: str, *, started_by: str) -> RunSummary:
        """Work what a run left undone (failed, pending, or sent but not recorded)."""
        summary = self.summary(tenant_id, run_id)
        if summary is None:
            raise UnknownDocumentRun(run_id)
        return self._run(
            tenant_id,
            summary.kind,
            summary.as_of,
            [],
            started_by=started_by,
            period_from=summary.period_from,
            open_items_only=summary.open_items_only,
            delivery=summary.delivery,
            progress=None,
        )

    def _add_pending(self, run_id: str, numbers: Sequence[str]) -> None:
        with self.db.transaction() as cursor:
            cursor.executemany(
                self.db.sql(
                    "INSERT INTO document_run_items (run_id, account_number, status,"
                    " document_id) VALUES (?, ?, ?, ?)"
                ),
                [(run_id, n, PENDING, f"{run_id}:{n}") for n in numbers],
            )

    @contextlib.contextmanager
    def _alone(self, run_id: str) -> Iterator[None]:
        lock = named_lock(self.runtime.settings, f"document-run:{run_id}")
        if not lock.acquire():
            raise DocumentRunBusy(run_id)
        try:
            yield
        finally:
            lock.release()

    # --- one account ----------------------------------------------------------------------

    def _one(
        self,
        tenant_id: str,
        run_id: str,
        kind: str,
        number: str,
        as_of: date,
        period_from: date | None,
        open_items_only: bool,
        delivery: str,
        known_at: datetime,
        meta: Provenance,
        status_before: str | None,
    ) -> None:
        document_id = f"{run_id}:{number}"
        try:
            try:
                account = self.documents.app.get_account(tenant_id, number, as_known_at=known_at)
            except AccountNotFound:
                self._item(run_id, number, SKIPPED, document_id, code="not_open_then",
                           sentence=f"Account {number} was not open when the run started.")  # fmt: skip
                return
            produced = self.documents.produce(
                tenant_id,
                number,
                kind,
                as_of=as_of,
                period_from=period_from,
                open_items_only=open_items_only,
                as_known_at=known_at,
                account=account,
            )
        except errors.UnknownDocument as nothing:
            self._item(
                run_id, number, SKIPPED, document_id, code=nothing.code, sentence=nothing.message
            )
            return
        except errors.DomainError as refused:
            self._item(
                run_id, number, FAILED, document_id, code=refused.code, sentence=refused.message
            )
            return
        if kind == content.STATEMENT_DOCUMENT and _nothing_to_state(produced):
            self._item(run_id, number, SKIPPED, document_id, code="nothing_to_state",
                       sentence=f"Account {number} owes nothing and had no activity in the period.")  # fmt: skip
            return
        rendered = produced.rendered
        try:
            channel, recipient = self._channel(tenant_id, account, delivery)
            if channel == NONE:
                self._item(run_id, number, DONE, document_id, rendered=rendered)
                return
            if channel == EMAIL_CHANNEL and status_before != SENT:
                self._send(tenant_id, produced, recipient, document_id)
                self._item(run_id, number, SENT, document_id, channel, recipient, rendered)
            self.documents.record_sent(
                tenant_id,
                produced,
                document_id=document_id,
                channel=channel,
                recipient=recipient,
                meta=meta,
                sent_on=as_of,
            )
            self._item(run_id, number, DONE, document_id, channel, recipient, rendered)
        except _Failure as failure:
            self._item(
                run_id, number, FAILED, document_id, code=failure.code, sentence=failure.sentence
            )
        except errors.DomainError as refused:
            self._item(
                run_id, number, FAILED, document_id, code=refused.code, sentence=refused.message
            )

    def _channel(self, tenant_id: str, account: Account, delivery: str) -> tuple[str, str]:
        if delivery == NONE:
            return NONE, ""
        tenant = self.documents.tenants.get(tenant_id)
        can_mail = tenant is not None and tenant.mail_settings is not None
        email = account.email
        address = account.billing_address
        wants_email = delivery == EMAIL or (
            delivery == AUTO and account.preferred_channel == "email" and email and can_mail
        )
        if wants_email:
            if not email:
                raise _Failure(
                    "no_email_address", f"Account {account.account_number} has no e-mail address."
                )
            if not can_mail:
                raise _Failure(
                    "invalid_mail_settings", "The tenant has no mail settings to send e-mail with."
                )
            return EMAIL_CHANNEL, email
        if address is None:
            raise _Failure(
                "no_billing_address",
                f"Account {account.account_number} has no billing address to print a letter to"
                + ("." if delivery == PRINT else " and is not set to receive e-mail."),
            )
        return PRINT_CHANNEL, f"{account.name}, {address.one_line()}"

    def _send(self, tenant_id: str, produced: Produced, to: str, document_id: str) -> None:
        tenant = self.documents.tenants.get(tenant_id)
        assert tenant is not None
        assert tenant.mail_settings is not None
        message = outgoing(produced, to, document_id)
        try:
            mail.send(tenant.mail_settings, message, environ=self.environ)
        except mail.DeliveryFailed as failed:
            raise _Failure(failed.code, failed.sentence) from None

    def _item(
        self,
        run_id: str,
        number: str,
        status: str,
        document_id: str,
        channel: str | None = None,
        recipient: str | None = None,
        rendered: Rendered | None = None,
        *,
        code: str | None = None,
        sentence: str | None = None,
    ) -> None:
        with self.db.transaction() as cursor:
            cursor.execute(
                self.db.sql(
                    "DELETE FROM document_run_items WHERE run_id = ? AND account_number = ?"
                ),
                (run_id, number),
            )
            cursor.execute(
                self.db.sql(
                    "INSERT INTO document_run_items (run_id, account_number, status, channel,"
                    " recipient, document_id, pdf_sha256, html_sha256, pages, code, sentence)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                (
                    run_id,
                    number,
                    status,
                    channel,
                    recipient,
                    document_id,
                    rendered.pdf_sha256 if rendered is not None and rendered.pdf else None,
                    rendered.html_sha256 if rendered is not None else None,
                    rendered.pages if rendered is not None else None,
                    code,
                    sentence,
                ),
            )

    # --- reading --------------------------------------------------------------------------

    def _row(self, tenant_id: str, run_id: str) -> dict[str, Any] | None:
        return self.db.query_one(
            "SELECT * FROM document_runs WHERE tenant_id = ? AND run_id = ?", (tenant_id, run_id)
        )

    def summary(self, tenant_id: str, run_id: str) -> RunSummary | None:
        run = self._row(tenant_id, run_id)
        if run is None:
            return None
        items = self.items(tenant_id, run_id)
        counts: dict[str, int] = {}
        channels: dict[str, int] = {}
        for item in items:
            counts[item.status] = counts.get(item.status, 0) + 1
            if item.status == DONE and item.channel:
                channels[item.channel] = channels.get(item.channel, 0) + 1
        return RunSummary(
            run_id=run_id,
            tenant_id=tenant_id,
            kind=str(run["kind"]),
            as_of=_day(run["as_of"]),
            period_from=_day(run["period_from"]) if run["period_from"] else None,
            open_items_only=bool(run["open_items_only"]),
            delivery=str(run["delivery"]),
            known_at=str(run["known_at"]),
            started_by=str(run["started_by"]),
            started_at=str(run["started_at"]),
            finished_at=str(run["finished_at"]) if run["finished_at"] else None,
            counts=counts,
            channels=channels,
            failures=tuple(i for i in items if i.status == FAILED),
        )

    def items(self, tenant_id: str, run_id: str, status: str | None = None) -> list[RunItem]:
        if self._row(tenant_id, run_id) is None:
            raise UnknownDocumentRun(run_id)
        rows = self.db.query(
            "SELECT * FROM document_run_items WHERE run_id = ? ORDER BY account_number",
            (run_id,),
        )
        if status is not None:
            rows = [r for r in rows if r["status"] == status]
        return [
            RunItem(
                account_number=str(r["account_number"]),
                status=str(r["status"]),
                channel=r["channel"],
                recipient=r["recipient"],
                document_id=str(r["document_id"]),
                pdf_sha256=r["pdf_sha256"],
                html_sha256=r["html_sha256"],
                pages=None if r["pages"] is None else int(r["pages"]),
                code=r["code"],
                sentence=r["sentence"],
            )
            for r in rows
        ]

    def runs(self, tenant_id: str, limit: int = 50) -> list[RunSummary]:
        rows = self.db.query(
            "SELECT run_id FROM document_runs WHERE tenant_id = ?"
            " ORDER BY started_at DESC, run_id LIMIT ?",
            (tenant_id, limit),
        )
        found = [self.summary(tenant_id, str(r["run_id"])) for r in rows]
        return [s for s in found if s is not None]

    def print_batch(self, tenant_id: str, run_id: str) -> bytes:
        """The run's printed documents as one PDF: a cover list, then each document in
        account order, each re-rendered as known at the run's moment and checked against the
        hash recorded when it was first made."""
        summary = self.summary(tenant_id, run_id)
        if summary is None:
            raise UnknownDocumentRun(run_id)
        printed = [i for i in self.items(tenant_id, run_id, DONE) if i.channel == PRINT_CHANNEL]
        if not printed:
            raise NothingToPrint(run_id)
        known_at = datetime.fromisoformat(summary.known_at)
        htmls: list[str] = []
        entries: list[tuple[Account, int]] = []
        heading = overrides = None
        for item in printed:
            account = self.documents.app.get_account(
                tenant_id, item.account_number, as_known_at=known_at
            )
            produced = self.documents.produce(
                tenant_id,
                item.account_number,
                summary.kind,
                as_of=summary.as_of,
                period_from=summary.period_from,
                open_items_only=summary.open_items_only,
                as_known_at=known_at,
                account=account,
                pdf=False,
            )
            if produced.rendered.html_sha256 != item.html_sha256:
                raise ServiceError(
                    f"The document of account {item.account_number} no longer comes out as it"
                    " was made; the print batch is not produced."
                )
            htmls.append(produced.rendered.html)
            entries.append((account, item.pages or 1))
            heading, overrides = produced.heading, produced.overrides
        assert heading is not None
        assert overrides is not None
        cover = cover_list(entries, heading, overrides, batch_id=run_id, as_of=summary.as_of)
        return combine_pdfs([cover, *htmls])


def _check_delivery(delivery: str) -> str:
    if delivery not in DELIVERIES:
        raise errors.InvalidDocumentRecord(
            f"Delivery is one of {', '.join(DELIVERIES)}.", field="delivery"
        )
    return delivery


def _nothing_to_state(produced: Produced) -> bool:
    doc = produced.built.doc
    return bool(
        doc.opening.is_zero and doc.closing.is_zero and not doc.lines and not doc.open_items
    )


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
