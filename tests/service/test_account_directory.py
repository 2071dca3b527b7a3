"""The account directory: find an account by number, name, e-mail, phone or the customer's own
reference; filter, sort and page through a tenant's accounts; on SQLite and PostgreSQL.

Each test records commands through the application, projects them, and reads the directory.
"""

from __future__ import annotations

import json
import random
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from domain.provenance import Provenance
from projections.audit_trail import audit_trail
from projections.catalogue import read_models
from projections.directory import (
    AccountDirectory,
    DirectoryQuery,
    InvalidDirectoryQuery,
    encode_cursor,
    normalise,
    row_values,
    search_directory,
)
from projections.runner import Projector
from services.bootstrap import Runtime
from services.cli import app
from services.commands import command_models
from services.envelope import encode, envelope
from tests.service.test_event_contract import json_schema_errors
from tests.support import CLERK, run

TENANT = "acme"
TODAY = date(2026, 3, 31)


def do(runtime: Runtime, command: str, body: dict[str, Any], account: str) -> None:
    run(runtime.app, command_models()[command].model_validate(body), account, TENANT)


def opened(
    runtime: Runtime,
    account: str,
    name: str,
    currency: str = "USD",
    on: date = date(2026, 1, 1),
    tenant: str = TENANT,
) -> None:
    runtime.app.open_account(
        tenant_id=tenant,
        account_number=account,
        name=name,
        currency=currency,
        opened_on=on,
        meta=CLERK,
    )


def contact(runtime: Runtime, account: str, **details: Any) -> None:
    """Change each detail given by its own command, on 5 January."""
    commands = {
        "email": "change_email_address",
        "phone": "change_phone_number",
        "reference": "change_external_reference",
        "channel": "change_preferred_channel",
        "address": "change_billing_address",
        "notes": "change_contact_notes",
    }
    for name, value in details.items():
        do(runtime, commands[name], {name: value, "effective_on": "2026-01-05"}, account)


def owing(runtime: Runtime, account: str, invoice: str, amount: str, due_on: str) -> None:
    do(
        runtime,
        "post_charge",
        {
            "charge_id": f"ch-{invoice}",
            "code": "LAB",
            "description": "Lab",
            "unit_price": amount,
            "service_date": "2026-01-05",
        },
        account,
    )
    do(
        runtime,
        "issue_invoice",
        {"invoice_number": invoice, "issued_on": "2026-01-05", "due_on": due_on},
        account,
    )


def projected(runtime: Runtime) -> None:
    Projector(runtime.app, runtime.db, read_models()).catch_up()


def found(runtime: Runtime, q: str | None = None, **filters: Any) -> list[str]:
    """The account numbers of the whole listing, page after page."""
    numbers: list[str] = []
    cursor = None
    query = DirectoryQuery(TENANT, q=q, limit=filters.pop("limit", 50), **filters)
    while True:
        page = search_directory(runtime.db, query, today=TODAY, cursor=cursor)
        numbers += [row.account_number for row in page.rows]
        if page.next_cursor is None:
            return numbers
        cursor = page.next_cursor


def people(runtime: Runtime) -> None:
    opened(runtime, "A-1", "José García")
    opened(runtime, "A-2", "Jane Doe", on=date(2026, 1, 3))
    opened(runtime, "A-3", "ZOË ØRSTED", currency="EUR", on=date(2026, 1, 2))
    opened(runtime, "B-10", "Jose Garcia-Lopez")
    opened(runtime, "X-1", "José García", tenant="other")  # another tenant's: never found
    contact(runtime, "A-1", email="jgarcia@example.com", phone="+1 (555) 010-0199")
    contact(runtime, "A-2", email="jane.doe@example.org", reference="MRN-00042")
    contact(runtime, "A-3", phone="+45 33 12 34 56", reference="SUB/77%_1")


# ------------------------------------------------------------------------------ search


def test_a_name_is_found_whatever_its_case_and_accents(runtime: Runtime) -> None:
    people(runtime)
    projected(runtime)

    assert found(runtime, "Jose") == ["A-1", "B-10"]
    assert found(runtime, "josé GARCÍA") == ["A-1", "B-10"]
    assert found(runtime, "garcia jose") == ["A-1", "B-10"]  # every word, in any order
    assert found(runtime, "garcia lopez") == ["B-10"]
    assert found(runtime, "zoe orsted") == ["A-3"]
    assert found(runtime, "Ørsted") == ["A-3"]
    assert found(runtime, "nobody") == []


