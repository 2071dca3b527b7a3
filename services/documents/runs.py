"""Document runs: a statement for every account, dunning letters at the close of day.

Concept
    A *run* produces one kind of document for many accounts of a tenant as of one business
    date, and delivers each: by e-mail through the tenant's SMTP server, or into the run's
    *print batch* (one PDF, in account order, after a cover list). A statement run covers the
    tenant's accounts (those with nothing to state are skipped); a dunning run covers the
    accounts the close of a day moved to a new dunning level.

    A run is identified by what it was asked for (tenant, kind, date, period, delivery), so
    asking again resumes it: each account's document is produced once per run, for the
    accounts the run started with. The first pass reads every account as known at the run's
    moment (kept on the run); a resume reads what it retries as known at its own moment, so
    what a clerk fixed meanwhile (an address, an e-mail) is seen. Every document records
    the moment it was known at, so each reprints exactly, and the print batch is the PDFs
    as they were made.

Invariants
    - One process works a run at a time (a named lock); a second asker is told it is busy.
    - An account's item moves pending → sent (the mail server took it) → done (recorded on
      the account as ``DocumentSent``), or to skipped or failed with a stable code and a
      sentence. A failure is that account's alone: the run goes on; resuming retries failed
      items and records (without sending again) items sent but not yet recorded.
    - Done items are never produced again by the run; the print batch re-renders them as
      known at the run's moment and checks each against the hash recorded when it was made.
    - The run's tables are not read models: they are the run's own record (made by the
      product's migrations, ``services.migrations``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Final

from domain import documents as content
from domain import errors
from domain.account import Account
from domain.account.sent_documents import EMAIL_CHANNEL, PRINT_CHANNEL
from domain.provenance import Provenance
from services.documents import mail
from services.documents.rendering import Rendered, render_pdf
from services.documents.service import CoverEntry, Documents, Produced, cover_list, outgoing
from services.errors import AccountNotFound, ServiceError
from services.relay_lock import named_lock

if TYPE_CHECKING:
    from domain.letterhead import MailSettings
    from domain.tenant import Tenant
    from services.bootstrap import Runtime
    from services.documents.rendering import Heading

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


class DocumentRunBusy(ServiceError):
    code = "document_run_busy"
    status = 409

    def __init__(self, run_id: str) -> None:
        super().__init__(
            f"Document run {run_id} is being worked (here or on another server); ask again"
            " once it is over to resume it."
        )


class StatementDateInFuture(ServiceError):
    code = "statement_date_in_future"
    status = 422

    def __init__(self, as_of: date, today: date) -> None:
        super().__init__(
            f"{as_of.isoformat()} has not come yet: it is {today.isoformat()} in the tenant's"
            " time zone; a statement is as of a day that has come.",
            field="as_of",
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
    #: True when this request found the run asked for before (and resumed it).
    asked_before: bool = False

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
        before). ``as_of`` is a day that has come in the tenant's time zone."""
        today = self.documents.tenants.today(tenant_id)
        if as_of > today:
            raise StatementDateInFuture(as_of, today)
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
            period_from=statement_period(as_of, period_from),
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
            asked_before = run is not None
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
            # The first pass is as known at the run's moment; a later pass (a resume) at its
            # own, so what a clerk fixed meanwhile (an address) is seen. Each document's
            # moment is recorded with it, so every one reprints exactly.
            known_at = (
                datetime.fromisoformat(str(run["known_at"])) if not asked_before else self.clock()
            )
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
            # Read once per run: the settings documents are written with (as known at the
            # run's moment) and the mail settings they leave by (as they are now).
            tenant_now = self.documents.tenants.get(tenant_id)
            work = _Work(
                tenant_id=tenant_id,
                run_id=run_id,
                kind=kind,
                as_of=as_of,
                period_from=period_from,
                open_items_only=open_items_only,
                delivery=delivery,
                known_at=known_at,
                meta=meta,
                settings=self.documents.settings_known_at(tenant_id, known_at),
                mail_settings=tenant_now.mail_settings if tenant_now is not None else None,
            )
            total = len(numbers)
            for done, number in enumerate(numbers, start=1):
                if finished.get(number) not in (DONE, SKIPPED):
                    self._one(work, number, finished.get(number))
                if progress is not None:
                    progress(done, total)
            self.db.execute(
                "UPDATE document_runs SET finished_at = ? WHERE run_id = ?",
                (_utc(self.clock()), run_id),
            )
        summary = self.summary(tenant_id, run_id)
        assert summary is not None
        return replace(summary, asked_before=asked_before)

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

    def _one(self, work: _Work, number: str, status_before: str | None) -> None:
        run_id = work.run_id
        document_id = f"{run_id}:{number}"
        try:
            try:
                account = self.documents.app.get_account(
                    work.tenant_id, number, as_known_at=work.known_at
                )
            except AccountNotFound:
                self._item(run_id, number, SKIPPED, document_id, code="not_open_then",
                           sentence=f"Account {number} was not open when the run started.")  # fmt: skip
                return
            produced = self.documents.produce(
                work.tenant_id,
                number,
                work.kind,
                as_of=work.as_of,
                period_from=work.period_from,
                open_items_only=work.open_items_only,
                as_known_at=work.known_at,
                account=account,
                settings=work.settings,
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
        if work.kind == content.STATEMENT_DOCUMENT and _nothing_to_state(produced):
            self._item(run_id, number, SKIPPED, document_id, code="nothing_to_state",
                       sentence=f"Account {number} owes nothing and had no activity in the period.")  # fmt: skip
            return
        rendered = produced.rendered
        try:
            channel, recipient = _channel(account, work)
            if channel == NONE:
                self._item(run_id, number, DONE, document_id, rendered=rendered)
                return
            if channel == EMAIL_CHANNEL and status_before != SENT:
                assert work.mail_settings is not None  # _channel chose e-mail only with them
                try:
                    message = outgoing(produced, recipient, document_id)
                    mail.send(work.mail_settings, message, environ=self.environ)
                except mail.DeliveryFailed as failed:
                    raise _Failure(failed.code, failed.sentence) from None
                self._item(run_id, number, SENT, document_id, channel, recipient, rendered)
            self.documents.record_sent(
                work.tenant_id,
                produced,
                document_id=document_id,
                channel=channel,
                recipient=recipient,
                meta=work.meta,
                sent_on=work.as_of,
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
        keep_pdf = channel == PRINT_CHANNEL and status == DONE
        with self.db.transaction() as cursor:
            for table in ("document_run_items", "document_run_files"):
                cursor.execute(
                    self.db.sql(f"DELETE FROM {table} WHERE run_id = ? AND account_number = ?"),  # noqa: S608 - two fixed names
                    (run_id, number),
                )
            if keep_pdf and rendered is not None and rendered.pdf is not None:
                cursor.execute(
                    self.db.sql(
                        "INSERT INTO document_run_files (run_id, account_number, pdf)"
                        " VALUES (?, ?, ?)"
                    ),
                    (run_id, number, rendered.pdf),
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

    def runs(self, tenant_id: str, limit: int = 50, kind: str | None = None) -> list[RunSummary]:
        """The tenant's runs, newest first (of one kind, when asked)."""
        rows = self.db.query(
            "SELECT run_id FROM document_runs WHERE tenant_id = ? AND kind = COALESCE(?, kind)"
            " ORDER BY started_at DESC, run_id LIMIT ?",
            (tenant_id, kind, limit),
        )
        found = [self.summary(tenant_id, str(r["run_id"])) for r in rows]
        return [s for s in found if s is not None]

    def print_batch(self, tenant_id: str, run_id: str) -> bytes:
        """The run's printed documents as one PDF: a cover list, then each document in
        account order, exactly as it was made (each checked against the hash recorded on the
        account when it was made: a batch never carries a document other than the one
        recorded as sent)."""
        from pypdf import PdfReader, PdfWriter

        summary = self.summary(tenant_id, run_id)
        if summary is None:
            raise UnknownDocumentRun(run_id)
        printed = [i for i in self.items(tenant_id, run_id, DONE) if i.channel == PRINT_CHANNEL]
        if not printed:
            raise NothingToPrint(run_id)
        files = {
            str(r["account_number"]): bytes(r["pdf"])
            for r in self.db.query(
                "SELECT account_number, pdf FROM document_run_files WHERE run_id = ?", (run_id,)
            )
        }
        for item in printed:
            pdf = files.get(item.account_number)
            if pdf is None or hashlib.sha256(pdf).hexdigest() != item.pdf_sha256:
                raise ServiceError(
                    f"The document of account {item.account_number} in run {run_id} is not the"
                    " one recorded as sent; the print batch is not produced."
                )
        heading, overrides, _ = self.documents.settings_known_at(
            tenant_id, datetime.fromisoformat(summary.known_at)
        )
        entries = [CoverEntry(i.account_number, i.recipient or "", i.pages or 1) for i in printed]
        cover = cover_list(entries, heading, overrides, batch_id=run_id, as_of=summary.as_of)
        writer = PdfWriter()
        for pdf in [render_pdf(cover)[0], *(files[i.account_number] for i in printed)]:
            writer.append(PdfReader(io.BytesIO(pdf)))
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()


@dataclass(frozen=True)
class _Work:
    """What every account of one pass of a run is worked with, read once."""

    tenant_id: str
    run_id: str
    kind: str
    as_of: date
    period_from: date | None
    open_items_only: bool
    delivery: str
    known_at: datetime
    meta: Provenance
    settings: tuple[Heading, Mapping[str, str], Tenant | None]
    mail_settings: MailSettings | None


def _channel(account: Account, work: _Work) -> tuple[str, str]:
    """How the account's document leaves, and to whom (see the module)."""
    if work.delivery == NONE:
        return NONE, ""
    can_mail = work.mail_settings is not None
    email = account.email
    address = account.billing_address
    number = account.account_number
    prefers_email = account.preferred_channel == "email" and bool(email)
    if work.delivery == EMAIL or (work.delivery == AUTO and prefers_email and can_mail):
        if not email:
            raise _Failure("no_email_address", f"Account {number} has no e-mail address.")
        if not can_mail:
            raise _Failure(
                "invalid_mail_settings", "The tenant has no mail settings to send e-mail with."
            )
        return EMAIL_CHANNEL, email
    if address is None:
        if work.delivery == AUTO and prefers_email:
            raise _Failure(
                "invalid_mail_settings",
                f"Account {number} prefers e-mail, the tenant has no mail settings to send it"
                " with, and there is no billing address to print to.",
            )
        raise _Failure(
            "no_billing_address",
            f"Account {number} has no billing address to print to"
            + ("." if work.delivery == PRINT else " and no e-mail address to send to."),
        )
    return PRINT_CHANNEL, f"{account.name}, {address.one_line()}"


def statement_period(as_of: date, period_from: date | None) -> date:
    """A statement's first day: the one asked for, else the first of ``as_of``'s month."""
    return period_from or date(as_of.year, as_of.month, 1)


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
