"""The aging SQL says what the domain says, over random histories of an account.

Two rules live in the domain as Python — the payment waterfall (``domain.open_items.waterfall``:
what reduces an item fills its earliest terms first) and the aging buckets (``domain.aging``) —
and are restated in SQL by ``projections.reports`` so that an aging report over many accounts
is one query. This test holds the restatement to the rules: hypothesis draws a history of an
account (charges, invoices on one term or in installment shares, debit notes, payments with
and without allocations, credit applied and refunded, credit notes, payment reversals,
write-offs and recoveries, voids, disputes opened and resolved, payment plans agreed, changed,
kept or missed as sweeps find them, and defaulted; back-dated at times; in a currency of 2, 0
or 3 decimals), records it through the application, runs the projector, and
then, for random as-of dates, bucket limits and bases, and as known now or at a moment in the
middle of the history, compares

- every open term of ``aging_lines`` (and its bucket, days past due and dispute flag) with what
  ``Account.aged(as_of)`` leaves open on each term of each item — its own terms, or its share
  of the installments of a payment plan kept as of the date (the plan-aware rule),
- the per-bucket sums and the disputed sum of ``aging`` — summed by the database
  (``detail=False``, both from the dated movements and, as of a date after everything, from the
  terms' running figures) and from its lines (``detail=True``) — with the domain's,
- each bucket's ``explain`` total with the domain's,
- and, as of the end, the unapplied credit with the account's.

On PostgreSQL too (the ``postgres`` half is an integration test).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from domain.account import Account
from domain.aging import bucket_index, bucket_labels, days_past_due
from domain.errors import DomainError
from domain.money import from_minor_units, to_minor_units
from projections.catalogue import read_models
from projections.explain import explain
from projections.reports import aging, aging_lines
from projections.runner import Projector
from services.bootstrap import Runtime
from services.commands import command_models
from tests.support import CLERK, run

ACCOUNT = "A-1"
START = date(2026, 1, 1)
#: After every date a history can name: the report reads the terms' running figures.
THE_END = date(2030, 1, 1)

#: Weighted: a history needs charges and invoices before anything else has an item to act on.
KINDS = [
    *["charge"] * 3,
    *["invoice"] * 3,
    "debit_note",
    *["pay"] * 2,
    "pay_to",
    "apply_credit",
    "refund",
    *["credit_note"] * 2,
    "reverse",
    *["write_off"] * 2,
    "recover",
    "void",
    *["dispute"] * 3,
    *["resolve"] * 3,
    *["plan"] * 5,
    "change_plan",
    "default_plan",
    *["sweep"] * 2,
]

SHARES: list[list[tuple[int, str]] | None] = [
    None,  # the account's payment terms: one term
    [(0, "30"), (30, "70")],
    [(0, "30"), (30, "50"), (60, "20")],
    [(15, "33.3"), (45, "33.3"), (75, "33.4")],
    [(10, "50"), (10, "50")],  # two terms due the same day
]


@dataclass
class History:
    """Records one random history of the account through the application, as a clerk would:
    each step is (kind, seed, minor units, days on); a step the domain refuses is skipped."""

    runtime: Runtime
    tenant: str
    currency: str
    ids: int = 0
    invoices: list[str] = field(default_factory=list)
    payments: list[str] = field(default_factory=list)
    write_offs: list[str] = field(default_factory=list)
    plans: list[str] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)

    def amount(self, minor: int) -> str:
        return str(from_minor_units(minor, self.currency))

    def next_id(self, prefix: str) -> str:
        self.ids += 1
        return f"{prefix}-{self.ids}"

    def account(self) -> Account:
        return self.runtime.app.get_account(self.tenant, ACCOUNT)

    def open(self) -> None:
        self.runtime.app.open_account(
            tenant_id=self.tenant,
            account_number=ACCOUNT,
            name="Ann",
            currency=self.currency,
            opened_on=START,
            meta=CLERK,
        )

    def send(self, command: str, body: dict[str, Any]) -> bool:
        try:
            run(
                self.runtime.app,
                command_models()[command].model_validate(body),
                ACCOUNT,
                self.tenant,
            )
        except DomainError:
            return False
        self.recorded.append(command)
        return True

    def step(self, kind: str, seed: int, minor: int, on: date) -> None:
        rng = random.Random(seed)
        day = on.isoformat()
        pick: Callable[[list[str]], str] = rng.choice

        if kind == "charge":
            self.send(
                "post_charge",
                {
                    "charge_id": self.next_id("ch"),
                    "code": "SVC",
                    "description": "Service",
                    "quantity": str(rng.choice([1, 2, 3])),
                    "unit_price": self.amount(minor),
                    "tax": self.amount(rng.choice([0, 0, minor // 10])),
                    "service_date": day,
                },
            )
        elif kind == "invoice":
            if not self.account().uninvoiced_charge_ids():
                self.step("charge", seed, minor, on)
            number = self.next_id("INV")
            body: dict[str, Any] = {"invoice_number": number, "issued_on": day}
            shares = rng.choice(SHARES)
            if shares is not None:
                body["installments"] = [{"due_in_days": d, "percent": p} for d, p in shares]
            elif rng.random() < 0.5:
                body["due_on"] = (on + timedelta(days=rng.randint(0, 60))).isoformat()
            if self.send("issue_invoice", body):
                self.invoices.append(number)
        elif kind == "debit_note":
            number = self.next_id("DN")
            body = {"note_number": number, "amount": self.amount(minor), "issued_on": day}
            if rng.random() < 0.5:
                body["due_on"] = (on + timedelta(days=rng.randint(0, 45))).isoformat()
            if self.send("issue_debit_note", body):
                self.invoices.append(number)
        elif kind in ("pay", "pay_to"):
            payment = self.next_id("pay")
            body = {
                "payment_id": payment,
                # Smaller than a charge, mostly: part-paid items fill their terms part-way.
                "amount": self.amount(max(1, minor // rng.choice([1, 2, 3, 5]))),
                "method": "cash",
                "reference": payment,
                "received_on": day,
            }
            if kind == "pay_to" and self.invoices:
                body["allocations"] = {pick(self.invoices): self.amount(max(1, minor // 2))}
            if self.send("receive_payment", body):
                self.payments.append(payment)
        elif kind == "apply_credit":
            self.send("apply_credit", {"applied_on": day})
        elif kind == "refund":
            credit = to_minor_units(self.account().unapplied_credit)
            if credit > 0:
                self.send(
                    "refund_credit",
                    {
                        "refund_id": self.next_id("rf"),
                        "amount": self.amount(rng.randint(1, credit)),
                        "method": "cash",
                        "reference": "refund",
                        "refunded_on": day,
                    },
                )
        elif kind == "credit_note" and self.open_items():
            invoice = pick(self.open_items())
            body = {"note_number": self.next_id("CN"), "invoice_number": invoice, "issued_on": day}
            if rng.random() < 0.7:
                body["amount"] = self.amount(self._part_of_open(invoice, rng))
            self.send("issue_credit_note", body)
        elif kind == "reverse" and self.payments:
            self.send(
                "reverse_payment",
                {"payment_id": pick(self.payments), "reason_code": "NSF", "reversed_on": day},
            )
        elif kind == "write_off" and self.open_items():
            invoice = pick(self.open_items())
            write_off = self.next_id("wo")
            body = {"write_off_id": write_off, "invoice_number": invoice, "written_off_on": day}
            if rng.random() < 0.5:
                body["amount"] = self.amount(self._part_of_open(invoice, rng))
            if self.send("write_off", body):
                self.write_offs.append(write_off)
        elif kind == "recover" and self.write_offs:
            self.send(
                "recover_write_off",
                {
                    "write_off_id": pick(self.write_offs),
                    "amount": self.amount(max(1, minor // 3)),
                    "recovered_on": day,
                },
            )
        elif kind in ("plan", "change_plan", "default_plan", "sweep"):
            self.plan_step(kind, rng, on)
        elif kind == "void" and self.invoices:
            self.send("void_invoice", {"invoice_number": pick(self.invoices), "effective_on": day})
        elif kind == "dispute" and self.open_items():
            dispute = self.next_id("dsp")
            body = {
                "dispute_id": dispute,
                "invoice_number": pick(self.open_items()),
                "opened_on": day,
            }
            self.send("open_dispute", body)
        elif kind == "resolve" and self.open_disputes():
            self.send(
                "resolve_dispute",
                {
                    "dispute_id": pick(self.open_disputes()),
                    "outcome": rng.choice(["upheld", "rejected", "withdrawn"]),
                    "resolved_on": day,
                },
            )

    def schedule(self, total_minor: int, on: date, rng: random.Random) -> list[dict[str, str]]:
        """Installments of ``total_minor`` due from ``on``: one to three, 10 to 40 days apart."""
        count = min(total_minor, rng.randint(1, 3))
        parts = [total_minor // count] * count
        parts[-1] += total_minor - sum(parts)
        due, result = on, []
        for part in parts:
            due = due + timedelta(days=rng.randint(10, 40))
            result.append({"due_on": due.isoformat(), "amount": self.amount(part)})
        return result

    def active_plans(self) -> list[str]:
        return sorted(p.plan_id for p in self.account().plans.values() if p.status == "active")

    def plan_step(self, kind: str, rng: random.Random, on: date) -> None:
        day = on.isoformat()
        if kind == "plan":
            account = self.account()
            free = [
                n
                for n in sorted(account.open_items)
                if account.items[n].plan_id is None and not account.items[n].disputed
            ]
            if not free:
                return
            chosen = rng.sample(free, min(len(free), rng.randint(1, 2)))
            base = sum(to_minor_units(account.outstanding(n)) for n in chosen)
            plan = self.next_id("plan")
            body = {
                "plan_id": plan,
                "invoice_numbers": chosen,
                "installments": self.schedule(base, on, rng),
                "agreed_on": day,
                "default_after_missed": rng.choice([1, 2]),
            }
            if self.send("agree_payment_plan", body):
                self.plans.append(plan)
        elif kind == "change_plan" and self.active_plans():
            account = self.account()
            plan = rng.choice(self.active_plans())
            base = sum(
                to_minor_units(account.outstanding(n)) for n in account.plans[plan].invoice_numbers
            )
            self.send(
                "change_payment_plan",
                {"plan_id": plan, "installments": self.schedule(base, on, rng), "changed_on": day},
            )
        elif kind == "default_plan" and self.active_plans():
            self.send(
                "default_payment_plan",
                {"plan_id": rng.choice(self.active_plans()), "defaulted_on": day},
            )
        elif kind == "sweep":
            # A sweep late in the story finds the installments due by then missed.
            self.send("sweep", {"as_of": (on + timedelta(days=rng.randint(0, 40))).isoformat()})

    def open_disputes(self) -> list[str]:
        return sorted(
            d.dispute_id for d in self.account().disputes.values() if d.resolved_on is None
        )

    def open_items(self) -> list[str]:
        return sorted(self.account().open_items)

    def _part_of_open(self, invoice: str, rng: random.Random) -> int:
        account = self.account()
        open_minor = to_minor_units(account.outstanding(invoice))
        return max(1, rng.randint(1, max(1, open_minor)))


def disputed_on(account: Account, item_number: str, as_of: date) -> bool:
    """Whether a dispute on the item was open as of the date."""
    return any(
        d.invoice_number == item_number
        and d.opened_on <= as_of
        and not (d.resolved_on is not None and d.resolved_on <= as_of)
        for d in account.disputes.values()
    )


@dataclass(frozen=True)
class OpenTerm:
    item_number: str
    term_index: int
    due_on: date
    issued_on: date
    open_minor: int
    days_past_due: int
    bucket: str
    disputed: bool


def domain_terms(
    account: Account, as_of: date, basis: str, limits: tuple[int, ...]
) -> dict[tuple[str, str, int], OpenTerm]:
    """Every term with something open as of the date, as the domain's own code ages it: by
    the item's own terms, or by the installments of a payment plan kept as of the date."""
    labels = bucket_labels(limits)
    found = {}
    for term in account.aged(as_of):
        if term.outstanding.is_zero:
            continue
        item = account.items[term.invoice_number]
        days = days_past_due(as_of, term.due_on, item.issued_on, basis)
        found[(item.number, term.plan_id or "", term.index)] = OpenTerm(
            item.number,
            term.index,
            term.due_on,
            item.issued_on,
            to_minor_units(term.outstanding),
            days,
            labels[bucket_index(days, limits)],
            disputed_on(account, item.number, as_of),
        )
    return found


