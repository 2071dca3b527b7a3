"""Open items: every invoice, note and patient share, its terms, and each dated movement.

Tables (``{t}`` is empty for the live model):

- ``open_items``: one row per item (invoice, debit note, patient share, reversal debit) with
  its kind, issue date, total and when it was recorded.
- ``open_item_terms``: its installment terms in due order: due date, amount, and
  ``before_minor`` — the sum of the earlier terms — so the waterfall (what reduces an item
  fills its earliest terms first) is plain arithmetic in SQL.
- ``open_item_movements``: everything that changed what is outstanding, one row per
  movement, with its business date (``effective_on``), its recording time and the event that
  caused it: ``amount_minor`` > 0 reduces (payment, credit note, discount, write-off, void),
  < 0 re-opens (reversal, recovery).
- ``open_item_disputes``: when each dispute on an item was opened and resolved.
- ``open_item_plans``: each payment plan's invoices, in the plan's order (``seq``), with the
  date the plan was agreed and the event that agreed it (``position``, ``recorded_at``).
- ``open_item_plan_terms``: every schedule a plan had (the one agreed, each change), one row
  per installment: the schedule's ``effective_on``, ``base_minor`` and event ``position``
  (movements of a later position count towards it), the installment's ``due_on``,
  ``amount_minor`` and ``before_minor`` (the sum of the earlier installments).
- ``open_item_plan_ends``: each time a plan ended (defaulted, completed, credited, written
  off) with its business date, and when a reversal re-opened it (``reopened_at``).

The plan tables let the aging SQL restate ``domain.account.queries.aged_terms``: while a plan
is in force as of D (agreed by D, no end dated by D that was not re-opened), its invoices are
aged by the installments of its schedule in force on D, not by their own terms.

Invariant: an item's outstanding as of D, known at T, is its total less the movements with
``effective_on <= D`` recorded by T; a term's outstanding is what the waterfall leaves of it.
Each term row also carries the sum of all its item's movements so far (``reduced_minor``) and
how many disputes are open on its item (``disputes_open``): the figures as of the latest date,
as known now.
A voided item has one movement of its whole total, dated the void, so it owes nothing from
then on and still shows what it owed before.

The aging's own tables, shaped for the report so that aging every account as of any date, as
known now, is one grouped scan:

- ``open_item_aging``: what is open on each term as of each date, one row per term and run of
  dates (``valid_from`` inclusive to ``valid_to`` exclusive; :data:`OPEN_ENDED` when nothing has
  ended it) over which the term's open amount, the date it is aged by and whether it was
  disputed stay the same. A term is an item's own term (``plan_id`` empty) or its part of a
  plan's installment, as ``domain.account.queries.aged_terms`` ages it: the rows are that
  function's answers, computed by the domain's own code on the replayed account, never
  restated. Only open amounts have rows (``open_minor > 0``), so the rows as of a date are the
  report's terms: ``valid_from <= D < valid_to``.
- ``open_item_credit``: how each event changed the account's unapplied credit, on its business
  date (what the ledger's ``unapplied_credit`` lines record); the credit as of D is their sum
  up to D.

An event changes the answers of the items it touched alone (its new items, those it moved,
voided or disputed; under a payment plan, every invoice the plan ages with them): their rows are
recomputed whole from the account as the batch leaves it, so they are a function of the
account's events alone, whichever batches those came in. As known at an earlier moment the
report reads the dated tables above.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any, ClassVar

from domain.account import Account
from domain.account.queries import disputed_as_of
from domain.money import to_minor_units
from projections.database import Cursor, Database, stored_moment
from projections.replay import Change
from projections.runner import ReadModel

#: The ``valid_to`` of a run that nothing has ended yet.
OPEN_ENDED = date.max

#: Events that change how a payment plan's invoices are aged.
_PLAN_EVENTS = (
    Account.PaymentPlanAgreed,
    Account.PaymentPlanChanged,
    Account.PaymentPlanDefaulted,
    Account.PaymentPlanCompleted,
    Account.PaymentPlanClosed,
    Account.PaymentPlanReopened,
)


def moment(change: Change) -> str:
    """The event's recording time as the tables store it."""
    return stored_moment(change.recorded_at)