def test_a_phone_number_is_found_however_it_is_written(runtime: Runtime) -> None:
    people(runtime)
    projected(runtime)

    for written in ("555-010-0199", "(555) 0100199", "+1 555 010 0199", "5550100199", "0199"):
        assert found(runtime, written) == ["A-1"], written
    assert found(runtime, "33 12 34 56") == ["A-3"]
    assert found(runtime, "555") == ["A-1"]


def test_number_email_and_external_reference_are_searched(runtime: Runtime) -> None:
    people(runtime)
    projected(runtime)

    assert found(runtime, "b-10") == ["B-10"]
    # A word is found anywhere: "garci(a-l)opez" holds "a-" too.
    assert found(runtime, "A-", sort="number") == ["A-1", "A-2", "A-3", "B-10"]
    assert found(runtime, "JGARCIA@EXAMPLE.COM") == ["A-1"]
    assert found(runtime, "example") == ["A-2", "A-1"]  # by name: Jane, then José
    assert found(runtime, "mrn-00042") == ["A-2"]
    # LIKE's wildcards in a query are plain characters.
    assert found(runtime, "77%_1") == ["A-3"]
    assert found(runtime, "%") == ["A-3"]
    assert found(runtime, "b_10") == []  # not "b-10": _ matches only itself


def test_a_changed_or_removed_detail_is_searched_as_it_is_now(runtime: Runtime) -> None:
    people(runtime)
    do(runtime, "change_details", {"name": "Jane Smith", "effective_on": "2026-02-01"}, "A-2")
    do(runtime, "change_email_address", {"email": None, "effective_on": "2026-02-01"}, "A-1")
    projected(runtime)

    assert found(runtime, "doe") == ["A-2"]  # still in her e-mail address
    assert found(runtime, "smith") == ["A-2"]
    assert found(runtime, "jgarcia") == []


# ------------------------------------------------------------------------------ filters and sort


def test_the_directory_filters_by_status_currency_overdue_dunning_and_collector(
    runtime: Runtime,
) -> None:
    people(runtime)
    owing(runtime, "A-1", "INV-1", "100.00", "2026-02-28")
    owing(runtime, "A-2", "INV-2", "50.00", "2026-04-30")
    do(runtime, "escalate_dunning", {"level": 2, "escalated_on": "2026-03-10"}, "A-1")
    do(runtime, "assign_collector", {"collector": "carol", "assigned_on": "2026-03-01"}, "A-1")
    do(runtime, "assign_collector", {"collector": "carol", "assigned_on": "2026-03-01"}, "A-3")
    do(runtime, "assign_collector", {"collector": "dave", "assigned_on": "2026-03-02"}, "A-3")
    do(runtime, "close", {"effective_on": "2026-03-01"}, "B-10")
    projected(runtime)

    assert found(runtime, status="closed") == ["B-10"]
    assert found(runtime, status="open") == ["A-2", "A-1", "A-3"]
    assert found(runtime, currency="EUR") == ["A-3"]
    assert found(runtime, has_overdue=True) == ["A-1"]
    assert found(runtime, has_overdue=False) == ["A-2", "B-10", "A-3"]
    assert found(runtime, has_overdue=True, as_of=date(2026, 2, 28)) == []  # due that very day
    assert found(runtime, has_overdue=True, as_of=date(2026, 5, 1)) == ["A-2", "A-1"]
    assert found(runtime, dunning_level=2) == ["A-1"]
    assert found(runtime, dunning_level=0) == ["A-2", "B-10", "A-3"]
    assert found(runtime, collector="carol") == ["A-1"]
    assert found(runtime, collector="dave") == ["A-3"]
    assert found(runtime, "jose", status="open") == ["A-1"]

    (row,) = search_directory(runtime.db, DirectoryQuery(TENANT, q="A-1"), today=TODAY).rows
    assert (row.currency, row.balance_minor, row.dunning_level) == ("USD", 10000, 2)
    assert (row.has_overdue, row.oldest_due_on) == (True, date(2026, 2, 28))
    assert (row.email, row.phone, row.collector) == (
        "jgarcia@example.com",
        "+1 (555) 010-0199",
        "carol",
    )

    # Paid in full: nothing is overdue any more.
    do(
        runtime,
        "receive_payment",
        {"amount": "100.00", "method": "cash", "reference": "r", "received_on": "2026-03-20"},
        "A-1",
    )
    projected(runtime)
    assert found(runtime, has_overdue=True) == []


