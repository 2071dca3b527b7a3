"""Close of day: what the passing of a business day decides, across every account of a tenant.

Concept
    Time moves on its own: an offer lapses, an installment is missed, a plan defaults, a
    promise is broken, an overdue account goes up the dunning ladder — on the day, whether or
    not a clerk looks. ``CloseOfDay.close(tenant, through)`` closes the tenant's business days
    up to ``through``: for each day, every account with something due on it gets the domain's
    ``close_day`` (the daily sweep, then the dunning policy in force on the day), and the
    tenant records ``DayClosed`` with what the close did (``domain.tenant.DaySummary``).

How
    1. The tenant's lock is taken (``close_lock``: a PostgreSQL advisory lock, or a file lock
       beside the SQLite database), so one close runs per tenant in a cluster; another asking
       meanwhile hears ``day_close_running``.
    2. The days to close are the day after the last one closed through ``through``, in order
       (catch-up after missed days); only ``through`` when no day was ever closed; none when
       ``through`` is closed already. ``through`` after the tenant's today is refused, as is a
       catch-up of more than ``MAX_DAYS_PER_CLOSE`` days (done in steps instead).
    3. For each day: the agenda read model (``projections.agenda``) is brought up to the
       store's newest event in this process (a plan agreed a moment ago is not missed), and
       selects the accounts with something due on the day — by index, not a scan. Each goes
       through the group committer like any command, so accounts are saved in batches, and a
       failure stays with its account: refused or unreadable accounts are counted and named in
       the summary, and the day goes on. A database that goes away interrupts the day instead
       (``day_close_interrupted``): it is not recorded as closed, and closing it again
       finishes it.
    4. ``DayClosed`` is recorded on the tenant. The next day is closed only after it.
    5. For a tenant with a letterhead (one that sends documents), each account the day moved
       up the dunning ladder gets its dunning letter, by a document run of that day
       (``services.documents.runs``): e-mailed or put in the run's print batch. A letter that
       cannot be produced or sent is that run's failure, named in its summary and resumable;
       it never reopens the day.

Invariants
    - Idempotent per tenant and day: a closed day records nothing again; an account's close
      of a day is safe to repeat (the sweep records each fact once; a level only goes up).
    - Every event the close records names it: actor ``close-of-day``, correlation id
      ``close-of-day:<tenant>:<date>``, and a reason naming the day, the policy version and
      who started the close (the schedule, or a person's key).
    - The domain decides as of the day, by business dates; this module only says which day
      (never one after the tenant's today) and which accounts to ask.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from domain.account import Account
from domain.dunning import DunningPolicy
from domain.errors import DomainError
from domain.provenance import Provenance
from domain.tenant import FAILURES_KEPT, DayCloseFailure, DaySummary, Tenant
from projections.agenda import Agenda, due_accounts
from projections.database import is_database_unavailable
from projections.runner import Projector, RebuildRunning, TrackingConflict, tracked_positions
from services.bootstrap import Runtime
from services.envelope import event_type
from services.errors import (
    AccountNotFound,
    AgendaNotCurrent,
    CatchUpTooLong,
    DayCloseInterrupted,
    DayCloseRunning,
    DayInFuture,
    ServiceError,
    ServiceStopping,
)
from services.group_commit import Command, Outcome
from services.logging import get_logger
from services.relay_lock import RelayLock, named_lock
from services.settings import Settings
from services.tenants import Clock, TenantSettings, utc_now

log = get_logger(__name__)

#: The actor of every event the close records on an account.
ACTOR = "close-of-day"
#: Accounts handed to the group committer at a time: enough for large batches, few enough
#: that a day of a million accounts does not hold a million futures.
WINDOW = 2_000
#: The most days one close may close: a catch-up longer than a year is a mistake more often
#: than an outage (a first close dated decades ago, say); it is done in steps on purpose.
MAX_DAYS_PER_CLOSE = 366
#: How long the close waits, in all, for a rebuild of the agenda to end.
AGENDA_WAIT_SECONDS = 30.0

#: The summary's figure each recorded event type counts towards.
_COUNTED = {
    "SettlementOfferLapsed": "offers_lapsed",
    "PlanInstallmentMissed": "installments_missed",
    "PaymentPlanDefaulted": "plans_defaulted",
    "PromiseToPayBroken": "promises_broken",
    "DunningEscalated": "dunning_escalated",
    "DunningReset": "dunning_reset",
}


def correlation_id(tenant_id: str, day: date) -> str:
    """The correlation id of everything the close of ``day`` records for the tenant."""
    return f"{ACTOR}:{tenant_id}:{day.isoformat()}"


# --- the lock -----------------------------------------------------------------------------------


def close_lock(settings: Settings, tenant_id: str) -> RelayLock:
    """The lock a close of the tenant's days holds while it runs."""
    return named_lock(settings, f"tenant:{tenant_id}")


