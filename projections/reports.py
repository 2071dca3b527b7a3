"""Reports over the read models: aging, trial balance, statement of account.

Every report takes ``as_of`` (a business date: movements effective on or before it count) and
``known_at`` (a recording time: only what was recorded by then counts), so "aging as of 31
March as we knew it on 5 April" gives the same figures whatever was back-dated afterwards.
Amounts come back as integer minor units with their currency; callers format them.

Aging invariants: the buckets of a row always add up to its open total (there is an explicit
"not yet due" bucket); unapplied credit is reported beside the buckets, never netted into
them; a term's open amount is what the waterfall leaves of it (``domain.open_items.waterfall``)
and its bucket is the one ``domain.aging`` assigns. As known now, the summed report is one
grouped scan of its own read model (``open_item_aging``: each term's open amount over runs of
dates, computed by the domain's code; ``_aged_terms_known_now``), bucketed by the database
(``_bucket_sums``). As known at an earlier moment, and line by line, the SQL here restates
both rules over the dated tables (``_open_terms``, ``_waterfall_open``). The property tests
``tests/service/test_aging_sql_matches_domain.py`` and ``test_aging_read_model.py`` hold both
equal to the domain's code.

The aging is read a page at a time (:func:`aging_page`): its rows in (account number, currency)
order after the cursor's row (keyset paging, ``projections.cursors``), with the totals of the
whole report, every page's rows, on every page.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from domain.aging import (
    DEFAULT_LIMITS,
    bucket_index,
    bucket_labels,
    check_basis,
    check_limits,
    days_past_due,
)
from domain.plans import CASH_KINDS
from projections.cursors import decode_cursor, encode_cursor, fingerprint
from projections.database import Database, stored_moment
from projections.ledger import LEDGER_ACCOUNTS, UNAPPLIED_CREDIT

#: Known at "the end of time": everything recorded counts.
ALWAYS = "9999-12-31T23:59:59+00:00"


def known_at_text(known_at: datetime | None) -> str:
    """A recording time as the tables store it (ISO 8601, UTC)."""
    return ALWAYS if known_at is None else stored_moment(known_at)


def check_aging_options(buckets: Sequence[int], basis: str) -> None:
    """``domain.aging.InvalidBuckets`` for bad limits; ValueError for a basis not in BASES."""
    check_limits(buckets)
    check_basis(basis)


def _waterfall_open(reduced: str, before: str, amount: str) -> str:
    """SQL for what the waterfall leaves open of a term (``domain.open_items.waterfall``):
    the item's reductions ``reduced`` fill its terms earliest first, so a term of ``amount``
    after earlier terms summing to ``before`` has ``clamp(reduced - before, 0, amount)``
    taken off it."""
    return (
        f"{amount} - CASE"
        f"  WHEN {reduced} <= {before} THEN 0"
        f"  WHEN {reduced} >= {before} + {amount} THEN {amount}"
        f"  ELSE {reduced} - {before} END"
    )


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


@dataclass(frozen=True)
class AgingLine:
    """One open term: why it is in its bucket."""

    account_number: str
    item_number: str
    term_index: int
    currency: str
    issued_on: date
    due_on: date
    days_past_due: int
    open_minor: int
    bucket: str
    disputed: bool
    #: The payment plan whose installment ``term_index`` ages this amount (None: the item's
    #: own term ``term_index``).
    plan_id: str | None = None


@dataclass
class AgingRow:
    account_number: str
    currency: str
    buckets: dict[str, int]
    unapplied_credit_minor: int = 0
    disputed_minor: int = 0
    lines: list[AgingLine] = field(default_factory=list)

    @property
    def open_minor(self) -> int:
        return sum(self.buckets.values())


def _least(a: str, b: str) -> str:
    return f"(CASE WHEN {a} <= {b} THEN {a} ELSE {b} END)"


def _greatest(a: str, b: str) -> str:
    return f"(CASE WHEN {a} >= {b} THEN {a} ELSE {b} END)"


def _clamp(value: str, high: str) -> str:
    """SQL for ``value`` kept between 0 and ``high``."""
    return f"(CASE WHEN {value} < 0 THEN 0 WHEN {value} > {high} THEN {high} ELSE {value} END)"


#: Movement kinds that are the customer's cash (``domain.plans.CASH_KINDS``).
_CASH = "('" + "', '".join(sorted(CASH_KINDS)) + "')"


def _open_terms(
    tenant_id: str, as_of: date, known_at: datetime | None, account_number: str | None
) -> tuple[str, list[Any]]:
    """SQL for every term issued by the date with what is open on it (``open_minor``), the
    date it is aged by and whether a dispute was open on its item, under the cut.

    Restates ``domain.account.queries.aged_terms``: an item on a payment plan in force as of
    the date (``governed``) is aged by the plan's installments — each installment's
    outstanding as ``domain.plans.installment_progress`` gives it from the cash and the
    reductions since its schedule took effect (``installments``), the plan's invoices' open
    amounts, in the plan's order, filling them earliest first, the last installment taking
    any rest (``shares``); every other item by its own terms (the waterfall)."""
    known = known_at_text(known_at)
    day = as_of.isoformat()
    only_account = " AND i.account_number = ?" if account_number else ""
    params: list[Any] = [tenant_id, day, known]  # the movements counted
    params += [day, known, day, known]  # the disputes open
    params += [tenant_id, day, known] + ([account_number] if account_number else [])  # the items
    params += [tenant_id, day, known, day, known, known]  # the plans in force
    params += [day, known]  # their schedules in force
    params += [day, known]  # the movements since each schedule
    open_item = "CASE WHEN i.total_minor - i.reduced_minor > 0 THEN i.total_minor - i.reduced_minor ELSE 0 END"
    reduced = _clamp("pr.cut_minor", "pr.base_minor")
    paid = _clamp("pr.cash_minor", f"(pr.base_minor - {reduced})")
    left = f"(pr.base_minor - {reduced})"
    outstanding = _greatest(
        "0",
        f"{_least('t.before_minor + t.amount_minor', left)} - {_greatest('t.before_minor', paid)}",
    )
    share_end = "s.before_minor + s.open_minor"
    room_end = (
        f"CASE WHEN n.installment_index = n.last_index THEN {share_end}"
        " ELSE n.room_before + n.outstanding_minor END"
    )
    low = _greatest("s.before_minor", "n.room_before")
    high = _least(share_end, room_end)
    return (
        "WITH reduced AS ("
        " SELECT account_id, item_number, SUM(amount_minor) AS reduced_minor"
        " FROM open_item_movements WHERE tenant_id = ? AND effective_on <= ? AND recorded_at <= ?"
        " GROUP BY account_id, item_number),"
        " items AS ("
        " SELECT i.account_id, i.account_number, i.item_number, i.currency, i.issued_on,"
        " i.total_minor, COALESCE(r.reduced_minor, 0) AS reduced_minor,"
        " EXISTS (SELECT 1 FROM open_item_disputes d WHERE d.account_id = i.account_id"
        "  AND d.item_number = i.item_number AND d.opened_on <= ? AND d.opened_recorded_at <= ?"
        "  AND NOT (d.resolved_on IS NOT NULL AND d.resolved_on <= ? AND d.resolved_recorded_at <= ?))"
        "  AS disputed"
        " FROM open_items i"
        " LEFT JOIN reduced r ON r.account_id = i.account_id AND r.item_number = i.item_number"
        " WHERE i.tenant_id = ? AND i.issued_on <= ? AND i.recorded_at <= ?" + only_account + "),"
        " in_force AS ("
        " SELECT p.account_id, p.plan_id, p.item_number, p.seq, p.position FROM open_item_plans p"
        " WHERE p.tenant_id = ? AND p.agreed_on <= ? AND p.recorded_at <= ?"
        " AND p.account_id IN (SELECT account_id FROM items)"
        " AND NOT EXISTS (SELECT 1 FROM open_item_plan_ends e WHERE e.account_id = p.account_id"
        "  AND e.plan_id = p.plan_id AND e.ended_on <= ? AND e.recorded_at <= ?"
        "  AND (e.reopened_at IS NULL OR e.reopened_at > ?))),"
        " governed AS ("
        " SELECT f.account_id, f.plan_id, f.item_number, f.seq FROM in_force f"
        " WHERE NOT EXISTS (SELECT 1 FROM in_force g WHERE g.account_id = f.account_id"
        "  AND g.item_number = f.item_number AND g.position > f.position)),"
        " schedules AS ("
        " SELECT s.account_id, s.plan_id, MAX(s.position) AS position FROM open_item_plan_terms s"
        " WHERE s.effective_on <= ? AND s.recorded_at <= ?"
        " AND EXISTS (SELECT 1 FROM governed g WHERE g.account_id = s.account_id"
        "  AND g.plan_id = s.plan_id)"
        " GROUP BY s.account_id, s.plan_id),"
        " progress AS ("
        " SELECT s.account_id, s.plan_id, s.position,"
        f" COALESCE(SUM(CASE WHEN m.kind IN {_CASH} THEN m.amount_minor ELSE 0 END), 0)"
        " AS cash_minor,"
        f" COALESCE(SUM(CASE WHEN m.kind NOT IN {_CASH} THEN m.amount_minor ELSE 0 END), 0)"
        " AS cut_minor"
        " FROM schedules s"
        " JOIN open_item_plans p ON p.account_id = s.account_id AND p.plan_id = s.plan_id"
        " LEFT JOIN open_item_movements m ON m.account_id = p.account_id"
        "  AND m.item_number = p.item_number AND m.position > s.position"
        "  AND m.effective_on <= ? AND m.recorded_at <= ? AND m.kind <> 'void'"
        " GROUP BY s.account_id, s.plan_id, s.position),"
        " outstanding AS ("
        " SELECT t.account_id, t.plan_id, t.installment_index, t.due_on,"
        f" {outstanding} AS outstanding_minor"
        " FROM (SELECT pr.*, MIN(t0.base_minor) AS base_minor FROM progress pr"
        "  JOIN open_item_plan_terms t0 ON t0.account_id = pr.account_id"
        "  AND t0.plan_id = pr.plan_id AND t0.position = pr.position"
        "  GROUP BY pr.account_id, pr.plan_id, pr.position, pr.cash_minor, pr.cut_minor) pr"
        " JOIN open_item_plan_terms t ON t.account_id = pr.account_id"
        "  AND t.plan_id = pr.plan_id AND t.position = pr.position),"
        " installments AS ("
        " SELECT o.account_id, o.plan_id, o.installment_index, o.due_on, o.outstanding_minor,"
        " CAST(SUM(o.outstanding_minor) OVER (PARTITION BY o.account_id, o.plan_id"
        "  ORDER BY o.installment_index) AS BIGINT) - o.outstanding_minor AS room_before,"
        " MAX(o.installment_index) OVER (PARTITION BY o.account_id, o.plan_id) AS last_index"
        " FROM outstanding o),"
        " shares AS ("
        " SELECT g.account_id, g.plan_id, g.item_number, "
        f" {open_item} AS open_minor,"
        f" CAST(SUM({open_item}) OVER (PARTITION BY g.account_id, g.plan_id ORDER BY g.seq)"
        f" AS BIGINT) - ({open_item}) AS before_minor"
        " FROM governed g JOIN items i ON i.account_id = g.account_id"
        "  AND i.item_number = g.item_number)"
        " SELECT i.account_id, i.account_number, i.item_number, i.currency, i.issued_on,"
        " t.term_index, t.due_on,"
        f" {_waterfall_open('i.reduced_minor', 't.before_minor', 't.amount_minor')}"
        " AS open_minor, i.disputed, CAST(NULL AS TEXT) AS plan_id"
        " FROM items i"
        " JOIN open_item_terms t ON t.account_id = i.account_id AND t.item_number = i.item_number"
        " WHERE NOT EXISTS (SELECT 1 FROM governed g WHERE g.account_id = i.account_id"
        "  AND g.item_number = i.item_number)"
        " UNION ALL"
        " SELECT i.account_id, i.account_number, i.item_number, i.currency, i.issued_on,"
        f" n.installment_index, n.due_on, {high} - {low} AS open_minor, i.disputed, s.plan_id"
        " FROM shares s"
        " JOIN installments n ON n.account_id = s.account_id AND n.plan_id = s.plan_id"
        " JOIN items i ON i.account_id = s.account_id AND i.item_number = s.item_number"
        f" WHERE {high} > {low}",
        params,
    )


def aging_lines(
    db: Database,
    tenant_id: str,
    as_of: date,
    *,
    known_at: datetime | None = None,
    basis: str = "due",
    buckets: Sequence[int] = DEFAULT_LIMITS,
    account_number: str | None = None,
) -> list[AgingLine]:
    """Every term with something open as of the date, with its bucket."""
    check_aging_options(buckets, basis)
    sql, params = _open_terms(tenant_id, as_of, known_at, account_number)
    rows = db.query(sql, params)
    labels = bucket_labels(buckets)
    lines = []
    for row in rows:
        open_minor = int(row["open_minor"])
        if open_minor == 0:
            continue
        issued_on, due_on = _as_date(row["issued_on"]), _as_date(row["due_on"])
        days = days_past_due(as_of, due_on, issued_on, basis)
        lines.append(
            AgingLine(
                account_number=row["account_number"],
                item_number=row["item_number"],
                term_index=int(row["term_index"]),
                currency=row["currency"],
                issued_on=issued_on,
                due_on=due_on,
                days_past_due=days,
                open_minor=open_minor,
                bucket=labels[bucket_index(days, buckets)],
                disputed=bool(row["disputed"]),
                plan_id=row["plan_id"],
            )
        )
    lines.sort(
        key=lambda line: (
            line.account_number,
            line.due_on,
            line.item_number,
            line.plan_id or "",
            line.term_index,
        )
    )
    return lines


def aging(
    db: Database,
    tenant_id: str,
    as_of: date,
    *,
    known_at: datetime | None = None,
    basis: str = "due",
    buckets: Sequence[int] = DEFAULT_LIMITS,
    account_number: str | None = None,
    detail: bool = True,
) -> list[AgingRow]:
    """The aging report: one row per account with anything open or any credit.

    With ``detail`` each row carries its lines (why each term is where it is); without, the
    buckets are summed by the database and rows come back without lines, which is what a
    report over many accounts wants."""
    labels = bucket_labels(buckets)
    rows: dict[tuple[str, str], AgingRow] = {}
    if not detail:
        terms = (
            _aged_terms_known_now(tenant_id, as_of, account_number)
            if known_at is None
            else _open_terms(tenant_id, as_of, known_at, account_number)
        )
        for account, currency, sums, disputed in _bucket_sums(db, as_of, basis, buckets, terms):
            rows[(account, currency)] = AgingRow(
                account, currency, dict(zip(labels, sums, strict=True)), disputed_minor=disputed
            )
    for line in (
        ()
        if not detail
        else aging_lines(
            db,
            tenant_id,
            as_of,
            known_at=known_at,
            basis=basis,
            buckets=buckets,
            account_number=account_number,
        )
    ):
        row = rows.setdefault(
            (line.account_number, line.currency),
            AgingRow(line.account_number, line.currency, dict.fromkeys(labels, 0)),
        )
        row.buckets[line.bucket] += line.open_minor
        row.disputed_minor += line.open_minor if line.disputed else 0
        row.lines.append(line)
    credits = (
        _credit_known_now(db, tenant_id, as_of, account_number)
        if known_at is None
        else _unapplied_credit(db, tenant_id, as_of, known_at, account_number)
    )
    for account, currency, credit in credits:
        row = rows.setdefault(
            (account, currency), AgingRow(account, currency, dict.fromkeys(labels, 0))
        )
        row.unapplied_credit_minor = credit
    return [rows[key] for key in sorted(rows)]


#: The account number of a currency's total row.
TOTAL = "TOTAL"


def aging_totals(rows: Sequence[AgingRow]) -> list[AgingRow]:
    """One :data:`TOTAL` row per currency, in currency order: each bucket, the unapplied credit
    and the disputed amount of ``rows`` added up (without lines). Amounts of different
    currencies are never added together."""
    totals: dict[str, AgingRow] = {}
    for row in rows:
        total = totals.setdefault(
            row.currency, AgingRow(TOTAL, row.currency, dict.fromkeys(row.buckets, 0))
        )
        for label, amount in row.buckets.items():
            total.buckets[label] += amount
        total.unapplied_credit_minor += row.unapplied_credit_minor
        total.disputed_minor += row.disputed_minor
    return [totals[currency] for currency in sorted(totals)]


#: The report an aging cursor names (``projections.cursors``).
AGING_REPORT = "aging"


@dataclass(frozen=True)
class AgingQuery:
    """What a page of the aging asks for (see :func:`aging`)."""

    tenant_id: str
    as_of: date
    known_at: datetime | None = None
    basis: str = "due"
    buckets: tuple[int, ...] = DEFAULT_LIMITS
    account_number: str | None = None
    detail: bool = False

    def fingerprint(self) -> str:
        """What makes two requests pages of one aging (not the page size)."""
        return fingerprint(
            self.tenant_id,
            self.as_of,
            known_at_text(self.known_at),
            self.basis,
            list(self.buckets),
            self.account_number,
            self.detail,
        )


@dataclass(frozen=True)
class AgingPage:
    #: This page's rows, in (account number, currency) order.
    rows: list[AgingRow]
    #: One :data:`TOTAL` row per currency over the whole report, not only this page.
    totals: list[AgingRow]
    #: Pass as ``cursor`` for the next page; None on the last page.
    next_cursor: str | None


def aging_page(db: Database, query: AgingQuery, *, limit: int, cursor: str | None) -> AgingPage:
    """At most ``limit`` rows of the aging after the cursor's row, and the whole report's totals.

    The whole report is read to total it, so a page costs what the report does; what paging
    bounds is the answer. Raises ``projections.cursors.InvalidCursor`` for a cursor that is not
    one of this query's."""
    listing = query.fingerprint()
    after = None if cursor is None else decode_cursor(AGING_REPORT, listing, cursor, (str, str))
    report = aging(
        db,
        query.tenant_id,
        query.as_of,
        known_at=query.known_at,
        basis=query.basis,
        buckets=query.buckets,
        account_number=query.account_number,
        detail=query.detail,
    )
    following = [r for r in report if after is None or (r.account_number, r.currency) > after]
    page = following[: max(1, limit)]
    last = page[-1] if page else None
    more = len(following) > len(page)
    return AgingPage(
        rows=page,
        totals=aging_totals(report),
        next_cursor=(
            encode_cursor(AGING_REPORT, listing, (last.account_number, last.currency))
            if more and last is not None
            else None
        ),
    )