class OpenItems(ReadModel):
    name: ClassVar[str] = "open_items"
    version: ClassVar[int] = 4
    table_names: ClassVar[list[str]] = [
        "open_items",
        "open_item_terms",
        "open_item_movements",
        "open_item_disputes",
        "open_item_plans",
        "open_item_plan_terms",
        "open_item_plan_ends",
        "open_item_aging",
        "open_item_credit",
    ]
    tables: ClassVar[list[str]] = [
        "CREATE TABLE IF NOT EXISTS {t}open_items ("
        " account_id TEXT NOT NULL,"
        " item_number TEXT NOT NULL,"
        " tenant_id TEXT NOT NULL,"
        " account_number TEXT NOT NULL,"
        " currency TEXT NOT NULL,"
        " kind TEXT NOT NULL,"
        " issued_on {date} NOT NULL,"
        " total_minor {money} NOT NULL,"
        " plan_id TEXT,"
        " claim_id TEXT,"
        " recorded_at {timestamp} NOT NULL,"
        " position {bigint} NOT NULL,"
        " PRIMARY KEY (account_id, item_number))",
        "CREATE INDEX IF NOT EXISTS {t}open_items_by_tenant ON {t}open_items (tenant_id, issued_on)",
        "CREATE TABLE IF NOT EXISTS {t}open_item_terms ("
        " account_id TEXT NOT NULL,"
        " item_number TEXT NOT NULL,"
        " term_index INTEGER NOT NULL,"
        " tenant_id TEXT NOT NULL,"
        " due_on {date} NOT NULL,"
        " amount_minor {money} NOT NULL CHECK (amount_minor >= 0),"
        " before_minor {money} NOT NULL CHECK (before_minor >= 0),"
        " account_number TEXT NOT NULL,"
        " currency TEXT NOT NULL,"
        " issued_on {date} NOT NULL,"
        " reduced_minor {money} NOT NULL DEFAULT 0,"
        " disputes_open INTEGER NOT NULL DEFAULT 0,"
        " PRIMARY KEY (account_id, item_number, term_index))",
        "CREATE INDEX IF NOT EXISTS {t}open_item_terms_by_tenant"
        " ON {t}open_item_terms (tenant_id, account_number)",
        "CREATE TABLE IF NOT EXISTS {t}open_item_movements ("
        " position {bigint} NOT NULL,"
        " line INTEGER NOT NULL,"
        " account_id TEXT NOT NULL,"
        " item_number TEXT NOT NULL,"
        " tenant_id TEXT NOT NULL,"
        " kind TEXT NOT NULL,"
        " effective_on {date} NOT NULL,"
        " amount_minor {money} NOT NULL,"
        " reference TEXT NOT NULL,"
        " event_type TEXT NOT NULL,"
        " recorded_at {timestamp} NOT NULL,"
        " PRIMARY KEY (position, line))",
        "CREATE INDEX IF NOT EXISTS {t}open_item_movements_by_item"
        " ON {t}open_item_movements (account_id, item_number, effective_on)",
        "CREATE INDEX IF NOT EXISTS {t}open_item_movements_by_tenant"
        " ON {t}open_item_movements (tenant_id, effective_on)",
        "CREATE TABLE IF NOT EXISTS {t}open_item_disputes ("
        " account_id TEXT NOT NULL,"
        " dispute_id TEXT NOT NULL,"
        " tenant_id TEXT NOT NULL,"
        " item_number TEXT NOT NULL,"
        " opened_on {date} NOT NULL,"
        " opened_recorded_at {timestamp} NOT NULL,"
        " resolved_on {date},"
        " resolved_recorded_at {timestamp},"
        " PRIMARY KEY (account_id, dispute_id))",
        "CREATE INDEX IF NOT EXISTS {t}open_item_disputes_by_tenant"
        " ON {t}open_item_disputes (tenant_id)",
        "CREATE TABLE IF NOT EXISTS {t}open_item_plans ("
        " account_id TEXT NOT NULL,"
        " plan_id TEXT NOT NULL,"
        " item_number TEXT NOT NULL,"
        " tenant_id TEXT NOT NULL,"
        " seq INTEGER NOT NULL,"
        " agreed_on {date} NOT NULL,"
        " position {bigint} NOT NULL,"
        " recorded_at {timestamp} NOT NULL,"
        " PRIMARY KEY (account_id, plan_id, item_number))",
        "CREATE INDEX IF NOT EXISTS {t}open_item_plans_by_tenant"
        " ON {t}open_item_plans (tenant_id, agreed_on)",
        "CREATE TABLE IF NOT EXISTS {t}open_item_plan_terms ("
        " account_id TEXT NOT NULL,"
        " plan_id TEXT NOT NULL,"
        " position {bigint} NOT NULL,"
        " installment_index INTEGER NOT NULL,"
        " tenant_id TEXT NOT NULL,"
        " effective_on {date} NOT NULL,"
        " recorded_at {timestamp} NOT NULL,"
        " base_minor {money} NOT NULL,"
        " due_on {date} NOT NULL,"
        " amount_minor {money} NOT NULL,"
        " before_minor {money} NOT NULL,"
        " PRIMARY KEY (account_id, plan_id, position, installment_index))",
        "CREATE TABLE IF NOT EXISTS {t}open_item_plan_ends ("
        " account_id TEXT NOT NULL,"
        " plan_id TEXT NOT NULL,"
        " position {bigint} NOT NULL,"
        " tenant_id TEXT NOT NULL,"
        " status TEXT NOT NULL,"
        " ended_on {date} NOT NULL,"
        " recorded_at {timestamp} NOT NULL,"
        " reopened_at {timestamp},"
        " PRIMARY KEY (account_id, plan_id, position))",
        "CREATE TABLE IF NOT EXISTS {t}open_item_aging ("
        " account_id TEXT NOT NULL,"
        " item_number TEXT NOT NULL,"
        " plan_id TEXT NOT NULL,"
        " term_index INTEGER NOT NULL,"
        " valid_from {date} NOT NULL,"
        " valid_to {date} NOT NULL,"
        " tenant_id TEXT NOT NULL,"
        " account_number TEXT NOT NULL,"
        " currency TEXT NOT NULL,"
        " issued_on {date} NOT NULL,"
        " due_on {date} NOT NULL,"
        " open_minor {money} NOT NULL CHECK (open_minor > 0),"
        " disputed INTEGER NOT NULL,"
        " CHECK (valid_from < valid_to),"
        " PRIMARY KEY (account_id, item_number, plan_id, term_index, valid_from))",
        "CREATE INDEX IF NOT EXISTS {t}open_item_aging_by_tenant"
        " ON {t}open_item_aging (tenant_id, valid_to, valid_from)",
        "CREATE TABLE IF NOT EXISTS {t}open_item_credit ("
        " position {bigint} NOT NULL,"
        " account_id TEXT NOT NULL,"
        " tenant_id TEXT NOT NULL,"
        " account_number TEXT NOT NULL,"
        " currency TEXT NOT NULL,"
        " effective_on {date} NOT NULL,"
        " credit_minor {money} NOT NULL,"
        " PRIMARY KEY (position))",
        "CREATE INDEX IF NOT EXISTS {t}open_item_credit_by_tenant"
        " ON {t}open_item_credit (tenant_id, effective_on)",
    ]

    def __init__(self, prefix: str = "") -> None:
        super().__init__(prefix)
        #: By account, the items the batch's events touched so far (``settle`` ages them).
        self._touched: dict[str, set[str]] = {}
        #: By account, each touched item's rows.
        self._aging: dict[str, dict[str, list[tuple[Any, ...]]]] = {}

    def handle(self, change: Change) -> None:
        account: Account = change.account
        recorded_at = moment(change)
        self._plans(change, account, recorded_at)
        self._note_aging(change, account)
        for item in change.new_items:
            self.write(
                f"INSERT INTO {self.t('open_items')} (account_id, item_number, tenant_id,"
                " account_number, currency, kind, issued_on, total_minor, plan_id, claim_id,"
                " recorded_at, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    change.account_id,
                    item.number,
                    account.tenant_id,
                    account.account_number,
                    account.currency,
                    item.kind,
                    item.issued_on.isoformat(),
                    to_minor_units(item.total),
                    item.plan_id,
                    item.claim_id,
                    recorded_at,
                    change.position,
                ),
            )
            before = 0
            terms = []
            for index, term in enumerate(item.terms):
                amount = to_minor_units(term.amount)
                terms.append(
                    (
                        change.account_id,
                        item.number,
                        index,
                        account.tenant_id,
                        term.due_on.isoformat(),
                        amount,
                        before,
                        account.account_number,
                        account.currency,
                        item.issued_on.isoformat(),
                    )
                )
                before += amount
            self.write(
                f"INSERT INTO {self.t('open_item_terms')} (account_id, item_number, term_index,"
                " tenant_id, due_on, amount_minor, before_minor, account_number, currency,"
                " issued_on) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                *terms,
            )
        movements = [
            (number, m.kind, m.effective_on, to_minor_units(m.amount), m.reference)
            for number, m in change.moves
        ]
        event = change.event
        if isinstance(event, Account.InvoiceVoided):
            voided = account.items[event.invoice_number]
            movements.append(
                (voided.number, "void", event.effective_on, to_minor_units(voided.total), "void")
            )
        if movements:
            self.write(
                f"INSERT INTO {self.t('open_item_movements')} (position, line, account_id,"
                " item_number, tenant_id, kind, effective_on, amount_minor, reference,"
                " event_type, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                *[
                    (
                        change.position,
                        line,
                        change.account_id,
                        number,
                        account.tenant_id,
                        kind,
                        effective_on.isoformat(),
                        amount,
                        reference,
                        change.event_type,
                        recorded_at,
                    )
                    for line, (number, kind, effective_on, amount, reference) in enumerate(
                        movements
                    )
                ],
            )
        reduced: dict[str, int] = {}
        for number, _kind, _on, amount, _reference in movements:
            reduced[number] = reduced.get(number, 0) + amount
        if reduced:
            # Additive, so the batch's updates of one item may run in any order.
            self.write(
                f"UPDATE {self.t('open_item_terms')} SET reduced_minor = reduced_minor + ?"
                " WHERE account_id = ? AND item_number = ?",
                *((amount, change.account_id, number) for number, amount in reduced.items()),
            )
        if isinstance(event, (Account.DisputeOpened, Account.DisputeResolved)):
            self.write(
                f"UPDATE {self.t('open_item_terms')} SET disputes_open = disputes_open + ?"
                " WHERE account_id = ? AND item_number = ?",
                (
                    1 if isinstance(event, Account.DisputeOpened) else -1,
                    change.account_id,
                    event.invoice_number,
                ),
            )
        if isinstance(event, Account.DisputeOpened):
            self.write(
                f"INSERT INTO {self.t('open_item_disputes')} (account_id, dispute_id, tenant_id,"
                " item_number, opened_on, opened_recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    change.account_id,
                    event.dispute_id,
                    account.tenant_id,
                    event.invoice_number,
                    event.effective_on.isoformat(),
                    recorded_at,
                ),
            )
        elif isinstance(event, Account.DisputeResolved):
            self.write(
                f"UPDATE {self.t('open_item_disputes')} SET resolved_on = ?,"
                " resolved_recorded_at = ? WHERE account_id = ? AND dispute_id = ?",
                (event.effective_on.isoformat(), recorded_at, change.account_id, event.dispute_id),
            )

    def _note_aging(self, change: Change, account: Account) -> None:
        """Note the items whose aging rows this event changes: those it touched (and every
        invoice aged with them under a plan). ``settle`` recomputes their rows whole, once per
        batch, from the account as the batch leaves it. Whole, so an item's rows are a function
        of the account alone, whatever batches its events came in: a rebuild writes the very
        rows the live projector wrote. A failure there parks the account like any other."""
        event = change.event
        touched = {item.number for item in change.new_items} | {n for n, _ in change.moves}
        if isinstance(
            event, (Account.InvoiceVoided, Account.DisputeOpened, Account.DisputeResolved)
        ):
            touched.add(event.invoice_number)
        if isinstance(event, _PLAN_EVENTS):
            touched.update(account.plans[event.plan_id].invoice_numbers)
        credit = to_minor_units(account.unapplied_credit - change.unapplied_before)
        if credit:
            self.write(
                f"INSERT INTO {self.t('open_item_credit')} (position, account_id, tenant_id,"
                " account_number, currency, effective_on, credit_minor)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    change.position,
                    change.account_id,
                    account.tenant_id,
                    account.account_number,
                    account.currency,
                    event.effective_on.isoformat(),
                    credit,
                ),
            )
        if touched:
            self._touched.setdefault(change.account_id, set()).update(touched)

    def settle(self, change: Change) -> None:
        """The rows of every item the batch's events touched, from the account as the batch
        leaves it: what an event did not touch (or age together with what it touched) keeps
        its rows, since an event changes the aging of those items alone."""
        touched = self._touched.pop(change.account_id, set())
        if not touched:
            return
        account: Account = change.account
        pending = self._aging.setdefault(change.account_id, {})
        for group in _aged_together(account, touched):
            rows = _runs(change.account_id, account, group, sorted(breakpoints(account, group)))
            pending.update(rows)

    def flush(self, c: Cursor, db: Database) -> None:
        """Write the batch's aging rows, then what ``handle`` queued."""
        rewrites = [
            (account_id, number, rows)
            for account_id, items in self._aging.items()
            for number, rows in items.items()
        ]
        self._aging = {}
        if rewrites:
            self._write_aging(c, db, rewrites)
        super().flush(c, db)

    def _write_aging(
        self, c: Cursor, db: Database, rewrites: list[tuple[str, str, list[tuple[Any, ...]]]]
    ) -> None:
        """Each rewritten item's rows go and its new ones go in: in this order, whatever order
        the queued writes take."""
        aging = self.t("open_item_aging")
        c.executemany(
            db.sql(f"DELETE FROM {aging} WHERE account_id = ? AND item_number = ?"),
            [(account_id, number) for account_id, number, _ in rewrites],
        )
        rows = [row for _, _, item_rows in rewrites for row in item_rows]
        if rows:
            c.executemany(
                db.sql(
                    f"INSERT INTO {aging} (account_id, item_number, plan_id, term_index,"
                    " valid_from, valid_to, tenant_id, account_number, currency, issued_on,"
                    " due_on, open_minor, disputed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                rows,
            )

    def discard(self) -> None:
        self._touched = {}
        self._aging = {}
        super().discard()

    def _plans(self, change: Change, account: Account, recorded_at: str) -> None:
        event = change.event
        if isinstance(event, Account.PaymentPlanAgreed):
            self.write(
                f"INSERT INTO {self.t('open_item_plans')} (account_id, plan_id, item_number,"
                " tenant_id, seq, agreed_on, position, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                *[
                    (
                        change.account_id,
                        event.plan_id,
                        number,
                        account.tenant_id,
                        seq,
                        event.effective_on.isoformat(),
                        change.position,
                        recorded_at,
                    )
                    for seq, number in enumerate(event.invoice_numbers)
                ],
            )
        if isinstance(event, (Account.PaymentPlanAgreed, Account.PaymentPlanChanged)):
            before, rows = 0, []
            for index, term in enumerate(event.installments):
                amount = to_minor_units(term.amount)
                rows.append(
                    (
                        change.account_id,
                        event.plan_id,
                        change.position,
                        index,
                        account.tenant_id,
                        event.effective_on.isoformat(),
                        recorded_at,
                        to_minor_units(event.base),
                        term.due_on.isoformat(),
                        amount,
                        before,
                    )
                )
                before += amount
            self.write(
                f"INSERT INTO {self.t('open_item_plan_terms')} (account_id, plan_id, position,"
                " installment_index, tenant_id, effective_on, recorded_at, base_minor, due_on,"
                " amount_minor, before_minor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                *rows,
            )
        elif isinstance(
            event,
            (Account.PaymentPlanDefaulted, Account.PaymentPlanCompleted, Account.PaymentPlanClosed),
        ):
            self.write(
                f"INSERT INTO {self.t('open_item_plan_ends')} (account_id, plan_id, position,"
                " tenant_id, status, ended_on, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    change.account_id,
                    event.plan_id,
                    change.position,
                    account.tenant_id,
                    account.plans[event.plan_id].status,
                    event.effective_on.isoformat(),
                    recorded_at,
                ),
            )
        elif isinstance(event, Account.PaymentPlanReopened):
            self.write(
                # Only the ends recorded before it: a batch writes its updates after its
                # inserts, and an end recorded later in the batch is not the one reopened.
                f"UPDATE {self.t('open_item_plan_ends')} SET reopened_at = ?"
                " WHERE account_id = ? AND plan_id = ? AND reopened_at IS NULL AND position < ?",
                (recorded_at, change.account_id, event.plan_id, change.position),
            )