def domain_figures(
    terms: dict[tuple[str, str, int], OpenTerm], limits: tuple[int, ...]
) -> tuple[dict[str, int], int]:
    buckets = dict.fromkeys(bucket_labels(limits), 0)
    for term in terms.values():
        buckets[term.bucket] += term.open_minor
    return buckets, sum(t.open_minor for t in terms.values() if t.disputed)


def check_cut(
    runtime: Runtime,
    history: History,
    account: Account,
    as_of: date,
    known_at: datetime | None,
    basis: str,
    limits: tuple[int, ...],
    *,
    explained: bool,
) -> None:
    db, tenant = runtime.db, history.tenant
    cut = (as_of, known_at, basis, limits, history.recorded)
    expected = domain_terms(account, as_of, basis, limits)
    lines = aging_lines(
        db, tenant, as_of, known_at=known_at, basis=basis, buckets=limits, account_number=ACCOUNT
    )
    assert {
        (line.item_number, line.plan_id or "", line.term_index): OpenTerm(
            line.item_number,
            line.term_index,
            line.due_on,
            line.issued_on,
            line.open_minor,
            line.days_past_due,
            line.bucket,
            line.disputed,
        )
        for line in lines
    } == expected, cut
    buckets, disputed = domain_figures(expected, limits)
    for detail in (False, True):
        rows = aging(
            db,
            tenant,
            as_of,
            known_at=known_at,
            basis=basis,
            buckets=limits,
            account_number=ACCOUNT,
            detail=detail,
        )
        assert [r.account_number for r in rows] in ([], [ACCOUNT]), cut
        if rows:
            assert (rows[0].buckets, rows[0].disputed_minor) == (buckets, disputed), (detail, cut)
        else:
            assert not expected, (detail, cut)
    for label, amount in buckets.items() if explained else ():
        found = explain(
            db,
            tenant,
            ACCOUNT,
            f"aging:{label}",
            as_of,
            known_at=known_at,
            buckets=limits,
            basis=basis,
        )
        assert found is not None
        assert found.total_minor == amount, (label, cut)


