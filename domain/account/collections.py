"""Collections: the work of getting paid — activities, promises to pay and dunning.

Concept
    A collection activity is a call, letter, email, ... made to collect, with what
    came of it (see :mod:`domain.collections_activity`). A promise to pay is the
    customer's word to pay an amount by a date: cash received from the day it is
    made counts towards it, and it is kept once that cash reaches the amount (when
    the payment is received, through :func:`review_promises`), or broken when the
    daily sweep passes the promised date (see :mod:`domain.account.sweep`). Dunning
    escalates the reminder level on undisputed overdue invoices. An account is assigned to
    (at most) one collector, who works it; the assignment can move or end.

Invariants
    - A promise counts the cash received between its making and its date; when a
      payment that kept it is reversed, it is open again before the promised date
      and broken after it (:func:`reopen_promises`).
    - The dunning level only goes up, and only while something undisputed is overdue; it
      goes back to 0 only by a reset, once nothing is overdue (the account brought current).
    - The collector is one line of text (the collector's name or id, see
      :mod:`domain.contacts`); assigning the collector already assigned, or unassigning
      when none is, is refused. ``collector`` is a class-level default (none), so accounts
      and snapshots from before assignments existed read as unassigned.
"""

from __future__ import annotations

from datetime import date
from typing import cast

from domain import collections_activity as collection
from domain import contacts, errors
from domain.account.core import AccountState, Event, require_date, require_text
from domain.account.queries import overdue_terms
from domain.collections_activity import CollectionActivity, PromiseToPay
from domain.money import Money
from domain.provenance import Provenance

# ================================================================== events


class CollectionActivityRecorded(Event):
    TOPIC = "receivables.account:CollectionActivityRecorded"

    activity_id: str
    channel: str
    outcome: str
    note: str

    def evolve(self, account: AccountState) -> None:
        account.activities[self.activity_id] = CollectionActivity(
            self.activity_id, self.channel, self.outcome, self.note, self.effective_on
        )


class PromiseToPayMade(Event):
    TOPIC = "receivables.account:PromiseToPayMade"

    promise_id: str
    amount: Money
    pay_by: date

    def evolve(self, account: AccountState) -> None:
        account.promises[self.promise_id] = PromiseToPay(
            promise_id=self.promise_id,
            amount=self.amount,
            made_on=self.effective_on,
            pay_by=self.pay_by,
            received=Money.zero(self.amount.currency),
        )


class PromiseToPayKept(Event):
    TOPIC = "receivables.account:PromiseToPayKept"

    promise_id: str
    received: Money

    def evolve(self, account: AccountState) -> None:
        promise = account.promises[self.promise_id]
        promise.status = collection.KEPT
        promise.ended_on = self.effective_on


class PromiseToPayReopened(Event):
    """The payment that kept a promise was reversed before the promised date."""

    TOPIC = "receivables.account:PromiseToPayReopened"

    promise_id: str
    received: Money

    def evolve(self, account: AccountState) -> None:
        promise = account.promises[self.promise_id]
        promise.status = collection.OPEN
        promise.ended_on = None


class PromiseToPayBroken(Event):
    TOPIC = "receivables.account:PromiseToPayBroken"

    promise_id: str
    received: Money

    def evolve(self, account: AccountState) -> None:
        promise = account.promises[self.promise_id]
        promise.status = collection.BROKEN
        promise.ended_on = self.effective_on


class DunningEscalated(Event):
    TOPIC = "receivables.account:DunningEscalated"

    level: int
    invoice_numbers: list[str]

    def evolve(self, account: AccountState) -> None:
        account.dunning_level = self.level


class DunningReset(Event):
    """The account was brought current: nothing is overdue, dunning starts again at 0."""

    TOPIC = "receivables.account:DunningReset"

    #: The level the account was at until now.
    previous_level: int

    def evolve(self, account: AccountState) -> None:
        account.dunning_level = 0


class CollectorAssigned(Event):
    TOPIC = "receivables.account:CollectorAssigned"

    collector: str

    def evolve(self, account: AccountState) -> None:
        # Events apply to an Account, whose bases include CollectionCommands.
        cast(CollectionCommands, account).collector = self.collector


class CollectorUnassigned(Event):
    TOPIC = "receivables.account:CollectorUnassigned"

    #: The collector the account was assigned to until now.
    collector: str

    def evolve(self, account: AccountState) -> None:
        cast(CollectionCommands, account).collector = None


# ================================================================== rules other concepts use


def review_promises(account: AccountState, on: date, meta: Provenance) -> None:
    """Cash was received: open promises it has now paid in full are kept."""
    for promise in list(account.promises.values()):
        if promise.status == collection.OPEN and promise.received >= promise.amount:
            account._trigger(
                PromiseToPayKept,
                effective_on=on,
                meta=meta,
                promise_id=promise.promise_id,
                received=promise.received,
            )


