"""Events and snapshots survive JSON with the domain's transcodings."""

from __future__ import annotations

from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex
from unit_support import (
    assert_same_account,
    charge,
    d,
    open_account,
    pay,
    replay,
    snapshot_round_trip,
    transcoder,
    usd,
)

from domain.money import Money
from domain.transcodings import transcodings


def test_money_and_dates_round_trip_through_json() -> None:
    t = transcoder()
    value = {"m": Money("1.5", "KWD"), "when": d("2024-02-29"), "list": [usd(1)]}
    assert t.decode(t.encode(value)) == value


def test_every_transcoding_has_a_unique_stable_name() -> None:
    library = [UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()]  # what an Application registers
    ours = transcodings()
    names = [t.name for t in library + ours]
    assert len(names) == len(set(names)), "a name clashes: registering would replace one"
    types = [t.type for t in library + ours]
    assert len(types) == len(set(types))
    t = JSONTranscoder()
    for transcoding in library + ours:
        t.register(transcoding)
    assert set(t.names) == set(names)
    assert {name: type(t.names[name]) for name in names} == {
        tc.name: type(tc) for tc in library + ours
    }
    assert {tc.name for tc in ours} >= {"money", "date_iso", "receivables.payment_plan"}


def test_a_snapshot_of_an_account_restores_an_equal_account() -> None:
    account = open_account()
    charge(account, "c1", 100)
    pay(account, "p1", 30, "2024-01-05")
    account.collect_events()  # a saved account has no pending events; neither has a snapshot
    restored = snapshot_round_trip(account)
    assert_same_account(restored, account)
    assert restored.balance == usd(70)
    assert restored.unapplied_credit == usd(30)


def test_replaying_stored_events_rebuilds_an_equal_account() -> None:
    account = open_account()
    charge(account, "c1", 100)
    pay(account, "p1", 30, "2024-01-05")
    events = list(account.collect_events())
    assert_same_account(replay(events), account)
