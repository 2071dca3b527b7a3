"""The tenant's controls: its approval policy, its back-dating policy, and closing its periods.

Concept
    What an auditor relies on, set and exercised here on the tenant's aggregate
    (:mod:`domain.tenant`), with the product's table that every writer of accounts reads
    (:mod:`services.period_barriers`):

    - the approval policy (:mod:`domain.approvals`): which commands wait for a second person,
      above which amount, and for how long a request stays open;
    - the back-dating policy: a command dated in a closed period is refused, or posted on the
      first open day with a reference to the period it corrects;
    - the close of an accounting period (:mod:`domain.periods`): checked against the tenant's
      closed days, then the barrier is raised, then the seal is computed from the stored
      events (nothing more can enter the period by then), then ``PeriodClosed`` is recorded
      with it; reopening (an approver's act, with a reason) is recorded first and the barrier
      lowered after.

Invariants
    - The barrier never admits what the tenant's closed periods forbid: it is raised before
      the seal and put back if the close fails; it is lowered only after a reopening is stored.
    - One close or reopening of a tenant at a time (a named lock, as the day close has).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from psycopg.sql import SQL, Identifier

from domain import errors
from domain.approvals import ApprovalPolicy, ApprovalRule, check_policy
from domain.periods import Period, check_backdating
from domain.provenance import Provenance
from domain.tenant import Tenant
from projections.database import Cursor, events_table
from projections.seals import Unsealable, compute_seals
from services.bootstrap import Runtime
from services.errors import ServiceError
from services.period_barriers import Barrier, read_barrier
from services.relay_lock import named_lock
from services.tenants import TenantSettings


class PeriodBusy(ServiceError):
    status = 409
    code = "period_close_busy"

    def __init__(self, tenant_id: str) -> None:
        super().__init__(
            f"Another close or reopening of tenant {tenant_id}'s periods is under way; try again."
        )


class SealFailed(ServiceError):
    status = 409
    code = "period_unsealable"

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"The period cannot be sealed: {detail}. Nothing was closed; run ar verify."
        )


@dataclass(frozen=True)
class PeriodView:
    period: str
    closed_through: date
    seal: str
    events: int
    closed_by: str


class Controls:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.app = runtime.app
        self.db = runtime.app.db
        self.settings = TenantSettings(runtime.app, runtime.app.clock)

    # --- approval policy ------------------------------------------------------------------

    def set_approval_policy(
        self,
        tenant_id: str,
        rules: Sequence[tuple[str, str, Decimal]],
        expires_after_days: int,
        meta: Provenance,
    ) -> ApprovalPolicy:
        policy = check_policy(
            [ApprovalRule(command, currency, above) for command, currency, above in rules],
            expires_after_days,
        )

        def change(tenant: Tenant) -> bool:
            if tenant.approval_policy == policy:
                return False
            today = self.settings.today(tenant_id, tenant)
            tenant.set_approval_policy(policy=policy, effective_on=today, meta=meta)
            return True

        self.settings.update(tenant_id, change, meta)
        return policy

    def approval_policy(self, tenant_id: str) -> ApprovalPolicy | None:
        tenant = self.settings.get(tenant_id)
        return None if tenant is None else tenant.approval_policy

    # --- back-dating ----------------------------------------------------------------------

    def set_backdating(self, tenant_id: str, policy: str, meta: Provenance) -> str:
        check_backdating(policy)
        with self._one_at_a_time(tenant_id):

            def change(tenant: Tenant) -> bool:
                if tenant.backdating == policy:
                    return False
                today = self.settings.today(tenant_id, tenant)
                tenant.set_backdating(policy=policy, effective_on=today, meta=meta)
                return True

            tenant = self.settings.update(tenant_id, change, meta)
            self._set_barrier(tenant_id, tenant)
        return policy

    # --- periods --------------------------------------------------------------------------

    def close_period(self, tenant_id: str, period_text: str, meta: Provenance) -> PeriodView:
        period = Period.parse(period_text)
        with self._one_at_a_time(tenant_id):
            tenant = self.settings.get(tenant_id)
            if tenant is None:
                raise errors.PeriodHasOpenDays(
                    f"{period} has days still open (no day is closed yet); close the days"
                    f" through {period.last_day} first.",
                    field="period",
                )
            tenant.check_can_close(period)
            before = read_barrier(self.db, tenant_id)
            self._raise_barrier(tenant_id, Barrier(period.last_day, tenant.backdating))
            try:
                try:
                    seal = compute_seals(self.app, {tenant_id: {period}})[(tenant_id, period)]
                except Unsealable as exc:
                    raise SealFailed(str(exc)) from exc

                def change(current: Tenant) -> bool:
                    current.close_period(
                        period=period, seal=seal.value, events=seal.events, meta=meta
                    )
                    return True

                self.settings.update(tenant_id, change, meta)
            except BaseException:
                self._put_back(tenant_id, before)
                raise
        return PeriodView(str(period), period.last_day, seal.value, seal.events, meta.actor)

    def reopen_period(self, tenant_id: str, period_text: str, meta: Provenance) -> date | None:
        """Reopen the latest closed period; the new closed-through day (None: none closed)."""
        period = Period.parse(period_text)
        with self._one_at_a_time(tenant_id):

            def change(tenant: Tenant) -> bool:
                tenant.reopen_period(period=period, meta=meta)
                return True

            tenant = self.settings.update(tenant_id, change, meta)
            self._set_barrier(tenant_id, tenant)
        return tenant.closed_through

    def periods(self, tenant_id: str) -> list[PeriodView]:
        tenant = self.settings.get(tenant_id)
        if tenant is None:
            return []
        return [
            PeriodView(
                close.period,
                Period.parse(close.period).last_day,
                close.seal,
                close.events,
                close.closed_by,
            )
            for _, close in sorted(tenant.closed_periods.items())
        ]

    # --- the barrier ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _one_at_a_time(self, tenant_id: str) -> Iterator[None]:
        lock = named_lock(self.runtime.settings, f"periods:{tenant_id}")
        if not lock.acquire():
            raise PeriodBusy(tenant_id)
        try:
            yield
        finally:
            lock.release()

    def _raise_barrier(self, tenant_id: str, barrier: Barrier) -> None:
        """Write the barrier after taking the events table's write lock, so no insert that
        read the older barrier is still to commit once this one is."""
        with self.db.transaction() as c:
            if self.db.is_postgres:
                c.execute(
                    SQL("LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE").format(
                        schema=Identifier(self.db.datastore.schema),  # type: ignore[union-attr]
                        table=Identifier(events_table(self.app)),
                    )
                )
            self._write(c, tenant_id, barrier)

    def _put_back(self, tenant_id: str, barrier: Barrier | None) -> None:
        with self.db.transaction() as c:
            self._write(c, tenant_id, barrier)

    def _set_barrier(self, tenant_id: str, tenant: Tenant) -> None:
        through = tenant.closed_through
        self._put_back(tenant_id, None if through is None else Barrier(through, tenant.backdating))

    def _write(self, cursor: Cursor, tenant_id: str, barrier: Barrier | None) -> None:
        cursor.execute(self.db.sql("DELETE FROM period_barriers WHERE tenant_id = ?"), (tenant_id,))
        if barrier is not None:
            cursor.execute(
                self.db.sql(
                    "INSERT INTO period_barriers (tenant_id, closed_through, backdating)"
                    " VALUES (?, ?, ?)"
                ),
                (tenant_id, barrier.closed_through.isoformat(), barrier.backdating),
            )
