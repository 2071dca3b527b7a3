"""Tamper evidence: every event links to the previous one by hash."""

from __future__ import annotations

import dataclasses
import itertools

from unit_support import charge, open_account, pay, read_back, replay, usd

from domain.account import Account
from domain.hash_chain import GENESIS_HASH, hash_of, verify_chain


def _history() -> list[Account.Event]:
    account = open_account()
    charge(account, "c1", 100)
    charge(account, "c2", 50)
    pay(account, "p1", 30, "2024-01-05")
    pay(account, "p2", 20, "2024-01-06")
    return list(account.collect_events())  # type: ignore[arg-type]


def test_an_untouched_history_verifies() -> None:
    events = _history()
    assert verify_chain(events) == []
    assert events[0].previous_hash == GENESIS_HASH
    for previous, event in itertools.pairwise(events):
        assert event.previous_hash == previous.event_hash


def test_the_hash_is_over_content_not_the_recording_time() -> None:
    events = _history()
    later = dataclasses.replace(events[2], timestamp=events[2].timestamp.replace(year=2030))
    assert hash_of(later) == events[2].event_hash


def test_altering_a_payload_field_breaks_the_chain() -> None:
    events = _history()
    events[3] = dataclasses.replace(events[3], amount=usd(3000))
    breaks = verify_chain(events)
    assert [(b.position, b.kind) for b in breaks] == [(3, "content_altered")]


def test_altering_the_business_date_or_the_actor_breaks_the_chain() -> None:
    events = _history()
    events[1] = dataclasses.replace(events[1], effective_on=events[1].effective_on.replace(day=20))
    events[2] = dataclasses.replace(events[2], actor="mallory")
    kinds = [(b.position, b.kind) for b in verify_chain(events)]
    assert kinds == [(1, "content_altered"), (2, "content_altered")]


def test_removing_an_event_breaks_the_chain() -> None:
    events = _history()
    del events[2]
    kinds = {b.kind for b in verify_chain(events)}
    assert kinds == {"link_broken", "version_gap"}


def test_reordering_events_breaks_the_chain() -> None:
    events = _history()
    events[2], events[3] = events[3], events[2]
    assert {b.position for b in verify_chain(events)} >= {2, 3}


def test_a_chain_still_verifies_after_the_events_are_stored_and_read_back() -> None:
    events = _history()
    copies = read_back(events)
    assert all(copy is not event for copy, event in zip(copies, events, strict=True))
    assert copies == events
    assert verify_chain(copies) == []
    assert verify_chain(copies[2:], start_hash=copies[1].event_hash) == []
    assert replay(events).last_event_hash == copies[-1].event_hash
