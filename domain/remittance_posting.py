"""A remittance's posting: what became of each claim of one payer's payment, on the record.

Concept
    Posting a remittance (:mod:`domain.remittance`) touches many accounts; each account
    records the facts that concern it (an adjudication, the payer's payment, a denial, a
    reversal). The :class:`RemittancePosting` aggregate records the remittance itself and what
    became of each of its claims, so a clerk or an auditor can always answer "where did this
    payment go?":

    - ``RemittanceReceived``: the remittance's payment as the payer stated it (its claims
      follow), how many claims it holds, the fingerprint of the file's transaction it was read
      from, and the notes the reader kept;
    - ``ClaimsReceived``: its claims, at most :data:`CLAIMS_PER_EVENT` per event, in the
      payer's order, so no event grows with the file (a 10,000-claim remittance is 14 MB);
    - ``ClaimsMatched``: the account's claim each claim of a batch is about to be posted to,
      recorded before anything is sent, so a posting stopped half-way and resumed posts each
      claim where it was first sent, whatever has arrived on file since;
    - ``ClaimsPosted``: outcomes of claims, in batches: *posted* (to which account and claim,
      matched by which key), *held* (nothing matched, or the account refused it: the money is
      held on the remittance as unapplied insurer cash, with the sentence why);
    - ``HeldClaimPosted`` / ``HeldClaimRefused``: a clerk resolves a held claim by posting it
      to an account's claim, or refuses it with a reason (the money is owed back to the payer);
    - ``PostingCompleted``: every claim has an outcome.

    Provider-level adjustments are the payer's, not any patient's: they stay on the
    remittance and make up the payer's ledger (:mod:`projections.remittances`).

Invariants
    - The id is ``uuid5(REMITTANCE_NAMESPACE, tenant, payer id, trace number)``: one posting per
      payment; the same file again finds it (and posts nothing twice), a different file with
      the same trace is told apart by its fingerprint.
    - Claims are posted only once every claim is on record (``received``); a claim has one
      outcome; only a held one is resolved, once.
    - Held money = Σ paid of held claims not yet resolved; it is never dropped: resolving a
      held claim moves it to an account (posted) or to the payer's refusals (refused).
    - Events carry a business date, provenance and the hash chain like an account's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any, Final, Self, TypeAlias
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain import errors
from domain.hash_chain import GENESIS_HASH, ChainedEvent, chained_envelope, record_chained
from domain.money import Money
from domain.provenance import Provenance
from domain.remittance import Remittance, RemittedClaim, posting_units

if TYPE_CHECKING:
    pass

#: Fixed namespace of remittance posting ids; never change it, ids derive from it.
REMITTANCE_NAMESPACE: Final = UUID("5b0e2c1a-8f3d-4e6b-a7c9-2d4f6e8a0b13")
#: The start of every remittance posting event's topic.
TOPIC_PREFIX: Final = "receivables.remittance:"

#: Claims recorded per ``ClaimsReceived`` event: an event stays well under a megabyte.
CLAIMS_PER_EVENT: Final = 500

POSTED: Final = "posted"
HELD: Final = "held"
REFUSED: Final = "refused"
#: The keys a claim is matched to an account's claim by, in the order they are tried.
BY_PATIENT_CONTROL_NUMBER: Final = "patient_control_number"
BY_PAYER_CLAIM_NUMBER: Final = "payer_claim_number"
BY_PATIENT_AND_DATES: Final = "patient_and_service_dates"
BY_CLERK: Final = "clerk"


def is_remittance_topic(topic: str) -> bool:
    return topic.startswith(TOPIC_PREFIX)


@dataclass(frozen=True, slots=True)
class ClaimMatch:
    """The account's claim one claim to post was matched to, and by which key."""

    index: int
    account_number: str
    claim_id: str
    matched_by: str


@dataclass(frozen=True, slots=True)
class ClaimOutcome:
    """What became of one claim to post (``index`` in :func:`posting_units` order)."""

    index: int
    patient_control_number: str
    status: str
    paid: Money
    result: str
    account_number: str | None
    claim_id: str | None
    matched_by: str | None
    sentence: str


class RemittanceEvent(ChainedEvent):
    def evolve(self, posting: RemittancePosting) -> None:
        """Change the posting's state; overridden by each event."""


class RemittanceReceived(RemittanceEvent, Aggregate.Created):
    """The payment; ``remittance`` holds no claims here (``ClaimsReceived`` brings them)."""

    TOPIC = "receivables.remittance:RemittanceReceived"

    tenant_id: str
    remittance: Remittance
    claim_count: int
    fingerprint: str
    notes: list[str]

    def evolve(self, posting: RemittancePosting) -> None:
        pass  # the aggregate's __init__ takes these fields


class ClaimsReceived(RemittanceEvent):
    TOPIC = "receivables.remittance:ClaimsReceived"

    claims: list[RemittedClaim]

    def evolve(self, posting: RemittancePosting) -> None:
        posting.claims.extend(self.claims)
        if posting.received:
            posting.remittance = replace(posting.header, claims=tuple(posting.claims))
            posting.units = posting_units(posting.remittance)


