"""Posting payers' remittances (X12 835) to the accounts, once each, and the held-claims queue.

One file (:meth:`Remittances.import_file`):

1. is read and checked whole (:mod:`services.x12_835`): a refused file posts nothing;
2. each remittance in it has one posting (:mod:`domain.remittance_posting`), found by payer
   and trace number:

   - none yet: the remittance is recorded (``RemittanceReceived``), then its claims posted;
   - one with the same fingerprint: completed, it is *already posted* and nothing is
     recorded; not completed (the import stopped half-way), posting resumes where it stopped;
   - one with another fingerprint: refused (:class:`RemittanceTraceReused`): a payer's
     correction comes as a new payment, with its own trace number;

3. each claim to post (:func:`domain.remittance.posting_units`) is matched to an account's
   claim — by the patient control number (the claim id), else the payer's claim number
   remembered from an earlier posting, else the patient's name and dates of service with the
   billed amount — among the claims billed to this payer. One match: one
   ``PostRemittedClaim`` command, all or nothing, whose idempotency key is made from the
   posting and the claim's place, so a resumed posting never posts a claim twice. No match,
   several, or an account that refuses it (its sentence kept): the claim is *held*, its money
   held on the remittance as unapplied insurer cash until a clerk posts it to an account's
   claim or refuses it with a reason;
4. outcomes are recorded on the posting in chunks of :data:`CHUNK`, and the tables below
   written from the posting after each save.

Tables (written here, from the posting aggregate, in the same process that saved it; each
write is an upsert of what the aggregate says, so a write lost to a crash is made again by the
next save or a resumed import):

- ``remittances``: one row per posting: payer, trace, payment, dates, counts, held money;
- ``remittance_claims``: one row per claim to post: its figures and its outcome; the held
  queue is its ``held`` rows, and posted rows remember the payer's claim number;
- ``payer_ledger``: the provider-level adjustments, one row each, by payer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from pydantic import ValidationError

from domain.errors import DomainError
from domain.money import Money, from_minor_units, to_minor_units
from domain.provenance import Provenance
from domain.remittance import (
    FORWARDED,
    Remittance,
    RemittedClaim,
    posting_units,
    provider_adjustment_name,
)
from domain.remittance_posting import (
    BY_PATIENT_AND_DATES,
    BY_PATIENT_CONTROL_NUMBER,
    BY_PAYER_CLAIM_NUMBER,
    CLAIMS_PER_EVENT,
    HELD,
    POSTED,
    REFUSED,
    ClaimMatch,
    ClaimOutcome,
    RemittancePosting,
)
from projections.claims import (
    IndexedClaim,
    claims_numbered,
    claims_numbered_many,
    claims_of_patient,
    payer_key,
)
from projections.database import Database, stored_moment
from projections.runner import TrackingConflict
from services.commands import PostRemittedClaim
from services.errors import ConcurrentUpdate, IdempotencyKeyReused, ServiceError
from services.group_commit import Outcome
from services.relay_lock import named_lock
from services.x12_835 import read_835

if TYPE_CHECKING:
    from services.bootstrap import Runtime

#: Claims posted, then recorded on the posting, at a time.
CHUNK: Final = 500


class RemittanceTraceReused(ServiceError):
    code = "remittance_trace_reused"
    status = 409

    def __init__(self, remittance: Remittance, received_on: date) -> None:
        super().__init__(
            f"A different remittance with trace number {remittance.trace_number} from "
            f"{remittance.payer_name or remittance.payer_id} was posted on {received_on}; a "
            "payer's correction comes as a new payment with its own trace number. Nothing was "
            "posted.",
            field="file",
        )


class RemittanceNotFound(ServiceError):
    code = "remittance_not_found"
    status = 404

    def __init__(self, remittance_id: str) -> None:
        super().__init__(f"There is no remittance {remittance_id}.", field="remittance_id")


class RemittanceClaimCannotBePosted(ServiceError):
    code = "remittance_claim_cannot_be_posted"
    status = 422

    def __init__(self, claim_number: int, why: str) -> None:
        super().__init__(
            f"Claim {claim_number} of the remittance is not posted: {why}.", field="claim_number"
        )


class RemittanceBusy(ServiceError):
    code = "remittance_busy"
    status = 409

    def __init__(self, trace_number: str) -> None:
        super().__init__(
            f"Remittance {trace_number} is being changed by another request (an import of its "
            "file, or a clerk resolving its held claims); this one changed nothing. Try again "
            "when that one has finished: what it did is kept.",
        )


@dataclass
class PostingReport:
    """What one import did to one remittance (JSON-ready with :meth:`as_dict`)."""

    remittance_id: str
    payer_name: str
    payer_id: str
    trace_number: str
    payment: Money
    effective_on: date
    already_posted: bool
    claims: int = 0
    posted: int = 0
    denied: int = 0
    reversed: int = 0
    held: int = 0
    refused: int = 0
    replayed: int = 0
    matched_by: dict[str, int] = field(default_factory=dict)
    claims_paid: Money | None = None
    provider_adjusted: Money | None = None
    held_amount: Money | None = None
    provider_adjustments: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        def amount(value: Money | None) -> str | None:
            return None if value is None else str(value.amount)

        return {
            "remittance_id": self.remittance_id,
            "payer_name": self.payer_name,
            "payer_id": self.payer_id,
            "trace_number": self.trace_number,
            "currency": self.payment.currency,
            "payment": amount(self.payment),
            "effective_on": self.effective_on.isoformat(),
            "already_posted": self.already_posted,
            "claims": self.claims,
            "posted": self.posted,
            "denied": self.denied,
            "reversed": self.reversed,
            "held": self.held,
            "refused": self.refused,
            "replayed": self.replayed,
            "matched_by": dict(sorted(self.matched_by.items())),
            "claims_paid": amount(self.claims_paid),
            "provider_adjusted": amount(self.provider_adjusted),
            "held_amount": amount(self.held_amount),
            "ties_to_payment": (
                self.claims_paid is not None
                and self.provider_adjusted is not None
                and self.claims_paid - self.provider_adjusted == self.payment
            ),
            "provider_adjustments": self.provider_adjustments,
            "notes": self.notes,
        }


def _utc_today() -> date:
    return datetime.now(UTC).date()


class Remittances:
    """Posting remittances for every tenant of one runtime (see the module)."""

    def __init__(self, runtime: Runtime, today: Callable[[], date] = _utc_today) -> None:
        self.runtime = runtime
        self.app = runtime.app
        self.db: Database = runtime.db
        self.today = today

    # ------------------------------------------------------------------------ posting

    def import_file(
        self,
        data: bytes,
        *,
        tenant_id: str,
        meta: Provenance,
        progress: Callable[[int], None] | None = None,
        on_total: Callable[[int], None] | None = None,
    ) -> list[PostingReport]:
        """Read, check and post a file; one report per remittance in it. ``on_total`` hears
        how many claims there are to post once the file is read; ``progress`` each done."""
        read = read_835(data)
        if on_total is not None:
            on_total(sum(len(posting_units(r)) for r in read.remittances))
        self._refuse_reused_traces(tenant_id, read.remittances, read.fingerprints)
        self._catch_up_claims()
        notes = [str(n) for n in read.notes]
        return [
            self._post(tenant_id, remittance, fingerprint, notes, meta, progress)
            for remittance, fingerprint in zip(read.remittances, read.fingerprints, strict=True)
        ]

    def _refuse_reused_traces(
        self, tenant_id: str, remittances: Sequence[Remittance], fingerprints: Sequence[str]
    ) -> None:
        """Refuse the file before anything of it is posted if any remittance in it reuses a
        trace number for different content (already posted, or twice in the file)."""
        seen: dict[UUID, str] = {}
        for remittance, fingerprint in zip(remittances, fingerprints, strict=True):
            posting_id = RemittancePosting.id_for(
                tenant_id, remittance.payer_id, remittance.trace_number
            )
            earlier = seen.setdefault(posting_id, fingerprint)
            if earlier != fingerprint:
                raise RemittanceTraceReused(remittance, self.today())
            existing = self._load(posting_id)
            if existing is not None and existing.fingerprint != fingerprint:
                raise RemittanceTraceReused(remittance, existing.received_on)

    def _catch_up_claims(self) -> None:
        # Matching reads the claims index: bring it up to the newest claim first. A running
        # projector that advanced first keeps it as current as this would.
        with contextlib.suppress(TrackingConflict):
            self.runtime.projector(["claims_index"]).catch_up()

    def _post(
        self,
        tenant_id: str,
        remittance: Remittance,
        fingerprint: str,
        notes: list[str],
        meta: Provenance,
        progress: Callable[[int], None] | None,
    ) -> PostingReport:
        posting_id = RemittancePosting.id_for(
            tenant_id, remittance.payer_id, remittance.trace_number
        )
        with self._only_request_on(posting_id, remittance.trace_number):
            return self._post_alone(tenant_id, remittance, fingerprint, notes, meta, progress)

    @contextlib.contextmanager
    def _only_request_on(self, posting_id: UUID, trace_number: str) -> Iterator[None]:
        """One request at a time changes a posting (in this process or any other): two imports
        of one file, or two clerks resolving its held claims, never interleave."""
        lock = named_lock(self.runtime.settings, f"remittance:{posting_id}")
        if not lock.acquire():
            raise RemittanceBusy(trace_number)
        try:
            yield
        finally:
            lock.release()

    def _post_alone(
        self,
        tenant_id: str,
        remittance: Remittance,
        fingerprint: str,
        notes: list[str],
        meta: Provenance,
        progress: Callable[[int], None] | None,
    ) -> PostingReport:
        posting = self._posting_for(tenant_id, remittance, fingerprint, notes, meta)
        already = posting.completed
        report = PostingReport(
            remittance_id=str(posting.id),
            payer_name=remittance.payer_name,
            payer_id=remittance.payer_id,
            trace_number=remittance.trace_number,
            payment=remittance.payment,
            effective_on=remittance.effective_on,
            already_posted=already,
            claims=len(posting.units),
            notes=list(posting.notes),
        )
        pending = [i for i in range(len(posting.units)) if i not in posting.outcomes]
        if progress is not None and len(posting.units) > len(pending):
            progress(len(posting.units) - len(pending))
        for start in range(0, len(pending), CHUNK):
            chunk = pending[start : start + CHUNK]
            outcomes = self._post_claims(tenant_id, posting, chunk, meta, report)
            posting.record_outcomes(outcomes, posted_on=self.today(), meta=meta)
            self._save(posting)
            self._write_claims(posting, chunk)
            self._write_summary(posting)
            if progress is not None:
                progress(len(chunk))
        if not posting.completed:
            posting.complete(completed_on=self.today(), meta=meta)
            self._save(posting)
        self._write_summary(posting)
        self._fill_report(posting, report)
        return report

    def _posting_for(
        self,
        tenant_id: str,
        remittance: Remittance,
        fingerprint: str,
        notes: list[str],
        meta: Provenance,
    ) -> RemittancePosting:
        posting_id = RemittancePosting.id_for(
            tenant_id, remittance.payer_id, remittance.trace_number
        )
        existing = self._load(posting_id)
        if existing is None:
            created = RemittancePosting.receive(
                tenant_id=tenant_id,
                remittance=remittance,
                fingerprint=fingerprint,
                notes=notes,
                received_on=self.today(),
                meta=meta,
            )
            try:
                self.app.save(created)
            except IntegrityError:  # another request recorded it a moment ago
                existing = self._load(posting_id)
                if existing is None:  # pragma: no cover - the conflict names a stored posting
                    raise
            else:
                existing = created
        if existing.fingerprint != fingerprint:
            raise RemittanceTraceReused(remittance, existing.received_on)
        if not existing.received:
            self._receive_claims(existing, remittance, meta)
        if not existing.completed:  # new, or resumed: the tables may have missed a save
            self._write_all(existing)
        return existing

    def _receive_claims(
        self, posting: RemittancePosting, remittance: Remittance, meta: Provenance
    ) -> None:
        """Record the claims not on record yet, one bounded event per save, so no transaction
        carries the whole file (a resumed import records only the rest)."""
        for start in range(len(posting.claims), len(remittance.claims), CLAIMS_PER_EVENT):
            chunk = remittance.claims[start : start + CLAIMS_PER_EVENT]
            posting.receive_claims(chunk, received_on=self.today(), meta=meta)
            self._save(posting)

    def _load(self, posting_id: UUID) -> RemittancePosting | None:
        try:
            found: object = self.app.repository.get(posting_id)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, RemittancePosting) else None

    def _save(self, posting: RemittancePosting) -> None:
        try:
            self.app.save(posting)
        except IntegrityError:
            raise RemittanceBusy(posting.remittance.trace_number) from None

    # ------------------------------------------------------------------------ claims

    def _post_claims(
        self,
        tenant_id: str,
        posting: RemittancePosting,
        indexes: Sequence[int],
        meta: Provenance,
        report: PostingReport,
    ) -> list[ClaimOutcome]:
        """Match the claims (a match already recorded stands: the import that recorded it may
        have sent it), record the new matches, then send one command per matched claim."""
        remittance = posting.remittance
        outcomes: dict[int, ClaimOutcome] = {}
        commands: dict[int, PostRemittedClaim] = {}
        fresh: list[ClaimMatch] = []
        unmatched = [i for i in indexes if i not in posting.matches]
        numbered = claims_numbered_many(
            self.db, tenant_id, [posting.units[i].patient_control_number for i in unmatched]
        )
        for index in unmatched:
            unit = posting.units[index]
            found, matched_by, why = self._match(
                tenant_id, remittance, unit, numbered.get(unit.patient_control_number, [])
            )
            if found is None or matched_by is None:
                outcomes[index] = _held(index, unit, why)
                continue
            try:
                commands[index] = _command(posting, index, unit, found.claim_id)
            except ValidationError as bad:
                outcomes[index] = _held(index, unit, _first_error(bad))
                continue
            fresh.append(ClaimMatch(index, found.account_number, found.claim_id, matched_by))
        if fresh:
            posting.record_matches(fresh, matched_on=self.today(), meta=meta)
            self._save(posting)
        sent: list[tuple[ClaimMatch, Future[Outcome]]] = []
        for index in indexes:
            match = posting.matches.get(index)
            if match is None:
                continue
            command = commands.get(index) or _command(
                posting, index, posting.units[index], match.claim_id
            )
            future = self.app.submit(
                tenant_id=tenant_id,
                account_number=match.account_number,
                command=command,
                meta=meta,
                idempotency_key=f"era:{posting.id}:{index}",
            )
            sent.append((match, future))
        for match, future in sent:
            index = match.index
            unit = posting.units[index]
            try:
                answer = future.result()
            except (DomainError, ServiceError) as refusal:
                if isinstance(refusal, ServiceError) and _transient(refusal):
                    # Not the account's answer: stop; a new import resumes here.
                    self._drain([f for _, f in sent])
                    raise
                sentence = f"{match.account_number} claim {match.claim_id} refused it: {refusal}"
                outcomes[index] = _held(index, unit, sentence)
                continue
            if answer.replayed:
                report.replayed += 1
            outcomes[index] = ClaimOutcome(
                index=index,
                patient_control_number=unit.patient_control_number,
                status=unit.status,
                paid=unit.paid,
                result=POSTED,
                account_number=match.account_number,
                claim_id=match.claim_id,
                matched_by=match.matched_by,
                sentence=f"{unit.status_name}: posted to {match.account_number} claim "
                f"{match.claim_id}",
            )
        return [outcomes[i] for i in indexes]

    @staticmethod
    def _drain(futures: Sequence[Future[Outcome]]) -> None:
        """Wait for every command sent, so none is still saving when the import stops."""
        for future in futures:
            with contextlib.suppress(Exception):
                future.result()

    def _match(
        self,
        tenant_id: str,
        remittance: Remittance,
        unit: RemittedClaim,
        numbered: list[IndexedClaim],
    ) -> tuple[IndexedClaim | None, str | None, str]:
        """The one claim billed to this payer the unit is for, by the first key that decides
        (``numbered``: the claims its patient control number names, read for a whole chunk);
        or None, the key and why not."""
        payers = {payer_key(remittance.payer_name), payer_key(remittance.payer_id)}

        def by_payer_claim_number() -> list[IndexedClaim]:
            if not unit.payer_claim_number:
                return []
            return self._by_payer_claim_number(tenant_id, remittance, unit)

        def by_patient_and_dates() -> list[IndexedClaim]:
            if not (unit.patient_name and unit.service_from and unit.service_to):
                return []
            billed = to_minor_units(abs(unit.billed))
            same = claims_of_patient(
                self.db, tenant_id, unit.patient_name, unit.service_from, unit.service_to
            )
            return [c for c in same if c.billed_minor == billed]

        keys: list[tuple[str, Callable[[], list[IndexedClaim]]]] = [
            (BY_PATIENT_CONTROL_NUMBER, lambda: numbered),
            (BY_PAYER_CLAIM_NUMBER, by_payer_claim_number),
            (BY_PATIENT_AND_DATES, by_patient_and_dates),
        ]
        others: list[IndexedClaim] = []
        for key, candidates_of in keys:
            candidates = candidates_of()
            ours = [
                c
                for c in candidates
                if payer_key(c.payer) in payers and c.currency == remittance.currency
            ]
            if len(ours) == 1:
                return ours[0], key, ""
            if len(ours) > 1:
                names = ", ".join(f"{c.account_number} claim {c.claim_id}" for c in ours)
                return None, None, f"{len(ours)} claims match by {key.replace('_', ' ')}: {names}"
            others.extend(candidates)
        if others:
            billed_to = sorted({f"{c.payer} in {c.currency}" for c in others})
            return (
                None,
                None,
                f"claim {unit.patient_control_number} on file is billed to "
                f"{', '.join(billed_to)}, not to {remittance.payer_name or remittance.payer_id} "
                f"in {remittance.currency}",
            )
        return (
            None,
            None,
            f"no claim on file matches {unit.patient_control_number} (patient control number, "
            "payer claim number, or patient and dates of service)",
        )

    def _by_payer_claim_number(
        self, tenant_id: str, remittance: Remittance, unit: RemittedClaim
    ) -> list[IndexedClaim]:
        rows = self.db.query(
            "SELECT DISTINCT account_number, claim_id FROM remittance_claims"
            " WHERE tenant_id = ? AND payer_id = ? AND payer_claim_number = ? AND result = ?",
            (tenant_id, remittance.payer_id, unit.payer_claim_number, POSTED),
        )
        found: list[IndexedClaim] = []
        for row in rows:
            found.extend(
                c
                for c in claims_numbered(self.db, tenant_id, row["claim_id"])
                if c.account_number == row["account_number"] and c.claim_id == row["claim_id"]
            )
        return found

    # ------------------------------------------------------------------------ held claims

    def held_claims(self, tenant_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """The tenant's held claims, oldest remittance first."""
        rows = self.db.query(
            "SELECT c.*, r.trace_number, r.payer_name, r.currency, r.effective_on"
            " FROM remittance_claims c JOIN remittances r ON r.remittance_id = c.remittance_id"
            " WHERE c.tenant_id = ? AND c.result = ?"
            " ORDER BY r.received_at, c.remittance_id, c.claim_index LIMIT ?",
            (tenant_id, HELD, limit),
        )
        return [_claim_row(row) for row in rows]

    def post_held(
        self,
        *,
        tenant_id: str,
        remittance_id: str,
        claim_number: int,
        account_number: str,
        claim_id: str,
        meta: Provenance,
    ) -> dict[str, Any]:
        """Post a held claim (``claim_number`` counts from 1) to an account's claim.

        One request at a time resolves a posting's held claims, and every attempt on one held
        claim carries the same idempotency key, whatever account it names: its money reaches
        one account at most. If the posting could not record an earlier attempt that reached
        its account, naming that account again finishes it; naming another is refused."""
        posting = self.get(tenant_id, remittance_id)
        with self._only_request_on(posting.id, posting.remittance.trace_number):
            posting = self.get(tenant_id, remittance_id)
            index = claim_number - 1
            unit = posting.held_claim(index)
            try:
                command = _command(posting, index, unit, claim_id)
            except ValidationError as bad:
                raise RemittanceClaimCannotBePosted(claim_number, _first_error(bad)) from None
            try:
                self.app.execute(
                    tenant_id=tenant_id,
                    account_number=account_number,
                    command=command,
                    meta=meta,
                    idempotency_key=_clerk_key(posting, index),
                )
            except IdempotencyKeyReused:
                raise RemittanceClaimCannotBePosted(
                    claim_number,
                    "an earlier request posted it to another account's claim, and the "
                    "remittance did not record that; post it to that account to finish",
                ) from None
            posting.post_held(
                index=index,
                account_number=account_number,
                claim_id=claim_id,
                posted_on=self.today(),
                meta=meta,
            )
            self._save(posting)
            self._write_claims(posting, [index])
            self._write_summary(posting)
            return self.describe(posting)

    def refuse_held(
        self,
        *,
        tenant_id: str,
        remittance_id: str,
        claim_number: int,
        reason: str,
        meta: Provenance,
    ) -> dict[str, Any]:
        """Refuse a held claim with a reason: its money is the payer's to take back. Refused
        while an earlier attempt to post it has reached an account (see :meth:`post_held`)."""
        posting = self.get(tenant_id, remittance_id)
        with self._only_request_on(posting.id, posting.remittance.trace_number):
            posting = self.get(tenant_id, remittance_id)
            index = claim_number - 1
            posting.held_claim(index)
            if self._key_on_file(tenant_id, _clerk_key(posting, index)):
                raise RemittanceClaimCannotBePosted(
                    claim_number,
                    "an earlier request posted it to an account's claim, and the remittance did "
                    "not record that; post it to that account to finish, it cannot be refused",
                )
            posting.refuse_held(index=index, reason=reason, refused_on=self.today(), meta=meta)
            self._save(posting)
            self._write_claims(posting, [index])
            self._write_summary(posting)
            return self.describe(posting)

    def _key_on_file(self, tenant_id: str, key: str) -> bool:
        return bool(
            self.db.query(
                "SELECT 1 FROM idempotency_keys WHERE tenant_id = ? AND idempotency_key = ?",
                (tenant_id, key),
            )
        )

    # ------------------------------------------------------------------------ reading

    def get(self, tenant_id: str, remittance_id: str) -> RemittancePosting:
        try:
            posting_id = UUID(remittance_id)
        except ValueError:
            raise RemittanceNotFound(remittance_id) from None
        posting = self._load(posting_id)
        if posting is None or posting.tenant_id != tenant_id:
            raise RemittanceNotFound(remittance_id)
        return posting

    def listing(self, tenant_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """The tenant's remittances, newest received first."""
        rows = self.db.query(
            "SELECT * FROM remittances WHERE tenant_id = ?"
            " ORDER BY received_at DESC, remittance_id LIMIT ?",
            (tenant_id, limit),
        )
        return [_summary_row(row) for row in rows]

    def payer_ledger(self, tenant_id: str, payer_id: str | None = None) -> list[dict[str, Any]]:
        """The provider-level adjustments, by payer and date, with each payer's running
        forwarding balance (FB lines: positive withheld now, negative repaid later)."""
        rows = self.db.query(
            "SELECT * FROM payer_ledger WHERE tenant_id = ? AND (CAST(? AS TEXT) IS NULL OR payer_id = ?)"
            " ORDER BY payer_id, effective_on, remittance_id, line_index",
            (tenant_id, payer_id, payer_id),
        )
        forwarded: dict[str, int] = {}
        lines = []
        for row in rows:
            minor = int(row["amount_minor"])
            if row["reason_code"] == "FB":
                forwarded[row["payer_id"]] = forwarded.get(row["payer_id"], 0) + minor
            currency = row["currency"]
            lines.append(
                {
                    "payer_id": row["payer_id"],
                    "payer_name": row["payer_name"],
                    "remittance_id": row["remittance_id"],
                    "trace_number": row["trace_number"],
                    "effective_on": str(row["effective_on"]),
                    "provider_id": row["provider_id"],
                    "reason_code": row["reason_code"],
                    "reason": provider_adjustment_name(row["reason_code"]),
                    "reference": row["reference"],
                    "currency": currency,
                    "amount": _amount(minor, currency),
                    "forwarding_balance": _amount(forwarded.get(row["payer_id"], 0), currency),
                }
            )
        return lines

    def describe(self, posting: RemittancePosting) -> dict[str, Any]:
        """The posting report of one remittance: payment, claims and their outcomes,
        adjustments by group and reason, provider-level adjustments, the balance check."""
        remittance = posting.remittance
        currency = remittance.currency
        by_reason: dict[str, Money] = {}
        for unit in posting.units:
            for adjustment in unit.all_adjustments:
                key = f"{adjustment.group}-{adjustment.reason_code}"
                by_reason[key] = by_reason.get(key, Money.zero(currency)) + adjustment.amount
        claims = []
        for index, unit in enumerate(posting.units):
            outcome = posting.outcomes.get(index)
            claims.append(
                {
                    "claim_number": index + 1,
                    "patient_control_number": unit.patient_control_number,
                    "payer_claim_number": unit.payer_claim_number,
                    "patient_name": unit.patient_name,
                    "status": unit.status,
                    "status_name": unit.status_name,
                    "billed": str(unit.billed.amount),
                    "paid": str(unit.paid.amount),
                    "patient_responsibility": str(unit.patient_responsibility.amount),
                    "adjustments": [
                        {
                            "group": a.group,
                            "reason_code": a.reason_code,
                            "amount": str(a.amount.amount),
                        }
                        for a in unit.all_adjustments
                    ],
                    "result": outcome.result if outcome else "pending",
                    "account_number": outcome.account_number if outcome else None,
                    "claim_id": outcome.claim_id if outcome else None,
                    "matched_by": outcome.matched_by if outcome else None,
                    "sentence": outcome.sentence if outcome else "",
                }
            )
        expected = remittance.claims_paid - remittance.provider_adjusted
        return {
            "remittance_id": str(posting.id),
            "payer_name": remittance.payer_name,
            "payer_id": remittance.payer_id,
            "payee_name": remittance.payee_name,
            "payee_id": remittance.payee_id,
            "trace_number": remittance.trace_number,
            "currency": currency,
            "payment": str(remittance.payment.amount),
            "method": remittance.method,
            "effective_on": remittance.effective_on.isoformat(),
            "completed": posting.completed,
            "claims": claims,
            "counts": {
                "claims": len(posting.units),
                "posted": posting.count(POSTED),
                "held": posting.count(HELD),
                "refused": posting.count(REFUSED),
            },
            "held_amount": str(posting.held.amount),
            "adjustments_by_reason": {k: str(v.amount) for k, v in sorted(by_reason.items())},
            "provider_adjustments": [_plb(p) for p in remittance.provider_adjustments],
            "balance": {
                "claims_paid": str(remittance.claims_paid.amount),
                "provider_adjusted": str(remittance.provider_adjusted.amount),
                "expected_payment": str(expected.amount),
                "payment": str(remittance.payment.amount),
                "balances": expected == remittance.payment,
            },
            "notes": list(posting.notes),
        }

    # ------------------------------------------------------------------------ tables

    def _write_all(self, posting: RemittancePosting) -> None:
        self._write_claims(posting, range(len(posting.units)))
        remittance = posting.remittance
        rows = [
            (
                str(posting.id),
                n,
                posting.tenant_id,
                remittance.payer_id,
                remittance.payer_name,
                remittance.trace_number,
                remittance.effective_on.isoformat(),
                p.provider_id,
                p.fiscal_period_end.isoformat(),
                p.reason_code,
                p.reference,
                to_minor_units(p.amount),
                p.amount.currency,
            )
            for n, p in enumerate(remittance.provider_adjustments)
        ]
        if rows:
            with self.db.transaction() as c:
                c.executemany(
                    self.db.sql(
                        "INSERT INTO payer_ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                        " ON CONFLICT (remittance_id, line_index) DO NOTHING"
                    ),
                    rows,
                )
        self._write_summary(posting)

    def _write_claims(self, posting: RemittancePosting, indexes: Iterable[int]) -> None:
        rows = []
        for index in indexes:
            unit = posting.units[index]
            outcome = posting.outcomes.get(index)
            rows.append(
                (
                    str(posting.id),
                    index,
                    posting.tenant_id,
                    posting.remittance.payer_id,
                    unit.patient_control_number,
                    unit.payer_claim_number,
                    unit.patient_name,
                    unit.status,
                    to_minor_units(unit.billed),
                    to_minor_units(unit.paid),
                    outcome.result if outcome else "pending",
                    outcome.account_number if outcome else None,
                    outcome.claim_id if outcome else None,
                    outcome.matched_by if outcome else None,
                    outcome.sentence if outcome else "",
                )
            )
        if not rows:
            return
        with self.db.transaction() as c:
            c.executemany(
                self.db.sql(
                    "INSERT INTO remittance_claims VALUES"
                    " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (remittance_id, claim_index) DO UPDATE SET"
                    " result = excluded.result, account_number = excluded.account_number,"
                    " claim_id = excluded.claim_id, matched_by = excluded.matched_by,"
                    " sentence = excluded.sentence"
                ),
                rows,
            )

    def _write_summary(self, posting: RemittancePosting) -> None:
        remittance = posting.remittance
        row = (
            str(posting.id),
            posting.tenant_id,
            remittance.payer_id,
            remittance.payer_name,
            remittance.trace_number,
            remittance.currency,
            to_minor_units(remittance.payment),
            remittance.method,
            remittance.effective_on.isoformat(),
            posting.received_on.isoformat(),
            stored_moment(posting.created_on),
            len(posting.units),
            posting.count(POSTED),
            posting.count(HELD),
            posting.count(REFUSED),
            to_minor_units(posting.held),
            to_minor_units(remittance.provider_adjusted),
            1 if posting.completed else 0,
            posting.version,
        )
        with self.db.transaction() as c:
            c.execute(
                self.db.sql(
                    "INSERT INTO remittances VALUES"
                    " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (remittance_id) DO UPDATE SET posted = excluded.posted,"
                    " held = excluded.held, refused = excluded.refused,"
                    " held_minor = excluded.held_minor, completed = excluded.completed,"
                    " version = excluded.version WHERE remittances.version < excluded.version"
                ),
                row,
            )

    def _fill_report(self, posting: RemittancePosting, report: PostingReport) -> None:
        remittance = posting.remittance
        report.claims_paid = remittance.claims_paid
        report.provider_adjusted = remittance.provider_adjusted
        report.held_amount = posting.held
        report.provider_adjustments = [_plb(p) for p in remittance.provider_adjustments]
        report.matched_by = posting.matched_by
        for outcome in posting.outcomes.values():
            if outcome.result == HELD:
                report.held += 1
            elif outcome.result == REFUSED:
                report.refused += 1
            elif outcome.result == POSTED:
                if outcome.status == "22":
                    report.reversed += 1
                elif outcome.status == "4":
                    report.denied += 1
                else:
                    report.posted += 1


# ---------------------------------------------------------------------------- helpers


def _command(
    posting: RemittancePosting, index: int, unit: RemittedClaim, claim_id: str
) -> PostRemittedClaim:
    remittance = posting.remittance
    return PostRemittedClaim.model_validate(
        {
            "claim_id": claim_id,
            "status": unit.status,
            "currency": remittance.currency,
            "billed": str(unit.billed.amount),
            "paid": str(unit.paid.amount),
            "adjustments": [
                {"group": a.group, "reason_code": a.reason_code, "amount": str(a.amount.amount)}
                for a in unit.all_adjustments
            ],
            "payment_id": f"era-{posting.id.hex[:16]}-{index + 1}",
            "method": remittance.method,
            "reference": f"ERA {remittance.trace_number}"[:200],
            "posted_on": remittance.effective_on,
            "forward_to": unit.crossover_payer if unit.status in FORWARDED else None,
        }
    )


def _clerk_key(posting: RemittancePosting, index: int) -> str:
    """The idempotency key of every clerk's attempt to post held claim ``index``."""
    return f"era:{posting.id}:{index}:clerk"


def _transient(error: ServiceError) -> bool:
    """A failure of the moment (the store away, the service stopping, a race), not the
    account's refusal of the claim: the import stops, and sending the file again resumes it."""
    return error.status >= 500 or isinstance(error, ConcurrentUpdate)


def _held(index: int, unit: RemittedClaim, sentence: str) -> ClaimOutcome:
    return ClaimOutcome(
        index=index,
        patient_control_number=unit.patient_control_number,
        status=unit.status,
        paid=unit.paid,
        result=HELD,
        account_number=None,
        claim_id=None,
        matched_by=None,
        sentence=sentence,
    )


def _first_error(bad: ValidationError) -> str:
    first = bad.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"it cannot be posted as it is: {where}: {first['msg']}"


def _plb(p: Any) -> dict[str, Any]:
    return {
        "provider_id": p.provider_id,
        "fiscal_period_end": p.fiscal_period_end.isoformat(),
        "reason_code": p.reason_code,
        "reason": p.reason_name,
        "reference": p.reference,
        "amount": str(p.amount.amount),
    }


def _amount(minor: int, currency: str) -> str:
    return str(from_minor_units(minor, currency))


def _claim_row(row: dict[str, Any]) -> dict[str, Any]:
    currency = row["currency"]
    return {
        "remittance_id": row["remittance_id"],
        "claim_number": int(row["claim_index"]) + 1,
        "trace_number": row["trace_number"],
        "payer_name": row["payer_name"],
        "effective_on": str(row["effective_on"]),
        "patient_control_number": row["patient_control_number"],
        "payer_claim_number": row["payer_claim_number"],
        "patient_name": row["patient_name"],
        "status": row["status"],
        "currency": currency,
        "billed": _amount(int(row["billed_minor"]), currency),
        "paid": _amount(int(row["paid_minor"]), currency),
        "result": row["result"],
        "sentence": row["sentence"],
    }


def _summary_row(row: dict[str, Any]) -> dict[str, Any]:
    currency = row["currency"]
    return {
        "remittance_id": row["remittance_id"],
        "payer_id": row["payer_id"],
        "payer_name": row["payer_name"],
        "trace_number": row["trace_number"],
        "currency": currency,
        "payment": _amount(int(row["payment_minor"]), currency),
        "method": row["method"],
        "effective_on": str(row["effective_on"]),
        "received_on": str(row["received_on"]),
        "claims": int(row["claims"]),
        "posted": int(row["posted"]),
        "held": int(row["held"]),
        "refused": int(row["refused"]),
        "held_amount": _amount(int(row["held_minor"]), currency),
        "provider_adjusted": _amount(int(row["provider_adjusted_minor"]), currency),
        "completed": bool(row["completed"]),
    }