def test_an_account_keeping_to_its_payment_plan_is_not_listed_as_overdue(
    runtime: Runtime,
) -> None:
    """The directory dates an invoice on a plan being kept by the plan's installments, as aging
    does: overdue only once an installment is missed, and by its own terms once the plan ends."""
    opened(runtime, "P-1", "Pat Plan")
    owing(runtime, "P-1", "INV-P", "100.00", "2026-01-31")
    do(
        runtime,
        "agree_payment_plan",
        {
            "plan_id": "PL-1",
            "invoice_numbers": ["INV-P"],
            "installments": [
                {"due_on": "2026-02-15", "amount": "50.00"},
                {"due_on": "2026-03-15", "amount": "50.00"},
            ],
            "agreed_on": "2026-01-20",
            "default_after_missed": 1,
        },
        "P-1",
    )
    projected(runtime)
    assert found(runtime, has_overdue=True, as_of=date(2026, 2, 10)) == []
    assert found(runtime, has_overdue=True, as_of=date(2026, 2, 16)) == ["P-1"]
    (row,) = search_directory(runtime.db, DirectoryQuery(TENANT, q="P-1"), today=TODAY).rows
    assert row.oldest_due_on == date(2026, 2, 15)

    # The first installment missed: the plan defaults and the invoice is dated by its terms.
    do(runtime, "sweep", {"as_of": "2026-02-16"}, "P-1")
    projected(runtime)
    (row,) = search_directory(runtime.db, DirectoryQuery(TENANT, q="P-1"), today=TODAY).rows
    assert row.oldest_due_on == date(2026, 1, 31)


def test_the_directory_sorts_by_name_number_or_opening_either_way(runtime: Runtime) -> None:
    people(runtime)
    opened(runtime, "C-1", "jane doe")  # the same name as A-2 once normalised: ties by number
    projected(runtime)

    assert found(runtime) == ["A-2", "C-1", "A-1", "B-10", "A-3"]
    assert found(runtime, sort="-name") == ["A-3", "B-10", "A-1", "C-1", "A-2"]
    assert found(runtime, sort="number") == ["A-1", "A-2", "A-3", "B-10", "C-1"]
    assert found(runtime, sort="-number") == ["C-1", "B-10", "A-3", "A-2", "A-1"]
    assert found(runtime, sort="opened_on") == ["A-1", "B-10", "C-1", "A-3", "A-2"]
    assert found(runtime, sort="-opened_on") == ["A-2", "A-3", "C-1", "B-10", "A-1"]
    for sort in ("name", "-name", "number", "opened_on", "-opened_on"):
        assert found(runtime, sort=sort, limit=2) == found(runtime, sort=sort), sort
    with pytest.raises(InvalidDirectoryQuery) as refused:
        found(runtime, sort="balance")
    assert refused.value.code == "unknown_sort_key"
    assert "name, number, opened_on" in str(refused.value)


# ------------------------------------------------------------------------------ paging


def test_paging_neither_repeats_nor_skips_while_new_accounts_arrive(runtime: Runtime) -> None:
    shuffled = random.Random(7)
    names = [f"{first} {last}" for first in ("Ann", "Bo", "Cy", "Di") for last in "PQRSTU"]
    shuffled.shuffle(names)
    for index, name in enumerate(names):
        opened(runtime, f"N-{index:03}", name)
    projected(runtime)
    before = set(found(runtime))

    seen: list[str] = []
    query = DirectoryQuery(TENANT, limit=5)
    page = search_directory(runtime.db, query, today=TODAY)
    arrivals = 0
    while True:
        seen += [row.account_number for row in page.rows]
        if page.next_cursor is None:
            break
        # Accounts arrive between pages, sorting before, among and after those already read.
        for name in ("Aaron A", "Cy Q2", "Zed Z"):
            opened(runtime, f"M-{arrivals:03}", name)
            arrivals += 1
        projected(runtime)
        page = search_directory(runtime.db, query, today=TODAY, cursor=page.next_cursor)

    assert len(seen) == len(set(seen)), "an account was listed twice"
    assert before <= set(seen), "an account that was there all along was skipped"
    assert seen == sorted(seen, key=lambda n: (_name_key(runtime, n), n))


