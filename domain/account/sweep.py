"""The daily sweep: what the passing of a day decides on an account.

Concept
    Some facts follow from time alone: a plan installment not paid by its due date
    is missed (and a plan with enough misses defaults), a settlement offer past its
    expiry lapses, a promise to pay past its date without the cash is broken. The
    sweep records them for a business date ``as_of``; the events belong to their
    concepts (:mod:`domain.account.plans`, :mod:`domain.account.settlement`,
    :mod:`domain.account.collections`).

Invariants
    - Decided as of ``as_of`` by business dates: an installment paid after ``as_of``
      was still missed on it, even when the sweep runs after the payment.
    - Safe to repeat: each fact is recorded once (an installment already missed, an
      offer or a promise already ended is skipped).
"""

from __future__ import annotations

from datetime import date

from domain import collections_activity as collection
from domain import plans as plan_rules
from domain.account.collections import PromiseToPayBroken
from domain.account.core import AccountState
from domain.account.plans import PaymentPlanDefaulted, PlanInstallmentMissed, plan_progress
from domain.account.settlement import SettlementOfferLapsed, active_offers
from domain.provenance import Provenance


class DailySweep(AccountState):
    """The sweep command."""

    def sweep(self, *, as_of: date, meta: Provenance) -> None:
        """Record what the passing of ``as_of`` decides: plan installments missed (and plans
        defaulted), settlement offers lapsed, promises to pay broken. Safe to repeat.

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