def _aged_terms_known_now(
    tenant_id: str, as_of: date, account_number: str | None
) -> tuple[str, list[Any]]:
    """SQL for every term open as of the date, as known now: the rows of the report's own
    read model (``projections.open_items``, ``open_item_aging``) whose run of dates holds it."""
    only_account = " AND account_number = ?" if account_number else ""
    day = as_of.isoformat()
    return (
        "SELECT account_number, currency, due_on, issued_on, disputed <> 0 AS disputed,"
        " open_minor FROM open_item_aging"
        " WHERE tenant_id = ? AND valid_to > ? AND valid_from <= ?" + only_account,
        [tenant_id, day, day] + ([account_number] if account_number else []),
    )


def _credit_known_now(
    db: Database, tenant_id: str, as_of: date, account_number: str | None
) -> list[tuple[str, str, int]]:
    """Each account's unapplied credit as of the date, as known now: the sum of the changes
    to it dated by then (``open_item_credit``)."""
    only_account = " AND account_number = ?" if account_number else ""
    rows = db.query(
        "SELECT account_number, currency, CAST(SUM(credit_minor) AS BIGINT) AS credit_minor"
        " FROM open_item_credit WHERE tenant_id = ? AND effective_on <= ?"
        + only_account
        + " GROUP BY account_number, currency",
        [tenant_id, as_of.isoformat()] + ([account_number] if account_number else []),
    )
    return [
        (r["account_number"], r["currency"], int(r["credit_minor"]))
        for r in rows
        if int(r["credit_minor"])
    ]


