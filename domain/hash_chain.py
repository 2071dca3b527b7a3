"""Hash chain: tamper evidence for an account's events.

Concept
    Each event of an account stores ``previous_hash`` (the ``event_hash`` of the
    account's previous event, or :data:`GENESIS_HASH` for the first) and its own
    ``event_hash``: SHA-256 (hex) over a canonical encoding of its content. An
    auditor recomputes the chain from the stored events with :func:`verify_chain`;
    an altered, removed, inserted or reordered event breaks it.

Invariants
    - The canonical encoding is compact JSON with sorted keys of exactly:
      ``topic``, ``originator_id``, ``originator_version``, ``effective_on``,
      ``payload`` (every event field that is not an envelope field) and
      ``metadata`` (``actor``, ``reason``, ``correlation_id``) plus the
      ``previous_hash`` it links to. The recording timestamp is deliberately
      left out: it is the store's fact, not the clerk's.
    - Values encode one way only: Money as ``{"amount": "1.50", "currency": "USD"}``,
      Decimal as its string, dates as ISO-8601, UUIDs as strings, dataclasses as
      objects of their fields, tuples and lists alike as arrays. Floats are refused.
    - The encoding is a pure function of the event's content, so the same event
      read back from any store (lists where tuples were, for instance) hashes the same.

Vocabulary
    chain break: a place where the recomputed chain disagrees with what is stored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar, Final
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from domain.money import Money
from domain.provenance import Provenance

GENESIS_HASH: Final[str] = "0" * 64


class ChainedEvent(Aggregate.Event):
    """Base of the events of a hash-chained aggregate (the Account, the Tenant): the business
    date, the caller's provenance and the chain's fields. Applying one lets the event change
    the aggregate's state (``evolve``, overridden by each event) and moves the chain's head."""

    TOPIC: ClassVar[str]

    effective_on: date
    actor: str
    reason: str | None
    correlation_id: str
    previous_hash: str
    event_hash: str

    def apply(self, aggregate: Any) -> None:
        self.evolve(aggregate)
        aggregate.last_event_hash = self.event_hash

    def evolve(self, aggregate: Any) -> None:
        """Change the aggregate's state; overridden by each event."""


#: Event fields that are not payload: the envelope, the metadata and the chain itself.
ENVELOPE_FIELDS: Final[frozenset[str]] = frozenset(
    {
        "originator_id",
        "originator_version",
        "timestamp",
        "effective_on",
        "actor",
        "reason",
        "correlation_id",
        "previous_hash",
        "event_hash",
    }
)


def _encode_value(value: Any) -> Any:
    if isinstance(value, Money):
        return {"amount": str(value.amount), "currency": value.currency}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} has no canonical encoding for the hash chain")


class _CanonicalEncoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        return _encode_value(o)

    def iterencode(self, o: Any, _one_shot: bool = False) -> Any:
        _refuse_floats(o)
        return super().iterencode(o, _one_shot)


