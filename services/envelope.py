"""The published form of a billing event: one JSON envelope, the same for every event type.

Downstream services read these from Kafka, so the envelope is plain JSON any client reads:
amounts are decimal strings with their currency, dates are ISO dates, ids are strings. The
``event_id`` is derived from the account id and the account version, so the same event always
has the same id, however often it is published; a consumer drops a duplicate by it. The
payload is written in the hash chain's canonical form, so what is published is what was hashed.

Two ways to the same bytes. ``envelope`` and ``encode`` take a decoded event. The relay, which
publishes every stored event, reads the stored JSON instead (``stored_envelope``): it re-spells
each stored value in the canonical form (a stored Money ``{"_type_": "money", "_data_":
["5.00", "USD"]}`` is ``{"amount": "5.00", "currency": "USD"}``) without making domain objects,
and keeps the result only if it hashes to the event's own ``event_hash``, the hash of exactly
the canonical form. Anything else (a stored form it does not know, an event whose content does
not match its hash, one that needs upcasting) is left to the decoding path, so the two never
publish different bytes for the same stored event.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import orjson
from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic, resolve_topic

from domain.hash_chain import ENVELOPE_FIELDS, ChainedEvent, canonical_json, payload_of
from domain.transcodings import DATACLASSES

SCHEMA_VERSION = 1

_EVENT_ID_NAMESPACE = uuid5(NAMESPACE_URL, "receivables:event")
_EVENT_ID_PREFIX = _EVENT_ID_NAMESPACE.bytes


def event_id(account_id: UUID, account_version: int) -> str:
    """``str(uuid5(_EVENT_ID_NAMESPACE, f"{account_id}:{account_version}"))``, spelt out: the
    relay makes one per record, and the ``UUID`` object costs more than the hash."""
    name = f"{account_id}:{account_version}".encode()
    digest = bytearray(hashlib.sha1(_EVENT_ID_PREFIX + name, usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # the RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


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


# --- the envelope read straight from the stored JSON ---------------------------------------------


class _NotCanonical(Exception):
    """A stored value this reader does not re-spell; the event goes the decoding way."""


@dataclass(frozen=True, slots=True)
class _StoredKind:
    """What the stored form of one event class holds: its hashed topic, its published type
    name, its payload fields and every key its stored JSON has."""

    topic: str
    type: str
    payload_fields: tuple[str, ...]
    stored_keys: frozenset[str]


#: What the hash chain and the envelope take from a stored event besides its payload
#: (``originator_id`` and ``originator_version`` are stored beside the JSON, not in it).
_STORED_ENVELOPE_KEYS = ENVELOPE_FIELDS - {"originator_id", "originator_version"}


@lru_cache(maxsize=1_024)
def _stored_kind(topic: str) -> _StoredKind | None:
    """The stored form of the events of ``topic``; None for one this reader leaves alone."""
    try:
        cls = resolve_topic(topic)
    except Exception:  # an unknown topic: the decoding way says what is wrong with it
        return None
    if not (isinstance(cls, type) and issubclass(cls, ChainedEvent)):
        return None
    if getattr(cls, "class_version", 1) != 1:
        return None  # stored by an older class version, maybe: upcasting needs the objects
    fields = tuple(f.name for f in dataclasses.fields(cls) if f.name not in ENVELOPE_FIELDS)
    return _StoredKind(
        topic=get_topic(cls),
        type=get_topic(cls).rpartition(":")[2],
        payload_fields=fields,
        stored_keys=frozenset(fields) | _STORED_ENVELOPE_KEYS,
    )


def _text(data: Any) -> str:
    if not isinstance(data, str):
        raise _NotCanonical
    return data


def _money(data: Any) -> dict[str, str]:
    if not (type(data) is list and len(data) == 2 and type(data[0]) is type(data[1]) is str):
        raise _NotCanonical
    return {"amount": data[0], "currency": data[1]}


def _fields(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _NotCanonical
    return {name: _canonical(value) for name, value in data.items()}


#: The canonical form of each transcoded value (``domain.transcodings`` and eventsourcing's own),
#: by transcoding name. Strings stay as stored: each is the value's own ``str`` / ``isoformat``.
_RESPELL: dict[str, Callable[[Any], Any]] = {
    "money": _money,
    "date_iso": _text,
    "datetime_iso": _text,
    "decimal_str": _text,
    "uuid_hex": lambda data: str(UUID(_text(data))),
    **{name: _fields for _, name in DATACLASSES},
}


def _canonical(value: Any) -> Any:
    """A stored JSON value in the hash chain's canonical form."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is list:
        return [_canonical(item) for item in value]
    if kind is dict:
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            respell = _RESPELL.get(value["_type_"])
            if respell is None:
                raise _NotCanonical
            return respell(value["_data_"])
        return {name: _canonical(item) for name, item in value.items()}
    raise _NotCanonical  # a float (refused by the chain), or a big number read as one


_SORTED = orjson.OPT_SORT_KEYS


def stored_envelope(
    notification: Notification, *, tenant_id: str
) -> tuple[dict[str, Any], bytes] | None:
    """The envelope of a stored event (JSON values only) and its bytes, exactly what
    ``encode(envelope(...))`` of the decoded event gives; None when that cannot be shown from
    the stored JSON (see the module's docstring), and the event must be decoded instead."""
    kind = _stored_kind(notification.topic)
    account_id = notification.originator_id
    if kind is None or not isinstance(account_id, UUID):
        return None
    try:
        state = orjson.loads(notification.state)
        if not (isinstance(state, dict) and state.keys() == kind.stored_keys):
            return None
        payload = {name: _canonical(state[name]) for name in kind.payload_fields}
        effective_on = _canonical(state["effective_on"])
        recorded_at = _canonical(state["timestamp"])
        actor, correlation_id = _text(state["actor"]), _text(state["correlation_id"])
        reason = None if state["reason"] is None else _text(state["reason"])
        previous_hash, event_hash = _text(state["previous_hash"]), _text(state["event_hash"])
        # The one stored value the hash does not cover: read back the way the decoder would.
        if datetime.fromisoformat(recorded_at).isoformat() != recorded_at:
            return None
    except (orjson.JSONDecodeError, _NotCanonical, ValueError, TypeError):
        return None
    version = notification.originator_version
    account = str(account_id)
    hashed_payload = orjson.dumps(payload, option=_SORTED)
    hashed = {
        "topic": kind.topic,
        "originator_id": account,
        "originator_version": version,
        "effective_on": effective_on,
        "payload": orjson.Fragment(hashed_payload),
        "metadata": {"actor": actor, "reason": reason, "correlation_id": correlation_id},
        "previous_hash": previous_hash,
    }
    if hashlib.sha256(orjson.dumps(hashed, option=_SORTED)).hexdigest() != event_hash:
        return None
    # originator_topic names the library's aggregate class on the first event (as ``envelope``).
    if "originator_topic" in payload:
        del payload["originator_topic"]
        published_payload = orjson.dumps(payload, option=_SORTED)
    else:
        published_payload = hashed_payload
    document = {
        "event_id": event_id(account_id, version),
        "type": kind.type,
        "schema_version": SCHEMA_VERSION,
        "tenant_id": tenant_id,
        "account_id": account,
        "account_version": version,
        "position": notification.id,
        "effective_on": effective_on,
        "recorded_at": recorded_at,
        "actor": actor,
        "correlation_id": correlation_id,
        "reason": reason,
        "event_hash": event_hash,
        "previous_hash": previous_hash,
        "payload": payload,
    }
    value = orjson.dumps(
        {**document, "payload": orjson.Fragment(published_payload)}, option=_SORTED
    )
    return document, value
