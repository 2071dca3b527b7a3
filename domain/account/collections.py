"""Collections: the work of getting paid — activities, promises to pay and dunning.

Concept
    A collection activity is a call, letter, email, ... made to collect, with what
    came of it (see :mod:`domain.collections_activity`). A promise to pay is the
    customer's word to pay an amount by a date: cash received from the day it is
    made counts towards it, and it is kept once that cash reaches the amount (when
    the payment is received, through :func:`review_promises`), or broken when the
    daily sweep passes the promised date (see :mod:`domain.account.sweep`). Dunning
    escalates the reminder level on undisputed overdue invoices.

Invariants
    - A promise counts the cash received between its making and its date; when a
      payment that kept it is reversed, it is open again before the promised date
      and broken after it (:func:`reopen_promises`).
    - The dunning level only goes up, and only while something undisputed is overdue.
"""

from __future__ import annotations

from datetime import date

from domain import collections_activity as collection
from domain import errors
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
    """Recording collection activities and promises to pay; escalating dunning."""

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