def edges(account: Account, basis: str, limits: tuple[int, ...]) -> tuple[list[date], list[date]]:
    """The dates of the history where an off-by-one in the SQL would show: each dispute's
    opening and resolution (few: all are checked), and each term's date on the basis, the days
    it turns each limit late and the day after each, and each movement's date (many: some are)."""
    disputes = set()
    for dispute in account.disputes.values():
        disputes |= {dispute.opened_on, dispute.resolved_on or dispute.opened_on}
    others = set()
    for item in account.items.values():
        for term in item.terms:
            aged_from = term.due_on if basis == "due" else item.issued_on
            for days in (0, *limits):
                others |= {aged_from + timedelta(days=days), aged_from + timedelta(days=days + 1)}
        others |= {m.effective_on for m in item.movements}
    return sorted(disputes), sorted(others - disputes)


STEPS = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.integers(0, 2**32),
        st.integers(1, 40_000),  # minor units
        st.integers(-15, 6),  # days back-dated (negative) or ahead of the story's clock
    ),
    min_size=8,
    max_size=30,
)
LIMITS = st.lists(st.integers(1, 90), min_size=1, max_size=4, unique=True).map(
    lambda limits: tuple(sorted(limits))
)
#: A cut: an as-of date — a day of the story, or (``anchor`` not None) a date of the history
#: where an off-by-one would show: the day before, of or after a term's date on the basis
#: turning so many days late as a bucket's limit, a movement, or a dispute opening or closing
#: — a basis and bucket limits.
ANCHOR = st.tuples(
    st.sampled_from(["term", "term", "movement", "dispute"]),
    st.integers(0, 1_000),
    st.integers(0, 4),
    st.sampled_from([-1, 0, 1]),
)
CUTS = st.lists(
    st.tuples(
        st.integers(-10, 240),
        st.none() | ANCHOR | ANCHOR,
        st.sampled_from(["due", "invoice"]),
        LIMITS,
    ),
    min_size=3,
    max_size=6,
)
Cut = tuple[int, tuple[str, int, int, int] | None, str, tuple[int, ...]]


