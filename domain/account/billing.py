"""Billing: charges posted, invoices issued and voided, credit and debit notes.

Concept
    A charge is one service line posted to the account (see :mod:`domain.charges`);
    an invoice takes uninvoiced charges as lines and becomes an open item with a due
    schedule (see :mod:`domain.open_items` and :mod:`domain.schedules`). A credit
    note takes part or all of what is open off an invoice; a debit note charges an
    adjustment as its own open item.

Invariants
    - ``net = quantity × unit_price`` exactly; a quantity is a positive decimal of at
      most ``MAX_QUANTITY_DIGITS`` significant digits, below ``MAX_QUANTITY``.
    - A charge is on at most one invoice or claim; only a charge on neither can be
      voided, and voiding an invoice makes its charges uninvoiced again.
    - An invoice is for more than zero and its terms sum to its total; an invoice or
      debit note can be voided only while nothing is applied to it and it is on no
      payment plan and no active settlement offer.
    - A credit note never takes more than is open on its invoice; when it leaves a
      payment plan's invoices with nothing open, the plan ends as credited (see
      :func:`domain.account.plans.review_plans`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Final

from domain import errors, ledger
from domain.account.core import AccountState, Event, require_date, require_text
from domain.account.plans import CREDIT_NOTE_CAUSE, review_plans
from domain.account.settlement import active_offers
from domain.charges import VOIDED as VOIDED_CHARGE
from domain.charges import Charge
from domain.money import Money
from domain.open_items import DEBIT_NOTE, INVOICE, VOIDED, InvoiceLine, Movement, OpenItem, Term
from domain.provenance import Provenance
from domain.schedules import InstallmentShare, add_days, check_schedule, split_by_shares

#: Bounds of a charge's quantity, so that quantity × unit price is always exact.
MAX_QUANTITY_DIGITS: Final = 18
MAX_QUANTITY: Final = 10**12


def require_quantity(value: Decimal | int, field: str = "quantity") -> Decimal:
    if isinstance(value, float):
        raise errors.FloatAmountRefused(
            "A quantity must be given as a decimal, not a floating-point number.", field=field
        )
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise errors.InvalidQuantity("A quantity must be a decimal number.", field=field)
    quantity = Decimal(value)
    if not quantity.is_finite() or quantity <= 0:
        raise errors.InvalidQuantity("A quantity must be more than zero.", field=field)
    if len(quantity.as_tuple().digits) > MAX_QUANTITY_DIGITS or quantity >= MAX_QUANTITY:
        raise errors.InvalidQuantity(
            f"A quantity has at most {MAX_QUANTITY_DIGITS} significant digits and is less "
            f"than {MAX_QUANTITY:,}.",
            field=field,
        )
    return quantity


# ================================================================== events

# ---------------------------------------------------------------- charges


class ChargePosted(Event):
    TOPIC = "receivables.account:ChargePosted"

    charge_id: str
    code: str
    description: str
    quantity: Decimal
    unit_price: Money
    net: Money
    tax: Money
    service_date: date

    def evolve(self, account: AccountState) -> None:
        account.charges[self.charge_id] = Charge(
            charge_id=self.charge_id,
            code=self.code,
            description=self.description,
            quantity=self.quantity,
            unit_price=self.unit_price,
            net=self.net,
            tax=self.tax,
            service_date=self.service_date,
            posted_on=self.effective_on,
        )
        account.uninvoiced[self.charge_id] = True
        account._post(self.effective_on, ledger.CHARGES, self.net + self.tax, self.charge_id)


class ChargeVoided(Event):
    TOPIC = "receivables.account:ChargeVoided"

    charge_id: str
    amount: Money

    def evolve(self, account: AccountState) -> None:
        charge = account.charges[self.charge_id]
        charge.status = VOIDED_CHARGE
        charge.voided_on = self.effective_on
        account.uninvoiced.pop(self.charge_id, None)
        account._post(self.effective_on, ledger.CHARGES, -self.amount, self.charge_id)


# ---------------------------------------------------------------- invoices


class InvoiceIssued(Event):
    TOPIC = "receivables.account:InvoiceIssued"

    invoice_number: str
    lines: list[InvoiceLine]
    subtotal: Money
    tax: Money
    total: Money
    terms: list[Term]

    def evolve(self, account: AccountState) -> None:
        charge_ids = [line.charge_id for line in self.lines]
        account._add_item(
            OpenItem(
                number=self.invoice_number,
                kind=INVOICE,
                issued_on=self.effective_on,
                currency=self.total.currency,
                total=self.total,
                subtotal=self.subtotal,
                tax=self.tax,
                terms=list(self.terms),
                reduced=Money.zero(self.total.currency),
                charge_ids=charge_ids,
            )
        )
        for charge_id in charge_ids:
            account.charges[charge_id].invoice_number = self.invoice_number
            account.uninvoiced.pop(charge_id, None)


class InvoiceVoided(Event):
    TOPIC = "receivables.account:InvoiceVoided"

    invoice_number: str

    def evolve(self, account: AccountState) -> None:
        item = account.items[self.invoice_number]
        item.status = VOIDED
        item.voided_on = self.effective_on
        account.open_items.pop(self.invoice_number, None)
        for charge_id in item.charge_ids:
            account.charges[charge_id].invoice_number = None
            account.uninvoiced[charge_id] = True
        if item.kind == DEBIT_NOTE:
            account._post(self.effective_on, ledger.DEBIT_NOTES, -item.total, item.number)


class CreditNoteIssued(Event):
    TOPIC = "receivables.account:CreditNoteIssued"

    note_number: str
    invoice_number: str
    amount: Money
    description: str

    def evolve(self, account: AccountState) -> None:
        account.notes[self.note_number] = self.invoice_number
        account._move_item(
            self.invoice_number,
            Movement(self.effective_on, "credit_note", self.amount, self.note_number),
        )
        account._post(self.effective_on, ledger.CREDITS, self.amount, self.note_number)


class DebitNoteIssued(Event):
    TOPIC = "receivables.account:DebitNoteIssued"

    note_number: str
    amount: Money
    due_on: date
    description: str
    against_invoice: str | None

    def evolve(self, account: AccountState) -> None:
        account.notes[self.note_number] = self.against_invoice or self.note_number
        account._add_item(
            OpenItem(
                number=self.note_number,
                kind=DEBIT_NOTE,
                issued_on=self.effective_on,
                currency=self.amount.currency,
                total=self.amount,
                subtotal=self.amount,
                tax=Money.zero(self.amount.currency),
                terms=[Term(self.due_on, self.amount)],
                reduced=Money.zero(self.amount.currency),
                against=self.against_invoice,
                description=self.description,
            )
        )
        account._post(self.effective_on, ledger.DEBIT_NOTES, self.amount, self.note_number)


# ================================================================== commands


class BillingCommands(AccountState):
    """Charges, invoices, credit notes and debit notes."""

    # ---------------------------------------------------------------- charges

    def post_charge(
        self,
        *,
        charge_id: str,
        code: str,
        description: str,
        quantity: Decimal | int,
        unit_price: Money,
        tax: Money,
        service_date: date,
        effective_on: date,
        meta: Provenance,
    ) -> None:
        """Record a service line the customer is charged for (not yet invoiced)."""
        self._check_open()
        self._new_id(charge_id, "charge_id", "Charge", [self.charges])
        require_text(code, "code", "A service code")
        require_date(service_date, "service_date")
        self._check_not_before_opening(effective_on, "effective_on")
        qty = require_quantity(quantity)
        self._check_money(unit_price, "unit_price")
        self._check_money(tax, "tax", positive=False)
        net = unit_price.times(qty).exact()
        self._check_room(ledger.CHARGES, net + tax, "unit_price")
        self._trigger(
            ChargePosted,
            effective_on=effective_on,
            meta=meta,
            charge_id=charge_id,
            code=code,
            description=description,
            quantity=qty,
            unit_price=unit_price,
            net=net,
            tax=tax,
            service_date=service_date,
        )

    def void_charge(self, *, charge_id: str, effective_on: date, meta: Provenance) -> None:
        """Void a charge posted in error; only while it is on no invoice and no claim."""
        self._check_open()
        charge = self.charges.get(charge_id)
        if charge is None:
            raise errors.UnknownCharge(f"There is no charge {charge_id}.", field="charge_id")
        if charge.status == VOIDED_CHARGE:
            raise errors.ChargeVoided(f"Charge {charge_id} is already void.", field="charge_id")
        if charge.invoice_number is not None:
            raise errors.ChargeAlreadyInvoiced(
                f"Charge {charge_id} is on invoice {charge.invoice_number}; "
                "issue a credit note against the invoice instead.",
                field="charge_id",
            )
        if charge.claim_id is not None:
            raise errors.ChargeOnClaim(
                f"Charge {charge_id} is billed to an insurer on claim {charge.claim_id}.",
                field="charge_id",
            )
        self._check_not_before_opening(effective_on, "effective_on")
        self._trigger(
            ChargeVoided,
            effective_on=effective_on,
            meta=meta,
            charge_id=charge_id,
            amount=charge.total,
        )

    # ---------------------------------------------------------------- invoices

    def issue_invoice(
        self,
        *,
        invoice_number: str,
        issued_on: date,
        meta: Provenance,
        charge_ids: Sequence[str] | None = None,
        due_on: date | None = None,
        installments: Sequence[InstallmentShare] | None = None,
        schedule: Sequence[Term] | None = None,
    ) -> None:
        """Invoice uninvoiced charges (all of them, or ``charge_ids``).

        The due schedule is, in order of precedence: explicit ``schedule`` terms
        (must sum to the total), ``installments`` shares, a single ``due_on``, the
        account's installment terms, or net ``payment_terms_days`` from issue.
        """
        self._check_open()
        self._new_id(invoice_number, "invoice_number", "Invoice", [self.items, self.notes])
        self._check_not_before_opening(issued_on, "issued_on")
        chosen = list(self.uninvoiced) if charge_ids is None else list(dict.fromkeys(charge_ids))
        lines: list[InvoiceLine] = []
        for charge_id in chosen:
            charge = self.charges.get(charge_id)
            if charge is None:
                raise errors.UnknownCharge(f"There is no charge {charge_id}.", field="charge_ids")
            if charge.status == VOIDED_CHARGE:
                raise errors.ChargeVoided(f"Charge {charge_id} is void.", field="charge_ids")
            if charge.invoice_number is not None:
                raise errors.ChargeAlreadyInvoiced(
                    f"Charge {charge_id} is already on invoice {charge.invoice_number}.",
                    field="charge_ids",
                )
            if charge.claim_id is not None:
                raise errors.ChargeOnClaim(
                    f"Charge {charge_id} is billed to an insurer on claim {charge.claim_id}.",
                    field="charge_ids",
                )
            lines.append(
                InvoiceLine(
                    charge.charge_id,
                    charge.code,
                    charge.description,
                    charge.quantity,
                    charge.unit_price,
                    charge.net,
                    charge.tax,
                )
            )
        if not lines:
            raise errors.NothingToInvoice("There are no uninvoiced charges to put on an invoice.")
        subtotal = Money.sum((line.net for line in lines), self.currency)
        tax = Money.sum((line.tax for line in lines), self.currency)
        total = subtotal + tax
        if not total.is_positive:
            raise errors.InvoiceTotalNotPositive(
                f"The invoice would total {total}; an invoice must be for more than zero."
            )
        terms = self._due_schedule(total, issued_on, due_on, installments, schedule)
        self._trigger(
            InvoiceIssued,
            effective_on=issued_on,
            meta=meta,
            invoice_number=invoice_number,
            lines=lines,
            subtotal=subtotal,
            tax=tax,
            total=total,
            terms=terms,
        )

    def _due_schedule(
        self,
        total: Money,
        issued_on: date,
        due_on: date | None,
        installments: Sequence[InstallmentShare] | None,
        schedule: Sequence[Term] | None,
    ) -> list[Term]:
        if schedule is not None:
            for term in schedule:
                if isinstance(term, Term) and isinstance(term.amount, Money):
                    self._check_money(term.amount, "schedule")
            return check_schedule(schedule, total, issued_on)
        if installments:
            return split_by_shares(total, installments, issued_on)
        if due_on is not None:
            require_date(due_on, "due_on")
            if due_on < issued_on:
                raise errors.DueDateBeforeIssueDate(
                    f"The due date {due_on} is before the issue date {issued_on}.", field="due_on"
                )
            return [Term(due_on, total)]
        if self.installment_shares:
            return split_by_shares(total, self.installment_shares, issued_on)
        return [Term(add_days(issued_on, self.payment_terms_days, field="issued_on"), total)]

    def void_invoice(self, *, invoice_number: str, effective_on: date, meta: Provenance) -> None:
        """Void an invoice (or debit note) issued in error, while nothing is applied to it.

        Its charges become uninvoiced again.
        """
        self._check_open()
        item = self._live_item(invoice_number)
        if item.kind not in (INVOICE, DEBIT_NOTE):
            raise errors.DocumentCannotBeVoided(
                f"{invoice_number} is a {item.kind.replace('_', ' ')}, which cannot be voided; "
                "credit it instead.",
                field="invoice_number",
            )
        if item.movements:
            raise errors.InvoiceHasApplications(
                f"Invoice {invoice_number} has payments or credits applied to it; "
                "it cannot be voided. Issue a credit note instead.",
                field="invoice_number",
            )
        self._check_not_on_plan_or_offer(item)
        self._check_not_before_opening(effective_on, "effective_on")
        self._trigger(
            InvoiceVoided, effective_on=effective_on, meta=meta, invoice_number=invoice_number
        )

    def _check_not_on_plan_or_offer(self, item: OpenItem) -> None:
        if item.plan_id is not None:
            raise errors.InvoiceAlreadyOnPlan(
                f"Invoice {item.number} is on payment plan {item.plan_id}.",
                field="invoice_number",
            )
        for offer in active_offers(self):
            if item.number in offer.invoice_numbers:
                raise errors.SettlementOfferOverlaps(
                    f"Invoice {item.number} is under settlement offer {offer.offer_id}.",
                    field="invoice_number",
                )

    def issue_credit_note(
        self,
        *,
        note_number: str,
        invoice_number: str,
        issued_on: date,
        meta: Provenance,
        amount: Money | None = None,
        description: str = "",
    ) -> None:
        """Credit part or all (``amount=None``) of what is open on an invoice."""
        self._check_open()
        self._new_id(note_number, "note_number", "Note", [self.notes, self.items])
        item = self._live_item(invoice_number)
        credit = item.outstanding if amount is None else self._check_money(amount, "amount")
        if not credit.is_positive:
            raise errors.CreditNoteExceedsOpen(
                f"Nothing is open on invoice {invoice_number} to credit.", field="amount"
            )
        if credit > item.outstanding:
            raise errors.CreditNoteExceedsOpen(
                f"A credit note of {credit} is more than the {item.outstanding} open on "
                f"invoice {invoice_number}.",
                field="amount",
            )
        self._check_not_before_opening(issued_on, "issued_on")
        self._check_room(ledger.CREDITS, credit, "amount")
        self._trigger(
            CreditNoteIssued,
            effective_on=issued_on,
            meta=meta,
            note_number=note_number,
            invoice_number=invoice_number,
            amount=credit,
            description=description,
        )
        review_plans(self, issued_on, meta, cause=CREDIT_NOTE_CAUSE)

    def issue_debit_note(
        self,
        *,
        note_number: str,
        amount: Money,
        issued_on: date,
        meta: Provenance,
        due_on: date | None = None,
        description: str = "",
        against_invoice: str | None = None,
    ) -> None:
        """Charge an adjustment as its own open item (e.g. an under-billed line)."""
        self._check_open()
        self._new_id(note_number, "note_number", "Note", [self.notes, self.items])
        self._check_money(amount, "amount")
        self._check_not_before_opening(issued_on, "issued_on")
        if against_invoice is not None:
            self._item(against_invoice, "against_invoice")
        due = (
            due_on
            if due_on is not None
            else add_days(issued_on, self.payment_terms_days, field="issued_on")
        )
        if due < issued_on:
            raise errors.DueDateBeforeIssueDate(
                f"The due date {due} is before the issue date {issued_on}.", field="due_on"
            )
        self._check_room(ledger.DEBIT_NOTES, amount, "amount")
        self._trigger(
            DebitNoteIssued,
            effective_on=issued_on,
            meta=meta,
            note_number=note_number,
            amount=amount,
            due_on=due,
            description=description,
            against_invoice=against_invoice,
        )
