"""Settlement offers: a discount for paying the rest of some invoices by a date.

Concept
    A settlement offer takes an amount off what is open on some invoices (or settles
    them for a smaller amount) if the customer pays the rest by the expiry date (see
    :mod:`domain.settlement`). Cash that meets an offer in time earns its discount,
    recorded by the cash command that applied it (see :mod:`domain.account.cash`);
    an offer can be withdrawn, and lapses when the daily sweep passes its expiry.

Invariants
    - An invoice is under at most one active offer; an offer's discount is more than
      zero and leaves something to pay.
    - A discount takes exactly what is open on the offer's invoices when it is
      earned: no item ever goes below zero.
    - When the payment that earned a discount is reversed, the discount is put back
      on the invoices and the offer stands again until its expiry — unless it has
      expired or another offer has since been made on one of its invoices, when it
      lapses.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from domain import errors, ledger
from domain import settlement as settlement_rules
from domain.account.core import AccountState, Event, require_date
from domain.money import Money
from domain.open_items import Movement
from domain.payments import Allocation
from domain.provenance import Provenance
from domain.settlement import SettlementOffer

# ================================================================== events


class SettlementOffered(Event):
    TOPIC = "receivables.account:SettlementOffered"

    offer_id: str
    invoice_numbers: list[str]
    discount: Money
    settle_for: Money | None
    open_when_made: Money
    expires_on: date

    def evolve(self, account: AccountState) -> None:
        account.offers[self.offer_id] = SettlementOffer(
            offer_id=self.offer_id,
            invoice_numbers=list(self.invoice_numbers),
            discount=self.discount,
            settle_for=self.settle_for,
            open_when_made=self.open_when_made,
            made_on=self.effective_on,
            expires_on=self.expires_on,
        )


class SettlementOfferWithdrawn(Event):
    TOPIC = "receivables.account:SettlementOfferWithdrawn"

    offer_id: str

    def evolve(self, account: AccountState) -> None:
        _end_offer(account, self.offer_id, settlement_rules.WITHDRAWN, self.effective_on)


class SettlementOfferLapsed(Event):
    TOPIC = "receivables.account:SettlementOfferLapsed"

    offer_id: str

    def evolve(self, account: AccountState) -> None:
        _end_offer(account, self.offer_id, settlement_rules.LAPSED, self.effective_on)


class SettlementDiscountApplied(Event):
    TOPIC = "receivables.account:SettlementDiscountApplied"

    offer_id: str
    amount: Money
    applications: list[Allocation]

    def evolve(self, account: AccountState) -> None:
        for application in self.applications:
            account._move_item(
                application.invoice_number,
                Movement(
                    self.effective_on, "settlement_discount", application.amount, self.offer_id
                ),
            )
        _end_offer(account, self.offer_id, settlement_rules.APPLIED, self.effective_on)
        account._post(self.effective_on, ledger.DISCOUNTS, self.amount, self.offer_id)


class SettlementDiscountReversed(Event):
    """The payment that earned a discount was reversed: the discount is put back on
    the invoices and the offer stands again (``offer_status`` active) or, past its
    expiry, lapses."""

    TOPIC = "receivables.account:SettlementDiscountReversed"

    offer_id: str
    amount: Money
    applications: list[Allocation]
    offer_status: str

    def evolve(self, account: AccountState) -> None:
        for application in self.applications:
            account._move_item(
                application.invoice_number,
                Movement(
                    self.effective_on,
                    "settlement_discount_reversal",
                    -application.amount,
                    self.offer_id,
                ),
            )
        offer = account.offers[self.offer_id]
        offer.status = self.offer_status
        offer.ended_on = None if self.offer_status == settlement_rules.ACTIVE else self.effective_on
        account._post(self.effective_on, ledger.DISCOUNTS, -self.amount, self.offer_id)


def _end_offer(account: AccountState, offer_id: str, status: str, on: date) -> None:
    offer = account.offers[offer_id]
    offer.status = status
    offer.ended_on = on


# ================================================================== rules other concepts use


def active_offers(account: AccountState) -> list[SettlementOffer]:
    return [o for o in account.offers.values() if o.status == settlement_rules.ACTIVE]


def discounts_earned_with(
    account: AccountState, numbers: Iterable[str]
) -> list[tuple[str, list[Allocation]]]:
    """Discounts applied on offers covering any of ``numbers``: cash on those invoices
    counted towards them, so reversing that cash takes them back."""
    wanted = set(numbers)
    result: list[tuple[str, list[Allocation]]] = []
    for offer in account.offers.values():
        if offer.status != settlement_rules.APPLIED or wanted.isdisjoint(offer.invoice_numbers):
            continue
        applications: list[Allocation] = []
        for number in dict.fromkeys(offer.invoice_numbers):
            net = Money.sum(
                (
                    m.amount
                    for m in account.items[number].movements
                    if m.reference == offer.offer_id
                    and m.kind in ("settlement_discount", "settlement_discount_reversal")
                ),
                account.currency,
            )
            if net.is_positive:
                applications.append(Allocation(number, net))
        if applications:
            result.append((offer.offer_id, applications))
    return result


def status_of_reinstated_offer(account: AccountState, offer: SettlementOffer, on: date) -> str:
    """An offer whose discount is taken back stands again until its expiry, unless
    another offer has since been made on one of its invoices."""
    if on > offer.expires_on:
        return settlement_rules.LAPSED
    for other in active_offers(account):
        if not set(other.invoice_numbers).isdisjoint(offer.invoice_numbers):
            return settlement_rules.LAPSED
    return settlement_rules.ACTIVE


# ================================================================== commands


class SettlementCommands(AccountState):
    """Offering a settlement and withdrawing it."""

    def offer_settlement(
        self,
        *,
        offer_id: str,
        expires_on: date,
        offered_on: date,
        meta: Provenance,
        invoice_numbers: Sequence[str] | None = None,
        amount_off: Money | None = None,
        settle_for: Money | None = None,
    ) -> None:
        """Offer to take ``amount_off`` (or to accept ``settle_for``) if the rest is paid by
        ``expires_on``. Covers ``invoice_numbers``, or every open invoice."""
        self._check_open()
        self._new_id(offer_id, "offer_id", "Settlement offer", [self.offers])
        self._check_not_before_opening(offered_on, "offered_on")
        require_date(expires_on, "expires_on")
        if expires_on < offered_on:
            raise errors.InvalidDate(
                f"The offer cannot expire ({expires_on}) before it is made ({offered_on}).",
                field="expires_on",
            )
        if (amount_off is None) == (settle_for is None):
            raise errors.InvalidSettlementTerms(
                "Give either the amount to take off or the amount to settle for, not both.",
                field="amount_off",
            )
        # An invoice named twice is one invoice: its open amount counts once.
        numbers = list(
            dict.fromkeys(self.open_items if invoice_numbers is None else invoice_numbers)
        )
        if not numbers:
            raise errors.NothingToSettle("Nothing is open to settle.", field="invoice_numbers")
        busy = {n for offer in active_offers(self) for n in offer.invoice_numbers}
        open_total = Money.zero(self.currency)
        for number in numbers:
            item = self._live_item(number, "invoice_numbers")
            if number in busy:
                raise errors.SettlementOfferOverlaps(
                    f"Invoice {number} is already under an active settlement offer.",
                    field="invoice_numbers",
                )
            open_total = open_total + item.outstanding
        if amount_off is not None:
            discount = self._check_money(amount_off, "amount_off")
        else:
            assert settle_for is not None  # exactly one of the two, checked above
            discount = open_total - self._check_money(settle_for, "settle_for")
        if not discount.is_positive or discount >= open_total:
            raise errors.SettlementDiscountTooLarge(
                f"A discount of {discount} on {open_total} open must leave something to pay; "
                "write the debt off instead.",
                field="amount_off" if amount_off is not None else "settle_for",
            )
        self._trigger(
            SettlementOffered,
            effective_on=offered_on,
            meta=meta,
            offer_id=offer_id,
            invoice_numbers=numbers,
            discount=discount,
            settle_for=settle_for,
            open_when_made=open_total,
            expires_on=expires_on,
        )

    def withdraw_settlement_offer(
        self, *, offer_id: str, withdrawn_on: date, meta: Provenance
    ) -> None:
        self._check_open()
        offer = self._active_offer(offer_id)
        self._check_not_before_opening(withdrawn_on, "withdrawn_on")
        self._trigger(
            SettlementOfferWithdrawn,
            effective_on=withdrawn_on,
            meta=meta,
            offer_id=offer.offer_id,
        )

    def _active_offer(self, offer_id: str) -> SettlementOffer:
        offer = self.offers.get(offer_id)
        if offer is None:
            raise errors.UnknownSettlementOffer(
                f"There is no settlement offer {offer_id}.", field="offer_id"
            )
        if offer.status != settlement_rules.ACTIVE:
            raise errors.SettlementOfferNotActive(
                f"Settlement offer {offer_id} is {offer.status}.", field="offer_id"
            )
        return offer