@contextlib.contextmanager
def holding(lock: RelayLock, tenant_id: str) -> Iterator[None]:
    if not lock.acquire():
        raise DayCloseRunning(tenant_id)
    try:
        yield
    finally:
        lock.release()


# --- what a close reports ---------------------------------------------------------------------


class Progress(Protocol):
    """What a person watching a close sees (the CLI draws a bar with it)."""

    def day_started(self, day: date, accounts: int) -> None: ...
    def accounts_done(self, count: int) -> None: ...
    def day_ended(self, day: date, summary: DaySummary) -> None: ...


class _Silent:
    def day_started(self, day: date, accounts: int) -> None:
        pass

    def accounts_done(self, count: int) -> None:
        pass

    def day_ended(self, day: date, summary: DaySummary) -> None:
        pass


@dataclass(frozen=True)
class ClosedDay:
    """One business day and what its close did."""

    business_date: date
    summary: DaySummary
    #: True: closed by this run. False: it was closed before; nothing was recorded now.
    closed_now: bool
    #: Events recorded on accounts by this run (0 when closed before).
    events: int = 0
    seconds: float = 0.0
    #: The run that produced the day's dunning letters (None: no letters were due or the
    #: tenant sends no documents), and what it did.
    letters: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "business_date": self.business_date.isoformat(),
            "closed_now": self.closed_now,
            "policy_version": self.summary.policy_version,
            **self.summary.counts(),
            "failures": [
                {"account_number": f.account_number, "code": f.code} for f in self.summary.failures
            ],
            "events": self.events,
            "seconds": round(self.seconds, 3),
            "dunning_letters": self.letters,
        }


