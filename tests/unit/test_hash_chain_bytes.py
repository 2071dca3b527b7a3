"""The hash chain's bytes never change: stored events, sealed periods and ``ar verify`` rely on them.

The expected texts and hashes below were computed by the chain's first encoder (the standard
library's ``json`` with sorted keys, compact separators and UTF-8 left unescaped). Whatever
encodes the chain now must produce them byte for byte.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st
from unit_support import charge, open_account, pay

from domain.contacts import Address
from domain.hash_chain import canonical_json, hash_of
from domain.money import Money

EVERY_KIND_OF_VALUE = {
    "Zeta": [1, (2, 3), {"b": None, "a": True}],
    "alpha": Money("1.50", "USD"),
    "é accent": 'naïve — “quoted” "double" back\\slash tab\t newline\n ctrl\x01 bell\x07'
    " del\x7f \u2028 😀",
    "amount": Decimal("-0.10"),
    "on": date(2024, 2, 29),
    "at": datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    "id": UUID("12345678-1234-5678-1234-567812345678"),
    "address": Address("1 Main St", "", "Springfield", "IL", "62701", "US"),
    "tags": frozenset({"b", "a", "C"}),
    "big": 2**70,
    "neg": -7,
    "empty": {},
    "list": [],
}

ITS_CANONICAL_TEXT = (
    '{"Zeta":[1,[2,3],{"a":true,"b":null}],"address":{"city":"Springfield","country":"US",'
    '"line1":"1 Main St","line2":"","postal_code":"62701","region":"IL"},'
    '"alpha":{"amount":"1.50","currency":"USD"},"amount":"-0.10",'
    '"at":"2024-01-02T03:04:05.000006+00:00","big":1180591620717411303424,"empty":{},'
    '"id":"12345678-1234-5678-1234-567812345678","list":[],"neg":-7,"on":"2024-02-29",'
    '"tags":["C","a","b"],"é accent":"naïve — “quoted” \\"double\\" back\\\\slash tab\\t'
    ' newline\\n ctrl\\u0001 bell\\u0007 del\x7f \u2028 😀"}'
)


def test_every_kind_of_value_encodes_as_it_always_has() -> None:
    text = canonical_json(EVERY_KIND_OF_VALUE)
    assert text == ITS_CANONICAL_TEXT
    assert (
        hashlib.sha256(text.encode()).hexdigest()
        == "67870b995be87ae959159faf28cf3b873a14f8443f42d6cf88139d51c874a881"
    )


def test_an_accounts_events_hash_as_they_always_have() -> None:
    account = open_account()
    charge(account, "c1", 100, tax=7)
    pay(account, "p1", 30, "2024-01-05")
    events: list[Any] = list(account.collect_events())

    assert [e.event_hash for e in events] == [
        "16cdd8cdb647745fc95ca297fa66d934a5edeeee77cfd1d7c3e06f1ef13c1c03",
        "8de317fa52cdb74de6934b185f5a8d00d87a39f66e62f0af342c4ebaa8c1bc27",
        "dd9b382b9e3909d2d6c1d25cc73aef192d03f0bd724715368984a8f35161c6d8",
    ]
    assert [hash_of(e) for e in events] == [e.event_hash for e in events]


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(_json_values)
def test_plain_values_encode_as_sorted_compact_json_with_utf8_left_as_is(value: Any) -> None:
    try:
        expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        expected.encode()
    except UnicodeEncodeError:  # a lone surrogate has no UTF-8 form: refused either way
        return
    assert canonical_json(value) == expected