def _name_key(runtime: Runtime, number: str) -> str:
    row = runtime.db.query_one(
        "SELECT name FROM account_directory WHERE tenant_id = ? AND account_number = ?",
        (TENANT, number),
    )
    assert row is not None
    return normalise(row["name"])


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        "e30",  # {}
        "eyJ2IjoxfQ",  # {"v":1}
        "W10",  # []
        "bnVsbA",  # null
        "x" * 1001,
        "",
    ],
)
def test_a_malformed_cursor_is_refused(runtime: Runtime, cursor: str) -> None:
    opened(runtime, "A-1", "Ann")
    projected(runtime)
    with pytest.raises(InvalidDirectoryQuery) as refused:
        search_directory(runtime.db, DirectoryQuery(TENANT), today=TODAY, cursor=cursor)
    assert refused.value.code == "invalid_cursor"
    assert refused.value.field == "cursor"


def test_a_cursor_of_another_listing_is_refused(runtime: Runtime) -> None:
    for index in range(3):
        opened(runtime, f"A-{index}", f"Ann {index}")
    projected(runtime)
    query = DirectoryQuery(TENANT, q="ann", limit=1)
    cursor = search_directory(runtime.db, query, today=TODAY).next_cursor
    assert cursor is not None
    for other in (
        DirectoryQuery(TENANT, q="bob", limit=1),
        DirectoryQuery(TENANT, q="ann", sort="-name", limit=1),
        DirectoryQuery(TENANT, q="ann", status="open", limit=1),
        DirectoryQuery("other", q="ann", limit=1),
        DirectoryQuery(TENANT, q="ann", as_of=date(2026, 1, 1), limit=1),
    ):
        with pytest.raises(InvalidDirectoryQuery, match=r"another listing|as of"):
            search_directory(runtime.db, other, today=TODAY, cursor=cursor)
    # The same listing with another page size, or asked on another day, reads on.
    same = DirectoryQuery(TENANT, q="ANN", limit=2)
    assert search_directory(runtime.db, same, today=date(2027, 1, 1), cursor=cursor).as_of == TODAY
    # A cursor whose position is of the wrong kind is not one either (nor reaches the database).
    by_opening = DirectoryQuery(TENANT, q="ann", sort="opened_on", limit=1)
    for listing, position in (
        (query, (1, 2)),
        (query, ("ann\x00", "A-1")),
        (query, ("ann", "A-\ud800")),
        (by_opening, ("not a date", "A-1")),
    ):
        forged = encode_cursor(listing, TODAY, position)  # type: ignore[arg-type]
        with pytest.raises(InvalidDirectoryQuery, match="is not one this listing gave"):
            search_directory(runtime.db, listing, today=TODAY, cursor=forged)


# ------------------------------------------------------------------------------ the record


def test_who_changed_which_detail_is_on_the_audit_trail_and_published(runtime: Runtime) -> None:
    opened(runtime, "A-1", "Ann")
    carol = Provenance(actor="carol", correlation_id="req-9", reason="customer called")
    address = {"line1": "1 Main St", "city": "Springfield", "region": "IL", "country": "US"}
    for command, body in [
        ("change_billing_address", {"address": address}),
        ("change_email_address", {"email": "ann@example.com"}),
        ("change_phone_number", {"phone": "555 0100"}),
        ("change_preferred_channel", {"channel": "letter"}),
        ("change_external_reference", {"reference": "MRN-1"}),
        ("change_contact_notes", {"notes": "Deaf: text first.\nThen call."}),
        ("assign_collector", {"collector": "dave", "assigned_on": "2026-01-03"}),
        ("unassign_collector", {"unassigned_on": "2026-01-04"}),
    ]:
        if "_on" not in json.dumps(body):
            body = body | {"effective_on": "2026-01-02"}
        model = command_models()[command].model_validate(body)
        runtime.app.execute(
            tenant_id=TENANT, account_number="A-1", command=model, meta=carol, idempotency_key=None
        )
    projected(runtime)

    rows = audit_trail(runtime.db, TENANT, actor="carol")
    assert [(r.event_type, r.reason) for r in rows] == [
        ("BillingAddressChanged", "customer called"),
        ("EmailAddressChanged", "customer called"),
        ("PhoneNumberChanged", "customer called"),
        ("PreferredChannelChanged", "customer called"),
        ("ExternalReferenceChanged", "customer called"),
        ("ContactNotesChanged", "customer called"),
        ("CollectorAssigned", "customer called"),
        ("CollectorUnassigned", "customer called"),
    ]
    assert json.loads(rows[1].payload) == {"email": "ann@example.com"}
    assert json.loads(rows[0].payload)["address"]["postal_code"] == ""

    app = runtime.app
    for notification in app.recorder.select_notifications(start=1, limit=100):
        event = app.mapper.to_domain_event(notification)
        record = json.loads(encode(envelope(event, tenant_id=TENANT, position=notification.id)))
        assert json_schema_errors(record) == [], record["type"]

    card = runtime.app.get_account(TENANT, "A-1")
    assert card.billing_address is not None
    assert card.billing_address.one_line() == "1 Main St, Springfield, IL, US"
    assert card.collector is None


