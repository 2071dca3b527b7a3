"""The core of the Account aggregate: its state, its base event and how facts are recorded.

Concept
    An *account* is where a billing coordinator records what a customer was
    charged, what they were invoiced, what they paid and every arrangement made
    about it. Its state is only ever changed by its own events, each an immutable
    fact named in the past tense (``ChargePosted``); commands are imperative
    methods (``post_charge``) that check every rule first and then trigger one or
    more events. Nothing is half-recorded: a broken rule raises a
    :class:`~domain.errors.DomainError` before any event is triggered.

    This module holds what every concept shares: :class:`Event`, the base of every
    account event; :class:`AccountState`, the state all of them change, the
    apply-time helpers that keep its indexes and ledger in step, the one way a
    command records an event (``_trigger``) and the guards commands run first; and
    the input checks used by several concepts.

Invariants
    - Every event carries its business date ``effective_on``, the caller's
      ``actor``/``reason``/``correlation_id``, and the hash chain fields
      ``previous_hash``/``event_hash`` (see :mod:`domain.hash_chain`); applying an
      event moves ``last_event_hash`` to its hash.
    - ``apply`` methods are deterministic (no clock, no policy): any choice a
      policy made is on the event.
    - Balance = the signed sum of ledger tallies (see :mod:`domain.ledger`) =
      Σ outstanding on open items + Σ owed by insurers on claims + Σ uninvoiced
      charges − unapplied credit. Every amount that changes the balance is posted
      through ``_post``, which keeps the tallies, the entries and the running
      balance together.
    - ``open_items`` names exactly the items with something outstanding (kept by
      ``_add_item`` and ``_move_item``, and by voiding), and ``uninvoiced`` exactly
      the charges posted on no invoice and no claim.
    - The account's state is made of Money, dates, Decimals, strings, lists, dicts
      and the dataclasses listed in :mod:`domain.transcodings`, so snapshots work;
      its attribute names are part of the stored snapshots and never change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar, Final, Self
from uuid import UUID

from domain import errors, ledger
from domain.charges import Charge
from domain.claims import Claim
from domain.collections_activity import CollectionActivity, PromiseToPay
from domain.disputes import Dispute
from domain.hash_chain import GENESIS_HASH, ChainedEvent, record_chained
from domain.ledger import LedgerEntry
from domain.money import Money, check_within_bound
from domain.open_items import VOIDED, Movement, OpenItem
from domain.payments import Payment
from domain.plans import PaymentPlan
from domain.provenance import Provenance
from domain.schedules import InstallmentShare
from domain.settlement import SettlementOffer
from domain.subscriptions import Subscription
from domain.write_offs import WriteOff

if TYPE_CHECKING:
    from eventsourcing.domain import CanInitAggregate, CanMutateAggregate

OPEN: Final = "open"
CLOSED: Final = "closed"


def require_text(value: str, field: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise errors.MissingValue(f"{what} is required.", field=field)
    return value


def require_date(value: date, field: str) -> date:
    if not isinstance(value, date):
        raise errors.MissingValue(f"The {field.replace('_', ' ')} must be a date.", field=field)
    return value


class Event(ChainedEvent):
    """Base of every account event: business date, provenance, hash chain."""

    def evolve(self, account: AccountState) -> None:
        """Change the account's state; overridden by each event."""