class ClaimsMatched(RemittanceEvent):
    TOPIC = "receivables.remittance:ClaimsMatched"

    matches: list[ClaimMatch]

    def evolve(self, posting: RemittancePosting) -> None:
        for match in self.matches:
            posting.matches[match.index] = match


class ClaimsPosted(RemittanceEvent):
    TOPIC = "receivables.remittance:ClaimsPosted"

    outcomes: list[ClaimOutcome]

    def evolve(self, posting: RemittancePosting) -> None:
        for outcome in self.outcomes:
            posting.outcomes[outcome.index] = outcome


class HeldClaimPosted(RemittanceEvent):
    TOPIC = "receivables.remittance:HeldClaimPosted"

    index: int
    account_number: str
    claim_id: str

    def evolve(self, posting: RemittancePosting) -> None:
        posting.outcomes[self.index] = replace(
            posting.outcomes[self.index],
            result=POSTED,
            account_number=self.account_number,
            claim_id=self.claim_id,
            matched_by=BY_CLERK,
            sentence=f"posted by {self.actor} to {self.account_number} claim {self.claim_id}",
        )


class HeldClaimRefused(RemittanceEvent):
    TOPIC = "receivables.remittance:HeldClaimRefused"

    index: int
    #: Why the clerk refused it (not ``reason``: every event's envelope has one already).
    refusal: str

    def evolve(self, posting: RemittancePosting) -> None:
        posting.outcomes[self.index] = replace(
            posting.outcomes[self.index],
            result=REFUSED,
            account_number=None,
            claim_id=None,
            matched_by=None,
            sentence=f"refused by {self.actor}: {self.refusal}",
        )


class PostingCompleted(RemittanceEvent):
    TOPIC = "receivables.remittance:PostingCompleted"

    def evolve(self, posting: RemittancePosting) -> None:
        posting.completed = True


