"""The large reports over HTTP a page at a time, as JSON or CSV: the aging, the worklist, the
audit trail; and the trial balance, whole, as CSV too.

The book, in tenant acme, USD unless said (each invoice net 30, nothing paid)::

    A-1  100.00  invoiced 2026-01-10      A-4  EUR 400.00  invoiced 2026-01-10
    A-2  200.00  invoiced 2026-01-20      A-5       50.00  invoiced 2026-03-20 (not yet due)
    A-3  300.00  invoiced 2026-02-01

and, in tenant globex, G-1 with 999.00, which acme never sees. Aging as of 2026-03-31: A-1 is
50 days past due (31-60), A-2 40 (31-60), A-3 28 (1-30), A-4 50 (31-60), A-5 not yet due.

On embedded SQLite and on PostgreSQL (the ``runtime`` fixture).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from projections.catalogue import read_models
from projections.cursors import InvalidCursor, decode_cursor, encode_cursor, fingerprint
from projections.runner import Projector
from services.api_keys import Role
from services.bootstrap import Runtime

AS_OF = "2026-03-31"
AGING = "/v1/reports/aging"
WORKLIST = "/v1/reports/worklist"
TRAIL = "/v1/reports/audit-trail"
TRIAL_BALANCE = "/v1/reports/trial-balance"
BOOK = [
    ("A-1", "USD", "100.00", "2026-01-10"),
    ("A-2", "USD", "200.00", "2026-01-20"),
    ("A-3", "USD", "300.00", "2026-02-01"),
    ("A-4", "EUR", "400.00", "2026-01-10"),
    ("A-5", "USD", "50.00", "2026-03-20"),
]


def _ok(response: Any) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def _invoiced(
    client: TestClient, number: str, currency: str, amount: str, day: str, **headers: str
) -> None:
    opened = {"account_number": number, "name": number, "currency": currency, "opened_on": day}
    _ok(client.post("/v1/accounts", json=opened, headers=headers))
    charge = {"code": "VISIT", "description": "Visit", "unit_price": amount, "service_date": day}
    _ok(client.post(f"/v1/accounts/{number}/charges", json=charge, headers=headers))
    invoice = {"invoice_number": f"I-{number}", "issued_on": day}
    _ok(client.post(f"/v1/accounts/{number}/invoices", json=invoice, headers=headers))


def _project(runtime: Runtime) -> None:
    Projector(runtime.app, runtime.db, read_models()).catch_up()


def _book(client: TestClient, runtime: Runtime) -> None:
    for number, currency, amount, day in BOOK:
        _invoiced(client, number, currency, amount, day)
    globex = runtime.keys.create(name="clerk-gil", tenant_id="globex", role=Role.clerk)
    _invoiced(client, "G-1", "USD", "999.00", "2026-01-10", Authorization=f"Bearer {globex.secret}")
    _project(runtime)


def _pages(client: TestClient, path: str, rows: str, **params: Any) -> list[dict[str, Any]]:
    """Every page of a report, following next_cursor; each page's Link header agrees with it."""
    pages: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = client.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        page = _ok(response)
        assert isinstance(page[rows], list)
        cursor = page["next_cursor"]
        assert _next_cursor_of_link(response.headers.get("link")) == cursor
        pages.append(page)
        if cursor is None:
            return pages


def _next_cursor_of_link(link: str | None) -> str | None:
    if link is None:
        return None
    found = re.fullmatch(r'<([^>]+)>; rel="next"', link)
    assert found, link
    next_url = found.group(1)
    [cursor] = re.findall(r"[?&]cursor=([^&]+)", next_url)
    return cursor


