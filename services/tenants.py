"""The tenant's settings as the application keeps them: load, change and save a ``Tenant``.

A tenant's settings are one event-sourced ``Tenant`` aggregate (``domain.tenant``), created by
the first setting recorded for the tenant. ``TenantSettings`` is the one way the services
change it: load it (or register it), apply the change, save; another process that saved the
tenant first makes the save fail on its version, and the change is judged again on the
tenant as stored, a bounded number of times. The domain reads no clock: the tenant's *today*
is decided here, in the time zone of its close schedule (UTC when it has none), from a clock
that tests replace.

What the tenant's documents carry is checked here where the domain cannot: that Babel knows
a letterhead's locale, and that a template override renders (``services.documents.rendering``,
sandboxed). A template not overridden is the product's default, a file of
``services/documents/templates``.

The ``tenants`` table lists every tenant that has settings, so the scheduler finds them
without reading the event store: a row is written (once) before the tenant's first event,
so the list never misses a tenant (it may name one whose first save failed: loading it finds
nothing, and that is skipped).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from domain import errors
from domain.dunning import DunningPolicy
from domain.general_ledger import ChartOfAccounts
from domain.letterhead import Letterhead, MailSettings
from domain.provenance import Provenance
from domain.tenant import CloseSchedule, Tenant, check_template_name, check_time_zone
from projections.database import stored_moment
from services.errors import ConcurrentUpdate, ServiceError

if TYPE_CHECKING:
    from services.app import Receivables

#: What the services read the time from: an aware moment (UTC). Tests pass their own.
Clock = Callable[[], datetime]

#: Saves of a tenant tried before a conflict is reported (another process keeps winning).
SAVE_ATTEMPTS = 5
#: A tenant's state is snapshotted every so many events (a year of closed days is 365).
SNAPSHOT_INTERVAL = 100


def utc_now() -> datetime:
    return datetime.now(UTC)


def zone_of(tenant: Tenant | None) -> ZoneInfo:
    """The tenant's time zone: its close schedule's, UTC when it has none."""
    schedule = None if tenant is None else tenant.schedule
    return ZoneInfo(schedule.time_zone if schedule else "UTC")


def check_locale_known(locale: str) -> str:
    """``locale`` if Babel can write amounts and dates in it (refused: ``InvalidLocale``)."""
    language, _, territory = locale.partition("_")
    try:
        known: Locale | None = Locale.parse(locale)
    except (UnknownLocaleError, ValueError):
        known = None
    # Babel answers a country it has no data for with a likely one (en_ZZ reads as en_US):
    # documents would come out in a locale nobody asked for.
    if known is None or known.language != language or (territory and known.territory != territory):
        raise errors.InvalidLocale(
            f"{locale!r} is not a locale documents can be written in; use one such as en_US,"
            " en_GB, de_DE or fr_FR.",
            field="locale",
        )
    return locale


#: A change to a tenant: record events on it (True), or nothing (False: nothing to save).
Change = Callable[[Tenant], bool]


class DefaultTemplateMissing(ServiceError):
    """The product ships no default of a template the tenant has not overridden."""

    code = "template_not_found"
    status = 404

    def __init__(self, name: str) -> None:
        super().__init__(
            f"The template {name!r} has no default installed and your tenant has not overridden"
            " it.",
            field="name",
        )


@dataclass(frozen=True)
class PolicyOutcome:
    policy: DunningPolicy
    #: False: the same policy was already the latest version; nothing was recorded.
    recorded: bool


@dataclass(frozen=True)
class TemplateInForce:
    """The source a document of ``name`` is written with: the tenant's, else the default."""

    name: str
    source: str
    overridden: bool


