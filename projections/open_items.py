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
as known now, which the usual aging report ("as of today") reads from this one table.
A voided item has one movement of its whole total, dated the void, so it owes nothing from
then on and still shows what it owed before.
"""

from __future__ import annotations

from typing import ClassVar

from domain.account import Account
from domain.money import to_minor_units
from projections.database import stored_moment
from projections.replay import Change
from projections.runner import ReadModel


def moment(change: Change) -> str:
    """The event's recording time as the tables store it."""
    return stored_moment(change.recorded_at)


class OpenItems(ReadModel):
    name: ClassVar[str] = "open_items"
    version: ClassVar[int] = 3
    table_names: ClassVar[list[str]] = [
        "open_items",
        "open_item_terms",
        "open_item_movements",
        "open_item_disputes",
        "open_item_plans",
        "open_item_plan_terms",
        "open_item_plan_ends",
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
    ]

    def handle(self, change: Change) -> None:
        account: Account = change.account
        recorded_at = moment(change)
        self._plans(change, account, recorded_at)
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
                f"UPDATE {self.t('open_item_plan_ends')} SET reopened_at = ?"
                " WHERE account_id = ? AND plan_id = ? AND reopened_at IS NULL",
                (recorded_at, change.account_id, event.plan_id),
            )