def test_the_directory_rebuilt_from_the_events_equals_the_live_one(runtime: Runtime) -> None:
    people(runtime)
    owing(runtime, "A-1", "INV-1", "100.00", "2026-02-28")
    do(runtime, "assign_collector", {"collector": "carol", "assigned_on": "2026-03-01"}, "A-2")
    projected(runtime)
    live = runtime.db.query("SELECT * FROM account_directory ORDER BY account_id")

    projector = Projector(runtime.app, runtime.db, [AccountDirectory()])
    projector.reset()
    assert runtime.db.query("SELECT * FROM account_directory") == []
    projector.catch_up()

    assert runtime.db.query("SELECT * FROM account_directory ORDER BY account_id") == live
    assert len(live) == 5


# ------------------------------------------------------------------------------ PostgreSQL


def test_on_postgres_the_search_is_answered_by_a_trigram_index(
    postgres_runtime: Runtime,
) -> None:
    db = postgres_runtime.db
    Projector(postgres_runtime.app, db, read_models()).catch_up()  # creates the tables
    available = db.query_one("SELECT 1 AS yes FROM pg_available_extensions WHERE name = 'pg_trgm'")
    if available is None:
        pytest.fail("this PostgreSQL has no pg_trgm: the test is about the index it gives")
    index = db.query_one(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'account_directory_search'"
    )
    assert index is not None
    assert "gin_trgm_ops" in index["indexdef"]

    # A directory worth an index: 20,000 accounts (rows written as the model writes them).
    rng = random.Random(3)
    syllables = ["ka", "lo", "mi", "ne", "ra", "so", "tu", "vi", "ze", "do", "pe", "gu"]
    rows = []
    for n in range(20_000):
        name = " ".join("".join(rng.choices(syllables, k=3)).title() for _ in range(2))
        rows.append(
            row_values(
                account_id=f"id-{n}",
                tenant_id=TENANT,
                account_number=f"N-{n:06}",
                name=name,
                currency="USD",
                status="open",
                opened_on=date(2026, 1, 1),
                email=f"{name.split()[0].lower()}{n}@example.com",
                phone=f"+1 555 {n:07}",
                external_reference=None,
                preferred_channel=None,
                address=None,
                collector=None,
                dunning_level=0,
                balance_minor=0,
                oldest_due_on=None,
                last_version=1,
                last_position=1,
            )
        )
    columns = len(rows[0])
    with db.transaction() as c:
        c.executemany(
            db.sql(f"INSERT INTO account_directory VALUES ({', '.join('?' * columns)})"), rows
        )
        c.execute("ANALYZE account_directory")

    query = DirectoryQuery(TENANT, q="N-012345")
    page = search_directory(db, query, today=TODAY)
    assert [r.account_number for r in page.rows] == ["N-012345"]
    with db.transaction(commit=False) as c:
        c.execute(
            "EXPLAIN SELECT account_id FROM account_directory WHERE tenant_id = %s"
            " AND search_text LIKE %s ESCAPE '\\' ORDER BY name_key, account_number LIMIT 51",
            (TENANT, "%n-012345%"),
        )
        plan = "\n".join(row["QUERY PLAN"] for row in c.fetchall())
    assert "account_directory_search" in plan, plan

    # Where the index is not (pg_trgm could not be installed), the same query still answers.
    db.execute("DROP INDEX account_directory_search")
    assert search_directory(db, query, today=TODAY).rows == page.rows


