"""Properties over random sequences of commands: the account always balances, no item is
ever allocated beyond its total, replaying rebuilds the same account, nothing is float."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from unit_support import (
    META,
    assert_same_account,
    balance_by_equation,
    balance_by_open_items,
    d,
    open_account,
    replay,
    snapshot_round_trip,
)

from domain.account import Account
from domain.claims import ClaimAdjustment
from domain.errors import DomainError
from domain.hash_chain import verify_chain
from domain.money import MINOR_UNITS, Money
from domain.open_items import Term
from domain.schedules import InstallmentShare

COMMANDS = [
    "charge",
    "charge",
    "invoice",
    "invoice",
    "pay",
    "pay",
    "pay_explicit",
    "apply_credit",
    "refund",
    "reverse",
    "credit_note",
    "debit_note",
    "void_invoice",
    "void_charge",
    "write_off",
    "recover",
    "offer",
    "plan",
    "sweep",
    "claim",
    "adjudicate",
    "insurer_pay",
    "contractual",
    "dispute",
    "resolve",
    "subscribe",
    "change_plan",
    "cancel",
    "bill",
]

START = d("2024-01-01")


class Driver:
    """Turns (command, seed, minor units) into a command call with plausible arguments.

    Commands are sometimes back-dated (as clerks post late), lists sometimes repeat an
    entry, and accounts are kept in USD (2 decimals), JPY (0) or KWD (3)."""

    def __init__(self, currency: str = "USD") -> None:
        self.account = open_account(currency=currency)
        self.currency = currency
        self.places = MINOR_UNITS[currency]
        self.counter = 0

    def money(self, minor_units: int) -> Money:
        return Money(Decimal(minor_units).scaleb(-self.places), self.currency)

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def run(self, step: int, name: str, seed: int, cents: int) -> None:
        rng = random.Random(seed)
        a = self.account
        money = self.money
        back_dated_by = rng.choice([0, 0, 0, 0, 5, 20, 60])
        on = max(START, START + timedelta(days=step * 3 + rng.randint(0, 4) - back_dated_by))
        items = sorted(a.items)
        open_items = sorted(a.open_items)
        pick = rng.choice

        def some(numbers: list[str]) -> list[str]:
            """One or more of ``numbers``, perhaps with an entry repeated."""
            chosen = rng.sample(numbers, rng.randint(1, min(3, len(numbers))))
            return [*chosen, pick(chosen)] if rng.random() < 0.3 else chosen

        if name == "charge":
            a.post_charge(
                charge_id=self.next_id("c"),
                code="SVC",
                description="",
                quantity=pick([1, 2, 3]),
                unit_price=money(cents),
                tax=money(rng.randint(0, 500)),
                service_date=on,
                effective_on=on,
                meta=META,
            )
        elif name == "invoice":
            shares = pick(
                [
                    None,
                    [InstallmentShare(0, Decimal(30)), InstallmentShare(30, Decimal(70))],
                    [
                        InstallmentShare(0, Decimal(30)),
                        InstallmentShare(30, Decimal(50)),
                        InstallmentShare(60, Decimal(20)),
                    ],
                ]
            )
            charge_ids = some(sorted(a.uninvoiced)) if a.uninvoiced and rng.random() < 0.3 else None
            a.issue_invoice(
                invoice_number=self.next_id("INV-"),
                issued_on=on,
                meta=META,
                installments=shares,
                charge_ids=charge_ids,
            )
        elif name == "pay":
            a.receive_payment(
                payment_id=self.next_id("p"),
                amount=money(cents),
                method="cash",
                reference="",
                received_on=on,
                meta=META,
                allocation_policy=pick(["oldest_due_first", "oldest_due_first", "none"]),
            )
        elif name == "pay_explicit" and open_items:
            number = pick(open_items)
            amount = money(cents)
            share = a.items[number].outstanding.min(amount)
            a.receive_payment(
                payment_id=self.next_id("p"),
                amount=amount,
                method="card",
                reference="",
                received_on=on,
                meta=META,
                allocations={number: share},
            )
        elif name == "apply_credit":
            a.apply_credit(applied_on=on, meta=META)
        elif name == "refund":
            a.refund_credit(
                refund_id=self.next_id("r"),
                amount=money(cents).min(a.unapplied_credit),
                method="cheque",
                reference="",
                refunded_on=on,
                meta=META,
            )
        elif name == "reverse" and a.payments:
            a.reverse_payment(
                payment_id=pick(sorted(a.payments)),
                reason_code="returned_cheque",
                reversed_on=on,
                meta=META,
            )
        elif name == "credit_note" and items:
            number = pick(items)
            a.issue_credit_note(
                note_number=self.next_id("CN-"),
                invoice_number=number,
                issued_on=on,
                meta=META,
                amount=pick([None, money(cents)]),
            )
        elif name == "debit_note":
            a.issue_debit_note(
                note_number=self.next_id("DN-"), amount=money(cents), issued_on=on, meta=META
            )
        elif name == "void_invoice" and items:
            a.void_invoice(invoice_number=pick(items), effective_on=on, meta=META)
        elif name == "void_charge" and a.charges:
            a.void_charge(charge_id=pick(sorted(a.charges)), effective_on=on, meta=META)
        elif name == "write_off" and items:
            a.write_off(
                write_off_id=self.next_id("w"),
                invoice_number=pick(items),
                written_off_on=on,
                meta=META,
                amount=pick([None, money(cents)]),
            )
        elif name == "recover" and a.write_offs:
            a.recover_write_off(
                write_off_id=pick(sorted(a.write_offs)),
                amount=money(cents),
                recovered_on=on,
                meta=META,
            )
        elif name == "offer" and open_items:
            a.offer_settlement(
                offer_id=self.next_id("S"),
                invoice_numbers=some(open_items),
                amount_off=money(cents),
                expires_on=on + timedelta(days=rng.randint(0, 20)),
                offered_on=on,
                meta=META,
            )
        elif name == "plan" and open_items:
            numbers = some(open_items)
            open_now = Money.sum(
                (a.items[n].outstanding for n in dict.fromkeys(numbers)), self.currency
            )
            first = open_now.prorate(1, 2).truncate_to_minor()
            terms = [
                Term(on + timedelta(days=10), first),
                Term(on + timedelta(days=40), open_now - first),
            ]
            a.agree_payment_plan(
                plan_id=self.next_id("P"),
                invoice_numbers=numbers,
                installments=[t for t in terms if t.amount.is_positive],
                agreed_on=on,
                meta=META,
                default_after_missed=pick([1, 2]),
            )
        elif name == "sweep":
            a.sweep(as_of=on, meta=META)
        elif name == "claim" and a.uninvoiced:
            a.submit_claim(
                claim_id=self.next_id("CLM-"),
                payer=pick(["ACME", "Zenith"]),
                charge_ids=some(sorted(a.uninvoiced)),
                submitted_on=on,
                meta=META,
            )
        elif name == "adjudicate" and a.claims:
            claim = a.claims[pick(sorted(a.claims))]
            billed = claim.billed.amount
            unit = Decimal(1).scaleb(-self.places)
            co = (billed * Decimal(rng.randint(0, 40)) / 100).quantize(unit)
            pr = (billed * Decimal(rng.randint(0, 30)) / 100).quantize(unit)
            adjustments = [
                ClaimAdjustment(g, r, Money(x, self.currency))
                for g, r, x in (("CO", "45", co), ("PR", "1", pr))
                if x > 0
            ]
            a.adjudicate_claim(
                claim_id=claim.claim_id,
                paid=Money(billed - co - pr, self.currency),
                adjustments=adjustments,
                adjudicated_on=on,
                meta=META,
            )
        elif name == "insurer_pay" and a.claims:
            claim = a.claims[pick(sorted(a.claims))]
            a.post_insurer_payment(
                claim_id=claim.claim_id,
                payment_id=self.next_id("ERA-"),
                amount=claim.paid_per_remittance or money(cents),
                method="eft",
                reference="",
                received_on=on,
                meta=META,
            )
        elif name == "contractual" and a.claims:
            a.post_contractual_adjustment(claim_id=pick(sorted(a.claims)), posted_on=on, meta=META)
        elif name == "dispute" and items:
            a.open_dispute(
                dispute_id=self.next_id("D"), invoice_number=pick(items), opened_on=on, meta=META
            )
        elif name == "resolve" and a.disputes:
            a.resolve_dispute(
                dispute_id=pick(sorted(a.disputes)), outcome="rejected", resolved_on=on, meta=META
            )
        elif name == "subscribe":
            a.start_subscription(
                subscription_id=self.next_id("SUB-"),
                plan_code="basic",
                price=money(cents),
                starts_on=on,
                meta=META,
            )
        elif name == "change_plan" and a.subscriptions:
            a.change_subscription_plan(
                subscription_id=pick(sorted(a.subscriptions)),
                plan_code="plus",
                price=money(cents),
                change_on=on,
                meta=META,
                timing=pick(["immediate", "next_period"]),
            )
        elif name == "cancel" and a.subscriptions:
            a.cancel_subscription(
                subscription_id=pick(sorted(a.subscriptions)),
                cancel_on=on,
                meta=META,
                timing=pick(["immediate", "end_of_period"]),
            )
        elif name == "bill":
            a.run_billing(run_id=self.next_id("RUN-"), through=on, meta=META)


def _walk(value: Any) -> Any:
    """Every leaf value held in the aggregate's state."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _walk(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _walk(v)
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            yield from _walk(getattr(value, name))
    else:
        yield value


