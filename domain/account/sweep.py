"""The daily sweep: what the passing of a day decides on an account.

Concept
    Some facts follow from time alone: a plan installment not paid by its due date
    is missed (and a plan with enough misses defaults), a settlement offer past its
    expiry lapses, a promise to pay past its date without the cash is broken, an
    approval request not decided by its last day expires. The sweep records them for a
    business date ``as_of``; the events belong to their concepts
    (:mod:`domain.account.plans`, :mod:`domain.account.settlement`,
    :mod:`domain.account.collections`, :mod:`domain.account.approvals`).

    The *close of day* (``close_day``) is what the close of a tenant's business day does
    to one account: the sweep, then the tenant's dunning policy in force on the day
    (:mod:`domain.dunning`). The account goes up to the highest level its oldest overdue
    term's days past due reach, unless a *hold* stops dunning (an open dispute, a current
    payment plan, an open promise to pay); once nothing is overdue (the account's
    ``overdue`` query, so whatever that query counts as overdue, this follows) a dunned
    account is reset to level 0. What is recorded is the concepts' own events
    (``DunningEscalated``, ``DunningReset``), with the caller's provenance naming the close.

    For the read model that tells the close which accounts to touch
    (``projections.agenda``), :func:`next_sweep_on`, :func:`overdue_from` and
    :func:`dunning_hold` say, from what is on record, when something can next fall due.

Invariants
    - Decided as of ``as_of`` by business dates: an installment paid after ``as_of``
      was still missed on it, even when the sweep runs after the payment.
    - Safe to repeat: each fact is recorded once (an installment already missed, an
      offer or a promise already ended is skipped); so is the close of day (a level is
      only ever raised to a higher one, a reset needs a level to reset).
    - The close of day passes by, recording nothing, an account that is closed or was
      opened after the day: nothing can fall due on it.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Final, cast

from domain import collections_activity as collection
from domain import disputes as dispute_rules
from domain import plans as plan_rules
from domain.account.approvals import expire_requests, requests_of
from domain.account.collections import CollectionCommands, PromiseToPayBroken
from domain.account.core import CLOSED, AccountState
from domain.account.plans import PaymentPlanDefaulted, PlanInstallmentMissed, plan_progress
from domain.account.queries import overdue_terms
from domain.account.settlement import SettlementOfferLapsed, active_offers
from domain.approvals import PENDING
from domain.dunning import DunningPolicy
from domain.provenance import Provenance

#: Why dunning is held on an account (see ``dunning_hold``).
DISPUTE_OPEN: Final = "dispute_open"
PLAN_CURRENT: Final = "plan_current"
PROMISE_OPEN: Final = "promise_open"

_DAY = timedelta(days=1)


def dunning_hold(account: AccountState, as_of: date) -> str | None:
    """Why the dunning policy leaves the account alone on ``as_of``, if it does: a dispute
    open on it, a payment plan that is current (no installment due before the day still
    outstanding), or a promise to pay that is open. None: nothing holds it."""
    for dispute in account.disputes.values():
        if dispute.status == dispute_rules.OPEN and dispute.opened_on <= as_of:
            return DISPUTE_OPEN
    for promise in account.promises.values():
        if promise.status == collection.OPEN and promise.made_on <= as_of:
            return PROMISE_OPEN
    for plan in account.plans.values():
        if plan.status != plan_rules.ACTIVE or plan.schedule.effective_on > as_of:
            continue
        behind = any(
            status.due_on < as_of and status.outstanding.is_positive
            for status in plan_progress(account, plan, as_of=as_of)
        )
        if not behind:
            return PLAN_CURRENT
    return None


def next_sweep_on(account: AccountState) -> date | None:
    """The first business date on which a sweep would record something, by what is on
    record now: the day after the earliest installment of an active plan still outstanding
    and not yet missed, after an active offer's expiry, after an open promise's date, after a pending approval request's last day.
    None: nothing would ever fall due."""
    if account.status == CLOSED:
        return None
    candidates: list[date] = []
    for plan in account.plans.values():
        if plan.status != plan_rules.ACTIVE:
            continue
        if len(plan.missed) >= plan.default_after_missed:
            candidates.append(plan.schedule.effective_on)  # a default the sweep has yet to record
        for status in plan_progress(account, plan):
            if status.outstanding.is_positive and status.index not in plan.missed:
                candidates.append(max(status.due_on + _DAY, plan.schedule.effective_on))
                break  # installments fall due in order: the first one is the earliest
    candidates += [offer.expires_on + _DAY for offer in active_offers(account)]
    candidates += [
        promise.pay_by + _DAY
        for promise in account.promises.values()
        if promise.status == collection.OPEN
    ]
    candidates += [
        request.expires_on + _DAY
        for request in requests_of(account).values()
        if request.status == PENDING
    ]
    return min(candidates, default=None)


def overdue_from(account: AccountState) -> date | None:
    """The first business date on which something still open on the account is overdue:
    the day after the earliest due date of a term with something outstanding now. None:
    nothing open. (A lower bound of what the account's ``overdue`` query says on a date.)"""
    if account.status == CLOSED:
        return None
    earliest: date | None = None
    for number in account.open_items:
        for status in account.items[number].term_statuses(None):
            if status.outstanding.is_positive and (earliest is None or status.due_on < earliest):
                earliest = status.due_on
                break  # terms fall due in order
    return None if earliest is None else earliest + _DAY


class DailySweep(AccountState):
    """The sweep command, and the close of a business day."""

    def sweep(self, *, as_of: date, meta: Provenance) -> None:
        """Record what the passing of ``as_of`` decides: plan installments missed (and plans
        defaulted), settlement offers lapsed, promises to pay broken, approval requests
        expired. Safe to repeat.

        Each is decided as of ``as_of`` by business dates: an installment paid after
        ``as_of`` was still missed on it, even when the sweep runs after the payment."""
        self._check_open()
        self._check_not_before_opening(as_of, "as_of")
        for plan in [p for p in self.plans.values() if p.status == plan_rules.ACTIVE]:
            if plan.schedule.effective_on > as_of:
                continue  # the schedule in force now had not been agreed yet
            # As the movements' business dates say on ``as_of``, however late the sweep runs.
            for status in plan_progress(self, plan, as_of=as_of):
                if (
                    status.due_on < as_of
                    and status.outstanding.is_positive
                    and status.index not in plan.missed
                ):
                    self._trigger(
                        PlanInstallmentMissed,
                        effective_on=as_of,
                        meta=meta,
                        plan_id=plan.plan_id,
                        index=status.index,
                        due_on=status.due_on,
                        outstanding=status.outstanding,
                    )
            if len(plan.missed) >= plan.default_after_missed:
                self._trigger(
                    PaymentPlanDefaulted,
                    effective_on=as_of,
                    meta=meta,
                    plan_id=plan.plan_id,
                    missed_installments=len(plan.missed),
                )
        for offer in active_offers(self):
            if offer.expires_on < as_of:
                self._trigger(
                    SettlementOfferLapsed,
                    effective_on=as_of,
                    meta=meta,
                    offer_id=offer.offer_id,
                )
        for promise in list(self.promises.values()):
            if promise.status == collection.OPEN and promise.pay_by < as_of:
                self._trigger(
                    PromiseToPayBroken,
                    effective_on=as_of,
                    meta=meta,
                    promise_id=promise.promise_id,
                    received=promise.received,
                )
        expire_requests(self, as_of, meta)

    def close_day(self, *, as_of: date, policy: DunningPolicy | None, meta: Provenance) -> None:
        """What the close of business day ``as_of`` does to the account: the sweep, then the
        dunning policy in force on the day (None or no level: no automatic dunning).

        Records nothing on an account that is closed or was opened after ``as_of``."""
        if self.status == CLOSED or as_of < self.opened_on:
            return
        self.sweep(as_of=as_of, meta=meta)
        if policy is None or not policy.levels:
            return
        overdue = overdue_terms(self, as_of)
        # Commands of another concept: an Account's bases include CollectionCommands.
        collections = cast(CollectionCommands, self)
        if not overdue:
            if self.dunning_level > 0:
                collections.reset_dunning(reset_on=as_of, meta=meta)
            return
        if dunning_hold(self, as_of) is not None:
            return
        oldest = next((term for term in overdue if not term.disputed), None)
        if oldest is None:
            return
        step = policy.level_for(oldest.days_overdue)
        if step is not None and step.level > self.dunning_level:
            collections.escalate_dunning(level=step.level, escalated_on=as_of, meta=meta)