def _aged_together(account: Account, numbers: Iterable[str]) -> list[set[str]]:
    """The items, each with every invoice a payment plan ages with it (transitively)."""
    groups: list[set[str]] = []
    seen: set[str] = set()
    for number in sorted(numbers):
        if number in seen:
            continue
        group: set[str] = set()
        todo = [number]
        while todo:
            item = todo.pop()
            if item in group:
                continue
            group.add(item)
            for plan in account.plans.values():
                if item in plan.invoice_numbers:
                    todo.extend(plan.invoice_numbers)
        seen |= group
        groups.append(group)
    return groups


def breakpoints(account: Account, group: set[str]) -> set[date]:
    """The dates on which what is open on the items of ``group``, how it is aged or whether
    it is disputed may change: their issue, movements and void, their disputes opening and
    closing, and the plans over them being agreed, rescheduled and ended."""
    found: set[date] = set()
    for number in group:
        item = account.items[number]
        found.add(item.issued_on)
        if item.voided_on is not None:
            found.add(item.voided_on)
        found.update(movement.effective_on for movement in item.movements)
    for dispute in account.disputes.values():
        if dispute.invoice_number in group:
            found.add(dispute.opened_on)
            if dispute.resolved_on is not None:
                found.add(dispute.resolved_on)
    for plan in account.plans.values():
        if not group.isdisjoint(plan.invoice_numbers):
            found.add(plan.agreed_on)
            found.update(schedule.effective_on for schedule in plan.schedules)
            if plan.ended_on is not None:
                found.add(plan.ended_on)
    return found