def check_invariants(account: Account) -> None:
    currency = account.currency
    assert account.balance == balance_by_equation(account)
    assert account.balance == balance_by_open_items(account)
    assert not account.unapplied_credit.is_negative
    assert account.unapplied_credit == Money.sum(
        (p.unapplied for p in account.payments.values()), currency
    )
    for item in account.items.values():
        assert not item.applied.is_negative, item
        assert item.applied <= item.total, f"{item.number} allocated beyond its total"
        terms = item.term_statuses()
        assert all(not t.outstanding.is_negative for t in terms)
        assert Money.sum((t.outstanding for t in terms), currency) == item.outstanding
        assert (item.number in account.open_items) == item.is_open
    for claim in account.claims.values():
        assert not claim.owed_by_payer.is_negative
    for payment in account.payments.values():
        for amount in payment.allocations.values():
            assert amount.is_positive


step_strategy = st.tuples(st.sampled_from(COMMANDS), st.integers(0, 2**32), st.integers(1, 60_000))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["USD", "JPY", "KWD"]), st.lists(step_strategy, min_size=20, max_size=60))
def test_any_sequence_of_commands_keeps_the_account_balanced_and_replayable(
    currency: str,
    steps: list[tuple[str, int, int]],
) -> None:
    driver = Driver(currency)
    account = driver.account
    for step, (name, seed, cents) in enumerate(steps):
        version_before = account.version
        pending_before = len(account.pending_events)
        refused: DomainError | None = None
        try:
            driver.run(step, name, seed, cents)
        except DomainError as error:
            refused = error
        if refused is not None:
            # A refused command records nothing at all, and says why in a stable code.
            assert account.version == version_before, refused
            assert len(account.pending_events) == pending_before
            assert refused.code
            assert str(refused)
        check_invariants(account)

    events = list(account.collect_events())
    assert verify_chain(events) == []
    assert_same_account(replay(events), account)
    assert_same_account(snapshot_round_trip(account), account)
    for value in _walk(account.__dict__):
        assert not isinstance(value, float)
    for event in events:
        for value in _walk(event.__dict__):
            assert not isinstance(value, float)
