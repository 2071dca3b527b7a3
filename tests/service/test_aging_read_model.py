"""The aging's own read model (``open_item_aging``, ``open_item_credit``) kept event by event.

The report as known now reads runs of dates over which each term's open amount stays the same.
A projector following the store meets an account's events one batch at a time; each batch
rewrites the runs of the items its events touched (with every invoice a plan ages with them),
from the account as the batch leaves it.
Here hypothesis draws a history of an account (the same steps as
``tests/service/test_aging_sql_matches_domain.py``: invoices, payments, credit, reversals,
write-offs, voids, disputes, payment plans; back-dated at times), projected after every step,
and holds the report summed from the runs equal to the domain's aging on every date where an
off-by-one would show, with the unapplied credit as of each; and the runs of a term never
overlap. On PostgreSQL too (the ``postgres`` half is an integration test).
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.aging import DEFAULT_LIMITS
from domain.money import to_minor_units
from projections.catalogue import read_models
from projections.reports import aging
from projections.runner import Projector
from services.bootstrap import Runtime
from tests.service.test_aging_sql_matches_domain import (
    ACCOUNT,
    START,
    STEPS,
    History,
    domain_figures,
    domain_terms,
    edges,
)


def ledger_credit(runtime: Runtime, tenant: str, as_of: date, now: datetime) -> int:
    """The unapplied credit as of the date from the ledger's lines (the as-known-at path)."""
    rows = aging(runtime.db, tenant, as_of, known_at=now, account_number=ACCOUNT, detail=False)
    return rows[0].unapplied_credit_minor if rows else 0


def runs_overlap(runtime: Runtime, tenant: str) -> list[tuple[str, str, int]]:
    """Terms with two runs covering one date."""
    rows = runtime.db.query(
        "SELECT item_number, plan_id, term_index, valid_from, valid_to FROM open_item_aging"
        " WHERE tenant_id = ? ORDER BY item_number, plan_id, term_index, valid_from",
        (tenant,),
    )
    found = []
    for earlier, later in itertools.pairwise(rows):
        key = (earlier["item_number"], earlier["plan_id"], int(earlier["term_index"]))
        same = key == (later["item_number"], later["plan_id"], int(later["term_index"]))
        if same and str(earlier["valid_to"]) > str(later["valid_from"]):
            found.append(key)
    return found


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(currency=st.sampled_from(["USD", "JPY"]), steps=STEPS)
def test_the_runs_kept_event_by_event_age_every_date_as_the_domain_does(
    runtime: Runtime, currency: str, steps: list[tuple[str, int, int, int]]
) -> None:
    history = History(runtime, f"t-{uuid.uuid4().hex[:12]}", currency)
    history.open()
    projector = Projector(runtime.app, runtime.db, read_models())
    for n, (kind, seed, minor, shift) in enumerate(steps):
        history.step(kind, seed, minor, max(START, START + timedelta(days=4 * n + shift)))
        projector.catch_up()

    account, now = history.account(), datetime.now(UTC)
    assert runs_overlap(runtime, history.tenant) == []
    disputes, others = edges(account, "due", DEFAULT_LIMITS)
    for as_of in sorted({*disputes, *others, START - timedelta(days=1)}):
        buckets, disputed = domain_figures(
            domain_terms(account, as_of, "due", DEFAULT_LIMITS), DEFAULT_LIMITS
        )
        rows = aging(runtime.db, history.tenant, as_of, account_number=ACCOUNT, detail=False)
        found = (rows[0].buckets, rows[0].disputed_minor) if rows else None
        if any(buckets.values()) or rows:
            assert found == (buckets, disputed), as_of
        credit = rows[0].unapplied_credit_minor if rows else 0
        assert credit == ledger_credit(runtime, history.tenant, as_of, now), as_of
    rows = aging(runtime.db, history.tenant, date(2030, 1, 1), account_number=ACCOUNT, detail=False)
    assert (rows[0].unapplied_credit_minor if rows else 0) == to_minor_units(
        account.unapplied_credit
    )
