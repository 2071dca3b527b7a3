"""Seals of accounting periods, computed from the stored events.

Concept
    A period's seal (:class:`domain.periods.Seal`) is recomputed here by walking the
    notification log from the first event: every account event of the tenant effective in the
    period contributes its hash, recomputed from its content (``domain.hash_chain.hash_of``),
    in the order the store recorded it. The period close computes it to store it;
    ``ar verify`` computes it again and compares (:func:`broken_seals`).

Invariants
    - Only account events are sealed (a tenant's own settings are not in any period's figures).
    - An account's tenant is read from its first event (``Opened``), which the log holds
      before any other event of the account.
    - An event that cannot be decoded makes the seal uncomputable (:class:`Unsealable`),
      never silently left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from domain.account import is_account_topic
from domain.hash_chain import hash_of
from domain.periods import Period, Seal
from domain.tenant import Tenant
from projections.database import Database

PAGE = 2_000


class Unsealable(Exception):
    """A stored event could not be read, so no seal over it can be computed."""


def compute_seals(
    app: Application[Any],
    wanted: dict[str, set[Period]],
    *,
    progress: Callable[[int], None] | None = None,
) -> dict[tuple[str, Period], Seal]:
    """The seal of each (tenant, period) of ``wanted``, from every event stored now."""
    seals = {(tenant, period): Seal() for tenant, periods in wanted.items() for period in periods}
    if not seals:
        return seals
    tenants_of: dict[UUID, str] = {}
    start, walked = 1, 0
    while True:
        page = app.recorder.select_notifications(start=start, limit=PAGE)
        if not page:
            return seals
        for notification in page:
            start = notification.id + 1
            if not is_account_topic(notification.topic):
                continue
            try:
                event: Any = app.mapper.to_domain_event(notification)
            except Exception as exc:
                msg = f"event {notification.id} cannot be read: {type(exc).__name__}"
                raise Unsealable(msg) from exc
            if event.originator_version == 1:
                tenants_of[event.originator_id] = event.tenant_id
            tenant = tenants_of.get(event.originator_id)
            if tenant not in wanted:
                continue
            seal = seals.get((tenant, Period.of(event.effective_on)))
            if seal is not None:
                seal.add(hash_of(event))
        walked += len(page)
        if progress is not None:
            progress(walked)


@dataclass(frozen=True)
class BrokenSeal:
    tenant_id: str
    period: str
    stored: str
    recomputed: str
    stored_events: int
    recomputed_events: int


def tenant_ids(db: Database) -> list[str]:
    """Every tenant the store knows (the ``tenants`` table, made by the migrations)."""
    rows = db.query("SELECT tenant_id FROM tenants ORDER BY tenant_id")
    return [str(row["tenant_id"]) for row in rows]


def broken_seals(app: Application[Any], tenants: Iterable[str]) -> list[BrokenSeal]:
    """Every closed period whose stored seal differs from the one its events give now."""
    closes: dict[str, dict[Period, Any]] = {}
    for tenant_id in tenants:
        try:
            tenant: object = app.repository.get(Tenant.id_for(tenant_id))
        except Exception:  # noqa: S112 - a tenant listed whose first save failed
            continue
        if isinstance(tenant, Tenant) and tenant.closed_periods:
            closes[tenant_id] = {Period.parse(n): c for n, c in tenant.closed_periods.items()}
    seals = compute_seals(app, {t: set(periods) for t, periods in closes.items()})
    broken = []
    for (tenant_id, period), seal in sorted(seals.items()):
        close = closes[tenant_id][period]
        if seal.value != close.seal or seal.events != close.events:
            broken.append(
                BrokenSeal(
                    tenant_id, str(period), close.seal, seal.value, close.events, seal.events
                )
            )
    return broken
