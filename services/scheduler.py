"""The close-of-day scheduler: each tenant's business day closes on its own, at its set time.

``ar serve`` runs one ``CloseScheduler`` in a background thread. Every ``poll_seconds`` it
``tick``s: for each tenant with a close schedule (``domain.tenant.CloseSchedule``), the day to
have closed is today in the tenant's time zone once the local time has reached the set time,
yesterday before it; if that day is not closed yet, the close of day (``services.close_day``)
closes it, and the days missed before it, in order. The first day a schedule closes is the
day it was set (``starts_on``): setting a schedule never closes the days before it.

At most one scheduler acts in a cluster: a tick does anything only while its process holds the
scheduler's lock (a PostgreSQL advisory lock on a session of its own, or a file lock beside the
SQLite database, as the relay's); the others stand by and try the lock at each tick, so one
takes over within a tick of the holder's death. Each close also holds its tenant's lock, so a
close asked for over the API at the same moment is refused (``day_close_running``) rather than
run twice, and a day is recorded closed once whatever happens (``domain.tenant``).

The time comes from a clock the scheduler is given: tests drive ``tick`` with their own, and
nothing here sleeps on the wall clock but ``run``'s wait between ticks.
"""

from __future__ import annotations

import threading
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.tenant import Tenant
from services.bootstrap import Runtime
from services.close_day import MAX_DAYS_PER_CLOSE, CloseOfDay, CloseRun
from services.errors import DayCloseRunning
from services.logging import get_logger
from services.relay_lock import RelayLock, named_lock
from services.tenants import Clock, utc_now

log = get_logger(__name__)

#: How often the scheduler looks at the time (a close starts at most this late).
POLL_SECONDS = 30.0
#: Who the schedule's closes are recorded as started by.
STARTED_BY = "close-schedule"


def day_due(tenant: Tenant, now: datetime) -> date | None:
    """The business day the tenant's schedule wants closed at ``now`` (an aware moment), if
    it is not closed yet; None when there is no schedule or nothing to close."""
    schedule = tenant.schedule
    if schedule is None:
        return None
    local = now.astimezone(ZoneInfo(schedule.time_zone))
    hours, minutes = (int(part) for part in schedule.at.split(":"))
    day = local.date() if local.time() >= time(hours, minutes) else local.date() - timedelta(1)
    if day < schedule.starts_on or tenant.is_closed(day):
        return None
    following = tenant.next_day_to_close
    if following is not None:  # a long catch-up goes in steps, one per tick
        day = min(day, following + timedelta(days=MAX_DAYS_PER_CLOSE - 1))
    return day


class CloseScheduler:
    """Closes the tenants' days on their schedules, one scheduler per cluster."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        clock: Clock = utc_now,
        lock: RelayLock | None = None,
        closer: CloseOfDay | None = None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.runtime = runtime
        self.clock = clock
        self.lock = lock or named_lock(runtime.settings, "scheduler")
        self.closer = closer or CloseOfDay(runtime, clock=clock)
        self.poll_seconds = poll_seconds
        self._standing_by = False

    def tick(self) -> list[CloseRun]:
        """Close every tenant's day that is due now, if this process holds the scheduler's
        lock; what was closed (nothing while standing by). One tenant's failure is logged and
        does not stop the others."""
        if not self.lock.held() and not self.lock.acquire():
            if not self._standing_by:
                log.info("another process runs the close-of-day schedule; standing by")
                self._standing_by = True
            return []
        if self._standing_by:
            log.info("close-of-day schedule taken over")
            self._standing_by = False
        now = self.clock()
        tenants = self.closer.tenants
        runs: list[CloseRun] = []
        for tenant_id in tenants.tenant_ids():
            tenant = tenants.get(tenant_id)
            day = None if tenant is None else day_due(tenant, now)
            if day is None:
                continue
            try:
                runs.append(self.closer.close(tenant_id, day, started_by=STARTED_BY))
            except DayCloseRunning:
                continue  # someone is closing it right now; the next tick looks again
            except Exception:
                log.exception("scheduled close of day failed", tenant_id=tenant_id, day=str(day))
        return runs

    def run(self, stop: threading.Event) -> None:
        """Tick until stopped; a failing tick (the database away) is logged and retried at
        the next one. The lock is given up at the end."""
        try:
            while not stop.is_set():
                try:
                    self.tick()
                except Exception as error:
                    log.warning("close-of-day schedule failing; retrying", error=str(error))
                    self.lock.release()  # a new holder will be decided at the next tick
                stop.wait(self.poll_seconds)
        finally:
            self.lock.release()