class TenantSettings:
    """Every tenant's settings in the application's store."""

    def __init__(self, app: Receivables, clock: Clock = utc_now) -> None:
        self.app = app
        self.db = app.db
        self.clock = clock

    # --- reading ----------------------------------------------------------------------------

    def get(self, tenant_id: str, as_known_at: datetime | None = None) -> Tenant | None:
        """The tenant's settings as stored, or as they stood when only what was recorded by
        ``as_known_at`` (an aware moment) was known (None: nothing was set by then)."""
        tenant_uuid = Tenant.id_for(tenant_id)
        version = None
        if as_known_at is not None:
            version = self.app._last_version_recorded_by(tenant_uuid, as_known_at)
            if version == 0:
                return None
        try:
            tenant: object = self.app.repository.get(tenant_uuid, version=version)
        except AggregateNotFoundError:
            return None
        return tenant if isinstance(tenant, Tenant) else None

    def today(self, tenant_id: str, tenant: Tenant | None = None) -> date:
        """The tenant's business date now, in its time zone."""
        tenant = tenant if tenant is not None else self.get(tenant_id)
        return self.clock().astimezone(zone_of(tenant)).date()

    def template_in_force(self, tenant_id: str, name: str) -> TemplateInForce:
        """The source of the template ``name`` the tenant's documents are written with."""
        check_template_name(name)  # before the name becomes part of a path
        tenant = self.get(tenant_id)
        override = None if tenant is None else tenant.templates.get(name)
        if override is not None:
            return TemplateInForce(name, override, overridden=True)
        from services.documents.rendering import TEMPLATES_DIR

        default = TEMPLATES_DIR / f"{name}.html.j2"
        if not default.is_file():
            raise DefaultTemplateMissing(name)
        return TemplateInForce(name, default.read_text(encoding="utf-8"), overridden=False)

    def tenant_ids(self) -> list[str]:
        """Every tenant with settings (or whose first setting was attempted)."""
        rows = self.db.query("SELECT tenant_id FROM tenants ORDER BY tenant_id")
        return [str(row["tenant_id"]) for row in rows]

    # --- changing ---------------------------------------------------------------------------

    def update(self, tenant_id: str, change: Change, meta: Provenance) -> Tenant:
        """Apply ``change`` to the tenant as stored (registered first if it has no settings
        yet) and save what it recorded; judged again on a fresh copy if another process saved
        the tenant meanwhile. Domain errors pass through with nothing recorded."""
        for _ in range(SAVE_ATTEMPTS):
            tenant = self.get(tenant_id)
            if tenant is None:
                tenant = Tenant.register(
                    tenant_id=tenant_id, registered_on=self.today(tenant_id), meta=meta
                )
            if not change(tenant):
                return tenant
            self._list(tenant_id)
            before = tenant.version - len(tenant.pending_events)
            try:
                self.app.save(tenant)
            except IntegrityError:
                continue
            self._snapshot(tenant, before)
            return tenant
        raise ConcurrentUpdate(f"tenant {tenant_id}")

    def set_dunning_policy(
        self,
        tenant_id: str,
        levels: Sequence[tuple[int, str]],
        effective_on: date | None,
        meta: Provenance,
    ) -> PolicyOutcome:
        """A new version of the tenant's dunning policy, in force from ``effective_on`` (by
        default the first day not yet closed, from today on). The levels of the latest version
        again (from its date, or with no date given) record nothing: a PUT repeated is one."""
        recorded = False

        def change(tenant: Tenant) -> bool:
            nonlocal recorded
            latest = tenant.latest_policy
            same = latest is not None and [
                (step.days_past_due, step.action) for step in latest.levels
            ] == list(levels)
            if same and latest is not None and effective_on in (None, latest.effective_on):
                recorded = False
                return False
            starts = effective_on or self._first_open_day(tenant)
            tenant.set_dunning_policy(levels=levels, effective_on=starts, meta=meta)
            recorded = True
            return True

        latest = self.update(tenant_id, change, meta).latest_policy
        assert latest is not None  # the change recorded one, or found it the latest already
        return PolicyOutcome(latest, recorded)

    def set_close_schedule(
        self, tenant_id: str, at: str, time_zone: str, meta: Provenance
    ) -> CloseSchedule:
        """Close the tenant's days at ``at`` local time in ``time_zone``, from today (in that
        zone) on. The same time and zone as now record nothing."""
        check_time_zone(time_zone)  # before the zone is used to say what today is

        def change(tenant: Tenant) -> bool:
            current = tenant.schedule
            if current is not None and (current.at, current.time_zone) == (at, time_zone):
                return False
            starts_on = self.clock().astimezone(ZoneInfo(time_zone)).date()
            tenant.set_close_schedule(at=at, time_zone=time_zone, starts_on=starts_on, meta=meta)
            return True

        schedule = self.update(tenant_id, change, meta).schedule
        assert schedule is not None
        return schedule

    def clear_close_schedule(self, tenant_id: str, meta: Provenance) -> bool:
        """Stop closing the tenant's days on a schedule; False if none was set."""
        cleared = False

        def change(tenant: Tenant) -> bool:
            nonlocal cleared
            cleared = tenant.schedule is not None
            if cleared:
                tenant.clear_close_schedule(cleared_on=self.today(tenant_id, tenant), meta=meta)
            return cleared

        self.update(tenant_id, change, meta)
        return cleared

    def set_letterhead(self, tenant_id: str, letterhead: Letterhead, meta: Provenance) -> bool:
        """The heading of the tenant's documents from today on; False: it is that already,
        nothing was recorded."""
        check_locale_known(letterhead.locale)

        def change(tenant: Tenant) -> bool:
            if tenant.letterhead == letterhead:
                return False
            today = self.today(tenant_id, tenant)
            tenant.set_letterhead(letterhead=letterhead, effective_on=today, meta=meta)
            return True

        return self._recorded(tenant_id, change, meta)

    def set_mail_settings(self, tenant_id: str, settings: MailSettings, meta: Provenance) -> bool:
        """The SMTP server the tenant's e-mail leaves through; False: those settings are in
        force already, nothing was recorded."""

        def change(tenant: Tenant) -> bool:
            if tenant.mail_settings == settings:
                return False
            today = self.today(tenant_id, tenant)
            tenant.set_mail_settings(settings=settings, effective_on=today, meta=meta)
            return True

        return self._recorded(tenant_id, change, meta)

    def clear_mail_settings(self, tenant_id: str, meta: Provenance) -> bool:
        """Send no more e-mail for the tenant; False if it had no mail settings."""

        def change(tenant: Tenant) -> bool:
            if tenant.mail_settings is None:
                return False
            tenant.clear_mail_settings(effective_on=self.today(tenant_id, tenant), meta=meta)
            return True

        return self._recorded(tenant_id, change, meta)

    def set_template(self, tenant_id: str, name: str, source: str, meta: Provenance) -> bool:
        """Override the template ``name`` with ``source`` once it is known to render; False: it
        is that override already, nothing was recorded."""
        # Imported here: rendering loads Jinja2, which only template changes need.
        from services.documents.samples import check_template_renders

        check_template_renders(name, source)  # the name and the size first, then a render

        def change(tenant: Tenant) -> bool:
            if tenant.templates.get(name) == source:
                return False
            today = self.today(tenant_id, tenant)
            tenant.set_template(name=name, source=source, effective_on=today, meta=meta)
            return True

        return self._recorded(tenant_id, change, meta)

    def clear_template(self, tenant_id: str, name: str, meta: Provenance) -> None:
        """Write the template ``name`` with the product's default again; refused
        (``NothingChanged``) when the tenant has not overridden it."""

        def change(tenant: Tenant) -> bool:
            tenant.clear_template(name=name, effective_on=self.today(tenant_id, tenant), meta=meta)
            return True

        self.update(tenant_id, change, meta)

    def set_chart_of_accounts(
        self, tenant_id: str, chart: ChartOfAccounts, meta: Provenance
    ) -> bool:
        """Post the tenant's ledger accounts to ``chart``'s GL accounts from today on; False: it
        is that chart already, nothing was recorded."""

        def change(tenant: Tenant) -> bool:
            if tenant.chart_of_accounts == chart:
                return False
            today = self.today(tenant_id, tenant)
            tenant.set_chart_of_accounts(chart=chart, effective_on=today, meta=meta)
            return True

        return self._recorded(tenant_id, change, meta)

    # --- internals ----------------------------------------------------------------------------

    def _recorded(self, tenant_id: str, change: Change, meta: Provenance) -> bool:
        """``update`` with ``change``, saying whether the change recorded anything."""
        recorded = False

        def tracked(tenant: Tenant) -> bool:
            nonlocal recorded
            recorded = change(tenant)
            return recorded

        self.update(tenant_id, tracked, meta)
        return recorded

    def _first_open_day(self, tenant: Tenant) -> date:
        today = self.today(tenant.tenant_id, tenant)
        following = tenant.next_day_to_close
        return max(today, following) if following is not None else today

    def _list(self, tenant_id: str) -> None:
        self.db.execute(
            "INSERT INTO tenants (tenant_id, registered_at) VALUES (?, ?)"
            " ON CONFLICT (tenant_id) DO NOTHING",
            (tenant_id, stored_moment(self.clock())),
        )

    def _snapshot(self, tenant: Tenant, before: int) -> None:
        """Snapshot the tenant when its save crossed a multiple of the interval."""
        crossed = tenant.version // SNAPSHOT_INTERVAL > before // SNAPSHOT_INTERVAL
        if self.app.snapshots is None or not crossed:
            return
        with contextlib.suppress(IntegrityError):  # a snapshot at that version is on file
            self.app.snapshots.put([Tenant.Snapshot.take(tenant)])
