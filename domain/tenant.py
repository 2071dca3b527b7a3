"""The tenant's settings: its dunning policy, when its day closes, the days it has closed, and
what its documents carry (letterhead, mail settings, template overrides).

Concept
    Each tenant (one business using the product) has one :class:`Tenant` aggregate holding
    what applies to all its accounts at once, each change an event:

    - ``DunningPolicySet``: a new *version* of the dunning policy (see :mod:`domain.dunning`),
      in force from its ``effective_on`` until a later version's. What was in force on any
      date is answerable from the events alone (:meth:`Tenant.policy_in_force`), which is what
      an auditor asks.
    - ``CloseScheduleSet`` / ``CloseScheduleCleared``: the local time of day, in the tenant's
      IANA time zone, at which the server closes the business day on its own, from a first
      business day on.
    - ``DayClosed``: a business day was closed for every account of the tenant, with what the
      close did (:class:`DaySummary`). The close itself is the services' work
      (``services.close_day``); this is its record, and what makes it happen once.
    - ``LetterheadSet``: the heading every document carries from then on (name, address, logo,
      remit-to, locale: :class:`domain.letterhead.Letterhead`).
    - ``MailSettingsSet`` / ``MailSettingsCleared``: the SMTP server e-mailed documents leave
      through (:class:`domain.letterhead.MailSettings`; never a password).
    - ``DocumentTemplateSet`` / ``DocumentTemplateCleared``: a template that overrides the
      product's default of that name, or the default again.
    - ``ChartOfAccountsSet``: the GL account each ledger account is posted to in the general-
      ledger journal (:class:`domain.general_ledger.ChartOfAccounts`), from then on.
    - ``ApprovalPolicySet``: the commands held back for a second person above a limit
      (:mod:`domain.approvals`).
    - ``BackdatingPolicySet``: whether a command dated in a closed period is refused or posted
      on the first open day; ``PeriodClosed`` / ``PeriodReopened``: an accounting month closed
      with its seal, or opened again (:mod:`domain.periods`).

    Events carry the same business date, provenance and hash chain fields as an account's
    (:mod:`domain.hash_chain`), so ``ar verify`` walks the tenant's chain like any other.

Invariants
    - The id is deterministic: ``uuid5(TENANT_NAMESPACE, tenant_id)``; topics are the stable
      strings ``receivables.tenant:<Event>``, the aggregate's ``receivables.tenant:Tenant``.
    - Days are closed in order, each once: the first close may be any day; after it, only the
      day after the last one closed (:class:`~domain.errors.DayOutOfOrder`).
    - A policy never changes a day already closed, nor goes back before the version in force:
      its ``effective_on`` is after the last closed day and not before the latest version's
      (:class:`~domain.errors.DunningPolicyBackdated`).
    - A template override is cleared only while there is one, mail settings only while they
      are set (:class:`~domain.errors.NothingChanged`); template names and sizes are checked by
      :func:`domain.letterhead.check_template`, whether one renders by the services.
    - Periods close in order, once all their days are closed, and reopen from the latest back
      (:class:`~domain.errors.PeriodOutOfOrder`, :class:`~domain.errors.PeriodHasOpenDays`).
    - Tenants recorded before a setting existed have none: the settings added later have
      class-level defaults (no letterhead, no mail settings, no overrides), so their stored
      snapshots load unchanged.
    - The domain reads no clock: the caller says which day it is. The time zone is checked
      against the IANA database the standard library ships (``zoneinfo``), which is data, not
      a clock.

Vocabulary
    business day, close of day, policy version, in force, close schedule, letterhead, mail
    settings, template override.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Self, TypeAlias
from uuid import UUID, uuid5
from zoneinfo import available_timezones

from eventsourcing.domain import Aggregate

from domain import errors
from domain.approvals import ApprovalPolicy
from domain.approvals import check_policy as check_approval_policy
from domain.dunning import DunningLevel, DunningPolicy, check_levels
from domain.general_ledger import ChartOfAccounts, check_chart_of_accounts
from domain.hash_chain import GENESIS_HASH, ChainedEvent, chained_envelope, record_chained
from domain.letterhead import TEMPLATE_NAMES, Letterhead, MailSettings, check_template
from domain.periods import REFUSE, ClosedPeriod, Period, check_backdating
from domain.provenance import Provenance

if TYPE_CHECKING:
    pass

#: Fixed namespace of tenant ids; never change it, ids derive from it.
TENANT_NAMESPACE: Final = UUID("0d7f3c2e-6a41-4b8e-9f25-3c1d8e6b7a90")
#: The start of every tenant event's topic: readers of the whole store tell them apart by it.
TOPIC_PREFIX: Final = "receivables.tenant:"
#: How many failed accounts a ``DayClosed`` names (the count is always whole).
FAILURES_KEPT: Final = 50

_TIME_OF_DAY = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


def is_tenant_topic(topic: str) -> bool:
    """Whether a stored event's topic is one of the tenant's (not an account's)."""
    return topic.startswith(TOPIC_PREFIX)


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_time_zone(name: str) -> str:
    if not isinstance(name, str) or name not in _zones():
        raise errors.InvalidTimeZone(
            f"{name!r} is not an IANA time zone; use a name such as 'Europe/Berlin' or"
            " 'America/New_York'.",
            field="time_zone",
        )
    return name


def check_time_of_day(at: str) -> str:
    if not isinstance(at, str) or not _TIME_OF_DAY.fullmatch(at):
        raise errors.InvalidCloseSchedule(
            f"{at!r} is not a time of day; give it as HH:MM on a 24-hour clock, e.g. '18:30'.",
            field="at",
        )
    return at


def check_template_name(name: str) -> str:
    """``name`` if it is one of the templates a tenant may override."""
    if not isinstance(name, str) or name not in TEMPLATE_NAMES:
        raise errors.InvalidTemplate(
            f"There is no document template {name!r}; the templates are"
            f" {', '.join(sorted(TEMPLATE_NAMES))}.",
            field="name",
        )
    return name


@dataclass(frozen=True, slots=True)
class CloseSchedule:
    """Close each business day at ``at`` (HH:MM) local time in ``time_zone``, from
    ``starts_on`` (the first business day the schedule closes) on."""

    at: str
    time_zone: str
    starts_on: date


@dataclass(frozen=True, slots=True)
class DayCloseFailure:
    """An account the close of day could not close, and the code of why."""

    account_number: str
    code: str


@dataclass(frozen=True, slots=True)
class DaySummary:
    """What the close of one business day did across the tenant's accounts."""

    #: Accounts the close found something due on (the rest were not touched).
    accounts_due: int
    accounts_failed: int
    offers_lapsed: int
    installments_missed: int
    plans_defaulted: int
    promises_broken: int
    dunning_escalated: int
    dunning_reset: int
    #: The dunning policy version in force on the day (None: none was).
    policy_version: int | None
    #: The first ``FAILURES_KEPT`` failed accounts; ``accounts_failed`` counts them all.
    failures: tuple[DayCloseFailure, ...] = ()

    def counts(self) -> dict[str, int]:
        """The figures a person reads, by name."""
        return {
            "accounts_due": self.accounts_due,
            "accounts_failed": self.accounts_failed,
            "offers_lapsed": self.offers_lapsed,
            "installments_missed": self.installments_missed,
            "plans_defaulted": self.plans_defaulted,
            "promises_broken": self.promises_broken,
            "dunning_escalated": self.dunning_escalated,
            "dunning_reset": self.dunning_reset,
        }


# ================================================================== events


class TenantEvent(ChainedEvent):
    """Base of every tenant event: business date, provenance, hash chain."""

    def evolve(self, tenant: Tenant) -> None:
        """Change the tenant's state; overridden by each event."""


class Registered(TenantEvent, Aggregate.Created):
    TOPIC = "receivables.tenant:Registered"

    tenant_id: str


class DunningPolicySet(TenantEvent):
    TOPIC = "receivables.tenant:DunningPolicySet"

    version: int
    levels: list[DunningLevel]

    def evolve(self, tenant: Tenant) -> None:
        tenant.policies.append(
            DunningPolicy(
                version=self.version, effective_on=self.effective_on, levels=tuple(self.levels)
            )
        )


class CloseScheduleSet(TenantEvent):
    TOPIC = "receivables.tenant:CloseScheduleSet"

    at: str
    time_zone: str

    def evolve(self, tenant: Tenant) -> None:
        tenant.schedule = CloseSchedule(self.at, self.time_zone, self.effective_on)


class CloseScheduleCleared(TenantEvent):
    TOPIC = "receivables.tenant:CloseScheduleCleared"

    def evolve(self, tenant: Tenant) -> None:
        tenant.schedule = None


class DayClosed(TenantEvent):
    """The business day ``effective_on`` was closed for every account of the tenant."""

    TOPIC = "receivables.tenant:DayClosed"

    summary: DaySummary

    def evolve(self, tenant: Tenant) -> None:
        tenant.closed[self.effective_on.isoformat()] = self.summary
        if tenant.first_closed_on is None:
            tenant.first_closed_on = self.effective_on
        tenant.last_closed_on = self.effective_on


class LetterheadSet(TenantEvent):
    TOPIC = "receivables.tenant:LetterheadSet"

    letterhead: Letterhead

    def evolve(self, tenant: Tenant) -> None:
        tenant.letterhead = self.letterhead


class MailSettingsSet(TenantEvent):
    TOPIC = "receivables.tenant:MailSettingsSet"

    settings: MailSettings

    def evolve(self, tenant: Tenant) -> None:
        tenant.mail_settings = self.settings


class MailSettingsCleared(TenantEvent):
    TOPIC = "receivables.tenant:MailSettingsCleared"

    def evolve(self, tenant: Tenant) -> None:
        tenant.mail_settings = None


class DocumentTemplateSet(TenantEvent):
    """The template ``name`` is ``source`` from now on, instead of the product's default."""

    TOPIC = "receivables.tenant:DocumentTemplateSet"

    name: str
    source: str

    def evolve(self, tenant: Tenant) -> None:
        # A new mapping, never the shared class-level default changed in place.
        tenant.templates = {**tenant.templates, self.name: self.source}


class DocumentTemplateCleared(TenantEvent):
    """The template ``name`` is the product's default again."""

    TOPIC = "receivables.tenant:DocumentTemplateCleared"

    name: str

    def evolve(self, tenant: Tenant) -> None:
        tenant.templates = {
            name: source for name, source in tenant.templates.items() if name != self.name
        }


class ApprovalPolicySet(TenantEvent):
    """The commands held back for a second person from now on (see :mod:`domain.approvals`)."""

    TOPIC = "receivables.tenant:ApprovalPolicySet"

    policy: ApprovalPolicy

    def evolve(self, tenant: Tenant) -> None:
        tenant.approval_policy = self.policy


class BackdatingPolicySet(TenantEvent):
    """What becomes of a command dated inside a closed period: refused, or posted on the
    first open day (see :mod:`domain.periods`)."""

    TOPIC = "receivables.tenant:BackdatingPolicySet"

    policy: str

    def evolve(self, tenant: Tenant) -> None:
        tenant.backdating = self.policy


class PeriodClosed(TenantEvent):
    """The period ending on ``effective_on`` is closed, sealed by ``close.seal``."""

    TOPIC = "receivables.tenant:PeriodClosed"

    close: ClosedPeriod

    def evolve(self, tenant: Tenant) -> None:
        tenant.closed_periods = {**tenant.closed_periods, self.close.period: self.close}


class PeriodReopened(TenantEvent):
    """The latest closed period is open again (approved by the event's actor, for its reason)."""

    TOPIC = "receivables.tenant:PeriodReopened"

    period: str

    def evolve(self, tenant: Tenant) -> None:
        tenant.closed_periods = {
            name: close for name, close in tenant.closed_periods.items() if name != self.period
        }


class ChartOfAccountsSet(TenantEvent):
    """Every ledger account's GL account, for the journals exported from now on."""

    TOPIC = "receivables.tenant:ChartOfAccountsSet"

    chart: ChartOfAccounts

    def evolve(self, tenant: Tenant) -> None:
        tenant.chart_of_accounts = self.chart


# ================================================================== the aggregate


class Tenant(Aggregate):
    """One tenant's settings and the days it has closed."""

    TOPIC = "receivables.tenant:Tenant"

    if TYPE_CHECKING:
        # A class attribute is a variable to mypy; callers annotate with Tenant.Event.
        Event: TypeAlias = TenantEvent
    else:
        Event = TenantEvent
    Registered = Registered
    Created = Registered
    DunningPolicySet = DunningPolicySet
    CloseScheduleSet = CloseScheduleSet
    CloseScheduleCleared = CloseScheduleCleared
    DayClosed = DayClosed
    LetterheadSet = LetterheadSet
    MailSettingsSet = MailSettingsSet
    MailSettingsCleared = MailSettingsCleared
    DocumentTemplateSet = DocumentTemplateSet
    DocumentTemplateCleared = DocumentTemplateCleared
    ChartOfAccountsSet = ChartOfAccountsSet
    ApprovalPolicySet = ApprovalPolicySet
    BackdatingPolicySet = BackdatingPolicySet
    PeriodClosed = PeriodClosed
    PeriodReopened = PeriodReopened

    # Class-level defaults, not set in __init__: tenants (and their snapshots) recorded before
    # these settings existed have no such attribute, and read these instead. Annotated for
    # mypy only: eventsourcing makes an aggregate with class annotations a dataclass.
    if TYPE_CHECKING:
        letterhead: Letterhead | None
        mail_settings: MailSettings | None
        #: Template overrides, name -> source; events replace the mapping, never change it.
        templates: Mapping[str, str]
        chart_of_accounts: ChartOfAccounts | None
        approval_policy: ApprovalPolicy | None
        backdating: str
        #: Closed periods by name (``2026-03``); events replace the mapping.
        closed_periods: Mapping[str, ClosedPeriod]
    letterhead = None
    mail_settings = None
    templates = MappingProxyType({})
    chart_of_accounts = None
    approval_policy = None
    backdating = REFUSE
    closed_periods = MappingProxyType({})

    def __init__(self, *, tenant_id: str, effective_on: date) -> None:
        self.tenant_id = tenant_id
        self.registered_on = effective_on
        self.last_event_hash = GENESIS_HASH
        self.policies: list[DunningPolicy] = []
        self.schedule: CloseSchedule | None = None
        self.first_closed_on: date | None = None
        self.last_closed_on: date | None = None
        #: Each closed day's summary, by its ISO date (JSON keys are text).
        self.closed: dict[str, DaySummary] = {}

    @staticmethod
    def id_for(tenant_id: str) -> UUID:
        return uuid5(TENANT_NAMESPACE, tenant_id)

    @staticmethod
    def create_id(tenant_id: str) -> UUID:
        return Tenant.id_for(tenant_id)

    # ---------------------------------------------------------------- commands

    @classmethod
    def register(cls, *, tenant_id: str, registered_on: date, meta: Provenance) -> Self:
        """The tenant's settings start here (the first setting recorded creates them)."""
        if not isinstance(tenant_id, str) or not tenant_id.strip():
            raise errors.MissingValue("The tenant is required.", field="tenant_id")
        tenant_uuid = cls.id_for(tenant_id)
        envelope = chained_envelope(
            topic=Registered.TOPIC,
            originator_id=tenant_uuid,
            originator_version=cls.INITIAL_VERSION,
            effective_on=registered_on,
            meta=meta,
            previous_hash=GENESIS_HASH,
            payload={"originator_topic": cls.TOPIC, "tenant_id": tenant_id},
        )
        return cls._create(Registered, id=tenant_uuid, **envelope, tenant_id=tenant_id)

    def set_dunning_policy(
        self, *, levels: Sequence[tuple[int, str]], effective_on: date, meta: Provenance
    ) -> None:
        """A new version of the dunning policy, in force from ``effective_on``: levels as
        ``(days past due, action)`` in order (see :func:`domain.dunning.check_levels`)."""
        ladder = check_levels(levels)
        self._check_date(effective_on, "effective_on")
        if self.last_closed_on is not None and effective_on <= self.last_closed_on:
            raise errors.DunningPolicyBackdated(
                f"{self.last_closed_on} is closed; a new policy can take effect from"
                f" {self.last_closed_on + timedelta(days=1)} on.",
                field="effective_on",
            )
        latest = self.latest_policy
        if latest is not None and effective_on < latest.effective_on:
            raise errors.DunningPolicyBackdated(
                f"Version {latest.version} is in force from {latest.effective_on}; a new"
                " version cannot take effect before it.",
                field="effective_on",
            )
        self._trigger(
            DunningPolicySet,
            effective_on=effective_on,
            meta=meta,
            version=len(self.policies) + 1,
            levels=list(ladder),
        )

    def set_close_schedule(
        self, *, at: str, time_zone: str, starts_on: date, meta: Provenance
    ) -> None:
        """Close each business day at ``at`` local time in ``time_zone``, from ``starts_on``."""
        check_time_of_day(at)
        check_time_zone(time_zone)
        self._check_date(starts_on, "starts_on")
        self._trigger(
            CloseScheduleSet, effective_on=starts_on, meta=meta, at=at, time_zone=time_zone
        )

    def clear_close_schedule(self, *, cleared_on: date, meta: Provenance) -> None:
        """Stop closing days on a schedule (a close can still be asked for)."""
        self._check_date(cleared_on, "cleared_on")
        self._trigger(CloseScheduleCleared, effective_on=cleared_on, meta=meta)

    def close_day(self, *, business_date: date, summary: DaySummary, meta: Provenance) -> None:
        """Record that ``business_date`` was closed, with what the close did."""
        self._check_date(business_date, "business_date")
        expected = self.next_day_to_close
        if expected is not None and business_date != expected:
            raise errors.DayOutOfOrder(
                f"{self.last_closed_on} was the last day closed; {expected} is next, not"
                f" {business_date}.",
                field="business_date",
            )
        self._trigger(DayClosed, effective_on=business_date, meta=meta, summary=summary)

    def set_letterhead(
        self, *, letterhead: Letterhead, effective_on: date, meta: Provenance
    ) -> None:
        """The heading of every document from ``effective_on`` on."""
        if not isinstance(letterhead, Letterhead):
            raise errors.InvalidLetterhead("A letterhead is required.", field="letterhead")
        self._check_date(effective_on, "effective_on")
        self._trigger(LetterheadSet, effective_on=effective_on, meta=meta, letterhead=letterhead)

    def set_mail_settings(
        self, *, settings: MailSettings, effective_on: date, meta: Provenance
    ) -> None:
        """The SMTP server the tenant's e-mailed documents leave through from now on."""
        if not isinstance(settings, MailSettings):
            raise errors.InvalidMailSettings("Mail settings are required.", field="settings")
        self._check_date(effective_on, "effective_on")
        self._trigger(MailSettingsSet, effective_on=effective_on, meta=meta, settings=settings)

    def clear_mail_settings(self, *, effective_on: date, meta: Provenance) -> None:
        """Send no more e-mail for the tenant (documents can still be printed)."""
        self._check_date(effective_on, "effective_on")
        if self.mail_settings is None:
            raise errors.NothingChanged("The tenant has no mail settings to clear.")
        self._trigger(MailSettingsCleared, effective_on=effective_on, meta=meta)

    def set_template(self, *, name: str, source: str, effective_on: date, meta: Provenance) -> None:
        """Override the product's template ``name`` with ``source`` (whether it renders is
        checked by the services before they call this)."""
        check_template(name, source)
        self._check_date(effective_on, "effective_on")
        self._trigger(
            DocumentTemplateSet, effective_on=effective_on, meta=meta, name=name, source=source
        )

    def clear_template(self, *, name: str, effective_on: date, meta: Provenance) -> None:
        """Use the product's default template ``name`` again."""
        self._check_date(effective_on, "effective_on")
        check_template_name(name)
        if name not in self.templates:
            raise errors.NothingChanged(
                f"The template {name!r} is not overridden; it is the default already.",
                field="name",
            )
        self._trigger(DocumentTemplateCleared, effective_on=effective_on, meta=meta, name=name)

    def set_approval_policy(
        self, *, policy: ApprovalPolicy, effective_on: date, meta: Provenance
    ) -> None:
        """Hold back the commands ``policy`` names, above its limits, from now on."""
        if not isinstance(policy, ApprovalPolicy):
            raise errors.InvalidApprovalPolicy("An approval policy is required.")
        checked = check_approval_policy(policy.rules, policy.expires_after_days)
        self._check_date(effective_on, "effective_on")
        self._trigger(ApprovalPolicySet, effective_on=effective_on, meta=meta, policy=checked)

    def set_backdating(self, *, policy: str, effective_on: date, meta: Provenance) -> None:
        """What becomes of a command dated inside a closed period from now on."""
        check_backdating(policy)
        self._check_date(effective_on, "effective_on")
        self._trigger(BackdatingPolicySet, effective_on=effective_on, meta=meta, policy=policy)

    def check_can_close(self, period: Period) -> None:
        """Refuse a close of ``period`` that breaks a rule (before anything is sealed)."""
        if str(period) in self.closed_periods:
            raise errors.PeriodOutOfOrder(f"{period} is already closed.", field="period")
        latest = self.latest_closed_period
        if latest is not None and period != latest.following:
            raise errors.PeriodOutOfOrder(
                f"{latest} was the last period closed; {latest.following} is next, not {period}.",
                field="period",
            )
        if self.last_closed_on is None or self.last_closed_on < period.last_day:
            last = (
                "no day is closed yet"
                if self.last_closed_on is None
                else (f"the last day closed is {self.last_closed_on}")
            )
            raise errors.PeriodHasOpenDays(
                f"{period} has days still open ({last}); close the days through "
                f"{period.last_day} first.",
                field="period",
            )

    def close_period(self, *, period: Period, seal: str, events: int, meta: Provenance) -> None:
        """Record the close of ``period`` with its seal (computed by the services from the
        stored events once nothing more could take effect in it)."""
        self.check_can_close(period)
        if not isinstance(seal, str) or not re.fullmatch(r"[0-9a-f]{64}", seal):
            raise errors.InvalidPeriod("A seal is 64 lower-case hex digits.", field="seal")
        close = ClosedPeriod(period=str(period), seal=seal, events=events, closed_by=meta.actor)
        self._trigger(PeriodClosed, effective_on=period.last_day, meta=meta, close=close)

    def reopen_period(self, *, period: Period, meta: Provenance) -> None:
        """Open the latest closed period again; the approver says why."""
        latest = self.latest_closed_period
        if latest is None or period != latest:
            raise errors.PeriodOutOfOrder(
                f"Only the latest closed period can be reopened ({latest or 'none is closed'}),"
                f" not {period}.",
                field="period",
            )
        if not meta.reason or not meta.reason.strip():
            raise errors.ReasonRequired("Reopening a period says why: give a reason.")
        self._trigger(PeriodReopened, effective_on=period.last_day, meta=meta, period=str(period))

    def set_chart_of_accounts(
        self, *, chart: ChartOfAccounts, effective_on: date, meta: Provenance
    ) -> None:
        """Post each ledger account to its GL account of ``chart`` from ``effective_on`` on
        (checked whole by :func:`domain.general_ledger.check_chart_of_accounts`)."""
        if not isinstance(chart, ChartOfAccounts):
            raise errors.UnmappedLedgerAccount("A chart of accounts is required.", field="accounts")
        checked = check_chart_of_accounts(
            {m.ledger_account: (m.code, m.name) for m in chart.mappings}
        )
        self._check_date(effective_on, "effective_on")
        self._trigger(ChartOfAccountsSet, effective_on=effective_on, meta=meta, chart=checked)

    # ---------------------------------------------------------------- queries

    @property
    def latest_closed_period(self) -> Period | None:
        return max((Period.parse(name) for name in self.closed_periods), default=None)

    @property
    def closed_through(self) -> date | None:
        """The last day of the latest closed period (None: no period is closed)."""
        latest = self.latest_closed_period
        return None if latest is None else latest.last_day

    @property
    def latest_policy(self) -> DunningPolicy | None:
        return self.policies[-1] if self.policies else None

    def policy_in_force(self, on: date) -> DunningPolicy | None:
        """The newest version in force on ``on`` (None: no policy yet on that date)."""
        found = None
        for policy in self.policies:
            if policy.effective_on <= on:
                found = policy
        return found

    @property
    def next_day_to_close(self) -> date | None:
        """The day after the last one closed (None: no day closed yet, any may be first)."""
        return None if self.last_closed_on is None else self.last_closed_on + timedelta(days=1)

    def days_to_close(self, through: date) -> list[date]:
        """The days a close through ``through`` closes, in order: the missed days from the
        last one closed, or only ``through`` if none was ever closed; none if it is closed."""
        first = self.next_day_to_close or through
        return [first + timedelta(days=n) for n in range((through - first).days + 1)]

    def is_closed(self, day: date) -> bool:
        """Whether ``day`` is closed: closed itself, or before the first day closed (that
        close decided everything due before it)."""
        return self.last_closed_on is not None and day <= self.last_closed_on

    def summary_of(self, day: date) -> DaySummary | None:
        """What the close of ``day`` did (None: it was not closed on its own)."""
        return self.closed.get(day.isoformat())

    # ---------------------------------------------------------------- recording

    def _check_date(self, value: date, field: str) -> None:
        if not isinstance(value, date):
            raise errors.MissingValue(f"The {field.replace('_', ' ')} must be a date.", field=field)

    def _trigger(
        self,
        event_class: type[TenantEvent],
        *,
        effective_on: date,
        meta: Provenance,
        **payload: Any,
    ) -> None:
        record_chained(self, event_class, effective_on=effective_on, meta=meta, payload=payload)
