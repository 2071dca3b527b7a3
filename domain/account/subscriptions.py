"""Subscriptions: monthly price plans, charged in advance by billing runs, with proration.

Concept
    A subscription bills a plan's price each monthly period, in advance (see
    :mod:`domain.subscriptions`). A billing run charges every period of every active
    subscription that starts on or before its ``through`` date and is not yet billed.
    A plan change is immediate (the billed part of the period is prorated: the
    unused old plan credited, the new one charged) or takes effect from the next
    period; a cancellation is immediate (the unused part credited) or at the end of
    the period.

Invariants
    - A period is charged once: a period billed in parts (a change or cancellation
      within it) counts once, and its charge ids (``<subscription>/<start>``) are
      unique.
    - An immediate change in a period not yet billed waits for the billing run,
      which bills the old plan up to the change and the new one from it; only one
      such change may wait at a time.
    - A change or cancellation cannot reach back before the last billed period
      (correct earlier periods with a credit note).
    - One billing run charges at most ``MAX_PERIODS_PER_RUN`` periods.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Final

from domain import errors, ledger
from domain import subscriptions as subscription_rules
from domain.account.core import AccountState, Event, require_date, require_text
from domain.charges import PRORATION_CHARGE, PRORATION_CREDIT, RECURRING, Charge, ChargeLine
from domain.money import Money
from domain.provenance import Provenance
from domain.subscriptions import BilledPeriod, Subscription

#: The most periods one billing run charges, over all subscriptions: years of monthly catch-up,
#: never the thousands a mistyped ``through`` date would bill.
MAX_PERIODS_PER_RUN: Final = 366

# ================================================================== events


class SubscriptionStarted(Event):
    TOPIC = "receivables.account:SubscriptionStarted"

    subscription_id: str
    plan_code: str
    price: Money

    def evolve(self, account: AccountState) -> None:
        account.subscriptions[self.subscription_id] = Subscription(
            subscription_id=self.subscription_id,
            plan_code=self.plan_code,
            price=self.price,
            starts_on=self.effective_on,
            billed_until=self.effective_on,
        )


class SubscriptionPlanChanged(Event):
    TOPIC = "receivables.account:SubscriptionPlanChanged"

    subscription_id: str
    plan_code: str
    price: Money
    timing: str
    applies_from: date
    proration: list[ChargeLine]

    def evolve(self, account: AccountState) -> None:
        subscription = account.subscriptions[self.subscription_id]
        # An immediate change in a period not yet billed waits for the billing run,
        # which bills the old plan up to the change and the new one from it.
        if (
            self.timing == subscription_rules.IMMEDIATE
            and self.applies_from < subscription.billed_until
        ):
            subscription.plan_code = self.plan_code
            subscription.price = self.price
            subscription.pending_plan_code = None
            subscription.pending_price = None
            subscription.pending_from = None
        else:
            subscription.pending_plan_code = self.plan_code
            subscription.pending_price = self.price
            subscription.pending_from = self.applies_from
        _add_charge_lines(account, self.proration, self.effective_on)


class SubscriptionCancelled(Event):
    TOPIC = "receivables.account:SubscriptionCancelled"

    subscription_id: str
    timing: str
    ends_on: date
    proration: list[ChargeLine]

    def evolve(self, account: AccountState) -> None:
        subscription = account.subscriptions[self.subscription_id]
        subscription.status = subscription_rules.CANCELLED
        subscription.ends_on = self.ends_on
        _add_charge_lines(account, self.proration, self.effective_on)


class BillingRunCompleted(Event):
    TOPIC = "receivables.account:BillingRunCompleted"

    run_id: str
    periods: list[BilledPeriod]

    def evolve(self, account: AccountState) -> None:
        account.billing_runs[self.run_id] = self.effective_on
        for period in self.periods:
            subscription = account.subscriptions[period.subscription_id]
            if (
                subscription.pending_from is not None
                and subscription.pending_from <= period.period_start
            ):
                subscription.plan_code = subscription.pending_plan_code or ""
                subscription.price = subscription.pending_price or subscription.price
                subscription.pending_plan_code = None
                subscription.pending_price = None
                subscription.pending_from = None
            subscription.billed_until = period.period_end
            # A period billed in parts (a change or cancellation within it) counts once.
            if period.period_end == subscription.period_start(subscription.periods_billed + 1):
                subscription.periods_billed += 1
            account._add_charge(
                Charge(
                    charge_id=period.charge_id,
                    code=period.plan_code,
                    description=(
                        f"{period.plan_code} {period.period_start} to {period.period_end}"
                    ),
                    quantity=Decimal(1),
                    unit_price=period.amount,
                    net=period.amount,
                    tax=Money.zero(period.amount.currency),
                    service_date=period.period_start,
                    posted_on=self.effective_on,
                    kind=RECURRING,
                    subscription_id=period.subscription_id,
                )
            )


def _add_charge_lines(account: AccountState, lines: Iterable[ChargeLine], posted_on: date) -> None:
    for line in lines:
        net = line.unit_price * line.quantity
        account._add_charge(
            Charge(
                charge_id=line.charge_id,
                code=line.code,
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                net=net,
                tax=line.tax,
                service_date=line.service_date,
                posted_on=posted_on,
                kind=line.kind,
                subscription_id=line.subscription_id,
            )
        )


# ================================================================== commands


class SubscriptionCommands(AccountState):
    """Starting, changing and cancelling subscriptions, and billing runs."""

    def start_subscription(
        self,
        *,
        subscription_id: str,
        plan_code: str,
        price: Money,
        starts_on: date,
        meta: Provenance,
    ) -> None:
        """Start a monthly price plan; billing runs charge each period in advance."""
        self._check_open()
        self._new_id(subscription_id, "subscription_id", "Subscription", [self.subscriptions])
        require_text(plan_code, "plan_code", "A plan code")
        self._check_money(price, "price")
        self._check_not_before_opening(starts_on, "starts_on")
        self._trigger(
            SubscriptionStarted,
            effective_on=starts_on,
            meta=meta,
            subscription_id=subscription_id,
            plan_code=plan_code,
            price=price,
        )

    def change_subscription_plan(
        self,
        *,
        subscription_id: str,
        plan_code: str,
        price: Money,
        change_on: date,
        meta: Provenance,
        timing: str = subscription_rules.IMMEDIATE,
    ) -> None:
        """Change plan ``immediate``-ly (prorating the billed period) or from the ``next_period``."""
        self._check_open()
        subscription = self._active_subscription(subscription_id)
        require_text(plan_code, "plan_code", "A plan code")
        self._check_money(price, "price")
        self._check_change_date(subscription, change_on)
        if timing not in (subscription_rules.IMMEDIATE, subscription_rules.NEXT_PERIOD):
            raise errors.InvalidSubscriptionTiming(
                "A plan change is 'immediate' or 'next_period'.", field="timing"
            )
        self._check_no_change_waiting(subscription)
        period = subscription.period_containing(change_on)
        lines: list[ChargeLine] = []
        applies_from = change_on if timing == subscription_rules.IMMEDIATE else period[1]
        if timing == subscription_rules.IMMEDIATE and change_on < subscription.billed_until:
            lines = self._proration_lines(subscription, period, change_on, new_price=price)
        self._check_room(ledger.CHARGES, self._lines_total(lines), "price")
        self._trigger(
            SubscriptionPlanChanged,
            effective_on=change_on,
            meta=meta,
            subscription_id=subscription_id,
            plan_code=plan_code,
            price=price,
            timing=timing,
            applies_from=applies_from,
            proration=lines,
        )

    def cancel_subscription(
        self,
        *,
        subscription_id: str,
        cancel_on: date,
        meta: Provenance,
        timing: str = subscription_rules.END_OF_PERIOD,
    ) -> None:
        """Cancel at the ``end_of_period`` (no credit) or ``immediate``-ly (unused part credited)."""
        self._check_open()
        subscription = self._active_subscription(subscription_id)
        self._check_change_date(subscription, cancel_on)
        if timing not in (subscription_rules.IMMEDIATE, subscription_rules.END_OF_PERIOD):
            raise errors.InvalidSubscriptionTiming(
                "A cancellation is 'immediate' or 'end_of_period'.", field="timing"
            )
        period = subscription.period_containing(cancel_on)
        lines: list[ChargeLine] = []
        if timing == subscription_rules.IMMEDIATE:
            ends_on = cancel_on
            if cancel_on < subscription.billed_until:
                lines = self._proration_lines(subscription, period, cancel_on, new_price=None)
        else:
            ends_on = period[1]
        self._trigger(
            SubscriptionCancelled,
            effective_on=cancel_on,
            meta=meta,
            subscription_id=subscription_id,
            timing=timing,
            ends_on=ends_on,
            proration=lines,
        )

    def run_billing(self, *, run_id: str, through: date, meta: Provenance) -> None:
        """Charge every active subscription for each period starting on or before ``through``
        that is not yet billed (in advance). Records the run even when nothing was due."""
        self._check_open()
        self._new_id(run_id, "run_id", "Billing run", [self.billing_runs])
        self._check_not_before_opening(through, "through")
        periods: list[BilledPeriod] = []
        for subscription in self.subscriptions.values():
            start = subscription.billed_until
            index = subscription.periods_billed
            plan_code, price = subscription.plan_code, subscription.price
            pending_from = subscription.pending_from
            ends_on = subscription.ends_on
            while start <= through and (ends_on is None or start < ends_on):
                end = subscription.period_start(index + 1)
                stop = end if ends_on is None or ends_on >= end else ends_on
                cuts = [start, stop]
                if pending_from is not None and start < pending_from < stop:
                    cuts.insert(1, pending_from)
                for part_start, part_end in itertools.pairwise(cuts):
                    if pending_from is not None and pending_from <= part_start:
                        plan_code = subscription.pending_plan_code or plan_code
                        price = subscription.pending_price or price
                        pending_from = None
                    amount = price
                    if (part_start, part_end) != (start, end):
                        amount = subscription_rules.prorate_part(
                            price, (start, end), part_start, part_end
                        )
                    periods.append(
                        BilledPeriod(
                            subscription_id=subscription.subscription_id,
                            charge_id=f"{subscription.subscription_id}/{part_start.isoformat()}",
                            plan_code=plan_code,
                            period_start=part_start,
                            period_end=part_end,
                            amount=amount,
                        )
                    )
                start, index = end, index + 1
                if len(periods) > MAX_PERIODS_PER_RUN:
                    raise errors.BillingRunTooLong(
                        f"A billing run charges at most {MAX_PERIODS_PER_RUN} periods; run"
                        f" billing through an earlier date first, then in steps to"
                        f" {through.isoformat()}.",
                        field="through",
                    )
        for period in periods:
            if period.charge_id in self.charges:
                raise errors.DuplicateCharge(
                    f"Charge {period.charge_id} already exists.", field="run_id"
                )
        billed = Money.sum((period.amount for period in periods), self.currency)
        self._check_room(ledger.CHARGES, billed, "through")
        self._trigger(
            BillingRunCompleted,
            effective_on=through,
            meta=meta,
            run_id=run_id,
            periods=periods,
        )

    def _lines_total(self, lines: Iterable[ChargeLine]) -> Money:
        return Money.sum(
            (line.unit_price * line.quantity + line.tax for line in lines), self.currency
        )

    def _active_subscription(self, subscription_id: str) -> Subscription:
        subscription = self.subscriptions.get(subscription_id)
        if subscription is None:
            raise errors.UnknownSubscription(
                f"There is no subscription {subscription_id}.", field="subscription_id"
            )
        if subscription.status != subscription_rules.ACTIVE:
            raise errors.SubscriptionNotActive(
                f"Subscription {subscription_id} is {subscription.status}.",
                field="subscription_id",
            )
        return subscription

    def _check_no_change_waiting(self, subscription: Subscription) -> None:
        waiting = subscription.pending_from
        if waiting is not None and waiting != subscription.period_containing(waiting)[0]:
            raise errors.SubscriptionChangePending(
                f"Subscription {subscription.subscription_id} already changes plan on "
                f"{waiting}, in a period not yet billed; run billing before changing it again.",
                field="subscription_id",
            )

    def _check_change_date(self, subscription: Subscription, on: date) -> None:
        require_date(on, "change_on")
        if on < subscription.starts_on:
            raise errors.InvalidDate(
                f"{on} is before the subscription started on {subscription.starts_on}.",
                field="change_on",
            )
        last_billed_start = subscription.period_start(max(subscription.periods_billed - 1, 0))
        if subscription.periods_billed and on < last_billed_start:
            raise errors.ChangeOutsideBilledPeriod(
                f"{on} is in a period before the last billed one ({last_billed_start}); "
                "correct earlier periods with a credit note.",
                field="change_on",
            )

    def _proration_lines(
        self,
        subscription: Subscription,
        period: tuple[date, date],
        on: date,
        *,
        new_price: Money | None,
    ) -> list[ChargeLine]:
        stem = f"{subscription.subscription_id}/proration/{self.version + 1}"
        credit = subscription_rules.prorate(subscription.price, period, on)
        lines = [
            ChargeLine(
                charge_id=f"{stem}/credit",
                code=subscription.plan_code,
                description=f"unused {subscription.plan_code} {on} to {period[1]}",
                quantity=Decimal(1),
                unit_price=-credit,
                tax=Money.zero(self.currency),
                service_date=on,
                kind=PRORATION_CREDIT,
                subscription_id=subscription.subscription_id,
            )
        ]
        if new_price is not None:
            charge = subscription_rules.prorate(new_price, period, on)
            lines.append(
                ChargeLine(
                    charge_id=f"{stem}/charge",
                    code=subscription.plan_code,
                    description=f"new plan {on} to {period[1]}",
                    quantity=Decimal(1),
                    unit_price=charge,
                    tax=Money.zero(self.currency),
                    service_date=on,
                    kind=PRORATION_CHARGE,
                    subscription_id=subscription.subscription_id,
                )
            )
        return [line for line in lines if not line.unit_price.is_zero]