class RemittancePosting(Aggregate):
    """One payer's remittance and what became of each of its claims."""

    TOPIC = "receivables.remittance:RemittancePosting"

    if TYPE_CHECKING:
        Event: TypeAlias = RemittanceEvent
    else:
        Event = RemittanceEvent
    RemittanceReceived = RemittanceReceived
    Created = RemittanceReceived
    ClaimsReceived = ClaimsReceived
    ClaimsMatched = ClaimsMatched
    ClaimsPosted = ClaimsPosted
    HeldClaimPosted = HeldClaimPosted
    HeldClaimRefused = HeldClaimRefused
    PostingCompleted = PostingCompleted

    def __init__(
        self,
        *,
        tenant_id: str,
        remittance: Remittance,
        claim_count: int,
        fingerprint: str,
        notes: list[str],
        effective_on: date,
    ) -> None:
        self.tenant_id = tenant_id
        #: The payment without its claims, as ``RemittanceReceived`` recorded it.
        self.header = remittance
        #: The whole remittance once every claim is received (until then, the header).
        self.remittance = remittance
        self.claim_count = claim_count
        self.claims: list[RemittedClaim] = []
        self.fingerprint = fingerprint
        self.notes = list(notes)
        self.received_on = effective_on
        self.last_event_hash = GENESIS_HASH
        self.matches: dict[int, ClaimMatch] = {}
        self.outcomes: dict[int, ClaimOutcome] = {}
        self.completed = False
        self.units: list[RemittedClaim] = [] if claim_count else posting_units(remittance)

    @staticmethod
    def id_for(tenant_id: str, payer_id: str, trace_number: str) -> UUID:
        return uuid5(REMITTANCE_NAMESPACE, f"{tenant_id}\x1f{payer_id}\x1f{trace_number}")

    @property
    def received(self) -> bool:
        """Whether every claim of the remittance is on record."""
        return len(self.claims) == self.claim_count

    @staticmethod
    def create_id(tenant_id: str, remittance: Remittance, **_: Any) -> UUID:
        return RemittancePosting.id_for(tenant_id, remittance.payer_id, remittance.trace_number)

    # ---------------------------------------------------------------- commands

    @classmethod
    def receive(
        cls,
        *,
        tenant_id: str,
        remittance: Remittance,
        fingerprint: str,
        notes: Sequence[str],
        received_on: date,
        meta: Provenance,
    ) -> Self:
        """The remittance's payment is on record; its claims follow (:meth:`receive_claims`)."""
        posting_id = cls.id_for(tenant_id, remittance.payer_id, remittance.trace_number)
        header = replace(remittance, claims=())
        payload = {
            "originator_topic": cls.TOPIC,
            "tenant_id": tenant_id,
            "remittance": header,
            "claim_count": len(remittance.claims),
            "fingerprint": fingerprint,
            "notes": list(notes),
        }
        envelope = chained_envelope(
            topic=RemittanceReceived.TOPIC,
            originator_id=posting_id,
            originator_version=cls.INITIAL_VERSION,
            effective_on=received_on,
            meta=meta,
            previous_hash=GENESIS_HASH,
            payload=payload,
        )
        return cls._create(
            RemittanceReceived,
            id=posting_id,
            **envelope,
            tenant_id=tenant_id,
            remittance=header,
            claim_count=len(remittance.claims),
            fingerprint=fingerprint,
            notes=list(notes),
        )

    def receive_claims(
        self, claims: Sequence[RemittedClaim], *, received_on: date, meta: Provenance
    ) -> None:
        """The next claims of the remittance, in the payer's order (at most
        :data:`CLAIMS_PER_EVENT` per event)."""
        if len(self.claims) + len(claims) > self.claim_count:
            raise errors.RemittanceClaimNotPending(
                f"The remittance holds {self.claim_count} claims; {len(self.claims)} are on "
                f"record and {len(claims)} more were given.",
                field="claims",
            )
        for start in range(0, len(claims), CLAIMS_PER_EVENT):
            self._trigger(
                ClaimsReceived,
                effective_on=received_on,
                meta=meta,
                claims=list(claims[start : start + CLAIMS_PER_EVENT]),
            )

    def record_matches(
        self, matches: Sequence[ClaimMatch], *, matched_on: date, meta: Provenance
    ) -> None:
        """Where claims are about to be posted (each once: a match stands once recorded)."""
        for match in matches:
            if match.index in self.matches or match.index in self.outcomes:
                raise errors.RemittanceClaimNotPending(
                    f"Claim {match.index + 1} of the remittance is already matched.",
                    field="index",
                )
        if matches:
            self._trigger(ClaimsMatched, effective_on=matched_on, meta=meta, matches=list(matches))

    def record_outcomes(
        self, outcomes: Sequence[ClaimOutcome], *, posted_on: date, meta: Provenance
    ) -> None:
        if not self.received:
            raise errors.RemittanceClaimNotPending(
                "The remittance's claims are not all on record yet.", field="index"
            )
        for outcome in outcomes:
            if not 0 <= outcome.index < len(self.units) or outcome.index in self.outcomes:
                raise errors.RemittanceClaimNotPending(
                    f"Claim {outcome.index + 1} of the remittance is not one awaiting posting.",
                    field="index",
                )
        if outcomes:
            self._trigger(ClaimsPosted, effective_on=posted_on, meta=meta, outcomes=list(outcomes))

    def complete(self, *, completed_on: date, meta: Provenance) -> None:
        if self.completed or not self.received or len(self.outcomes) != len(self.units):
            return
        self._trigger(PostingCompleted, effective_on=completed_on, meta=meta)

    def post_held(
        self, *, index: int, account_number: str, claim_id: str, posted_on: date, meta: Provenance
    ) -> None:
        self.held_claim(index)
        self._trigger(
            HeldClaimPosted,
            effective_on=posted_on,
            meta=meta,
            index=index,
            account_number=account_number,
            claim_id=claim_id,
        )

    def refuse_held(self, *, index: int, reason: str, refused_on: date, meta: Provenance) -> None:
        self.held_claim(index)
        if not isinstance(reason, str) or not reason.strip():
            raise errors.MissingValue("A refusal needs a reason.", field="reason")
        self._trigger(
            HeldClaimRefused, effective_on=refused_on, meta=meta, index=index, refusal=reason
        )

    # ---------------------------------------------------------------- queries

    def held_claim(self, index: int) -> RemittedClaim:
        """The held claim ``index`` (refused with a sentence when it is not one)."""
        outcome = self.outcomes.get(index)
        if outcome is None or outcome.result != HELD:
            state = "not posted yet" if outcome is None else outcome.result
            raise errors.RemittanceClaimNotHeld(
                f"Claim {index + 1} of remittance {self.remittance.trace_number} is {state}, "
                f"not held.",
                field="index",
            )
        return self.units[index]

    @property
    def held(self) -> Money:
        """The payer's money on claims held and not yet resolved: unapplied insurer cash."""
        return Money.sum(
            (o.paid for o in self.outcomes.values() if o.result == HELD),
            self.remittance.currency,
        )

    @property
    def matched_by(self) -> dict[str, int]:
        """How many claims each key matched (a clerk's posting counts as ``clerk``)."""
        counts: dict[str, int] = {}
        for outcome in self.outcomes.values():
            if outcome.result == POSTED and outcome.matched_by is not None:
                counts[outcome.matched_by] = counts.get(outcome.matched_by, 0) + 1
        return dict(sorted(counts.items()))

    def count(self, result: str) -> int:
        return sum(1 for o in self.outcomes.values() if o.result == result)

    # ---------------------------------------------------------------- recording

    def _trigger(
        self,
        event_class: type[RemittanceEvent],
        *,
        effective_on: date,
        meta: Provenance,
        **payload: Any,
    ) -> None:
        record_chained(self, event_class, effective_on=effective_on, meta=meta, payload=payload)