def _bucket_sums(
    db: Database,
    as_of: date,
    basis: str,
    buckets: Sequence[int],
    terms: tuple[str, list[Any]],
) -> list[tuple[str, str, list[int], int]]:
    """Per account and currency: the open amount in each bucket, and how much is disputed, of
    the terms ``terms`` selects (SQL and parameters giving ``account_number``, ``currency``,
    ``due_on``, ``issued_on``, ``disputed`` and ``open_minor``).

    A term is in bucket (low..high days past its date) when its date lies between
    ``as_of - high`` and ``as_of - low``: the days become dates here, so the same SQL ages on
    both engines."""
    check_aging_options(buckets, basis)
    aged = "due_on" if basis == "due" else "issued_on"
    # Near year 1 a limit would fall before the first date: nothing is older than it anyway.
    oldest = date.min.toordinal()
    limits = [as_of.isoformat()] + [
        date.fromordinal(max(oldest, as_of.toordinal() - high)).isoformat() for high in buckets
    ]
    # not yet due: date >= as_of; then each bucket: its lower date limit <= date < the last one
    cases = ["SUM(CASE WHEN t." + aged + " >= ? THEN open_minor ELSE 0 END)"]
    params: list[Any] = [limits[0]]
    for upper, lower in itertools.pairwise(limits):
        cases.append(f"SUM(CASE WHEN t.{aged} < ? AND t.{aged} >= ? THEN open_minor ELSE 0 END)")
        params += [upper, lower]
    cases.append(f"SUM(CASE WHEN t.{aged} < ? THEN open_minor ELSE 0 END)")
    params.append(limits[-1])
    terms_sql, term_params = terms
    # Cast: PostgreSQL sums BIGINT as NUMERIC, which would arrive as Decimal, row by row.
    sums = ", ".join(f"CAST({case} AS BIGINT) AS bucket_{n}" for n, case in enumerate(cases))
    rows = db.query(
        f"SELECT account_number, currency, {sums},"
        " CAST(SUM(CASE WHEN disputed THEN open_minor ELSE 0 END) AS BIGINT) AS disputed_minor"
        f" FROM ({terms_sql}) t WHERE open_minor <> 0 GROUP BY account_number, currency",
        [*params, *term_params],
    )
    return [
        (
            row["account_number"],
            row["currency"],
            [int(row[f"bucket_{n}"]) for n in range(len(cases))],
            int(row["disputed_minor"]),
        )
        for row in rows
    ]


