"""The caller's tenant's settings over HTTP: its dunning policy, its close schedule and what
its documents carry.

- ``PUT /v1/tenant/dunning-policy``: a new version of the policy, levels in order with the
  days past due that trigger them and what each means; in force from ``effective_on`` (by
  default the first day not yet closed). Levels that are not increasing, or a date on or
  before a closed day, are refused (``422``) with nothing recorded; the latest version again
  records nothing (``200`` instead of ``201``).
- ``GET /v1/tenant/dunning-policy[?as_of=DATE]``: the version in force on the date (today by
  default), with who set it when: what an auditor asks. ``GET .../versions`` lists them all.
- ``PUT /v1/tenant/close-schedule``: the local time of day and IANA time zone at which the
  server closes the tenant's business day on its own; ``GET`` reads it, ``DELETE`` stops it.
- ``PUT /v1/tenant/letterhead``: the heading of every document (name, address, locale, remit-to,
  payment instructions, phone, e-mail, a base64 PNG or JPEG logo); ``GET`` reads it (null: never
  set). ``PUT``/``GET``/``DELETE /v1/tenant/mail-settings``: the SMTP server e-mail leaves
  through (the password is named by an environment variable, never sent or stored).
- ``PUT /v1/tenant/templates/{name}``: a template that overrides the product's default of that
  name, recorded once it renders; ``DELETE`` goes back to the default. ``GET
  /v1/tenant/templates`` lists the names and which are overridden; ``GET .../{name}`` gives
  the source in force.

A value that is the one in force already records nothing (``200`` instead of ``201``); a refused
one records nothing either (``422`` with the rule's code).

Admins change the settings; clerks and auditors read them.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations.

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field, Strict

from domain.dunning import ACTIONS, MAX_DAYS_PAST_DUE, MAX_LEVELS, DunningPolicy
from domain.letterhead import TEMPLATE_NAMES, Letterhead, MailSettings
from domain.provenance import Provenance
from domain.tenant import CloseSchedule, Tenant
from services.api.openapi import refusals, unchanged
from services.api.security import AdminDep, SettingsReaderDep
from services.api_keys import Caller
from services.app import Receivables
from services.errors import ConcurrentUpdate, NoDunningPolicy
from services.fields import STRICT, BusinessDate
from services.tenants import TemplateInForce, TenantSettings

_SAME_AGAIN = "The same as in force: nothing new recorded."
#: A change of the tenant's settings another request saved first, tried again and again.
_TENANT_CHANGED = refusals(ConcurrentUpdate("tenant acme"))

router = APIRouter(prefix="/v1/tenant", tags=["tenant settings"])

Action = Literal["reminder", "second_notice", "final_notice", "collections"]
assert set(ACTIONS) == {"reminder", "second_notice", "final_notice", "collections"}


class LevelIn(BaseModel):
    model_config = STRICT
    days_past_due: Annotated[int, Strict()] = Field(
        ge=1, le=MAX_DAYS_PAST_DUE, description="Days the oldest overdue term is past due."
    )
    action: Action = Field(description="What the level means, mildest first.")


class DunningPolicyIn(BaseModel):
    model_config = STRICT
    levels: list[LevelIn] = Field(
        max_length=MAX_LEVELS,
        description="Level 1 first; days past due strictly increasing. Empty: no automatic "
        "dunning from the date.",
    )
    effective_on: BusinessDate | None = Field(
        None, description="In force from this business date; default: the first day not closed."
    )


class LevelOut(BaseModel):
    level: int
    days_past_due: int
    action: str


class DunningPolicyOut(BaseModel):
    version: int
    effective_on: date
    levels: list[LevelOut]
    set_by: str | None = Field(None, description="The actor who set this version.")
    reason: str | None = None
    recorded_at: str | None = Field(None, description="When this version was recorded.")


class CloseScheduleIn(BaseModel):
    model_config = STRICT
    at: str = Field(
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="Local time of day, HH:MM (24-hour clock).",
        examples=["18:30"],
    )
    time_zone: str = Field(
        min_length=1, max_length=64, description="IANA time zone.", examples=["Europe/Berlin"]
    )


class CloseScheduleOut(BaseModel):
    at: str
    time_zone: str
    starts_on: date = Field(description="The first business day the schedule closes.")
    last_closed_on: date | None
    today: date = Field(description="The tenant's business date now, in its time zone.")


def settings(request: Request) -> TenantSettings:
    state: Any = request.app.state
    found = getattr(state, "tenant_settings", None)
    if found is None:
        app: Receivables = state.runtime.app
        found = state.tenant_settings = TenantSettings(app)
    assert isinstance(found, TenantSettings)
    return found


def _meta(request: Request, caller: Caller) -> Provenance:
    return Provenance(actor=caller.name, correlation_id=request.state.correlation_id)


def _policy_out(tenant: Tenant, policy: DunningPolicy, request: Request) -> DunningPolicyOut:
    """The version with who set it: read from its event, so the answer is the record's."""
    found: Any = None
    app: Receivables = request.app.state.runtime.app
    for event in app.events.get(tenant.id):
        if isinstance(event, Tenant.DunningPolicySet) and event.version == policy.version:
            found = event
    return DunningPolicyOut(
        version=policy.version,
        effective_on=policy.effective_on,
        levels=[
            LevelOut(level=s.level, days_past_due=s.days_past_due, action=s.action)
            for s in policy.levels
        ],
        set_by=None if found is None else found.actor,
        reason=None if found is None else found.reason,
        recorded_at=None if found is None else found.timestamp.isoformat(),
    )