class AccountState:
    """The state of one account, with what every concept's events and commands use.

    Not an aggregate itself: :class:`domain.account.Account` puts it together with the
    concepts' commands and eventsourcing's ``Aggregate``, which provides the members
    declared below for the type checker.
    """

    if TYPE_CHECKING:
        TOPIC: ClassVar[str]
        INITIAL_VERSION: int

        @property
        def id(self) -> UUID: ...

        @property
        def version(self) -> int: ...

        @version.setter
        def version(self, version: int) -> None: ...

        def trigger_event(
            self, event_class: type[CanMutateAggregate[UUID]], **kwargs: Any
        ) -> None: ...

        @classmethod
        def _create(
            cls,
            event_class: type[CanInitAggregate[UUID]],
            *,
            id: UUID | None = None,
            **kwargs: Any,
        ) -> Self: ...

    def __init__(
        self,
        *,
        tenant_id: str,
        account_number: str,
        name: str,
        currency: str,
        payment_terms_days: int,
        effective_on: date,
    ) -> None:
        zero = Money.zero(currency)
        self.tenant_id = tenant_id
        self.account_number = account_number
        self.name = name
        self.currency = currency
        self.payment_terms_days = payment_terms_days
        self.installment_shares: list[InstallmentShare] = []
        self.opened_on = effective_on
        self.status = OPEN
        self.closed_on: date | None = None
        self.last_event_hash = GENESIS_HASH
        self.charges: dict[str, Charge] = {}
        # Ids of charges not yet invoiced nor claimed, so invoicing touches only those.
        self.uninvoiced: dict[str, bool] = {}
        self.items: dict[str, OpenItem] = {}
        # Numbers of items with something outstanding, so policies touch only open items.
        self.open_items: dict[str, bool] = {}
        self.notes: dict[str, str] = {}
        self.payments: dict[str, Payment] = {}
        self.refunds: dict[str, Money] = {}
        self.credit = zero
        self.write_offs: dict[str, WriteOff] = {}
        self.offers: dict[str, SettlementOffer] = {}
        self.plans: dict[str, PaymentPlan] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self.billing_runs: dict[str, date] = {}
        self.claims: dict[str, Claim] = {}
        self.disputes: dict[str, Dispute] = {}
        self.activities: dict[str, CollectionActivity] = {}
        self.promises: dict[str, PromiseToPay] = {}
        self.dunning_level = 0
        self.tallies: dict[str, Money] = {category: zero for category in ledger.CATEGORIES}
        self.entries: list[LedgerEntry] = []
        #: The item each movement was applied to, in the order applied: what projections read
        #: to learn which items an event moved (append-only, like ``entries``).
        self.item_moves: list[str] = []
        self.running_balance = zero

    @property
    def balance(self) -> Money:
        """Everything owed on the account, by the customer and by insurers, less unapplied
        credit: positive = owed, negative = credit. Equals the ledger equation."""
        return self.running_balance

    # ---------------------------------------------------------------- state helpers (apply-time)

    def _post(self, effective_on: date, category: str, amount: Money, reference: str) -> None:
        entry = LedgerEntry(effective_on, category, amount, reference)
        self.entries.append(entry)
        self.tallies[category] = self.tallies[category] + amount
        self.running_balance = self.running_balance + entry.balance_effect

    def _add_item(self, item: OpenItem) -> None:
        self.items[item.number] = item
        if item.is_open:
            self.open_items[item.number] = True

    def _move_item(self, number: str, movement: Movement) -> None:
        item = self.items[number]
        item.reduce(movement)
        self.item_moves.append(number)
        if item.is_open:
            self.open_items[number] = True
        else:
            self.open_items.pop(number, None)

    def _add_charge(self, charge: Charge) -> None:
        self.charges[charge.charge_id] = charge
        self.uninvoiced[charge.charge_id] = True
        self._post(charge.posted_on, ledger.CHARGES, charge.total, charge.charge_id)

    # ---------------------------------------------------------------- recording

    def _trigger(
        self,
        event_class: type[Event],
        *,
        effective_on: date,
        meta: Provenance,
        **payload: Any,
    ) -> None:
        record_chained(self, event_class, effective_on=effective_on, meta=meta, payload=payload)

    # ---------------------------------------------------------------- guards

    def _check_open(self) -> None:
        if self.status == CLOSED:
            raise errors.AccountClosed(
                f"Account {self.account_number} is closed; nothing more can be recorded on it."
            )

    def _check_money(self, amount: Money, field: str, *, positive: bool = True) -> Money:
        label = field.replace("_", " ")
        if not isinstance(amount, Money):
            raise errors.NotMoney(f"The {label} must be money with a currency.", field=field)
        if amount.currency != self.currency:
            raise errors.CurrencyMismatch(
                f"The {label} is in {amount.currency} but account "
                f"{self.account_number} is kept in {self.currency}.",
                field=field,
            )
        if positive and not amount.is_positive:
            raise errors.AmountMustBePositive(f"The {label} must be more than zero.", field=field)
        if not positive and amount.is_negative:
            raise errors.AmountMustBePositive(f"The {label} cannot be negative.", field=field)
        return check_within_bound(amount, field, f"The {label}")

    def _check_room(self, category: str, amount: Money, field: str) -> None:
        """Refuse, before any event, what would take one of the account's running totals (a
        ledger tally, which the read models store in minor units) past ``MAX_AMOUNT``. The
        tallies that grow with new money are checked here; every other figure is a signed sum
        of tallies, so it stays representable too (see :mod:`domain.money`)."""
        total = self.tallies[category] + amount
        check_within_bound(total, field, f"The account's {category.replace('_', ' ')} total")

    def _item(self, number: str, field: str = "invoice_number") -> OpenItem:
        item = self.items.get(number)
        if item is None:
            raise errors.UnknownInvoice(
                f"There is no invoice {number} on account {self.account_number}.", field=field
            )
        return item

    def _live_item(self, number: str, field: str = "invoice_number") -> OpenItem:
        item = self._item(number, field)
        if item.status == VOIDED:
            raise errors.InvoiceVoided(f"Invoice {number} is void.", field=field)
        return item

    def _new_id(self, value: str, field: str, what: str, taken: Iterable[Mapping[str, Any]]) -> str:
        require_text(value, field, what)
        for existing in taken:
            if value in existing:
                error = {
                    "charge_id": errors.DuplicateCharge,
                    "payment_id": errors.DuplicatePayment,
                    "invoice_number": errors.DuplicateInvoice,
                    "note_number": errors.DuplicateNote,
                    "refund_id": errors.DuplicateRefund,
                    "write_off_id": errors.DuplicateWriteOff,
                    "offer_id": errors.DuplicateSettlementOffer,
                    "plan_id": errors.DuplicatePaymentPlan,
                    "subscription_id": errors.DuplicateSubscription,
                    "run_id": errors.DuplicateBillingRun,
                    "claim_id": errors.DuplicateClaim,
                    "patient_invoice_number": errors.DuplicateInvoice,
                    "dispute_id": errors.DuplicateDispute,
                }.get(field, errors.DuplicateCollectionRecord)
                raise error(f"{what} {value} is already recorded on this account.", field=field)
        return value

    def _check_not_before_opening(self, on: date, field: str) -> date:
        require_date(on, field)
        if on < self.opened_on:
            raise errors.InvalidDate(
                f"{on} is before the account was opened on {self.opened_on}.", field=field
            )
        return on