def _unapplied_credit(
    db: Database, tenant_id: str, as_of: date, known_at: datetime | None, account_number: str | None
) -> list[tuple[str, str, int]]:
    only_account = " AND b.account_number = ?" if account_number else ""
    params: list[Any] = [UNAPPLIED_CREDIT, UNAPPLIED_CREDIT, tenant_id, as_of.isoformat()]
    params += [known_at_text(known_at)] + ([account_number] if account_number else [])
    rows = db.query(
        "SELECT b.account_number, l.currency, SUM(CASE WHEN l.credit_account = ? THEN l.amount_minor"
        " WHEN l.debit_account = ? THEN -l.amount_minor ELSE 0 END) AS credit_minor"
        " FROM ledger_lines l JOIN account_balances b ON b.account_id = l.account_id"
        " WHERE l.tenant_id = ? AND l.effective_on <= ? AND l.recorded_at <= ?"
        + only_account
        + " GROUP BY b.account_number, l.currency",
        params,
    )
    return [
        (r["account_number"], r["currency"], int(r["credit_minor"]))
        for r in rows
        if int(r["credit_minor"])
    ]


def trial_balance(
    db: Database, tenant_id: str, as_of: date, *, known_at: datetime | None = None
) -> dict[str, dict[str, int]]:
    """Per currency, each ledger account's balance (debits − credits) as of the date; each
    currency's balances sum to zero."""
    params = [tenant_id, as_of.isoformat(), known_at_text(known_at)]
    rows = db.query(
        "SELECT currency, ledger_account, SUM(amount) AS balance FROM ("
        " SELECT currency, debit_account AS ledger_account, amount_minor AS amount"
        "  FROM ledger_lines WHERE tenant_id = ? AND effective_on <= ? AND recorded_at <= ?"
        " UNION ALL"
        " SELECT currency, credit_account, -amount_minor"
        "  FROM ledger_lines WHERE tenant_id = ? AND effective_on <= ? AND recorded_at <= ?"
        ") lines GROUP BY currency, ledger_account",
        params + params,
    )
    result: dict[str, dict[str, int]] = {}
    for row in rows:
        by_account = result.setdefault(row["currency"], dict.fromkeys(LEDGER_ACCOUNTS, 0))
        by_account[row["ledger_account"]] = int(row["balance"])
    return result