@router.put(
    "/dunning-policy",
    status_code=201,
    summary="Set your tenant's dunning policy (a new version)",
    response_model=DunningPolicyOut,
    responses=unchanged(DunningPolicyOut, _SAME_AGAIN) | _TENANT_CHANGED,
)
def put_dunning_policy(
    body: DunningPolicyIn, request: Request, response: Response, caller: AdminDep
) -> DunningPolicyOut:
    tenants = settings(request)
    outcome = tenants.set_dunning_policy(
        caller.tenant_id,
        [(level.days_past_due, level.action) for level in body.levels],
        body.effective_on,
        _meta(request, caller),
    )
    response.status_code = 201 if outcome.recorded else 200
    tenant = tenants.get(caller.tenant_id)
    assert tenant is not None
    return _policy_out(tenant, outcome.policy, request)


@router.get(
    "/dunning-policy",
    summary="The dunning policy in force on a date",
    response_model=DunningPolicyOut,
    responses=refusals(NoDunningPolicy("2026-03-31")),
)
def get_dunning_policy(
    request: Request,
    caller: SettingsReaderDep,
    as_of: Annotated[
        BusinessDate | None, Query(description="Business date; default: today.")
    ] = None,
) -> DunningPolicyOut:
    tenants = settings(request)
    tenant = tenants.get(caller.tenant_id)
    on = as_of or tenants.today(caller.tenant_id, tenant)
    policy = None if tenant is None else tenant.policy_in_force(on)
    if tenant is None or policy is None:
        raise NoDunningPolicy(on.isoformat())
    return _policy_out(tenant, policy, request)


@router.get(
    "/dunning-policy/versions",
    summary="Every version of the dunning policy, oldest first",
    response_model=list[DunningPolicyOut],
)
def list_dunning_policies(request: Request, caller: SettingsReaderDep) -> list[DunningPolicyOut]:
    tenant = settings(request).get(caller.tenant_id)
    if tenant is None:
        return []
    return [_policy_out(tenant, policy, request) for policy in tenant.policies]


def _schedule_out(
    tenants: TenantSettings, tenant: Tenant, schedule: CloseSchedule
) -> CloseScheduleOut:
    return CloseScheduleOut(
        at=schedule.at,
        time_zone=schedule.time_zone,
        starts_on=schedule.starts_on,
        last_closed_on=tenant.last_closed_on,
        today=tenants.today(tenant.tenant_id, tenant),
    )


@router.put(
    "/close-schedule",
    summary="Close your tenant's business day each day at a local time",
    response_model=CloseScheduleOut,
    responses=_TENANT_CHANGED,
)
def put_close_schedule(
    body: CloseScheduleIn, request: Request, caller: AdminDep
) -> CloseScheduleOut:
    tenants = settings(request)
    schedule = tenants.set_close_schedule(
        caller.tenant_id, body.at, body.time_zone, _meta(request, caller)
    )
    tenant = tenants.get(caller.tenant_id)
    assert tenant is not None
    return _schedule_out(tenants, tenant, schedule)


