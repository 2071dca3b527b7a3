"""Write-offs: bad debt written off an open item, and recovered when paid after all.

Concept
    A write-off takes an amount the customer will not pay off an open item (see
    :mod:`domain.write_offs`). If the customer pays after all, the written-off amount
    is recovered first — it is owed again — and the customer's payment is then
    posted as any other.

Invariants
    - A write-off is for more than zero and never more than is open on its item.
    - A recovery never puts back more than is still written off under its write-off.
    - Both are posted to the ledger (``write_offs``, ``recoveries``), so the balance
      equation holds; a write-off that leaves a payment plan's invoices with nothing
      open ends the plan as written off (see :func:`domain.account.plans.review_plans`).
"""

from __future__ import annotations

from datetime import date

from domain import errors, ledger
from domain.account.core import AccountState, Event
from domain.account.plans import OTHER_CAUSE, WRITE_OFF_CAUSE, review_plans
from domain.money import Money
from domain.open_items import Movement
from domain.provenance import Provenance
from domain.write_offs import WriteOff

# ================================================================== events


class WrittenOff(Event):
    TOPIC = "receivables.account:WrittenOff"

    write_off_id: str
    invoice_number: str
    amount: Money

    def evolve(self, account: AccountState) -> None:
        account.write_offs[self.write_off_id] = WriteOff(
            write_off_id=self.write_off_id,
            invoice_number=self.invoice_number,
            amount=self.amount,
            written_off_on=self.effective_on,
            recovered=Money.zero(self.amount.currency),
        )
        account._move_item(
            self.invoice_number,
            Movement(self.effective_on, "write_off", self.amount, self.write_off_id),
        )
        account._post(self.effective_on, ledger.WRITE_OFFS, self.amount, self.write_off_id)


class WriteOffRecovered(Event):
    TOPIC = "receivables.account:WriteOffRecovered"

    write_off_id: str
    invoice_number: str
    amount: Money

    def evolve(self, account: AccountState) -> None:
        write_off = account.write_offs[self.write_off_id]
        write_off.recovered = write_off.recovered + self.amount
        account._move_item(
            self.invoice_number,
            Movement(self.effective_on, "write_off_recovery", -self.amount, self.write_off_id),
        )
        account._post(self.effective_on, ledger.RECOVERIES, self.amount, self.write_off_id)


# ================================================================== commands


class WriteOffCommands(AccountState):
    """Writing off bad debt and recovering it."""

    def write_off(
        self,
        *,
        write_off_id: str,
        invoice_number: str,
        written_off_on: date,
        meta: Provenance,
        amount: Money | None = None,
    ) -> None:
        """Write off bad debt on an item: ``amount``, or everything open on it."""
        self._check_open()
        self._new_id(write_off_id, "write_off_id", "Write-off", [self.write_offs])
        item = self._live_item(invoice_number)
        value = item.outstanding if amount is None else self._check_money(amount, "amount")
        if not value.is_positive or value > item.outstanding:
            raise errors.WriteOffExceedsOpen(
                f"A write-off of {value} is more than the {item.outstanding} open on "
                f"{invoice_number}.",
                field="amount",
            )
        self._check_not_before_opening(written_off_on, "written_off_on")
        self._check_room(ledger.WRITE_OFFS, value, "amount")
        self._trigger(
            WrittenOff,
            effective_on=written_off_on,
            meta=meta,
            write_off_id=write_off_id,
            invoice_number=invoice_number,
            amount=value,
        )
        review_plans(self, written_off_on, meta, cause=WRITE_OFF_CAUSE)

    def recover_write_off(
        self, *, write_off_id: str, amount: Money, recovered_on: date, meta: Provenance
    ) -> None:
        """Reinstate written-off debt that the customer is paying after all.

        Post the customer's payment afterwards (it then applies to the item).
        """
        self._check_open()
        write_off = self.write_offs.get(write_off_id)
        if write_off is None:
            raise errors.UnknownWriteOff(
                f"There is no write-off {write_off_id}.", field="write_off_id"
            )
        self._check_money(amount, "amount")
        if amount > write_off.recoverable:
            raise errors.RecoveryExceedsWriteOff(
                f"A recovery of {amount} is more than the {write_off.recoverable} still written "
                f"off under {write_off_id}.",
                field="amount",
            )
        self._check_not_before_opening(recovered_on, "recovered_on")
        self._check_room(ledger.RECOVERIES, amount, "amount")
        self._trigger(
            WriteOffRecovered,
            effective_on=recovered_on,
            meta=meta,
            write_off_id=write_off_id,
            invoice_number=write_off.invoice_number,
            amount=amount,
        )
        review_plans(self, recovered_on, meta, cause=OTHER_CAUSE)
