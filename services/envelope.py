"""The published form of a billing event: one JSON envelope, the same for every event type.

Downstream services read these from Kafka, so the envelope is plain JSON any client reads:
amounts are decimal strings with their currency, dates are ISO dates, ids are strings. The
``event_id`` is derived from the account id and the account version, so the same event always
has the same id, however often it is published; a consumer drops a duplicate by it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.utils import get_topic

from domain.money import Money

SCHEMA_VERSION = 1

# Attributes every event carries that the envelope lifts out of the payload.
_ENVELOPE_FIELDS = frozenset(
    {
        "originator_id",
        "originator_topic",
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

_EVENT_ID_NAMESPACE = uuid5(NAMESPACE_URL, "receivables:event")


def event_id(account_id: UUID, account_version: int) -> str:
    return str(uuid5(_EVENT_ID_NAMESPACE, f"{account_id}:{account_version}"))


def event_type(event: object) -> str:
    """The event's stable type name: the class part of its registered topic."""
    return get_topic(type(event)).rpartition(":")[2]


def to_jsonable(value: Any) -> Any:
    """A JSON-ready copy of a domain value: exact decimals as strings, never float."""
    if isinstance(value, Money):
        return {"amount": str(value), "currency": value.currency}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float):
        msg = "a float reached the event envelope; amounts must be Decimal"
        raise TypeError(msg)
    return value


def envelope(event: Any, *, tenant_id: str, position: int | None) -> dict[str, Any]:
    """The event as downstream readers see it; ``position`` is its place in the notification
    log when known (the relay knows it; an account's history is read without it)."""
    account_id: UUID = event.originator_id
    version: int = event.originator_version
    payload = {k: v for k, v in vars(event).items() if k not in _ENVELOPE_FIELDS}
    return {
        "event_id": event_id(account_id, version),
        "type": event_type(event),
        "schema_version": SCHEMA_VERSION,
        "tenant_id": tenant_id,
        "account_id": str(account_id),
        "account_version": version,
        "position": position,
        "effective_on": to_jsonable(event.effective_on),
        "recorded_at": to_jsonable(event.timestamp),
        "actor": event.actor,
        "correlation_id": event.correlation_id,
        "reason": event.reason,
        "event_hash": event.event_hash,
        "previous_hash": event.previous_hash,
        "payload": to_jsonable(payload),
    }


def encode(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