@router.get(
    "/close-schedule",
    summary="When your tenant's business day closes (null: not on a schedule)",
    response_model=CloseScheduleOut | None,
)
def get_close_schedule(request: Request, caller: SettingsReaderDep) -> CloseScheduleOut | None:
    tenants = settings(request)
    tenant = tenants.get(caller.tenant_id)
    if tenant is None or tenant.schedule is None:
        return None
    return _schedule_out(tenants, tenant, tenant.schedule)


@router.delete(
    "/close-schedule",
    status_code=204,
    summary="Stop closing days on a schedule",
    responses=_TENANT_CHANGED,
)
def delete_close_schedule(request: Request, caller: AdminDep) -> None:
    settings(request).clear_close_schedule(caller.tenant_id, _meta(request, caller))


# --- what the tenant's documents carry --------------------------------------------------------
# The bodies take plain text: the domain's values (domain.letterhead) check it, with their codes.


class LetterheadIn(BaseModel):
    model_config = STRICT
    name: str = Field(description="The tenant's trading name, as documents head it.")
    address_lines: list[str] = Field(description="The postal address, one line each (1 to 6).")
    locale: str = Field("en_US", description="The locale amounts and dates are written in.")
    remit_to: list[str] = Field(
        default_factory=list, description="Where payments go (default: the address)."
    )
    payment_instructions: str = Field("", description="How to pay; may span lines.")
    phone: str = ""
    email: str = ""
    logo_base64: str | None = Field(
        None, description="A PNG or JPEG image of at most 256 KiB, base64; null: no logo."
    )


class LetterheadOut(LetterheadIn):
    logo_media_type: str | None = Field(None, description="image/png, image/jpeg or null.")


class MailSettingsIn(BaseModel):
    model_config = STRICT
    host: str = Field(description="The SMTP server's host name or address.")
    port: Annotated[int, Strict()] = Field(description="1 to 65535.", examples=[587])
    sender: str = Field(description="The From address of the tenant's e-mail.")
    security: str = Field("starttls", description="none, starttls or tls.")
    username: str | None = Field(None, description="The SMTP user name, if the server asks.")
    password_env: str | None = Field(
        None,
        description="The environment variable holding the SMTP password at send time (given"
        " with the user name; the password itself is never sent or stored).",
    )
    reply_to: str | None = None


class MailSettingsOut(MailSettingsIn):
    """The mail settings in force (as they were set: they hold no secret)."""


class TemplateIn(BaseModel):
    model_config = STRICT
    source: str = Field(description="The Jinja2 template, at most 65,536 characters.")


class TemplateOut(BaseModel):
    name: str
    source: str
    overridden: bool = Field(description="True: the tenant's own; false: the product's default.")


class TemplateListing(BaseModel):
    name: str
    overridden: bool


def _letterhead_out(letterhead: Letterhead) -> LetterheadOut:
    return LetterheadOut(
        name=letterhead.name,
        address_lines=list(letterhead.address_lines),
        locale=letterhead.locale,
        remit_to=list(letterhead.remit_to),
        payment_instructions=letterhead.payment_instructions,
        phone=letterhead.phone,
        email=letterhead.email,
        logo_base64=letterhead.logo_base64,
        logo_media_type=letterhead.logo_media_type,
    )


def _mail_settings_out(mail: MailSettings) -> MailSettingsOut:
    return MailSettingsOut(
        host=mail.host,
        port=mail.port,
        sender=mail.sender,
        security=mail.security,
        username=mail.username,
        password_env=mail.password_env,
        reply_to=mail.reply_to,
    )


def _template_out(template: TemplateInForce) -> TemplateOut:
    return TemplateOut(name=template.name, source=template.source, overridden=template.overridden)


