"""A store recorded by an earlier version of the code reads the same way today.

Why this exists: stored events are history. They are never rewritten, so every later version of
the code must decode them, rebuild the same accounts and project the same read models from
them. ``domain/account.py`` was split into the package ``domain/account/``; a split that
moved an event class, renamed its topic, changed how a field is decoded or how an event
changes the account would leave a store recorded before it unreadable, or readable into
different figures, and no test that records and reads with the same code would notice.

``tests/fixtures/store_before_account_split/`` was recorded ONCE with the code of commit
fd49429, before the split (see ``tests/fixtures/record_store.py``: 341 events of 29 accounts,
5 tenants, USD/EUR/JPY, every one of the account's 49 event types, and 2 snapshots). It is
frozen: never regenerate it to make this test pass. The test loads those stored events (and
snapshots) byte for byte into a fresh store through the current recorder, in notification
order, then checks with the current code that:

- every stored topic still names an event type of the account, whose topic is that one;
- the current projector, run to the end, fills every table exactly as the recording did
  (``expected_read_models.json``; only ``EXCLUDED`` columns, written from the clock, are
  left out), and so does a projector made to load accounts from their recorded snapshots;
- each account rebuilt by the current ``Account`` (from its events alone, and from its latest
  snapshot and the events after it) has the recorded balance, customer balance, unapplied
  credit, ledger tallies, version and last event hash (``expected_accounts.json``), and the
  two rebuilds agree to the last attribute (an old snapshot holds the old state layout);
- no hash chain reads as broken or altered, and ``ar verify``'s check (rebuild every read
  model from the events alone, compare with the live tables) finds nothing.

Each test runs on embedded SQLite and on PostgreSQL (the ``runtime`` fixture; the PostgreSQL
runs are marked ``integration`` and need ``make infra-up``).

If a read model changes on purpose, this test fails on the rows it changes: review that diff,
then update ``expected_read_models.json`` to the new rows, and say why in the change.
"""

from __future__ import annotations

import base64
import json
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from domain.account import Account
from domain.hash_chain import verify_chain
from projections.catalogue import read_models
from projections.database import stored_moment
from projections.runner import Projector
from projections.verify import verify
from services.bootstrap import Runtime

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store_before_account_split"
#: The projector's own bookkeeping, dumped besides the read models' tables.
BOOKKEEPING = ("projection_tracking", "parked_accounts")
#: Columns written from the clock when a row is made, not from the events: a replay of the same
#: events writes another value, so the recording left them out (it lists them, and why).
EXCLUDED = {"parked_accounts.first_seen_at"}
#: How many differing rows a failure shows per table.
SHOWN = 5


# ------------------------------------------------------------------ the committed files


def _jsonl(name: str) -> list[dict[str, Any]]:
    text = (FIXTURE / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line]


@cache
def recorded_events() -> tuple[dict[str, Any], ...]:
    return tuple(_jsonl("events.jsonl"))


@cache
def recorded_snapshots() -> tuple[dict[str, Any], ...]:
    return tuple(_jsonl("snapshots.jsonl"))


@cache
def expected_read_models() -> dict[str, Any]:
    expected: dict[str, Any] = json.loads(
        (FIXTURE / "expected_read_models.json").read_text(encoding="utf-8")
    )
    _without_library_internals(expected["tables"].get("audit_trail"))
    return expected


def _without_library_internals(audit_trail: dict[str, Any] | None) -> None:
    """The recording's audit payloads carried the library's ``originator_topic`` on each first
    event; version 2 of the audit trail leaves it out (it is no business data), and rebuilds."""
    if audit_trail is None:
        return
    column = audit_trail["columns"].index("payload")
    for row in audit_trail["rows"]:
        payload = json.loads(row[column])
        if "originator_topic" in payload:
            del payload["originator_topic"]
            row[column] = json.dumps(payload, sort_keys=True, separators=(",", ":"))


