"""Seeded streams of commands: what clerks send, and what a hostile or unlucky client sends.

A stream is a list of ``Cmd`` grouped in rounds. The commands of one round are sent at the
same moment (so the group committer batches them, and two application instances write to
the same accounts at once); a round starts when every command of the previous one has had a
definitive answer. Everything follows from ``random.Random(seed)``: the same seed gives the
same stream, and a stream can be cut down (shrinking) and still be run.

Most commands are ordinary: open an account, post a charge, invoice, take a payment (applied
oldest due first), credit part of an invoice, refund unapplied credit, write off. A share is
hostile (``tags`` says how):

- ``bound``: amounts at and past 9,999,999,999,999,999.99, finer than a cent, or charges that
  add up past 18 digits;
- ``far_date``: 9999-12-31, 9999-12-01 and 0001-01-01 as business dates;
- ``control_text``: NUL, ESC, BEL or a lone surrogate in a name, description or reference;
- ``unroutable``: account numbers with a slash, a space, a question mark or a percent sign;
- ``dup_id``: a charge or payment id already used, under a new key;
- ``key_reuse``: an earlier command's idempotency key with another body;
- ``dup_key``: the same command twice in one round (often on both instances);
- ``retry``: an earlier command sent again, verbatim, in a later round.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

TENANTS = ("t1", "t2", "t3")
CURRENCIES = ("USD", "USD", "EUR", "JPY")
MAX_AMOUNT = {
    "USD": "9999999999999999.99",
    "EUR": "9999999999999999.99",
    "JPY": "999999999999999999",
}
OVER_AMOUNT = {"USD": "10000000000000000.00", "EUR": "99999999999999999.99", "JPY": "1E+18"}
FAR_DATES = ("9999-12-31", "9999-12-01", "0001-01-01")
NASTY_TEXT = ("nul\x00inside", "esc\x1b[31mred", "bell\x07", "lone \ud800 surrogate")
UNROUTABLE = ("A/1", "A 1", "A?x=1", "%2E%2E", "..")


@dataclass(frozen=True)
class Cmd:
    """One request: to which instance, tenant and account, what, with which key."""

    n: int
    round: int
    instance: int
    tenant: str
    account: str
    kind: str
    body: dict[str, Any]
    key: str
    tags: tuple[str, ...] = ()

    def line(self) -> str:
        """The command as one readable line (what a failure prints)."""
        tags = f"  [{', '.join(self.tags)}]" if self.tags else ""
        body = json.dumps(self.body, sort_keys=True, ensure_ascii=True)
        return (
            f"#{self.n:<4} round {self.round:<3} app{self.instance} {self.tenant}/{self.account}"
            f" {self.kind} key={self.key} {body}{tags}"
        )


@dataclass
class _Account:
    """What the generator remembers of an account it opened, to make plausible commands."""

    tenant: str
    number: str
    currency: str
    day: date
    opened_in: int
    charges: list[str] = field(default_factory=list)
    invoices: list[str] = field(default_factory=list)
    payments: list[str] = field(default_factory=list)
    counter: int = 0

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def next_day(self, rng: random.Random) -> str:
        self.day += timedelta(days=rng.choice((0, 1, 1, 2, 7)))
        return self.day.isoformat()


class Generator:
    def __init__(self, seed: int, accounts: int | None = None, hostile: float = 0.15) -> None:
        self.seed = seed
        self.hostile = hostile
        self.rng = random.Random(seed)
        self.wanted_accounts = accounts or self.rng.randint(20, 60)
        self.accounts: list[_Account] = []
        self.sent: list[Cmd] = []
        self.n = 0
        self.hostile_opens = 0

    # --- the stream -------------------------------------------------------------------------

    def stream(self, commands: int) -> list[Cmd]:
        """About ``commands`` commands, in rounds of 1 to 12."""
        round_no = 0
        while self.n < commands:
            round_no += 1
            size = min(commands - self.n, self.rng.choice((1, 2, 4, 6, 8, 12)))
            this_round: list[Cmd] = []
            for _ in range(size):
                this_round += self._one(round_no, this_round)
            self.sent += this_round
        return self.sent

    def _one(self, round_no: int, this_round: list[Cmd]) -> list[Cmd]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.04 and this_round:
            twin = rng.choice(this_round)
            return [
                self._cmd(
                    round_no,
                    twin.tenant,
                    twin.account,
                    twin.kind,
                    twin.body,
                    key=twin.key,
                    tags=("dup_key",),
                    instance=1 - twin.instance,
                )
            ]
        if roll < 0.07 and self.sent:
            earlier = rng.choice(self.sent)
            return [
                self._cmd(
                    round_no,
                    earlier.tenant,
                    earlier.account,
                    earlier.kind,
                    earlier.body,
                    key=earlier.key,
                    tags=("retry",),
                )
            ]
        if roll < 0.09 and self.sent:
            earlier = rng.choice(self.sent)
            body = dict(earlier.body)
            texts = ("reference", "description", "name")
            changed: str | None = next((f for f in texts if f in body), None)
            if changed is None:
                changed = next(f for f in body if f.endswith(("_on", "_date")))
                body[changed] = "2026-06-30"
            else:
                body[changed] = "changed"
            return [
                self._cmd(
                    round_no,
                    earlier.tenant,
                    earlier.account,
                    earlier.kind,
                    body,
                    key=earlier.key,
                    tags=("key_reuse",),
                )
            ]
        if not self.accounts or (len(self.accounts) < self.wanted_accounts and roll < 0.25):
            return [self._open(round_no)]
        # A few accounts are busy: that is where concurrent writers meet. An account takes
        # business from the round after the one that opened it.
        ready = [a for a in self.accounts if a.opened_in < round_no]
        if not ready:
            return [self._open(round_no)]
        pool = ready[:3] if rng.random() < 0.3 else ready
        account = rng.choice(pool)
        hostile = rng.random() < self.hostile
        return [self._business(round_no, account, hostile)]

    # --- commands ---------------------------------------------------------------------------

    def _cmd(
        self,
        round_no: int,
        tenant: str,
        account: str,
        kind: str,
        body: dict[str, Any],
        *,
        key: str | None = None,
        tags: tuple[str, ...] = (),
        instance: int | None = None,
    ) -> Cmd:
        self.n += 1
        return Cmd(
            n=self.n,
            round=round_no,
            instance=self.rng.randint(0, 1) if instance is None else instance,
            tenant=tenant,
            account=account,
            kind=kind,
            body=body,
            key=key or f"s{self.seed}-k{self.n}",
            tags=tags,
        )

    def _open(self, round_no: int) -> Cmd:
        rng = self.rng
        tenant = rng.choice(TENANTS)
        number = f"A-{len(self.accounts) + 1:03d}"
        currency = rng.choice(CURRENCIES)
        opened = date(2026, 1, 1) + timedelta(days=rng.randint(0, 60))
        body: dict[str, Any] = {
            "name": f"Customer {number}",
            "currency": currency,
            "opened_on": opened.isoformat(),
            "payment_terms_days": rng.choice((0, 14, 30, 30, 60)),
        }
        if rng.random() < self.hostile * 0.8:
            # A hostile opening goes to an account of its own, which nothing else uses.
            self.hostile_opens += 1
            number = f"H-{self.hostile_opens:03d}"
            if rng.random() < 0.7:
                body["name"] = rng.choice(NASTY_TEXT)
                return self._cmd(
                    round_no, tenant, number, "open_account", body, tags=("control_text",)
                )
            body["opened_on"] = rng.choice(FAR_DATES)
            return self._cmd(round_no, tenant, number, "open_account", body, tags=("far_date",))
        self.accounts.append(_Account(tenant, number, currency, opened, round_no))
        return self._cmd(round_no, tenant, number, "open_account", body)

    def _money(self, currency: str, low: int = 1, high: int = 50_000) -> str:
        cents = self.rng.randint(low, high)
        if currency == "JPY":
            return str(cents)
        return f"{cents // 100}.{cents % 100:02d}"

    def _business(self, round_no: int, a: _Account, hostile: bool) -> Cmd:
        rng = self.rng
        kinds = ["post_charge"] * 4 + ["receive_payment"] * 3
        if a.charges:
            kinds += ["issue_invoice"] * 2
        if a.invoices:
            kinds += ["issue_credit_note", "write_off"]
        if a.payments:
            kinds += ["refund_credit"]
        kind = rng.choice(kinds)
        on = a.next_day(rng)
        body: dict[str, Any]
        if kind == "post_charge":
            charge_id = a.next_id("ch")
            a.charges.append(charge_id)
            body = {
                "charge_id": charge_id,
                "code": rng.choice(("VISIT", "LAB", "XRAY")),
                "description": "Service",
                "quantity": rng.choice(("1", "1", "2", "3")),
                "unit_price": self._money(a.currency),
                "service_date": on,
            }
        elif kind == "issue_invoice":
            number = a.next_id("INV")
            a.invoices.append(number)
            body = {"invoice_number": number, "issued_on": on}
        elif kind == "receive_payment":
            payment_id = a.next_id("pay")
            a.payments.append(payment_id)
            body = {
                "payment_id": payment_id,
                "amount": self._money(a.currency, 100, 80_000),
                "method": "card",
                "reference": f"receipt {payment_id}",
                "received_on": on,
            }
        elif kind == "issue_credit_note":
            body = {
                "note_number": a.next_id("CN"),
                "invoice_number": rng.choice(a.invoices),
                "issued_on": on,
                "description": "goodwill",
            }
            if rng.random() < 0.7:
                body["amount"] = self._money(a.currency, 1, 5_000)
        elif kind == "refund_credit":
            body = {
                "refund_id": a.next_id("rf"),
                "amount": self._money(a.currency, 1, 20_000),
                "method": "card",
                "reference": "refund",
                "refunded_on": on,
            }
        else:
            body = {
                "write_off_id": a.next_id("wo"),
                "invoice_number": rng.choice(a.invoices),
                "written_off_on": on,
            }
            if rng.random() < 0.5:
                body["amount"] = self._money(a.currency, 1, 5_000)
        cmd = self._cmd(round_no, a.tenant, a.number, kind, body)
        return self._hostile(cmd, a) if hostile else cmd

    def _hostile(self, cmd: Cmd, a: _Account) -> Cmd:
        """The same command made hostile in one way."""
        rng = self.rng
        body = dict(cmd.body)
        money_field = next((f for f in ("unit_price", "amount") if f in body), None)
        date_field = next(f for f in body if f.endswith(("_on", "_date")))
        text_field = next((f for f in ("description", "reference") if f in body), None)
        choices = ["far_date", "unroutable"]
        if money_field:
            choices += ["bound", "bound", "bound"]
        if text_field:
            choices += ["control_text"]
        if cmd.kind in ("post_charge", "receive_payment"):
            choices += ["dup_id"]
        if cmd.kind == "issue_invoice":
            choices += ["far_date", "far_date"]
        how = rng.choice(choices)
        account = cmd.account
        if how == "bound":
            assert money_field is not None
            body[money_field] = rng.choice(
                (
                    MAX_AMOUNT[a.currency],
                    MAX_AMOUNT[a.currency],
                    OVER_AMOUNT[a.currency],
                    "0.001",
                    "-5.00",
                    "NaN",
                )
            )
        elif how == "far_date":
            body[date_field] = rng.choice(FAR_DATES)
        elif how == "control_text":
            assert text_field is not None
            body[text_field] = rng.choice(NASTY_TEXT)
        elif how == "unroutable":
            account = rng.choice(UNROUTABLE)
        else:
            id_field = "charge_id" if cmd.kind == "post_charge" else "payment_id"
            earlier = a.charges if cmd.kind == "post_charge" else a.payments
            body[id_field] = rng.choice(earlier)
        return replace(cmd, body=body, account=account, tags=(how,))


def stream(seed: int, commands: int, hostile: float = 0.15) -> list[Cmd]:
    """The stream of ``seed``: about ``commands`` commands over ~3 tenants, a share
    ``hostile`` of them made hostile (besides repeated and reused keys)."""
    return Generator(seed, hostile=hostile).stream(commands)