@router.put(
    "/letterhead",
    status_code=201,
    summary="Set the letterhead your tenant's documents carry",
    response_model=LetterheadOut,
    responses=unchanged(LetterheadOut, _SAME_AGAIN) | _TENANT_CHANGED,
)
def put_letterhead(
    body: LetterheadIn, request: Request, response: Response, caller: AdminDep
) -> LetterheadOut:
    letterhead = Letterhead(
        name=body.name,
        address_lines=tuple(body.address_lines),
        locale=body.locale,
        remit_to=tuple(body.remit_to),
        payment_instructions=body.payment_instructions,
        phone=body.phone,
        email=body.email,
        logo_base64=body.logo_base64,
    )
    recorded = settings(request).set_letterhead(
        caller.tenant_id, letterhead, _meta(request, caller)
    )
    response.status_code = 201 if recorded else 200
    return _letterhead_out(letterhead)


@router.get(
    "/letterhead",
    summary="The letterhead your tenant's documents carry (null: none set)",
    response_model=LetterheadOut | None,
)
def get_letterhead(request: Request, caller: SettingsReaderDep) -> LetterheadOut | None:
    tenant = settings(request).get(caller.tenant_id)
    if tenant is None or tenant.letterhead is None:
        return None
    return _letterhead_out(tenant.letterhead)


@router.put(
    "/mail-settings",
    status_code=201,
    summary="Set the SMTP server your tenant's e-mail leaves through",
    response_model=MailSettingsOut,
    responses=unchanged(MailSettingsOut, _SAME_AGAIN) | _TENANT_CHANGED,
)
def put_mail_settings(
    body: MailSettingsIn, request: Request, response: Response, caller: AdminDep
) -> MailSettingsOut:
    mail = MailSettings(
        host=body.host,
        port=body.port,
        sender=body.sender,
        security=body.security,
        username=body.username,
        password_env=body.password_env,
        reply_to=body.reply_to,
    )
    recorded = settings(request).set_mail_settings(caller.tenant_id, mail, _meta(request, caller))
    response.status_code = 201 if recorded else 200
    return _mail_settings_out(mail)


@router.get(
    "/mail-settings",
    summary="The SMTP server your tenant's e-mail leaves through (null: none set)",
    response_model=MailSettingsOut | None,
)
def get_mail_settings(request: Request, caller: SettingsReaderDep) -> MailSettingsOut | None:
    tenant = settings(request).get(caller.tenant_id)
    if tenant is None or tenant.mail_settings is None:
        return None
    return _mail_settings_out(tenant.mail_settings)


@router.delete(
    "/mail-settings",
    status_code=204,
    summary="Send no more e-mail for your tenant",
    responses=_TENANT_CHANGED,
)
def delete_mail_settings(request: Request, caller: AdminDep) -> None:
    settings(request).clear_mail_settings(caller.tenant_id, _meta(request, caller))


@router.get(
    "/templates",
    summary="The document templates, and which your tenant overrides",
    response_model=list[TemplateListing],
)
def list_templates(request: Request, caller: SettingsReaderDep) -> list[TemplateListing]:
    tenant = settings(request).get(caller.tenant_id)
    overridden = {} if tenant is None else tenant.templates
    return [
        TemplateListing(name=name, overridden=name in overridden) for name in sorted(TEMPLATE_NAMES)
    ]


@router.put(
    "/templates/{name}",
    status_code=201,
    summary="Override a document template with your own (once it renders)",
    response_model=TemplateOut,
    responses=unchanged(TemplateOut, _SAME_AGAIN) | _TENANT_CHANGED,
)
def put_template(
    name: str, body: TemplateIn, request: Request, response: Response, caller: AdminDep
) -> TemplateOut:
    recorded = settings(request).set_template(
        caller.tenant_id, name, body.source, _meta(request, caller)
    )
    response.status_code = 201 if recorded else 200
    return TemplateOut(name=name, source=body.source, overridden=True)


@router.get(
    "/templates/{name}",
    summary="The source of a document template in force: your override, else the default",
    response_model=TemplateOut,
)
def get_template(name: str, request: Request, caller: SettingsReaderDep) -> TemplateOut:
    return _template_out(settings(request).template_in_force(caller.tenant_id, name))


@router.delete(
    "/templates/{name}",
    status_code=204,
    summary="Use the default of a template again",
    responses=_TENANT_CHANGED,
)
def delete_template(name: str, request: Request, caller: AdminDep) -> None:
    settings(request).clear_template(caller.tenant_id, name, _meta(request, caller))