@cache
def expected_accounts() -> dict[str, dict[str, Any]]:
    expected: dict[str, dict[str, Any]] = json.loads(
        (FIXTURE / "expected_accounts.json").read_text(encoding="utf-8")
    )
    return expected


def stored(record: dict[str, Any]) -> StoredEvent:
    """The stored event a fixture line holds, its state bytes exactly as recorded."""
    state = (
        base64.b64decode(record["state_b64"])
        if "state_b64" in record
        else record["state"].encode("utf-8")
    )
    return StoredEvent(
        originator_id=UUID(record["originator_id"]),
        originator_version=record["originator_version"],
        topic=record["topic"],
        state=state,
    )


def load_recorded_store(runtime: Runtime) -> None:
    """Write the recorded events, in notification order, and the snapshots, with the current
    recorders' own insert API; the store gives them the notification ids they had."""
    events = recorded_events()
    recorded_ids = [record["id"] for record in events]
    assert recorded_ids == list(range(1, len(events) + 1)), "the fixture's log has gaps"

    ids = runtime.app.recorder.insert_events([stored(record) for record in events])

    assert list(ids or []) == recorded_ids
    snapshots = runtime.app.snapshots
    assert snapshots is not None
    snapshots.recorder.insert_events([stored(record) for record in recorded_snapshots()])


# ------------------------------------------------------------------ the read models