def _refuse_floats(value: Any) -> None:
    # json would happily write 0.1; a float in an event is a bug, so refuse loudly.
    if isinstance(value, float):
        raise TypeError("floats have no place in an event")
    if isinstance(value, Mapping):
        for item in value.values():
            _refuse_floats(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _refuse_floats(item)


_ENCODER: Final = _CanonicalEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """Any event content in the chain's one canonical JSON form (the form that is hashed)."""
    return _ENCODER.encode(value)


def canonical_bytes(
    *,
    topic: str,
    originator_id: UUID,
    originator_version: int,
    effective_on: date,
    payload: Mapping[str, Any],
    actor: str,
    reason: str | None,
    correlation_id: str,
    previous_hash: str,
) -> bytes:
    document = {
        "topic": topic,
        "originator_id": str(originator_id),
        "originator_version": originator_version,
        "effective_on": effective_on.isoformat(),
        "payload": payload,
        "metadata": {"actor": actor, "reason": reason, "correlation_id": correlation_id},
        "previous_hash": previous_hash,
    }
    return _ENCODER.encode(document).encode("utf-8")


def compute_hash(
    *,
    topic: str,
    originator_id: UUID,
    originator_version: int,
    effective_on: date,
    payload: Mapping[str, Any],
    actor: str,
    reason: str | None,
    correlation_id: str,
    previous_hash: str,
) -> str:
    return hashlib.sha256(
        canonical_bytes(
            topic=topic,
            originator_id=originator_id,
            originator_version=originator_version,
            effective_on=effective_on,
            payload=payload,
            actor=actor,
            reason=reason,
            correlation_id=correlation_id,
            previous_hash=previous_hash,
        )
    ).hexdigest()


def chained_envelope(
    *,
    topic: str,
    originator_id: UUID,
    originator_version: int,
    effective_on: date,
    meta: Provenance,
    previous_hash: str,
    payload: Mapping[str, Any],
) -> dict[str, Any]:
    """The envelope fields of the next event of an aggregate's chain: its business date, the
    caller's provenance, the hash of the event before it and its own hash over all of it.
    Every aggregate records its events through this, so every chain is hashed alike."""
    return {
        "effective_on": effective_on,
        "actor": meta.actor,
        "reason": meta.reason,
        "correlation_id": meta.correlation_id,
        "previous_hash": previous_hash,
        "event_hash": compute_hash(
            topic=topic,
            originator_id=originator_id,
            originator_version=originator_version,
            effective_on=effective_on,
            payload=payload,
            actor=meta.actor,
            reason=meta.reason,
            correlation_id=meta.correlation_id,
            previous_hash=previous_hash,
        ),
    }


def payload_of(event: Any) -> dict[str, Any]:
    """The payload fields of a stored event (everything but the envelope)."""
    return {
        f.name: getattr(event, f.name)
        for f in dataclasses.fields(event)
        if f.name not in ENVELOPE_FIELDS
    }


def hash_of(event: Any) -> str:
    """Recompute an event's own hash from its content (ignores its stored ``event_hash``)."""
    return compute_hash(
        topic=get_topic(type(event)),
        originator_id=event.originator_id,
        originator_version=event.originator_version,
        effective_on=event.effective_on,
        payload=payload_of(event),
        actor=event.actor,
        reason=event.reason,
        correlation_id=event.correlation_id,
        previous_hash=event.previous_hash,
    )


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """Where and how a chain fails: ``kind`` is one of

    - ``"content_altered"``: the event's recomputed hash differs from its stored hash;
    - ``"link_broken"``: its ``previous_hash`` is not the previous event's hash
      (an event was removed, inserted or moved);
    - ``"version_gap"``: versions do not run 1, 2, 3, ... (removal or reordering);
    - ``"wrong_account"``: the event belongs to another account than the first one.
    """

    position: int
    originator_version: int
    kind: str
    detail: str


def verify_chain(events: Iterable[Any], *, start_hash: str = GENESIS_HASH) -> list[ChainBreak]:
    """Recompute and check one account's chain, in stored order. Empty list = intact.

    ``start_hash`` is the hash the first given event must link to: the genesis
    value for a whole history, or the last trusted hash when checking a tail.
    """
    breaks: list[ChainBreak] = []
    expected_previous = start_hash
    expected_version: int | None = None
    account_id: UUID | None = None
    for position, event in enumerate(events):
        if account_id is None:
            account_id = event.originator_id
        elif event.originator_id != account_id:
            breaks.append(
                ChainBreak(
                    position,
                    event.originator_version,
                    "wrong_account",
                    f"event of {event.originator_id}",
                )
            )
        breaks += check_link(event, position, expected_version, expected_previous)
        # Follow the stored hash, so one altered event is reported once, not at every later link.
        expected_previous = event.event_hash
        expected_version = event.originator_version + 1
    return breaks


def check_link(
    event: Any, position: int, expected_version: int | None, expected_previous: str
) -> list[ChainBreak]:
    """One event against the link before it: its version, its ``previous_hash``, its own hash."""
    breaks = []
    version = event.originator_version
    if expected_version is not None and version != expected_version:
        breaks.append(
            ChainBreak(position, version, "version_gap", f"expected version {expected_version}")
        )
    if event.previous_hash != expected_previous:
        breaks.append(
            ChainBreak(
                position,
                version,
                "link_broken",
                f"links to {event.previous_hash[:12]}…, should be {expected_previous[:12]}…",
            )
        )
    recomputed = hash_of(event)
    if recomputed != event.event_hash:
        breaks.append(
            ChainBreak(
                position,
                version,
                "content_altered",
                f"stored {event.event_hash[:12]}…, content hashes to {recomputed[:12]}…",
            )
        )
    return breaks


class ChainWalker:
    """Checks every account's chain at once, as events pass by in the store's order.

    The store's order keeps each account's events in version order, so remembering each
    account's last version and hash is enough; ``position`` in a break is the caller's
    (e.g. the notification id).
    """

    def __init__(self) -> None:
        self._last: dict[UUID, tuple[int, str]] = {}

    def check(self, event: Any, position: int) -> list[ChainBreak]:
        version, previous = self._last.get(event.originator_id, (0, GENESIS_HASH))
        breaks = check_link(event, position, version + 1, previous)
        self._last[event.originator_id] = (event.originator_version, event.event_hash)
        return breaks


def record_chained(
    aggregate: Any,
    event_class: type[ChainedEvent],
    *,
    effective_on: date,
    meta: Provenance,
    payload: Mapping[str, Any],
) -> None:
    """Record ``aggregate``'s next event: its envelope (:func:`chained_envelope`) over
    ``payload``, linked to the aggregate's last hash, then triggered on the aggregate. The one
    way the Account, the Tenant and a remittance's posting record their events."""
    envelope = chained_envelope(
        topic=event_class.TOPIC,
        originator_id=aggregate.id,
        originator_version=aggregate.version + 1,
        effective_on=effective_on,
        meta=meta,
        previous_hash=aggregate.last_event_hash,
        payload=payload,
    )
    aggregate.trigger_event(event_class, **envelope, **payload)
