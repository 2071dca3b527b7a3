"""The collections queue a collector works: the worklist filtered by collector, dunning level
and currency, a page at a time, each row with its next-action date and its history.

On embedded SQLite and on PostgreSQL (the ``runtime`` fixture).
"""

from __future__ import annotations

from datetime import date

import pytest

from domain.dunning import DunningPolicy, check_levels
from projections.collections import (
    InvalidWorklistQuery,
    WorklistQuery,
    next_action_on,
    worklist,
    worklist_page,
)
from services.bootstrap import Runtime
from tests.service.test_worklist import TENANT, do, opened, owing, projected, promised, swept

AS_OF = date(2026, 3, 31)


def assigned(runtime: Runtime, account: str, collector: str) -> None:
    do(runtime, "assign_collector", {"collector": collector, "assigned_on": "2026-03-01"}, account)


def _queue(runtime: Runtime) -> None:
    for number, currency, due in [
        ("A-1", "USD", "2026-02-01"),
        ("A-2", "USD", "2026-02-15"),
        ("A-3", "EUR", "2026-03-01"),
        ("A-4", "USD", "2026-03-10"),
        ("A-5", "USD", "2026-03-20"),
    ]:
        opened(runtime, number, f"Name {number}", currency)
        owing(runtime, number, f"INV-{number}", "100.00", due)
    assigned(runtime, "A-1", "ann")
    assigned(runtime, "A-3", "ann")
    assigned(runtime, "A-4", "bob")
    do(runtime, "escalate_dunning", {"level": 1, "escalated_on": "2026-03-05"}, "A-1")
    projected(runtime)


def _numbers(runtime: Runtime, **filters: object) -> list[str]:
    return [r.account_number for r in worklist(runtime.db, TENANT, AS_OF, **filters)]  # type: ignore[arg-type]


def test_the_queue_is_filtered_by_collector_level_and_currency(runtime: Runtime) -> None:
    _queue(runtime)
    assert _numbers(runtime, collector="ann") == ["A-3", "A-1"]
    assert _numbers(runtime, collector="ann", currency="EUR") == ["A-3"]
    assert _numbers(runtime, collector="unassigned") == ["A-2", "A-5"]
    assert _numbers(runtime, level=1) == ["A-1"]
    assert _numbers(runtime, level=0, collector="bob") == ["A-4"]
    # Unassigned since: the account leaves ann's queue for the unassigned one.
    do(runtime, "unassign_collector", {"unassigned_on": "2026-03-20"}, "A-1")
    projected(runtime)
    assert _numbers(runtime, collector="ann") == ["A-3"]
    as_before = {
        r.account_number: r.collector for r in worklist(runtime.db, TENANT, date(2026, 3, 19))
    }
    assert (as_before["A-1"], as_before["A-2"]) == ("ann", None)


@pytest.mark.parametrize("sort", ["priority", "next_action", "account"])
def test_pages_follow_each_other_without_duplicates_or_gaps(runtime: Runtime, sort: str) -> None:
    _queue(runtime)
    query = WorklistQuery(TENANT, AS_OF, sort=sort, limit=2)
    whole = worklist_page(runtime.db, WorklistQuery(TENANT, AS_OF, sort=sort, limit=None))
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        page = worklist_page(runtime.db, query, cursor=cursor)
        seen += [r.account_number for r in page.rows]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [r.account_number for r in whole.rows]
    assert sorted(seen) == ["A-1", "A-2", "A-3", "A-4", "A-5"]


def test_a_promise_broken_by_the_sweep_shows_in_the_history(runtime: Runtime) -> None:
    opened(runtime, "A-1", "Ann")
    owing(runtime, "A-1", "INV-1", "100.00", "2026-02-01")
    do(
        runtime,
        "record_collection_activity",
        {
            "activity_id": "act-1",
            "channel": "call",
            "outcome": "will pay",
            "occurred_on": "2026-03-02",
        },
        "A-1",
    )
    promised(runtime, "A-1", "ptp-1", "100.00", "2026-03-15", "2026-03-02")
    projected(runtime)
    (before,) = worklist_page(runtime.db, WorklistQuery(TENANT, date(2026, 3, 10))).rows
    assert before.next_action_on == date(2026, 3, 15)
    assert [(h.kind, h.id, h.status) for h in before.history] == [
        ("promise", "ptp-1", "open"),
        ("activity", "act-1", None),
    ]
    swept(runtime, "A-1", "2026-03-16")
    projected(runtime)
    (after,) = worklist_page(runtime.db, WorklistQuery(TENANT, date(2026, 3, 16))).rows
    assert after.next_action_on == date(2026, 3, 16)  # nothing pending: act now
    assert (after.history[0].kind, after.history[0].status) == ("promise", "broken")


def test_the_next_action_is_the_earliest_of_promise_installment_and_next_dunning_level() -> None:
    policy = DunningPolicy(
        1, date(2026, 1, 1), check_levels([(10, "reminder"), (30, "final_notice")])
    )
    common = {"oldest_days_past_due": 20, "dunning_level": 1, "policy": policy}
    assert next_action_on(AS_OF, promise_pay_by=None, installment_due_on=None, **common) == date(
        2026, 4, 10
    )  # level 2 at 30 days: ten days on
    assert next_action_on(
        AS_OF, promise_pay_by=date(2026, 4, 5), installment_due_on=date(2026, 4, 7), **common
    ) == date(2026, 4, 5)
    assert (
        next_action_on(AS_OF, promise_pay_by=date(2026, 3, 1), installment_due_on=None, **common)
        == AS_OF
    )  # a promise past its date, not yet broken: now
    assert (
        next_action_on(
            AS_OF,
            promise_pay_by=None,
            installment_due_on=None,
            oldest_days_past_due=40,
            dunning_level=2,
            policy=policy,
        )
        == AS_OF
    )  # top of the ladder, nothing pending


def test_bad_sort_keys_and_cursors_are_refused_with_stable_codes(runtime: Runtime) -> None:
    _queue(runtime)
    with pytest.raises(InvalidWorklistQuery) as refused:
        worklist_page(runtime.db, WorklistQuery(TENANT, AS_OF, sort="amount"))
    assert refused.value.code == "unknown_sort_key"
    for cursor in ["not-a-cursor", "eyJ2IjoxfQ", "x" * 2000]:
        with pytest.raises(InvalidWorklistQuery) as refused:
            worklist_page(runtime.db, WorklistQuery(TENANT, AS_OF), cursor=cursor)
        assert refused.value.code == "invalid_cursor"
    other = worklist_page(runtime.db, WorklistQuery(TENANT, AS_OF, limit=1)).next_cursor
    with pytest.raises(InvalidWorklistQuery) as refused:
        worklist_page(runtime.db, WorklistQuery(TENANT, AS_OF, collector="ann"), cursor=other)
    assert refused.value.code == "invalid_cursor"