@dataclass
class Statement:
    account_number: str
    currency: str
    period_from: date
    period_to: date
    opening_minor: int
    movements: list[dict[str, Any]]
    closing_minor: int


def statement(
    db: Database,
    tenant_id: str,
    account_number: str,
    period_from: date,
    period_to: date,
    *,
    known_at: datetime | None = None,
) -> Statement | None:
    """Opening balance, every movement of the period, closing balance (what the customer
    owes: receivables less unapplied credit)."""
    account = db.query_one(
        "SELECT account_id, currency FROM account_balances WHERE tenant_id = ? AND account_number = ?",
        (tenant_id, account_number),
    )
    if account is None:
        return None
    known = known_at_text(known_at)
    # What the customer owes is receivables less the credit held for them: a line's effect
    # is its debit to either, less its credit to either (a move between the two is nil).
    owed = "('receivables', 'unapplied_credit')"
    effect = (
        f"(CASE WHEN debit_account IN {owed} THEN amount_minor ELSE 0 END)"
        f" - (CASE WHEN credit_account IN {owed} THEN amount_minor ELSE 0 END)"
    )
    opening = db.query_one(
        f"SELECT COALESCE(SUM({effect}), 0) AS total FROM ledger_lines"
        " WHERE account_id = ? AND effective_on < ? AND recorded_at <= ?",
        (account["account_id"], period_from.isoformat(), known),
    )
    rows = db.query(
        f"SELECT effective_on, event_type, category, reference, SUM({effect}) AS amount_minor,"
        " position FROM ledger_lines WHERE account_id = ? AND effective_on >= ?"
        " AND effective_on <= ? AND recorded_at <= ?"
        " GROUP BY position, effective_on, event_type, category, reference"
        " ORDER BY effective_on, position",
        (account["account_id"], period_from.isoformat(), period_to.isoformat(), known),
    )
    movements = [
        {
            "effective_on": _as_date(r["effective_on"]),
            "event_type": r["event_type"],
            "category": r["category"],
            "reference": r["reference"],
            "amount_minor": int(r["amount_minor"]),
            "position": int(r["position"]),
        }
        for r in rows
        if int(r["amount_minor"])
    ]
    opening_minor = int(opening["total"]) if opening else 0
    return Statement(
        account_number=account_number,
        currency=account["currency"],
        period_from=period_from,
        period_to=period_to,
        opening_minor=opening_minor,
        movements=movements,
        closing_minor=opening_minor + sum(m["amount_minor"] for m in movements),
    )