def _plain(value: Any) -> Any:
    """A value as the embedded store holds it: PostgreSQL hands back dates and moments."""
    if isinstance(value, datetime):
        return stored_moment(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _row_text(values: list[Any]) -> str:
    return json.dumps(values, ensure_ascii=True)


def dump_tables(runtime: Runtime, tables: dict[str, Any]) -> dict[str, Any]:
    """Each table as the recording dumped it: its columns, and its rows (the recorded columns,
    in their order) sorted by their JSON text."""
    dumped: dict[str, Any] = {}
    for table, recorded in tables.items():
        rows = runtime.db.query(f"SELECT * FROM {table}")
        with runtime.db.transaction(commit=False) as c:
            cursor: Any = c  # both engines' cursors describe their result
            cursor.execute(f"SELECT * FROM {table} LIMIT 0")
            columns = [d[0] for d in cursor.description if f"{table}.{d[0]}" not in EXCLUDED]
        wanted = [c for c in recorded["columns"] if c in columns]
        if table == "projection_tracking":
            # A read model added since the recording has its own tracking row; it is held to
            # the end of the log by the test, not to a recording that predates it.
            recorded_models = {values[0] for values in recorded["rows"]}
            rows = [row for row in rows if row["projection"] in recorded_models]
        values = [[_plain(row[c]) for c in wanted] for row in rows]
        dumped[table] = {"columns": columns, "rows": sorted(values, key=_row_text)}
    return dumped


def _named(columns: list[str], row: list[Any]) -> str:
    return json.dumps(dict(zip(columns, row, strict=False)), ensure_ascii=True)


def differences(expected: dict[str, Any], found: dict[str, Any]) -> list[str]:
    """What differs between two dumps, table by table, in words: the columns, how many rows,
    and the first rows that differ (as column: value), at most ``SHOWN`` of each side."""
    report: list[str] = []
    for table, want in expected.items():
        have = found.get(table)
        if have is None:
            report.append(f"{table}: the table is missing")
            continue
        columns = want["columns"]
        if sorted(have["columns"]) != sorted(columns):
            report.append(
                f"{table}: columns differ: only recorded {sorted(set(columns) - set(have['columns']))},"
                f" only now {sorted(set(have['columns']) - set(columns))}"
            )
        if have["rows"] == want["rows"]:
            continue
        want_rows = [_row_text(r) for r in want["rows"]]
        have_rows = [_row_text(r) for r in have["rows"]]
        first = next(
            (i for i, (a, b) in enumerate(zip(want_rows, have_rows, strict=False)) if a != b),
            min(len(want_rows), len(have_rows)),
        )
        have_set, want_set = set(have_rows), set(want_rows)
        only_recorded = [json.loads(r) for r in want_rows if r not in have_set]
        only_now = [json.loads(r) for r in have_rows if r not in want_set]
        lines = [
            f"{table}: {len(want_rows)} rows recorded, {len(have_rows)} now; the first"
            f" difference at sorted row {first}"
        ]
        # Rows recorded and found at the same place in the sorted lists are most likely one
        # row with a changed figure: show the row, then only the columns that differ.
        for recorded, now in list(zip(only_recorded, only_now, strict=False))[:SHOWN]:
            changed = [
                f"{c}: recorded {json.dumps(a)}, now {json.dumps(b)}"
                for c, a, b in zip(columns, recorded, now, strict=False)
                if a != b
            ]
            lines.append(f"    recorded: {_named(columns, recorded)}")
            lines.append("      differs in " + "; ".join(changed))
        paired = min(len(only_recorded), len(only_now))
        for label, rows in (
            ("recorded, not found", only_recorded[paired:]),
            ("found, not recorded", only_now[paired:]),
        ):
            for row in rows[:SHOWN]:
                lines.append(f"    {label}: {_named(columns, row)}")
        more = max(len(only_recorded), len(only_now)) - SHOWN
        if more > 0:
            lines.append(f"    … and about {more} more differing rows")
        report.append("\n".join(lines))
    return report


# ------------------------------------------------------------------ the accounts


def _money(value: Any) -> str:
    return f"{value.amount} {value.currency}"


def figures(account: Account) -> dict[str, Any]:
    """The figures the recording kept of each account, as the current domain computes them."""
    return {
        "tenant_id": account.tenant_id,
        "account_number": account.account_number,
        "currency": account.currency,
        "version": account.version,
        "last_event_hash": account.last_event_hash,
        "balance": _money(account.balance),
        "customer_balance": _money(account.customer_balance),
        "unapplied_credit": _money(account.unapplied_credit),
        "ledger_totals": {k: _money(v) for k, v in sorted(account.ledger_totals().items())},
    }


def current_event_topics() -> set[str]:
    """The topic of every event class the current ``Account`` names (``Account.<Event>``),
    wherever the class is defined."""
    return {
        get_topic(value)
        for value in vars(Account).values()
        if isinstance(value, type)
        and issubclass(value, Account.Event)
        and value is not Account.Event
    }


# ------------------------------------------------------------------ the tests


def decoded_by_account(runtime: Runtime) -> dict[UUID, list[Any]]:
    """Each account's events as the current code decodes them, in version order."""
    by_account: dict[UUID, list[Any]] = {}
    for notification in runtime.app.recorder.select_notifications(start=1, limit=10_000):
        event = runtime.app.mapper.to_domain_event(notification)
        by_account.setdefault(event.originator_id, []).append(event)
    return by_account


def test_the_recorded_events_are_stored_as_recorded_and_decode_under_their_own_topics(
    runtime: Runtime,
) -> None:
    load_recorded_store(runtime)
    app = runtime.app

    notifications = app.recorder.select_notifications(start=1, limit=10_000)
    assert [
        (n.id, str(n.originator_id), n.originator_version, n.topic, bytes(n.state))
        for n in notifications
    ] == [
        (r["id"], r["originator_id"], r["originator_version"], r["topic"], stored(r).state)
        for r in recorded_events()
    ]
    stored_topics = {n.topic for n in notifications}
    assert len(stored_topics) == 49  # every event type the account had when recorded
    assert stored_topics <= current_event_topics()
    for notification in notifications:
        event = app.mapper.to_domain_event(notification)
        # The class the topic names writes new events under that same topic.
        assert get_topic(type(event)) == notification.topic, notification.id
        assert isinstance(event, Account.Event), notification.id


def test_the_current_projector_fills_every_table_as_the_recording_did(runtime: Runtime) -> None:
    load_recorded_store(runtime)
    expected_tables = expected_read_models()["tables"]
    assert set(expected_read_models()["excluded_columns"]) == EXCLUDED
    current_tables = {t for m in read_models() for t in m.table_names} | set(BOOKKEEPING)
    assert set(expected_tables) <= current_tables

    runtime.projector().catch_up()

    report = differences(expected_tables, dump_tables(runtime, expected_tables))
    assert not report, "The replayed read models differ from the recorded ones:\n" + "\n".join(
        report
    )
    # Every read model, including any added since the recording, has read the whole log.
    tracked = {
        row["projection"]: row["notification_id"]
        for row in runtime.db.query("SELECT projection, notification_id FROM projection_tracking")
    }
    assert {m.name: tracked.get(m.name) for m in read_models()} == {
        m.name: len(recorded_events()) for m in read_models()
    }


def test_a_projector_that_loads_each_account_from_its_snapshot_fills_the_same_rows(
    runtime: Runtime,
) -> None:
    """With room for one account in memory, the projector loads an account at almost every
    event, from its latest snapshot and the events after it: the recorded snapshots are read
    into the same rows as the events alone."""
    load_recorded_store(runtime)
    expected_tables = expected_read_models()["tables"]

    Projector(runtime.app, runtime.db, read_models(), cache_accounts=1).catch_up()

    report = differences(expected_tables, dump_tables(runtime, expected_tables))
    assert not report, "Projected through snapshots, the read models differ:\n" + "\n".join(report)


def test_the_current_account_rebuilds_every_account_to_its_recorded_figures(
    runtime: Runtime,
) -> None:
    load_recorded_store(runtime)
    expected = expected_accounts()
    by_account = decoded_by_account(runtime)
    assert {str(account_id) for account_id in by_account} == set(expected)
    assert recorded_snapshots(), "the fixture holds snapshots"

    for account_id, events in by_account.items():
        replayed: Any = None
        for event in events:
            replayed = event.mutate(replayed)
        assert isinstance(replayed, Account)
        assert figures(replayed) == expected[str(account_id)], f"{account_id} from its events"
        # From its latest snapshot, if it has one, and the events after it: the same account,
        # to the last attribute (an old snapshot holds the state as it was laid out then).
        loaded: Any = runtime.app.repository.get(account_id)
        assert isinstance(loaded, Account)
        assert figures(loaded) == expected[str(account_id)], f"{account_id} from the repository"
        assert vars(loaded) == vars(replayed), f"{account_id} from the repository"


def test_no_recorded_event_reads_as_altered_and_verify_finds_nothing(runtime: Runtime) -> None:
    load_recorded_store(runtime)

    for account_id, events in decoded_by_account(runtime).items():
        assert verify_chain(events) == [], account_id
    # What `ar verify` does: bring the read models up to date, rebuild each from the events
    # alone (snapshots not trusted) and compare, and walk every account's chain.
    verification = verify(runtime.app, runtime.db)

    assert [
        f"{d.table} {d.account} {d.key} {d.figure}: {d.found}" for d in verification.discrepancies
    ] == []
    assert (verification.events, verification.accounts) == (
        len(recorded_events()),
        len(expected_accounts()),
    )


def test_the_comparison_names_a_changed_figure_and_a_missing_row() -> None:
    """The check above is not vacuous: one changed figure, one lost row are reported."""
    tables = expected_read_models()["tables"]
    balances = tables["account_balances"]
    changed = json.loads(json.dumps(tables))
    row = changed["account_balances"]["rows"][0]
    figure = balances["columns"].index("paid_minor")
    row[figure] += 1
    del changed["ledger_lines"]["rows"][-1]

    report = differences(tables, changed)

    assert len(report) == 2
    accounts, lines = len(balances["rows"]), len(tables["ledger_lines"]["rows"])
    assert report[0].startswith(f"account_balances: {accounts} rows recorded, {accounts} now")
    recorded = balances["rows"][0][figure]
    assert f"differs in paid_minor: recorded {recorded}, now {recorded + 1}" in report[0]
    assert report[1].startswith(f"ledger_lines: {lines} rows recorded, {lines - 1} now")
    assert differences(tables, json.loads(json.dumps(tables))) == []