@dataclass(frozen=True)
class CloseRun:
    """What one ``close`` did: the days it closed (or found closed), in order."""

    tenant_id: str
    through: date
    days: list[ClosedDay] = field(default_factory=list)

    @property
    def recorded(self) -> bool:
        return any(day.closed_now for day in self.days)

    def totals(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for day in self.days:
            if day.closed_now:
                totals.update(day.summary.counts())
        return {
            key: totals.get(key, 0) for key in DaySummary(0, 0, 0, 0, 0, 0, 0, 0, None).counts()
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "through": self.through.isoformat(),
            "recorded": self.recorded,
            "days": [day.as_json() for day in self.days],
            "totals": self.totals(),
        }


# --- the close ----------------------------------------------------------------------------------


class CloseOfDay:
    """Closes business days for tenants of one runtime (see the module)."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        clock: Clock = utc_now,
        lock: Callable[[str], RelayLock] | None = None,
    ) -> None:
        self.runtime = runtime
        self.app = runtime.app
        self.db = runtime.db
        self.tenants = TenantSettings(runtime.app, clock)
        self._lock = lock or (lambda tenant_id: close_lock(runtime.settings, tenant_id))
        self._agenda: Projector | None = None
        # One close per tenant in this process too (the advisory lock is per session).
        self._running: set[str] = set()
        self._guard = threading.Lock()

    def close(
        self,
        tenant_id: str,
        through: date,
        *,
        started_by: str,
        progress: Progress | None = None,
    ) -> CloseRun:
        """Close the tenant's business days through ``through`` (see the module)."""
        tenant = self.tenants.get(tenant_id)
        today = self.tenants.today(tenant_id, tenant)
        if through > today:
            raise DayInFuture(through.isoformat(), today.isoformat())
        with self._one_at_a_time(tenant_id), holding(self._lock(tenant_id), tenant_id):
            tenant = self.tenants.get(tenant_id)  # as it stands now the lock is ours
            days = tenant.days_to_close(through) if tenant is not None else [through]
            if len(days) > MAX_DAYS_PER_CLOSE:
                raise CatchUpTooLong(
                    days[0].isoformat(),
                    through.isoformat(),
                    len(days),
                    MAX_DAYS_PER_CLOSE,
                    days[MAX_DAYS_PER_CLOSE - 1].isoformat(),
                )
            run = CloseRun(tenant_id, through)
            if not days:
                assert tenant is not None  # days_to_close is empty only for a closed day
                summary = tenant.summary_of(through)
                if summary is not None:
                    run.days.append(ClosedDay(through, summary, closed_now=False))
                return run
            for day in days:
                run.days.append(self._close_day(tenant_id, day, started_by, progress or _Silent()))
            return run

    def closed_day(self, tenant_id: str, day: date) -> ClosedDay | None:
        """What the close of ``day`` recorded (None: not closed on its own)."""
        tenant = self.tenants.get(tenant_id)
        summary = None if tenant is None else tenant.summary_of(day)
        return None if summary is None else ClosedDay(day, summary, closed_now=False)

    # --- one day --------------------------------------------------------------------------------

    def _close_day(
        self, tenant_id: str, day: date, started_by: str, progress: Progress
    ) -> ClosedDay:
        started = time.perf_counter()
        tenant = self.tenants.get(tenant_id)
        policy = None if tenant is None else tenant.policy_in_force(day)
        self.bring_agenda_current()
        numbers = due_accounts(self.db, tenant_id, day, policy)
        progress.day_started(day, len(numbers))
        meta = Provenance(
            actor=ACTOR,
            correlation_id=correlation_id(tenant_id, day),
            reason=_reason(day, policy, started_by),
        )
        counts: Counter[str] = Counter()
        failures: list[DayCloseFailure] = []
        escalated: list[str] = []
        events = 0
        for window in _windows(numbers, WINDOW):
            pending = [(n, self._submit(tenant_id, n, day, policy, meta)) for n in window]
            for number, future in pending:
                try:
                    outcome = future.result()
                except Exception as failure:  # the account's own, unless it interrupts
                    if _interrupts(failure):
                        raise DayCloseInterrupted(day.isoformat()) from failure
                    failures.append(DayCloseFailure(number, _code_of(failure)))
                    log.warning(
                        "account not closed for the day",
                        tenant_id=tenant_id,
                        account_number=number,
                        business_date=day.isoformat(),
                        code=_code_of(failure),
                    )
                else:
                    recorded: list[str] = outcome.body["recorded"]
                    events += len(recorded)
                    counts.update(_COUNTED[kind] for kind in recorded if kind in _COUNTED)
                    if "DunningEscalated" in recorded:
                        escalated.append(number)
            progress.accounts_done(len(window))
        summary = DaySummary(
            accounts_due=len(numbers),
            accounts_failed=len(failures),
            offers_lapsed=counts["offers_lapsed"],
            installments_missed=counts["installments_missed"],
            plans_defaulted=counts["plans_defaulted"],
            promises_broken=counts["promises_broken"],
            dunning_escalated=counts["dunning_escalated"],
            dunning_reset=counts["dunning_reset"],
            policy_version=None if policy is None else policy.version,
            failures=tuple(failures[:FAILURES_KEPT]),
        )
        recorded_now = self._record(tenant_id, day, summary, started_by)
        letters = self._dunning_letters(tenant_id, day, escalated) if recorded_now else None
        progress.day_ended(day, summary)
        log.info(
            "business day closed" if recorded_now else "business day was closed already",
            tenant_id=tenant_id,
            business_date=day.isoformat(),
            events=events,
            **summary.counts(),
        )
        seconds = time.perf_counter() - started
        return ClosedDay(day, summary, recorded_now, events, seconds, letters)

    def _dunning_letters(
        self, tenant_id: str, day: date, escalated: Sequence[str]
    ) -> dict[str, Any] | None:
        tenant = self.tenants.get(tenant_id)
        if not escalated or tenant is None or tenant.letterhead is None:
            return None
        from services.documents.runs import DocumentRuns
        from services.documents.service import Documents

        runs = DocumentRuns(self.runtime, Documents(self.app, self.tenants))
        try:
            summary = runs.dunning_letters(tenant_id, day, escalated, started_by=ACTOR)
        except ServiceError as busy:  # the day is closed; the letters can be resumed
            log.warning("dunning letters not produced", tenant_id=tenant_id, error=str(busy))
            return {"run_id": None, "error": busy.code}
        return summary.as_json()

    def _submit(
        self,
        tenant_id: str,
        number: str,
        day: date,
        policy: DunningPolicy | None,
        meta: Provenance,
    ) -> Future[Outcome]:
        def apply(account: Account | None) -> Account:
            if account is None:
                raise AccountNotFound(number)
            account.close_day(as_of=day, policy=policy, meta=meta)
            return account

        def respond(account: Account, recorded: Sequence[Any]) -> dict[str, Any]:
            return {"recorded": [event_type(event) for event in recorded]}

        return self.app.committer.submit(
            Command(account_id=Account.id_for(tenant_id, number), apply=apply, respond=respond)
        )

    def _record(self, tenant_id: str, day: date, summary: DaySummary, started_by: str) -> bool:
        """Record ``DayClosed``; False when another close recorded the day first."""
        meta = Provenance(
            actor=started_by,
            correlation_id=correlation_id(tenant_id, day),
            reason=f"Close of business day {day.isoformat()}",
        )
        recorded = False

        def change(tenant: Tenant) -> bool:
            nonlocal recorded
            recorded = not tenant.is_closed(day)
            if recorded:
                tenant.close_day(business_date=day, summary=summary, meta=meta)
            return recorded

        self.tenants.update(tenant_id, change, meta)
        return recorded

    # --- the agenda -------------------------------------------------------------------------------

    def bring_agenda_current(self) -> None:
        """Project the store's events up to its newest into the agenda, in this process: a
        projector elsewhere may be behind, and what was recorded a moment ago counts."""
        if self._agenda is None:
            self._agenda = Projector(self.app, self.db, [Agenda()])
        head = self.app.recorder.max_notification_id() or 0
        name = self._agenda.models[0].tracking_name
        deadline = time.monotonic() + AGENDA_WAIT_SECONDS
        while tracked_positions(self.db).get(name, 0) < head:
            try:
                moved = self._agenda.catch_up(until=head)
            except RebuildRunning:
                moved = 0
            except TrackingConflict:
                continue  # another projector applied the batch first: read on from there
            if not moved:  # a rebuild holds the agenda (or nothing came): wait, not for ever
                if time.monotonic() > deadline:
                    raise AgendaNotCurrent
                time.sleep(0.2)

    @contextlib.contextmanager
    def _one_at_a_time(self, tenant_id: str) -> Iterator[None]:
        with self._guard:
            if tenant_id in self._running:
                raise DayCloseRunning(tenant_id)
            self._running.add(tenant_id)
        try:
            yield
        finally:
            with self._guard:
                self._running.discard(tenant_id)


def _reason(day: date, policy: DunningPolicy | None, started_by: str) -> str:
    rules = policy.describe() if policy is not None else "no dunning policy"
    return f"Close of business day {day.isoformat()} ({rules}); started by {started_by}"


def _windows(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _interrupts(failure: BaseException) -> bool:
    """A failure of the surroundings, not of one account: the day stops, unrecorded."""
    if isinstance(failure, ServiceStopping) or _code_of(failure) == "database_unavailable":
        return True
    return not isinstance(failure, DomainError | ServiceError) and is_database_unavailable(failure)


def _code_of(failure: BaseException) -> str:
    code = getattr(failure, "code", None)
    return code if isinstance(code, str) else "internal_error"