def as_of_date(account: Account, cut: Cut) -> date:
    """The cut's as-of date (see ``CUTS``)."""
    offset, anchor, basis, limits = cut
    if anchor is None:
        return START + timedelta(days=offset)
    kind, which, edge, shift = anchor
    dates: set[date]
    if kind == "term":
        days_late = (0, *limits)[edge % (len(limits) + 1)]
        dates = {
            (term.due_on if basis == "due" else item.issued_on) + timedelta(days=days_late)
            for item in account.items.values()
            for term in item.terms
        }
    elif kind == "movement":
        dates = {m.effective_on for item in account.items.values() for m in item.movements}
    else:
        dates = {d.opened_on for d in account.disputes.values()}
        dates |= {d.resolved_on for d in account.disputes.values() if d.resolved_on is not None}
    if not dates:
        return START + timedelta(days=offset)
    return sorted(dates)[which % len(dates)] + timedelta(days=shift)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    currency=st.sampled_from(["USD", "JPY", "KWD"]),
    steps=STEPS,
    cuts=CUTS,
    middle=st.integers(0, 30),
    edge_seed=st.integers(0, 2**32),
)
def test_the_aging_sql_leaves_open_on_each_term_what_the_domain_does(
    runtime: Runtime,
    currency: str,
    steps: list[tuple[str, int, int, int]],
    cuts: list[Cut],
    middle: int,
    edge_seed: int,
) -> None:
    # A tenant of its own per example: the store is shared by the examples, the reports not.
    history = History(runtime, f"t-{uuid.uuid4().hex[:12]}", currency)
    history.open()
    known_at: datetime | None = None
    for n, (kind, seed, minor, shift) in enumerate(steps):
        if n == min(middle, len(steps) - 1):
            known_at = datetime.now(UTC)
            time.sleep(0.002)  # every later event is recorded after the moment
        on = max(START, START + timedelta(days=4 * n + shift))
        history.step(kind, seed, minor, on)
    Projector(runtime.app, runtime.db, read_models()).catch_up()

    now = history.account()
    event(f"payment plans agreed: {min(len(now.plans), 2)}")
    event(f"plan aged at the end: {any(t.plan_id for t in now.aged(THE_END))}")
    then = runtime.app.get_account(history.tenant, ACCOUNT, as_known_at=known_at)
    for n, cut in enumerate(cuts):
        _, _, basis, limits = cut
        explained = n == 0  # explain reads every bucket's events: once per example is enough
        check_cut(
            runtime, history, now, as_of_date(now, cut), None, basis, limits, explained=explained
        )
        check_cut(
            runtime,
            history,
            then,
            as_of_date(then, cut),
            known_at,
            basis,
            limits,
            explained=explained,
        )
    _, _, basis, limits = cuts[-1]
    check_cut(runtime, history, now, THE_END, None, basis, limits, explained=True)
    disputes, others = edges(now, basis, limits)
    for as_of in disputes + random.Random(edge_seed).sample(others, min(8, len(others))):
        check_cut(runtime, history, now, as_of, None, basis, limits, explained=False)
    rows = aging(runtime.db, history.tenant, THE_END, account_number=ACCOUNT, detail=False)
    credit = rows[0].unapplied_credit_minor if rows else 0
    assert credit == to_minor_units(now.unapplied_credit)