#: A term of an item as the aging ages it: (item number, plan id or "", index).
_Key = tuple[str, str, int]
#: What is aged of it: (the date it is aged by, open minor units, disputed).
_Aged = tuple[date, int, bool]


def _aged_on(account: Account, group: set[str], planned: bool, day: date) -> dict[_Key, _Aged]:
    """What is open on each term of the group's items as of ``day``
    (``domain.account.queries.aged_terms``)."""
    disputed: dict[str, bool] = {}

    def is_disputed(number: str) -> bool:
        if number not in disputed:
            disputed[number] = disputed_as_of(account, number, day)
        return disputed[number]

    found: dict[_Key, _Aged] = {}
    if planned:
        # The group holds every invoice of each plan over its items (``_aged_together``).
        for term in account.aged(day, only=group):
            if term.outstanding.is_positive:
                key = (term.invoice_number, term.plan_id or "", term.index)
                found[key] = (
                    term.due_on,
                    to_minor_units(term.outstanding),
                    is_disputed(term.invoice_number),
                )
        return found
    # No plan has ever covered these items: each is aged by its own terms alone, which is
    # what ``aged_terms`` does for them without going through every item of the account.
    for number in group:
        item = account.items[number]
        if item.issued_on > day:
            continue
        for status in item.term_statuses(day):
            if status.outstanding.is_positive:
                found[(number, "", status.index)] = (
                    status.due_on,
                    to_minor_units(status.outstanding),
                    is_disputed(number),
                )
    return found


