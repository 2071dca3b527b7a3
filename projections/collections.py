"""Collections: the history a coordinator's worklist is read from, and the worklist itself.

Tables (``{t}`` is empty for the live model); rows are only ever inserted, one per event, so
what was known at a moment is the rows recorded by then:

- ``collection_contacts``: every collection activity (call, letter, email, sms, visit) with its
  business date, channel and outcome.
- ``collection_status_changes``: every change of a promise to pay, a payment plan or one of a
  plan's installments: ``subject_kind`` (``promise``, ``plan``, ``installment``), the subject's
  id (the promise id, or the plan id for a plan and its installments), ``installment`` (the
  installment's index, 0 first, for installment rows) and ``status``:

  - promise: its status after the change — ``open`` (made, or re-opened when the payment that
    kept it was reversed), ``kept``, ``broken``; ``amount_minor`` is the amount promised and
    ``due_on`` the date promised (pay by).
  - plan: ``agreed`` and ``changed`` (a schedule took effect: ``amount_minor`` is its base and
    every installment starts unpaid and unmissed), ``reopened`` (active again), and how it
    ended: ``defaulted``, ``completed``, ``credited``, ``written_off``.
  - installment: ``paid`` (``amount_minor`` paid), ``missed`` (a sweep found ``amount_minor``
    still outstanding after its due date), ``reopened`` (the payment that paid it was
    reversed); ``due_on`` is the installment's due date.
- ``collection_dunning``: every change of the dunning level: an escalation (the level
  escalated to) or a reset once the account was brought current (level 0).
- ``collection_assignments``: every assignment of the account to a collector, and every end
  of one (``collector`` NULL). Kept here, not read from the directory's table: each read model
  is rebuilt on its own, so another model's table may be at another place in the log.
- ``collection_installments``: each installment (index, due date, amount) of every schedule a
  plan was agreed or changed to, under the position of the event that set it.

A page of the worklist (:func:`worklist_page`) is filtered by collector (as of the date),
dunning level and currency, sorted by a total key ending with the account, and paged by an
opaque keyset cursor tied to the listing (``projections.cursors``; refused with
``invalid_cursor`` otherwise); each row carries its next-action date (:func:`next_action_on`)
and its latest activities and promises.

The worklist (:func:`worklist`) lists the accounts with something overdue and undisputed as of
a business date, as known at a moment (``effective_on <= as_of`` and ``recorded_at <=
known_at`` everywhere, as in :mod:`projections.reports`):

- *overdue*: the open amount of its terms past their due date (``days_past_due > 0`` in
  :func:`projections.reports.aging_lines`). Terms of a disputed invoice are left out of the
  overdue amount and the priority and shown apart as ``disputed_minor``; an account whose only
  overdue terms are disputed is not on the worklist. What a payment plan being kept covers is
  aged by the plan's installments, not the invoice's terms (``aging_lines`` restates
  ``domain.account.queries.aged_terms``): an account whose only overdue amounts are covered by
  a kept plan with no installment past due is not on the worklist; once an installment is
  missed it is, by the installment's outstanding and the days since its due date; once the
  plan defaults or ends, by the invoice's own terms again.
- *priority*: the sum over the account's undisputed overdue terms of open amount (in major
  units: dollars, not cents) × days past due — "amount-days" — highest first; ties go to the
  oldest days past due, then the account number. $100 thirty days late (3,000) comes before
  $50 fifty-nine days late (2,950). Amounts in different currencies are never compared: rows
  are grouped by currency, each group in priority order.
- *last contact*: the latest activity by business date (the later recorded of one day).
- *open promise*: a promise whose latest change says ``open``; with several, the one due
  first. It stays open after its date until a sweep records it broken.
- *plan status*: ``missed`` (active, with an installment of its latest schedule missed and
  not paid since), ``current`` (active otherwise) or ``defaulted``. Completed, credited and
  written-off plans are not shown. With several plans the gravest is shown (defaulted, then
  missed, then current).
- *dunning level*: the level after the latest change by the date (0: none, or reset).

A subject's status as of D known at T is what its changes effective by D and recorded by T make
of it, taken in the order they were recorded — the order the domain applied them, so a plan's
status as of the end of time is the domain's own.

Amounts are integer minor units with their currency; the priority is an exact ``Decimal``.
The account's name is its current name (names are not kept as of a date).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Final

from domain.account import Account
from domain.dunning import DunningPolicy
from domain.money import from_minor_units, to_minor_units
from projections import cursors
from projections.cursors import (
    InvalidCursor,
    decode_cursor,
    encode_cursor,
    fingerprint,
    finite_decimal,
)
from projections.database import Database
from projections.open_items import moment
from projections.replay import Change
from projections.reports import aging_lines, known_at_text
from projections.runner import ReadModel

PROMISE = "promise"
PLAN = "plan"
INSTALLMENT = "installment"

#: Plan statuses on the worklist, gravest last.
CURRENT = "current"
MISSED = "missed"
DEFAULTED = "defaulted"
_GRAVITY = {CURRENT: 0, MISSED: 1, DEFAULTED: 2}

#: Plan rows that start a fresh schedule (nothing paid nor missed yet).
_SCHEDULE_STARTS = frozenset({"agreed", "changed"})
_ACTIVE_AGAIN = "reopened"
#: Plan rows after which the plan is active; after any other it has ended.
_ACTIVE = _SCHEDULE_STARTS | {_ACTIVE_AGAIN}

_PROMISE_EVENTS = (
    Account.PromiseToPayMade,
    Account.PromiseToPayKept,
    Account.PromiseToPayReopened,
    Account.PromiseToPayBroken,
)
_PLAN_EVENTS: dict[type[Account.Event], str | None] = {
    Account.PaymentPlanAgreed: "agreed",
    Account.PaymentPlanChanged: "changed",
    Account.PaymentPlanReopened: _ACTIVE_AGAIN,
    # How a plan ended is its status as the domain left it.
    Account.PaymentPlanDefaulted: None,
    Account.PaymentPlanCompleted: None,
    Account.PaymentPlanClosed: None,
}


class Collections(ReadModel):
    name: ClassVar[str] = "collections"
    # 2: collection_assignments and collection_installments.
    version: ClassVar[int] = 2
    table_names: ClassVar[list[str]] = [
        "collection_contacts",
        "collection_status_changes",
        "collection_dunning",
        "collection_assignments",
        "collection_installments",
    ]
    tables: ClassVar[list[str]] = [
        "CREATE TABLE IF NOT EXISTS {t}collection_contacts ("
        " position {bigint} PRIMARY KEY,"
        " account_id TEXT NOT NULL,"
        " tenant_id TEXT NOT NULL,"
        " activity_id TEXT NOT NULL,"
        " channel TEXT NOT NULL,"
        " outcome TEXT NOT NULL,"
        " effective_on {date} NOT NULL,"
        " recorded_at {timestamp} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS {t}collection_contacts_by_tenant"
        " ON {t}collection_contacts (tenant_id, effective_on)",
        "CREATE TABLE IF NOT EXISTS {t}collection_status_changes ("
        " position {bigint} PRIMARY KEY,"
        " account_id TEXT NOT NULL,"
        " tenant_id TEXT NOT NULL,"
        " subject_kind TEXT NOT NULL,"
        " subject_id TEXT NOT NULL,"
        " installment INTEGER,"
        " status TEXT NOT NULL,"
        " amount_minor {money},"
        " due_on {date},"
        " effective_on {date} NOT NULL,"
        " recorded_at {timestamp} NOT NULL,"
        " event_type TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS {t}collection_status_changes_by_tenant"
        " ON {t}collection_status_changes (tenant_id, effective_on)",
        "CREATE TABLE IF NOT EXISTS {t}collection_dunning ("
        " position {bigint} PRIMARY KEY,"
        " account_id TEXT NOT NULL,"
        " tenant_id TEXT NOT NULL,"
        " level INTEGER NOT NULL,"
        " effective_on {date} NOT NULL,"
        " recorded_at {timestamp} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS {t}collection_dunning_by_tenant"
        " ON {t}collection_dunning (tenant_id, effective_on)",
        "CREATE TABLE IF NOT EXISTS {t}collection_assignments ("
        " position {bigint} PRIMARY KEY,"
        " account_id TEXT NOT NULL,"
        " tenant_id TEXT NOT NULL,"
        " collector TEXT,"
        " effective_on {date} NOT NULL,"
        " recorded_at {timestamp} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS {t}collection_assignments_by_tenant"
        " ON {t}collection_assignments (tenant_id, effective_on)",
        "CREATE TABLE IF NOT EXISTS {t}collection_installments ("
        " position {bigint} NOT NULL,"
        " installment INTEGER NOT NULL,"
        " account_id TEXT NOT NULL,"
        " tenant_id TEXT NOT NULL,"
        " plan_id TEXT NOT NULL,"
        " due_on {date} NOT NULL,"
        " amount_minor {money} NOT NULL,"
        " effective_on {date} NOT NULL,"
        " recorded_at {timestamp} NOT NULL,"
        " PRIMARY KEY (position, installment))",
        "CREATE INDEX IF NOT EXISTS {t}collection_installments_by_tenant"
        " ON {t}collection_installments (tenant_id, effective_on)",
    ]

    def handle(self, change: Change) -> None:
        event = change.event
        account: Account = change.account
        if isinstance(event, Account.CollectionActivityRecorded):
            self.write(
                f"INSERT INTO {self.t('collection_contacts')} (position, account_id,"
                " tenant_id, activity_id, channel, outcome, effective_on, recorded_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    change.position,
                    change.account_id,
                    account.tenant_id,
                    event.activity_id,
                    event.channel,
                    event.outcome,
                    event.effective_on.isoformat(),
                    moment(change),
                ),
            )
        elif isinstance(event, (Account.DunningEscalated, Account.DunningReset)):
            self.write(
                f"INSERT INTO {self.t('collection_dunning')} (position, account_id, tenant_id,"
                " level, effective_on, recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    change.position,
                    change.account_id,
                    account.tenant_id,
                    account.dunning_level,  # the level escalated to, or 0 after a reset
                    event.effective_on.isoformat(),
                    moment(change),
                ),
            )
        elif isinstance(event, (Account.CollectorAssigned, Account.CollectorUnassigned)):
            self.write(
                f"INSERT INTO {self.t('collection_assignments')} (position, account_id,"
                " tenant_id, collector, effective_on, recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    change.position,
                    change.account_id,
                    account.tenant_id,
                    event.collector if isinstance(event, Account.CollectorAssigned) else None,
                    event.effective_on.isoformat(),
                    moment(change),
                ),
            )
        else:
            status = _status_change(event, account)
            if status is not None:
                self._insert_status(change, *status)
                if status[3] in _SCHEDULE_STARTS:
                    self._insert_schedule(change, account.plans[status[1]].schedule)

    def _insert_schedule(self, change: Change, schedule: Any) -> None:
        for index, term in enumerate(schedule.installments):
            self.write(
                f"INSERT INTO {self.t('collection_installments')} (position, installment,"
                " account_id, tenant_id, plan_id, due_on, amount_minor, effective_on,"
                " recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    change.position,
                    index,
                    change.account_id,
                    change.account.tenant_id,
                    change.event.plan_id,
                    term.due_on.isoformat(),
                    to_minor_units(term.amount),
                    change.event.effective_on.isoformat(),
                    moment(change),
                ),
            )

    def _insert_status(
        self,
        change: Change,
        kind: str,
        subject_id: str,
        installment: int | None,
        status: str,
        amount_minor: int | None,
        due_on: date | None,
    ) -> None:
        self.write(
            f"INSERT INTO {self.t('collection_status_changes')} (position, account_id,"
            " tenant_id, subject_kind, subject_id, installment, status, amount_minor, due_on,"
            " effective_on, recorded_at, event_type) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                change.position,
                change.account_id,
                change.account.tenant_id,
                kind,
                subject_id,
                installment,
                status,
                amount_minor,
                None if due_on is None else due_on.isoformat(),
                change.event.effective_on.isoformat(),
                moment(change),
                change.event_type,
            ),
        )


_StatusRow = tuple[str, str, int | None, str, int | None, date | None]


def _status_change(event: Any, account: Account) -> _StatusRow | None:
    """(kind, subject id, installment, status, amount, due on) of a promise or plan event."""
    if isinstance(event, _PROMISE_EVENTS):
        promise = account.promises[event.promise_id]
        return (
            PROMISE,
            promise.promise_id,
            None,
            promise.status,
            to_minor_units(promise.amount),
            promise.pay_by,
        )
    if type(event) in _PLAN_EVENTS:
        plan = account.plans[event.plan_id]
        status = _PLAN_EVENTS[type(event)] or plan.status
        base = to_minor_units(plan.schedule.base) if status in _SCHEDULE_STARTS else None
        return (PLAN, plan.plan_id, None, status, base, None)
    if isinstance(event, Account.PlanInstallmentPaid):
        return (
            INSTALLMENT,
            event.plan_id,
            event.index,
            "paid",
            to_minor_units(event.amount),
            event.due_on,
        )
    if isinstance(event, Account.PlanInstallmentMissed):
        outstanding = to_minor_units(event.outstanding)
        return (INSTALLMENT, event.plan_id, event.index, "missed", outstanding, event.due_on)
    if isinstance(event, Account.PlanInstallmentReopened):
        term = account.plans[event.plan_id].schedule.installments[event.index]
        return (INSTALLMENT, event.plan_id, event.index, "reopened", None, term.due_on)
    return None


# ------------------------------------------------------------------------------ the worklist

#: The collector filter that asks for the accounts assigned to no collector.
UNASSIGNED: Final = "unassigned"
#: How many activities and promises each row's history shows, latest first.
HISTORY_SIZE: Final = 5
MAX_LIMIT: Final = 200
DEFAULT_SORT: Final = "priority"
ACTIVITY: Final = "activity"

#: The stable codes of what a worklist query is refused for.
UNKNOWN_SORT_KEY: Final = "unknown_sort_key"
INVALID_CURSOR: Final = cursors.INVALID_CURSOR


class InvalidWorklistQuery(ValueError):
    """A worklist query the read model cannot answer: an unknown sort key, a cursor that is not
    one of this listing's. ``code`` is stable; ``str()`` is a sentence."""

    def __init__(self, code: str, message: str, field: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


@dataclass(frozen=True)
class HistoryItem:
    """One collection activity, or one promise to pay with its status as of the date."""

    #: ``activity`` or ``promise``.
    kind: str
    #: The activity's date, or the date the promise was made.
    on: date
    #: The activity id or the promise id.
    id: str
    channel: str | None = None
    outcome: str | None = None
    amount_minor: int | None = None
    pay_by: date | None = None
    #: A promise's status: open, kept or broken.
    status: str | None = None


@dataclass(frozen=True)
class WorklistRow:
    """One account to chase, with why it is where it is."""

    account_number: str
    name: str
    currency: str
    #: Open on undisputed terms past their due date.
    overdue_minor: int
    oldest_days_past_due: int
    #: Σ open (major units) × days past due over the undisputed overdue terms.
    priority: Decimal
    #: Open on disputed terms past their due date (not in the overdue amount nor the priority).
    disputed_minor: int
    dunning_level: int = 0
    last_contact_on: date | None = None
    last_contact_channel: str | None = None
    last_contact_outcome: str | None = None
    promise_id: str | None = None
    promise_minor: int | None = None
    promise_pay_by: date | None = None
    plan_id: str | None = None
    #: current, missed, defaulted, or None when the account has no such plan.
    plan_status: str | None = None
    #: The collector the account is assigned to as of the date; None: unassigned.
    collector: str | None = None
    #: When the row next asks for something (see :func:`next_action_on`).
    next_action_on: date | None = None
    #: The latest activities and promises, latest first (:func:`worklist_page` fills it).
    history: tuple[HistoryItem, ...] = ()
    #: The account's stream id: how the row is found again, not part of what it says.
    account_id: str = field(default="", compare=False, repr=False)


@dataclass
class _Overdue:
    overdue_minor: int = 0
    oldest_days: int = 0
    minor_days: int = 0
    disputed_minor: int = 0


@dataclass
class _Plan:
    status: str
    #: The position of the schedule in force (the latest agreed or changed row).
    start: int = 0
    missed: set[int] = field(default_factory=set)
    paid: set[int] = field(default_factory=set)

    @property
    def on_worklist(self) -> str | None:
        if self.status == DEFAULTED:
            return DEFAULTED
        if self.status not in _ACTIVE:
            return None  # completed, credited or written off
        return MISSED if self.missed - self.paid else CURRENT


def next_action_on(
    as_of: date,
    *,
    promise_pay_by: date | None,
    installment_due_on: date | None,
    oldest_days_past_due: int,
    dunning_level: int,
    policy: DunningPolicy | None,
) -> date:
    """When a worklist row next asks for something: the earliest of the open promise's pay-by
    date, the due date of the plan's next unpaid installment, and the date the next dunning
    level would be reached (its days past due counted from the oldest undisputed overdue term,
    under ``policy``); never before ``as_of``, and ``as_of`` when there is none of them — an
    overdue account with nothing pending needs action now."""
    candidates = [d for d in (promise_pay_by, installment_due_on) if d is not None]
    step = None if policy is None else policy.next_after(dunning_level)
    if step is not None:
        candidates.append(as_of + timedelta(days=step.days_past_due - oldest_days_past_due))
    return max(as_of, min(candidates)) if candidates else as_of


def worklist(
    db: Database,
    tenant_id: str,
    as_of: date,
    *,
    known_at: datetime | None = None,
    currency: str | None = None,
    collector: str | None = None,
    level: int | None = None,
    policy: DunningPolicy | None = None,
) -> list[WorklistRow]:
    """The accounts to chase as of the date, as known at the moment: by currency, then by
    priority (see the module docstring). ``collector`` keeps the accounts assigned to it as of
    the date (:data:`UNASSIGNED`: to none), ``level`` those at that dunning level; ``policy``
    is the tenant's dunning policy in force on the date, for the next-action date."""
    overdue: dict[tuple[str, str], _Overdue] = {}
    for line in aging_lines(db, tenant_id, as_of, known_at=known_at):
        if line.days_past_due <= 0 or (currency is not None and line.currency != currency):
            continue
        figures = overdue.setdefault((line.account_number, line.currency), _Overdue())
        if line.disputed:
            figures.disputed_minor += line.open_minor
            continue
        figures.overdue_minor += line.open_minor
        figures.oldest_days = max(figures.oldest_days, line.days_past_due)
        figures.minor_days += line.open_minor * line.days_past_due
    chased = {key: figures for key, figures in overdue.items() if figures.overdue_minor > 0}
    if not chased:
        return []
    accounts = {
        r["account_number"]: (r["account_id"], r["name"])
        for r in db.query(
            "SELECT account_id, account_number, name FROM account_balances WHERE tenant_id = ?",
            (tenant_id,),
        )
    }
    window = (tenant_id, as_of.isoformat(), known_at_text(known_at))
    contacts = _last_contacts(db, window)
    levels = _dunning_levels(db, window)
    collectors = _collectors(db, window)
    promises, plans, installments = _statuses(db, window)
    rows = []
    for (number, row_currency), figures in chased.items():
        if number not in accounts:
            # Balances are being rebuilt and have not reached this account yet.
            continue
        account_id, name = accounts[number]
        assigned = collectors.get(account_id)
        if collector is not None and assigned != (None if collector == UNASSIGNED else collector):
            continue
        dunning_level = levels.get(account_id, 0)
        if level is not None and dunning_level != level:
            continue
        contact = contacts.get(account_id, {})
        promise = promises.get(account_id)
        plan = plans.get(account_id)
        rows.append(
            WorklistRow(
                account_number=number,
                name=name,
                currency=row_currency,
                overdue_minor=figures.overdue_minor,
                oldest_days_past_due=figures.oldest_days,
                priority=from_minor_units(figures.minor_days, row_currency),
                disputed_minor=figures.disputed_minor,
                dunning_level=dunning_level,
                last_contact_on=contact.get("effective_on"),
                last_contact_channel=contact.get("channel"),
                last_contact_outcome=contact.get("outcome"),
                promise_id=promise[0] if promise else None,
                promise_minor=promise[1] if promise else None,
                promise_pay_by=promise[2] if promise else None,
                plan_id=plan[0] if plan else None,
                plan_status=plan[1] if plan else None,
                collector=assigned,
                next_action_on=next_action_on(
                    as_of,
                    promise_pay_by=promise[2] if promise else None,
                    installment_due_on=installments.get(account_id),
                    oldest_days_past_due=figures.oldest_days,
                    dunning_level=dunning_level,
                    policy=policy,
                ),
                account_id=account_id,
            )
        )
    rows.sort(key=SORTS[DEFAULT_SORT][0])
    return rows


# --------------------------------------------------------------------- a page of the worklist

_Key = tuple[Any, ...]


def _by_priority(r: WorklistRow) -> _Key:
    return (r.currency, -r.priority, -r.oldest_days_past_due, r.account_number)


def _by_next_action(r: WorklistRow) -> _Key:
    return (r.next_action_on, r.currency, -r.priority, -r.oldest_days_past_due, r.account_number)


def _by_account(r: WorklistRow) -> _Key:
    return (r.account_number, r.currency)


#: Sort keys clients name → the row's key (total: it ends with the account) and how each part
#: of a cursor's key is read back.
SORTS: Final[dict[str, tuple[Callable[[WorklistRow], _Key], tuple[Callable[[Any], Any], ...]]]] = {
    "priority": (_by_priority, (str, finite_decimal, int, str)),
    "next_action": (_by_next_action, (date.fromisoformat, str, finite_decimal, int, str)),
    "account": (_by_account, (str, str)),
}

#: The report a worklist cursor names (``projections.cursors``).
WORKLIST_REPORT: Final = "worklist"


@dataclass(frozen=True)
class WorklistQuery:
    """What a page of the worklist asks for (see :func:`worklist`)."""

    tenant_id: str
    as_of: date
    known_at: datetime | None = None
    currency: str | None = None
    collector: str | None = None
    level: int | None = None
    sort: str = DEFAULT_SORT
    #: At most :data:`MAX_LIMIT`; None: every row (the CLI's default, as before paging).
    limit: int | None = 50

    def fingerprint(self) -> str:
        """What makes two requests pages of one listing (not the page size)."""
        return fingerprint(
            self.tenant_id,
            self.as_of,
            known_at_text(self.known_at),
            self.currency,
            self.collector,
            self.level,
            self.sort,
        )


@dataclass(frozen=True)
class WorklistPage:
    rows: list[WorklistRow]
    #: Pass as ``cursor`` for the next page; None on the last page.
    next_cursor: str | None


def _sort_of(sort: str) -> tuple[Callable[[WorklistRow], _Key], tuple[Callable[[Any], Any], ...]]:
    found = SORTS.get(sort)
    if found is None:
        raise InvalidWorklistQuery(
            UNKNOWN_SORT_KEY,
            f"{sort!r} is not a sort key of the worklist; sort by {', '.join(SORTS)}.",
            "sort",
        )
    return found


def _decode_cursor(query: WorklistQuery, cursor: str) -> _Key:
    """The position after which the page starts, from a cursor of this listing."""
    readers = _sort_of(query.sort)[1]
    try:
        return decode_cursor(WORKLIST_REPORT, query.fingerprint(), cursor, readers)
    except InvalidCursor as refused:
        raise InvalidWorklistQuery(INVALID_CURSOR, str(refused), refused.field) from None


def worklist_page(
    db: Database,
    query: WorklistQuery,
    *,
    policy: DunningPolicy | None = None,
    cursor: str | None = None,
    history: int = HISTORY_SIZE,
) -> WorklistPage:
    """One page of the worklist in the query's sort, after the cursor's row (keyset: a row is
    never shown twice, and none is skipped while the listing's rows stay put), each row with
    its history: its latest ``history`` activities and promises."""
    key_of = _sort_of(query.sort)[0]
    after = None if cursor is None else _decode_cursor(query, cursor)
    rows = sorted(
        worklist(
            db,
            query.tenant_id,
            query.as_of,
            known_at=query.known_at,
            currency=query.currency,
            collector=query.collector,
            level=query.level,
            policy=policy,
        ),
        key=key_of,
    )
    if after is not None:
        rows = [row for row in rows if key_of(row) > after]
    limit = len(rows) if query.limit is None else max(1, min(query.limit, MAX_LIMIT))
    page, more = rows[:limit], len(rows) > limit
    window = (query.tenant_id, query.as_of.isoformat(), known_at_text(query.known_at))
    histories = _histories(db, window, [row.account_id for row in page], history)
    return WorklistPage(
        rows=[replace(row, history=histories.get(row.account_id, ())) for row in page],
        next_cursor=(
            encode_cursor(WORKLIST_REPORT, query.fingerprint(), key_of(page[-1]))
            if more and page
            else None
        ),
    )


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


_VISIBLE = "tenant_id = ? AND effective_on <= ? AND recorded_at <= ?"


def _last_contacts(db: Database, window: tuple[str, str, str]) -> dict[str, dict[str, Any]]:
    rows = db.query(
        "SELECT account_id, effective_on, channel, outcome FROM ("
        " SELECT account_id, effective_on, channel, outcome, ROW_NUMBER() OVER ("
        "  PARTITION BY account_id ORDER BY effective_on DESC, position DESC) AS latest"
        f" FROM collection_contacts WHERE {_VISIBLE}) contacts WHERE latest = 1",
        window,
    )
    return {
        r["account_id"]: {
            "effective_on": _as_date(r["effective_on"]),
            "channel": r["channel"],
            "outcome": r["outcome"],
        }
        for r in rows
    }


def _dunning_levels(db: Database, window: tuple[str, str, str]) -> dict[str, int]:
    # The latest change by the date: a reset (level 0) follows the escalations it ends.
    rows = db.query(
        "SELECT account_id, level FROM ("
        " SELECT account_id, level, ROW_NUMBER() OVER ("
        "  PARTITION BY account_id ORDER BY effective_on DESC, position DESC) AS latest"
        f" FROM collection_dunning WHERE {_VISIBLE}) levels WHERE latest = 1",
        window,
    )
    return {r["account_id"]: int(r["level"]) for r in rows}


def _collectors(db: Database, window: tuple[str, str, str]) -> dict[str, str | None]:
    # The latest assignment by the date: an unassignment (NULL) follows what it ends.
    rows = db.query(
        "SELECT account_id, collector FROM ("
        " SELECT account_id, collector, ROW_NUMBER() OVER ("
        "  PARTITION BY account_id ORDER BY effective_on DESC, position DESC) AS latest"
        f" FROM collection_assignments WHERE {_VISIBLE}) assigned WHERE latest = 1",
        window,
    )
    return {r["account_id"]: r["collector"] for r in rows}


def _statuses(
    db: Database, window: tuple[str, str, str]
) -> tuple[dict[str, tuple[str, int, date]], dict[str, tuple[str, str]], dict[str, date]]:
    """Per account, its open promise due first (id, amount, pay by), its gravest plan
    (id, status), and the earliest due date of an unpaid installment of an active plan's
    schedule in force, from the changes visible in ``window`` taken in recording order."""
    promises: dict[tuple[str, str], dict[str, Any]] = {}
    plans: dict[tuple[str, str], _Plan] = {}
    for r in db.query(
        "SELECT position, account_id, subject_kind, subject_id, installment, status,"
        " amount_minor, due_on"
        f" FROM collection_status_changes WHERE {_VISIBLE} ORDER BY position",
        window,
    ):
        key = (r["account_id"], r["subject_id"])
        if r["subject_kind"] == PROMISE:
            promises[key] = r
        elif r["subject_kind"] == PLAN:
            if r["status"] in _SCHEDULE_STARTS or key not in plans:
                plans[key] = _Plan(r["status"], start=int(r["position"]))
            else:
                plans[key].status = r["status"]
        elif key in plans:  # an installment of a plan agreed by the date
            index = int(r["installment"])
            if r["status"] == "paid":
                plans[key].paid.add(index)
            elif r["status"] == "missed":
                plans[key].missed.add(index)
            else:
                plans[key].paid.discard(index)
    open_promises: dict[str, tuple[str, int, date]] = {}
    for (account_id, promise_id), r in sorted(promises.items()):
        if r["status"] != "open":
            continue
        candidate = (promise_id, int(r["amount_minor"]), _as_date(r["due_on"]))
        held = open_promises.get(account_id)
        if held is None or candidate[2] < held[2]:
            open_promises[account_id] = candidate
    gravest: dict[str, tuple[str, str]] = {}
    for (account_id, plan_id), plan in plans.items():  # in the order the plans were agreed
        status = plan.on_worklist
        if status is None:
            continue
        held_plan = gravest.get(account_id)
        if held_plan is None or _GRAVITY[status] >= _GRAVITY[held_plan[1]]:
            gravest[account_id] = (plan_id, status)
    next_due: dict[str, date] = {}
    for r in db.query(
        "SELECT position, installment, account_id, plan_id, due_on"
        f" FROM collection_installments WHERE {_VISIBLE}",
        window,
    ):
        active = plans.get((r["account_id"], r["plan_id"]))
        if (
            active is None
            or active.status not in _ACTIVE
            or int(r["position"]) != active.start
            or int(r["installment"]) in active.paid
        ):
            continue
        due_on = _as_date(r["due_on"])
        held_due = next_due.get(r["account_id"])
        if held_due is None or due_on < held_due:
            next_due[r["account_id"]] = due_on
    return open_promises, gravest, next_due


def _histories(
    db: Database, window: tuple[str, str, str], account_ids: list[str], size: int
) -> dict[str, tuple[HistoryItem, ...]]:
    """Per account, its latest ``size`` activities and promises (a promise by the date it was
    made, with its status as of the window), latest first."""
    if not account_ids or size <= 0:
        return {}
    among = f"account_id IN ({', '.join('?' for _ in account_ids)})"
    parameters = (*window, *account_ids)
    found: dict[str, list[tuple[date, int, HistoryItem]]] = {}
    for r in db.query(
        "SELECT position, account_id, activity_id, channel, outcome, effective_on"
        f" FROM collection_contacts WHERE {_VISIBLE} AND {among}",
        parameters,
    ):
        on = _as_date(r["effective_on"])
        item = HistoryItem(
            ACTIVITY, on, r["activity_id"], channel=r["channel"], outcome=r["outcome"]
        )
        found.setdefault(r["account_id"], []).append((on, int(r["position"]), item))
    promises: dict[tuple[str, str], tuple[date, int, dict[str, Any]]] = {}
    for r in db.query(
        "SELECT position, account_id, subject_id, status, amount_minor, due_on, effective_on"
        f" FROM collection_status_changes WHERE {_VISIBLE} AND {among}"
        f" AND subject_kind = '{PROMISE}' ORDER BY position",
        parameters,
    ):
        key = (r["account_id"], r["subject_id"])
        made = promises.get(key)
        # The first change is the promise being made: its date places the promise.
        promises[key] = (
            (_as_date(r["effective_on"]), int(r["position"]), r)
            if made is None
            else (made[0], made[1], r)
        )
    for (account_id, promise_id), (made_on, position, r) in promises.items():
        item = HistoryItem(
            PROMISE,
            made_on,
            promise_id,
            amount_minor=int(r["amount_minor"]),
            pay_by=_as_date(r["due_on"]),
            status=r["status"],
        )
        found.setdefault(account_id, []).append((made_on, position, item))
    return {
        account_id: tuple(item for _, _, item in sorted(items, reverse=True, key=_placed)[:size])
        for account_id, items in found.items()
    }


def _placed(entry: tuple[date, int, HistoryItem]) -> tuple[date, int]:
    return entry[0], entry[1]