def reopen_promises(account: AccountState, on: date, meta: Provenance) -> None:
    """A payment was reversed on ``on``: kept promises it no longer pays in full are open
    again, or broken when the promised date has passed."""
    for promise in list(account.promises.values()):
        if promise.status == collection.KEPT and promise.received < promise.amount:
            account._trigger(
                PromiseToPayReopened if on <= promise.pay_by else PromiseToPayBroken,
                effective_on=on,
                meta=meta,
                promise_id=promise.promise_id,
                received=promise.received,
            )


# ================================================================== commands


class CollectionCommands(AccountState):
    """Recording collection activities and promises to pay; escalating dunning; assigning
    the account to a collector."""

    #: The collector the account is assigned to; a class-level default (see the invariants).
    collector: str | None = None

    def record_collection_activity(
        self,
        *,
        activity_id: str,
        channel: str,
        outcome: str,
        occurred_on: date,
        meta: Provenance,
        note: str = "",
    ) -> None:
        """A call, letter, email, ... made to collect, with what came of it."""
        self._check_open()
        self._new_id(activity_id, "activity_id", "Collection activity", [self.activities])
        if channel not in collection.CHANNELS:
            raise errors.InvalidCollectionChannel(
                f"{channel!r} is not a channel; use one of {', '.join(sorted(collection.CHANNELS))}.",
                field="channel",
            )
        require_text(outcome, "outcome", "The outcome")
        self._check_not_before_opening(occurred_on, "occurred_on")
        self._trigger(
            CollectionActivityRecorded,
            effective_on=occurred_on,
            meta=meta,
            activity_id=activity_id,
            channel=channel,
            outcome=outcome,
            note=note,
        )

    def record_promise_to_pay(
        self,
        *,
        promise_id: str,
        amount: Money,
        pay_by: date,
        promised_on: date,
        meta: Provenance,
    ) -> None:
        """The customer promises to pay ``amount`` by ``pay_by``; cash from ``promised_on``
        counts towards it."""
        self._check_open()
        self._new_id(promise_id, "promise_id", "Promise to pay", [self.promises])
        self._check_money(amount, "amount")
        self._check_not_before_opening(promised_on, "promised_on")
        require_date(pay_by, "pay_by")
        if pay_by < promised_on:
            raise errors.InvalidDate(
                f"The promised date {pay_by} is before the promise ({promised_on}).",
                field="pay_by",
            )
        self._trigger(
            PromiseToPayMade,
            effective_on=promised_on,
            meta=meta,
            promise_id=promise_id,
            amount=amount,
            pay_by=pay_by,
        )

    def escalate_dunning(self, *, level: int, escalated_on: date, meta: Provenance) -> None:
        """Raise the dunning level; needs an overdue invoice that is not disputed."""
        self._check_open()
        if isinstance(level, bool) or not isinstance(level, int) or level <= self.dunning_level:
            raise errors.InvalidDunningLevel(
                f"The dunning level can only go up from {self.dunning_level}.", field="level"
            )
        self._check_not_before_opening(escalated_on, "escalated_on")
        dunnable = sorted(
            {t.invoice_number for t in overdue_terms(self, escalated_on) if not t.disputed}
        )
        if not dunnable:
            raise errors.NothingToDun(
                f"Nothing undisputed is overdue on {escalated_on}; there is nothing to chase."
            )
        self._trigger(
            DunningEscalated,
            effective_on=escalated_on,
            meta=meta,
            level=level,
            invoice_numbers=dunnable,
        )

    def reset_dunning(self, *, reset_on: date, meta: Provenance) -> None:
        """Dunning starts again at level 0: the account was brought current (nothing is
        overdue on ``reset_on``, as the account's overdue query counts it)."""
        self._check_open()
        self._check_not_before_opening(reset_on, "reset_on")
        if self.dunning_level == 0:
            raise errors.NotDunned(f"Account {self.account_number} is at no dunning level.")
        if overdue_terms(self, reset_on):
            raise errors.AccountNotCurrent(
                f"Something is still overdue on account {self.account_number} on {reset_on};"
                " dunning resets once the account is brought current."
            )
        self._trigger(
            DunningReset, effective_on=reset_on, meta=meta, previous_level=self.dunning_level
        )

    def assign_collector(self, *, collector: str, assigned_on: date, meta: Provenance) -> None:
        """Assign the account to a collector (in place of the one assigned, if any)."""
        self._check_open()
        contacts.check_text(
            collector, "collector", "The collector", max_length=contacts.COLLECTOR_MAX
        )
        self._check_not_before_opening(assigned_on, "assigned_on")
        if collector == self.collector:
            raise errors.NothingChanged(
                f"Account {self.account_number} is already assigned to {collector}.",
                field="collector",
            )
        self._trigger(CollectorAssigned, effective_on=assigned_on, meta=meta, collector=collector)

    def unassign_collector(self, *, unassigned_on: date, meta: Provenance) -> None:
        """End the account's assignment to its collector."""
        self._check_open()
        self._check_not_before_opening(unassigned_on, "unassigned_on")
        if self.collector is None:
            raise errors.NoCollectorAssigned(
                f"Account {self.account_number} is assigned to no collector."
            )
        self._trigger(
            CollectorUnassigned, effective_on=unassigned_on, meta=meta, collector=self.collector
        )