def _runs(
    account_id: str, account: Account, group: set[str], days: list[date]
) -> dict[str, list[tuple[Any, ...]]]:
    """Each item's rows from the first of ``days`` (breakpoints, in order) on: one per term
    and run of dates over which what is aged of it stays the same."""
    planned = any(not group.isdisjoint(p.invoice_numbers) for p in account.plans.values())
    rows: dict[str, list[tuple[Any, ...]]] = {number: [] for number in group}
    runs: dict[_Key, tuple[date, _Aged]] = {}

    def close(key: _Key, until: date) -> None:
        began, (due_on, open_minor, disputed) = runs.pop(key)
        number, plan_id, index = key
        rows[number].append(
            (
                account_id,
                number,
                plan_id,
                index,
                began.isoformat(),
                until.isoformat(),
                account.tenant_id,
                account.account_number,
                account.currency,
                account.items[number].issued_on.isoformat(),
                due_on.isoformat(),
                open_minor,
                int(disputed),
            )
        )

    for day in days:
        aged = _aged_on(account, group, planned, day)
        for key in [key for key, (_, value) in runs.items() if aged.get(key) != value]:
            close(key, day)
        for key, value in aged.items():
            if key not in runs:
                runs[key] = (day, value)
    for key in list(runs):
        close(key, OPEN_ENDED)
    return rows