def _csv(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8"))))


def _problem(response: Any) -> tuple[int, str, str]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    problem = response.json()
    assert problem["detail"], problem
    return response.status_code, problem["code"], problem["field"]


# --- the aging ----------------------------------------------------------------------------


def test_the_aging_comes_a_page_at_a_time_with_the_whole_reports_totals_on_each(
    client: TestClient, runtime: Runtime
) -> None:
    _book(client, runtime)
    whole = _ok(client.get(AGING, params={"as_of": AS_OF}))

    pages = _pages(client, AGING, "rows", as_of=AS_OF, limit=2)

    assert [[r["account_number"] for r in p["rows"]] for p in pages] == [
        ["A-1", "A-2"],
        ["A-3", "A-4"],
        ["A-5"],
    ]
    assert [r for p in pages for r in p["rows"]] == whole["rows"]
    assert whole["next_cursor"] is None
    usd = {
        "currency": "USD",
        "buckets": {
            "not yet due": "50.00",
            "1-30": "300.00",
            "31-60": "300.00",
            "61-90": "0.00",
            "over 90": "0.00",
        },
        "open": "650.00",
        "unapplied_credit": "0.00",
        "disputed": "0.00",
    }
    for page in pages:
        assert page["totals_scope"] == "report"
        assert [t["currency"] for t in page["totals"]] == ["EUR", "USD"]
        assert page["totals"][1] == usd  # A-1, A-2, A-3 and A-5's, whichever page it is
        assert page["totals"] == whole["totals"]


def test_an_aging_page_starts_after_the_last_account_shown_whatever_is_recorded_meanwhile(
    client: TestClient, runtime: Runtime
) -> None:
    _book(client, runtime)
    first = _ok(client.get(AGING, params={"as_of": AS_OF, "limit": 2}))
    _invoiced(client, "A-0", "USD", "10.00", "2026-01-10")  # sorts before the page shown
    _invoiced(client, "A-35", "USD", "10.00", "2026-01-10")  # sorts among those to come
    _project(runtime)

    rest = _pages(client, AGING, "rows", as_of=AS_OF, limit=2, cursor=first["next_cursor"])

    shown = [r["account_number"] for p in [first, *rest] for r in p["rows"]]
    assert shown == ["A-1", "A-2", "A-3", "A-35", "A-4", "A-5"]  # none twice, none skipped
    assert rest[0]["totals"][1]["open"] == "670.00"  # the report as it now is, A-0 included


def test_the_aging_as_csv_has_a_header_amounts_as_decimals_and_the_currency_apart(
    client: TestClient, runtime: Runtime
) -> None:
    _book(client, runtime)

    first = client.get(AGING, params={"as_of": AS_OF, "limit": 4}, headers={"Accept": "text/csv"})
    table = _csv(first)
    by_format = client.get(AGING, params={"as_of": AS_OF, "limit": 4, "format": "csv"})

    assert table == [
        [
            "account_number",
            "currency",
            "not yet due",
            "1-30",
            "31-60",
            "61-90",
            "over 90",
            "open",
            "unapplied_credit",
            "disputed",
        ],
        ["A-1", "USD", "0.00", "0.00", "100.00", "0.00", "0.00", "100.00", "0.00", "0.00"],
        ["A-2", "USD", "0.00", "0.00", "200.00", "0.00", "0.00", "200.00", "0.00", "0.00"],
        ["A-3", "USD", "0.00", "300.00", "0.00", "0.00", "0.00", "300.00", "0.00", "0.00"],
        ["A-4", "EUR", "0.00", "0.00", "400.00", "0.00", "0.00", "400.00", "0.00", "0.00"],
    ]
    assert _csv(by_format) == table
    cursor = _next_cursor_of_link(first.headers["link"])
    rest = _csv(client.get(AGING, params={"as_of": AS_OF, "cursor": cursor, "format": "csv"}))
    assert rest == [
        table[0],
        ["A-5", "USD", "50.00", "0.00", "0.00", "0.00", "0.00", "50.00", "0.00", "0.00"],
    ]
    assert "link" not in client.get(AGING, params={"as_of": AS_OF, "format": "csv"}).headers


def test_the_aging_in_detail_as_csv_is_a_line_per_open_term(
    client: TestClient, runtime: Runtime
) -> None:
    _book(client, runtime)

    table = _csv(
        client.get(AGING, params={"as_of": AS_OF, "detail": "true", "limit": 1, "format": "csv"})
    )

    assert table == [
        [
            "account_number",
            "currency",
            "item_number",
            "term",
            "issued_on",
            "due_on",
            "days_past_due",
            "bucket",
            "open",
            "disputed",
        ],
        ["A-1", "USD", "I-A-1", "1", "2026-01-10", "2026-02-09", "50", "31-60", "100.00", "false"],
    ]


def test_an_empty_report_as_csv_is_its_header_alone(client: TestClient, runtime: Runtime) -> None:
    _project(runtime)

    assert _csv(client.get(AGING, params={"as_of": AS_OF, "format": "csv"}))[0][:2] == [
        "account_number",
        "currency",
    ]
    assert len(_csv(client.get(AGING, params={"as_of": AS_OF, "format": "csv"}))) == 1
    assert len(_csv(client.get(TRAIL, params={"format": "csv"}))) == 1


def test_json_is_the_answer_unless_csv_is_asked_for_and_preferred(client: TestClient) -> None:
    params = {"as_of": AS_OF}

    for accept in ("", "application/json", "*/*", "application/json, text/csv;q=0.5"):
        answer = client.get(AGING, params=params, headers={"Accept": accept})
        assert answer.headers["content-type"] == "application/json", accept
    for accept in ("text/csv", "application/json;q=0.5, text/csv", "text/csv;charset=utf-8"):
        answer = client.get(AGING, params=params, headers={"Accept": accept})
        assert answer.headers["content-type"] == "text/csv; charset=utf-8", accept
    as_json = client.get(AGING, params={**params, "format": "json"}, headers={"Accept": "text/csv"})
    assert as_json.headers["content-type"] == "application/json"


# --- cursors refused ----------------------------------------------------------------------


def test_a_cursor_of_another_report_or_listing_or_none_at_all_is_refused(
    client: TestClient, runtime: Runtime
) -> None:
    _book(client, runtime)
    aging = _ok(client.get(AGING, params={"as_of": AS_OF, "limit": 1}))["next_cursor"]
    worklist = _ok(client.get(WORKLIST, params={"as_of": AS_OF, "limit": 1}))["next_cursor"]
    trail = _ok(client.get(TRAIL, params={"limit": 1}))["next_cursor"]
    forged = base64.urlsafe_b64encode(
        json.dumps({"v": 1, "r": "aging", "f": "x", "k": ["A-1\x00", "USD"]}).encode()
    ).decode()
    events_before = runtime.app.recorder.max_notification_id()

    refused = [
        (AGING, {"as_of": AS_OF, "cursor": worklist}),
        (AGING, {"as_of": AS_OF, "cursor": trail}),
        (AGING, {"as_of": "2026-03-30", "cursor": aging}),  # another date
        (AGING, {"as_of": AS_OF, "buckets": "10,20", "cursor": aging}),
        (AGING, {"as_of": AS_OF, "cursor": "bm9wZQ"}),
        (AGING, {"as_of": AS_OF, "cursor": forged}),
        (AGING, {"as_of": AS_OF, "cursor": "%%%"}),
        (WORKLIST, {"as_of": AS_OF, "cursor": aging}),
        (TRAIL, {"cursor": aging}),
        (TRAIL, {"actor": "clerk-ann", "cursor": trail}),
        (TRAIL, {"cursor": "x" * 999}),
    ]
    for path, params in refused:
        answer = client.get(path, params=params)
        assert _problem(answer) == (422, "invalid_cursor", "cursor"), (path, params)
    assert _ok(client.get(AGING, params={"as_of": AS_OF, "limit": 3, "cursor": aging}))["rows"]
    assert runtime.app.recorder.max_notification_id() == events_before


# --- the worklist -------------------------------------------------------------------------


def test_the_worklist_as_csv_is_paged_like_its_json(client: TestClient, runtime: Runtime) -> None:
    _book(client, runtime)
    params = {"as_of": AS_OF, "currency": "USD", "limit": 2}

    first = client.get(WORKLIST, params={**params, "format": "csv"})
    cursor = _next_cursor_of_link(first.headers["link"])
    second = client.get(WORKLIST, params={**params, "format": "csv", "cursor": cursor})
    as_json = _pages(client, WORKLIST, "rows", **params)

    header, *rows = _csv(first)
    assert header == [
        "account",
        "name",
        "currency",
        "overdue",
        "oldest_days_past_due",
        "priority",
        "disputed",
        "last_contact_on",
        "last_contact_channel",
        "last_contact_outcome",
        "open_promise_amount",
        "open_promise_pay_by",
        "plan_status",
        "dunning_level",
        "collector",
        "next_action_on",
    ]
    nothing_pending = ["", "", "", "", "", "", "0", "", AS_OF]
    assert rows == [
        ["A-3", "A-3", "USD", "300.00", "28", "8400.00", "0.00", *nothing_pending],
        ["A-2", "A-2", "USD", "200.00", "40", "8000.00", "0.00", *nothing_pending],
    ]
    assert _csv(second)[1:] == [
        ["A-1", "A-1", "USD", "100.00", "50", "5000.00", "0.00", *nothing_pending]
    ]
    assert "link" not in second.headers
    assert [[r["account"] for r in p["rows"]] for p in as_json] == [["A-3", "A-2"], ["A-1"]]


def test_a_worklist_row_in_csv_flattens_its_contact_and_promise(
    client: TestClient, runtime: Runtime
) -> None:
    _book(client, runtime)
    contact = {"channel": "call", "outcome": "no answer", "occurred_on": "2026-03-10"}
    _ok(client.post("/v1/accounts/A-1/collection-activities", json=contact))
    promise = {"amount": "60.00", "pay_by": "2026-04-10", "promised_on": "2026-03-20"}
    _ok(client.post("/v1/accounts/A-1/promises-to-pay", json=promise))
    _project(runtime)

    header, row = _csv(
        client.get(
            WORKLIST, params={"as_of": AS_OF, "sort": "account", "limit": 1, "format": "csv"}
        )
    )

    assert dict(zip(header, row, strict=True)) | {"priority": "-"} == {
        "account": "A-1",
        "name": "A-1",
        "currency": "USD",
        "overdue": "100.00",
        "oldest_days_past_due": "50",
        "priority": "-",
        "disputed": "0.00",
        "last_contact_on": "2026-03-10",
        "last_contact_channel": "call",
        "last_contact_outcome": "no answer",
        "open_promise_amount": "60.00",
        "open_promise_pay_by": "2026-04-10",
        "plan_status": "",
        "dunning_level": "0",
        "collector": "",
        "next_action_on": "2026-04-10",
    }


# --- the audit trail ----------------------------------------------------------------------


def test_the_audit_trail_pages_by_cursor_and_after_picks_up_where_a_read_left_off(
    client: TestClient, runtime: Runtime
) -> None:
    _book(client, runtime)
    everything = _ok(client.get(TRAIL, params={"limit": 1000}))

    pages = _pages(client, TRAIL, "events", limit=4)
    since = _ok(client.get(TRAIL, params={"after": everything["events"][9]["position"]}))
    a2 = _pages(client, TRAIL, "events", account="A-2", limit=2)

    assert [len(p["events"]) for p in pages] == [4, 4, 4, 3]
    assert [e for p in pages for e in p["events"]] == everything["events"]
    assert [e["account_number"] for e in everything["events"]] == [
        n for n, *_ in BOOK for _ in range(3)
    ]  # and nothing of globex's
    assert since["events"] == everything["events"][10:]
    assert [[e["event_type"] for e in p["events"]] for p in a2] == [
        ["Opened", "ChargePosted"],
        ["InvoiceIssued"],
    ]


def test_the_audit_trail_as_csv_carries_the_hashed_payload_and_the_chain(
    client: TestClient, runtime: Runtime
) -> None:
    _book(client, runtime)
    events = _ok(client.get(TRAIL, params={"account": "A-1"}))["events"]

    header, *rows = _csv(
        client.get(TRAIL, params={"account": "A-1"}, headers={"Accept": "text/csv"})
    )

    assert header == [
        "position",
        "account_id",
        "account_number",
        "account_version",
        "event_type",
        "effective_on",
        "recorded_at",
        "actor",
        "reason",
        "correlation_id",
        "currency",
        "balance_effect",
        "payload",
        "previous_hash",
        "event_hash",
    ]
    cells = [dict(zip(header, row, strict=True)) for row in rows]
    assert [c["event_type"] for c in cells] == ["Opened", "ChargePosted", "InvoiceIssued"]
    assert [c["balance_effect"] for c in cells] == ["0.00", "100.00", "0.00"]
    assert {c["currency"] for c in cells} == {"USD"}
    assert [json.loads(c["payload"]) for c in cells] == [e["payload"] for e in events]
    assert [c["recorded_at"] for c in cells] == [e["recorded_at"] for e in events]
    assert [c["previous_hash"] for c in cells[1:]] == [c["event_hash"] for c in cells[:-1]]
    assert cells[0]["reason"] == ""


# --- the trial balance ----------------------------------------------------------------------


def test_the_trial_balance_is_whole_as_csv_too(client: TestClient, runtime: Runtime) -> None:
    _book(client, runtime)

    header, *rows = _csv(client.get(TRIAL_BALANCE, params={"as_of": AS_OF, "format": "csv"}))

    assert header == ["currency", "ledger_account", "balance"]
    balances = {(c, a): b for c, a, b in rows}
    assert balances[("EUR", "receivables")] == "400.00"
    assert balances[("USD", "receivables")] == "650.00"
    assert balances[("USD", "revenue")] == "-650.00"
    assert sum(float(b) for (c, _), b in balances.items() if c == "USD") == 0


# --- the contract -------------------------------------------------------------------------


def test_the_openapi_says_which_reports_answer_csv_and_which_are_paged(
    client: TestClient,
) -> None:
    paths = _ok(client.get("/openapi.json"))["paths"]

    for path in (AGING, WORKLIST, TRAIL, TRIAL_BALANCE):
        answer = paths[path]["get"]["responses"]["200"]
        assert set(answer["content"]) == {"application/json", "text/csv"}, path
        parameters = {p["name"] for p in paths[path]["get"]["parameters"]}
        assert "format" in parameters, path
        paged = path != TRIAL_BALANCE
        assert ("Link" in answer.get("headers", {})) is paged, path
        assert ({"limit", "cursor"} <= parameters) is paged, path


# --- the cursor itself ----------------------------------------------------------------------


def test_a_cursor_gives_back_the_key_it_was_made_from_and_nothing_else() -> None:
    listing = fingerprint("acme", "2026-03-31", None)
    cursor = encode_cursor("aging", listing, ("A-1", "USD"))

    assert decode_cursor("aging", listing, cursor, (str, str)) == ("A-1", "USD")
    assert re.fullmatch(r"[A-Za-z0-9_-]+", cursor)
    for report, of_listing, readers in [
        ("worklist", listing, (str, str)),
        ("aging", fingerprint("globex", "2026-03-31", None), (str, str)),
        ("aging", listing, (str,)),
        ("aging", listing, (int, str)),
    ]:
        with pytest.raises(InvalidCursor):
            decode_cursor(report, of_listing, cursor, readers)
    for key, readers in [
        ((True,), (int,)),
        ((2**63,), (int,)),
        ((-(2**63) - 1,), (int,)),
        (("A-1\x00",), (str,)),  # PostgreSQL would refuse it rather than compare it
        (("7",), (int,)),
    ]:
        with pytest.raises(InvalidCursor):
            decode_cursor("trail", listing, encode_cursor("trail", listing, key), readers)
    assert decode_cursor("trail", listing, encode_cursor("trail", listing, (2**63 - 1,)), (int,))
