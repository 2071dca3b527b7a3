"""The published form of a billing event: one JSON envelope, the same for every event type.

Downstream services read these from Kafka, so the envelope is plain JSON any client reads:
amounts are decimal strings with their currency, dates are ISO dates, ids are strings. The
``event_id`` is derived from the account id and the account version, so the same event always
has the same id, however often it is published; a consumer drops a duplicate by it. The
payload is written in the hash chain's canonical form, so what is published is what was hashed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.utils import get_topic

from domain.hash_chain import canonical_json, payload_of

SCHEMA_VERSION = 1

_EVENT_ID_NAMESPACE = uuid5(NAMESPACE_URL, "receivables:event")


def event_id(account_id: UUID, account_version: int) -> str:
    return str(uuid5(_EVENT_ID_NAMESPACE, f"{account_id}:{account_version}"))


def event_type(event: object) -> str:
    """The event's stable type name: the class part of its registered topic."""
    return get_topic(type(event)).rpartition(":")[2]


def envelope(event: Any, *, tenant_id: str, position: int | None) -> dict[str, Any]:
    """The event as downstream readers see it; ``position`` is its place in the notification
    log when known (the relay knows it; an account's history is read without it). Values are
    the domain's own; ``encode`` and ``json_ready`` write them in the canonical form."""
    account_id: UUID = event.originator_id
    version: int = event.originator_version
    # originator_topic names the library's aggregate class on the first event: not business data.
    payload = {k: v for k, v in payload_of(event).items() if k != "originator_topic"}
    return {
        "event_id": event_id(account_id, version),
        "type": event_type(event),
        "schema_version": SCHEMA_VERSION,
        "tenant_id": tenant_id,
        "account_id": str(account_id),
        "account_version": version,
        "position": position,
        "effective_on": event.effective_on,
        "recorded_at": event.timestamp,
        "actor": event.actor,
        "correlation_id": event.correlation_id,
        "reason": event.reason,
        "event_hash": event.event_hash,
        "previous_hash": event.previous_hash,
        "payload": payload,
    }


def encode(document: Mapping[str, Any]) -> bytes:
    """The envelope as published: the hash chain's canonical JSON (amounts as decimal strings)."""
    return canonical_json(document).encode()


def json_ready(document: Mapping[str, Any]) -> dict[str, Any]:
    """The envelope as plain JSON values, for answers that are serialised by someone else."""
    ready: dict[str, Any] = json.loads(canonical_json(document))
    return ready