# ------------------------------------------------------------------------------ the CLI


@pytest.fixture
def ar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("AR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("AR_TENANT", TENANT)
    monkeypatch.setenv("AR_ACTOR", "clerk-ann")
    monkeypatch.setenv("AR_LOG_LEVEL", "WARNING")
    runner = CliRunner()
    for number, name in (("A-1", "José García"), ("A-2", "Jane Doe"), ("A-3", "Bo Jones")):
        args = ["open-account", number, "--name", name, "--currency", "USD"]
        assert runner.invoke(app, [*args, "--opened-on", "2026-01-01"]).exit_code == 0
    for command, account, body in (
        ("change_email_address", "A-1", {"email": "jgarcia@example.com"}),
        ("change_phone_number", "A-1", {"phone": "+1 (555) 010-0199"}),
        ("change_external_reference", "A-2", {"reference": "MRN-42"}),
    ):
        body = body | {"effective_on": "2026-01-02"}
        result = runner.invoke(app, ["exec", command, account, json.dumps(body)])
        assert result.exit_code == 0, result.output
    return runner


def _ok(ar: CliRunner, *args: str) -> str:
    result = ar.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_ar_accounts_search_prints_a_table_and_json(ar: CliRunner) -> None:
    text = _ok(ar, "accounts", "search", "jose garcia")
    lines = text.splitlines()
    assert lines[0].split() == [
        "number", "name", "status", "currency", "balance", "overdue", "dunning", "collector",
        "email", "phone", "reference",
    ]  # fmt: skip
    assert lines[2].split() == [
        "A-1", "José", "García", "open", "USD", "0.00", "no", "0", "—", "jgarcia@example.com",
        "+1", "(555)", "010-0199", "—",
    ]  # fmt: skip
    assert len(lines) == 3

    document = json.loads(_ok(ar, "accounts", "search", "555.010.0199", "--json"))
    assert [a["account_number"] for a in document["accounts"]] == ["A-1"]
    assert document["accounts"][0]["phone"] == "+1 (555) 010-0199"
    assert document["next_cursor"] is None
    assert "no accounts found" in _ok(ar, "accounts", "search", "nobody")


def test_ar_accounts_list_pages_with_the_cursor_it_prints(ar: CliRunner) -> None:
    first = json.loads(_ok(ar, "accounts", "list", "--limit", "2", "--json"))
    assert [a["account_number"] for a in first["accounts"]] == ["A-3", "A-2"]
    text = _ok(ar, "accounts", "list", "--limit", "2")
    assert f"more: add --cursor {first['next_cursor']}" in text
    second = json.loads(
        _ok(ar, "accounts", "list", "--limit", "2", "--cursor", first["next_cursor"], "--json")
    )
    assert [a["account_number"] for a in second["accounts"]] == ["A-1"]
    by_number = json.loads(_ok(ar, "accounts", "list", "--sort", "-number", "--json"))
    assert [a["account_number"] for a in by_number["accounts"]] == ["A-3", "A-2", "A-1"]
    assert json.loads(_ok(ar, "accounts", "list", "--status", "closed", "--json"))["accounts"] == []


def test_ar_accounts_refuses_an_unknown_sort_a_bad_cursor_and_control_characters(
    ar: CliRunner,
) -> None:
    for args, said in (
        (["accounts", "list", "--sort", "balance"], "not a sort key"),
        (["accounts", "list", "--cursor", "nonsense"], "cursor"),
        (["accounts", "search", "jose\x00"], "control characters"),
    ):
        result = ar.invoke(app, args)
        assert result.exit_code == 1, result.output
        assert said in result.output


def test_ar_accounts_show_prints_the_contact_details(ar: CliRunner) -> None:
    text = _ok(ar, "accounts", "show", "A-1", "--as-of", "2026-03-31")
    assert "email               jgarcia@example.com" in text
    assert "phone               +1 (555) 010-0199" in text
    document = json.loads(_ok(ar, "accounts", "show", "A-2", "--json"))
    assert document["external_reference"] == "MRN-42"
    assert document["collector"] is None
    missing = ar.invoke(app, ["accounts", "show", "NOPE"])
    assert missing.exit_code == 1
    assert "There is no account NOPE" in missing.output
