"""Ledger scenarios as text that runs: the format, its parser, and a player for any book.

A scenario is a ``*.ledger`` file in this folder: a worked case from practice written the way a
billing clerk writes it down, one dated step a line, each followed by the figures it leaves.
The same text is played against the ``Account`` aggregate in memory (``account_book.py``, run
by ``tests/unit/test_ledger_scenarios.py``) and through the application on embedded SQLite
with the read models projected (``application_book.py``, run by
``tests/service/test_ledger_scenarios_read_models.py``), and every figure it states must come
out of both.

The format
    ::

        ; A comment runs from a semicolon to the end of the line.
        2024-01-01 open A-100 USD net 30
        2024-01-02 charge c1 1000.00
          check balance 1000.00
        2024-01-05 invoice INV-1
        2024-01-10 plan P1 on INV-1: 1000.00 in 10 monthly installments from 2024-02-01
        2024-02-01 pay p1 100.00
          check plan P1 paid 1
          check events PaymentReceived, PlanInstallmentPaid

    - A step is a line starting with its business date, then a verb and its arguments. The
      first step opens the account; there is one account per scenario.
    - A ``check`` line states a figure as it stands after the step above it; indenting it is
      only for the eye. ``as of DATE`` asks for the figure as it stood on that business date.
    - Amounts are written as the ledger prints them, with the currency's decimals (``100.00``,
      ``-10.00``); ``100`` is an error, so the text and the printed figure never differ.
    - Words are separated by spaces; ``,`` and ``:`` stand on their own, so a list is
      ``a, b, c``; a line ending in ``,`` goes on on the next line. Quote a name with spaces
      (``"ACME Health"``).
    - A mistake in the text is reported with the file and line (``LedgerSyntaxError``); so is a
      step the book refuses and every figure that differs (``ScenarioFailed``).

Steps (each after ``open`` becomes the clerk's command from ``services.commands``)::

    open NUMBER CURRENCY [net DAYS]
    charge ID AMOUNT | charge ID QUANTITY x AMOUNT            [tax AMOUNT]
    invoice NUMBER [charges ID, ...] [due DATE]
                   [installments P% now, P% in N days, ...]
    credit-note NUMBER on INVOICE [AMOUNT]                   (no amount: all that is open)
    pay ID AMOUNT
    reverse PAYMENT-ID REASON
    write-off ID on INVOICE [AMOUNT]                         (no amount: all that is open)
    plan ID on INVOICE, ...: AMOUNT in N monthly installments from DATE
    offer ID on INVOICE, ...: AMOUNT off if paid by DATE
    offer ID on INVOICE, ...: settle for AMOUNT if paid by DATE
    claim ID to PAYER for CHARGE, ...
    adjudicate CLAIM: paid AMOUNT, GROUP-REASON AMOUNT, ...  (e.g. CO-45 400.00, PR-1 100.00)
    insurer-payment CLAIM PAYMENT-ID AMOUNT [ref REFERENCE]
    contractual-adjustment CLAIM
    subscribe ID PLAN AMOUNT a month
    change-subscription ID to PLAN AMOUNT a month now|next period
    bill RUN-ID                                              (bills periods starting by the date)

Checks (each book's module says where it reads each figure from)::

    check balance AMOUNT [as of DATE]
    check credit AMOUNT                                      unapplied credit
    check outstanding ITEM AMOUNT [as of DATE]
    check schedule ITEM: AMOUNT due DATE, ...                every term of the item
    check terms open ITEM: AMOUNT, ...                       what is open on each term
    check aging as of DATE: BUCKET AMOUNT, ...               e.g. 1-30 0.00, 31-60 0.01
    check aging lines as of DATE: ITEM term N AMOUNT due DATE N days late|not yet due, ...
                                                             every open term (or ``none``)
    check plan ID paid N, ... | check plan ID paid none      installments paid, from 1
    check plan ID STATUS                                     active, completed, defaulted, ...
    check offer ID STATUS                                    active, applied, lapsed, ...
    check events TYPE, ...                                   what the step recorded, in order
    check totals CATEGORY AMOUNT, ...                        the balance equation's tallies
    check trial balance LEDGER-ACCOUNT AMOUNT, ...           debits positive, credits negative
    check insurers owe PAYER AMOUNT, ... | check insurers owe nothing
    check customer owes AMOUNT                               the balance less what insurers owe
    check claim ID open AMOUNT                               what the payer still owes on it
    check charge ID AMOUNT                                   the charge's net amount
    check prorations credit AMOUNT, charge AMOUNT            every proration charge, by kind

Besides the stated figures, after every step each book must tie out (``Book.ties_out``): on the
aggregate the balance equals the ledger equation and what is open on items, claims and
uninvoiced charges less credit; in the read models the balance table, the statement, the trial
balance and the account agree.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Protocol, TypeVar

from pydantic import ValidationError

from domain import ledger
from domain.errors import DomainError
from domain.money import Money
from domain.provenance import Provenance
from domain.schedules import monthly_installments
from services.commands import (
    AccountCommand,
    AdjudicateClaim,
    AgreePaymentPlan,
    ChangeSubscriptionPlan,
    ClaimAdjustmentIn,
    InstallmentShareIn,
    IssueCreditNote,
    IssueInvoice,
    OfferSettlement,
    PostCharge,
    PostContractualAdjustment,
    PostInsurerPayment,
    ReceivePayment,
    ReversePayment,
    RunBilling,
    StartSubscription,
    SubmitClaim,
    TermIn,
    WriteOff,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TENANT = "acme"
CLERK = Provenance(actor="clerk@example.test", correlation_id="ledger-scenario")
#: The ledger accounts a ``check trial balance`` may name (see ``AccountFigures.trial_balance``).
TRIAL_BALANCE_ACCOUNTS = (
    "receivables",
    "unapplied_credit",
    "cash",
    "discounts_allowed",
    "bad_debt",
    "contractual_adjustments",
)
#: The aging report's buckets (its default limits 30, 60, 90), in order of lateness.
BUCKETS = ("not yet due", "1-30", "31-60", "61-90", "over 90")

T = TypeVar("T")


def scenario_files() -> list[Path]:
    return sorted(HERE.glob("*.ledger"))


# --- what the text says -------------------------------------------------------------------


class LedgerSyntaxError(ValueError):
    """The text is not a scenario: the message names the file and line."""


class ScenarioFailed(AssertionError):
    """A book refused a step or gave another figure: the message names the file and line."""


@dataclass(frozen=True)
class Opening:
    account_number: str
    currency: str
    net_days: int


@dataclass(frozen=True)
class AgingLineFigure:
    """One open term as an aging report lists it; ``term`` counts from 1."""

    item: str
    term: int
    open: Money
    due_on: date
    days_late: int

    def __str__(self) -> str:
        late = "not yet due" if self.days_late <= 0 else f"{self.days_late} days late"
        return f"{self.item} term {self.term} {self.open!s} due {self.due_on} {late}"


@dataclass(frozen=True)
class TermFigure:
    amount: Money
    due_on: date
    open: Money


@dataclass(frozen=True)
class Check:
    source: str
    text: str
    expected: str
    #: The figure as the book gives it, written as the text writes it; the step's events given.
    read: Callable[[Book, Sequence[str]], str]


@dataclass(frozen=True)
class Step:
    source: str
    text: str
    on: date
    action: Opening | AccountCommand
    checks: list[Check] = field(default_factory=list)


@dataclass(frozen=True)
class Scenario:
    path: Path
    steps: list[Step]


# --- the books ----------------------------------------------------------------------------


class Book(Protocol):
    """Where a scenario is played, and the questions its checks ask."""

    #: Who answers, as a failure message names it.
    who: str

    def open(self, opening: Opening, on: date) -> None: ...

    def play(self, command: AccountCommand) -> list[str]:
        """Apply the command; the type names of the events it recorded, in order."""
        ...

    def settle(self) -> None:
        """Bring every figure up to date before the checks (the read models catch up)."""
        ...

    def ties_out(self) -> list[str]:
        """What does not add up, in words; empty when everything does."""
        ...

    def balance(self, as_of: date | None) -> Money: ...
    def credit(self) -> Money: ...
    def outstanding(self, item: str, as_of: date | None) -> Money: ...
    def terms(self, item: str) -> list[TermFigure]: ...
    def aging(self, as_of: date) -> dict[str, Money]: ...
    def aging_lines(self, as_of: date) -> list[AgingLineFigure]: ...
    def totals(self) -> dict[str, Money]: ...
    def trial_balance(self) -> dict[str, Money]: ...
    def plan_status(self, plan_id: str) -> str: ...
    def plan_paid(self, plan_id: str) -> list[int]: ...
    def offer_status(self, offer_id: str) -> str: ...
    def insurers(self) -> dict[str, Money]: ...
    def customer_balance(self) -> Money: ...
    def claim_open(self, claim_id: str) -> Money: ...
    def charge(self, charge_id: str) -> Money: ...
    def prorations(self) -> dict[str, Money]: ...


# --- playing ------------------------------------------------------------------------------


def play(scenario: Scenario, book: Book) -> None:
    """Play every step in ``book`` and compare every check; raise ``ScenarioFailed`` listing
    each figure that differs (all of them, not only the first), or at the first refused step."""
    failures: list[str] = []
    for step in scenario.steps:
        try:
            if isinstance(step.action, Opening):
                book.open(step.action, step.on)
                events: list[str] = []
            else:
                events = book.play(step.action)
            book.settle()
        except (DomainError, LookupError, ValueError) as error:
            failures.append(f"{step.source}: {step.text}\n    {book.who} refused it: {error!r}")
            break
        failures += [
            f"{step.source}: after {step.text}\n    {book.who} does not tie out: {problem}"
            for problem in book.ties_out()
        ]
        for check in step.checks:
            try:
                actual = check.read(book, events)
            except (DomainError, LookupError) as error:
                actual = f"nothing: {error!r}"
            if actual != check.expected:
                failures.append(
                    f"{check.source}: {check.text}\n"
                    f"    the text says: {check.expected}\n"
                    f"    {book.who} says: {actual}"
                )
    if failures:
        raise ScenarioFailed("\n".join(failures))


# --- reading the text ---------------------------------------------------------------------

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class Tokens:
    """The words of one line, read left to right."""

    def __init__(self, words: list[str], source: str, text: str, currency: str | None) -> None:
        self.words = words
        self.at = 0
        self.source = source
        self.text = text
        self.currency = currency

    def error(self, message: str) -> LedgerSyntaxError:
        return LedgerSyntaxError(f"{self.source}: {message}\n    {self.text}")

    def peek(self, ahead: int = 0) -> str | None:
        index = self.at + ahead
        return self.words[index] if index < len(self.words) else None

    def word(self, what: str) -> str:
        found = self.peek()
        if found is None:
            raise self.error(f"expected {what} at the end of the line")
        self.at += 1
        return found

    def expect(self, *words: str) -> None:
        for expected in words:
            found = self.peek()
            if found != expected:
                raise self.error(f"expected {expected!r}, found {found or 'the end of the line'!r}")
            self.at += 1

    def accept(self, *words: str) -> bool:
        """Take ``words`` if they come next."""
        if tuple(self.words[self.at : self.at + len(words)]) != words:
            return False
        self.at += len(words)
        return True

    def done(self) -> bool:
        return self.at >= len(self.words)

    def end(self) -> None:
        if not self.done():
            raise self.error(f"unexpected {self.words[self.at]!r}")

    def day(self, what: str = "a date (YYYY-MM-DD)") -> date:
        text = self.word(what)
        try:
            if _DATE.fullmatch(text):
                return date.fromisoformat(text)
        except ValueError:
            pass
        raise self.error(f"expected {what}, found {text!r}")

    def integer(self, what: str) -> int:
        text = self.word(what)
        if not text.isdigit():
            raise self.error(f"expected {what}, found {text!r}")
        return int(text)

    def amount(self) -> Money:
        text = self.word("an amount")
        assert self.currency is not None
        try:
            money = Money(text, self.currency)
        except (DomainError, ValueError, ArithmeticError):
            raise self.error(f"expected an amount, found {text!r}") from None
        if str(money) != text:
            raise self.error(f"write the amount {text!r} as the ledger prints it: {money!s}")
        return money

    def listing(self, item: Callable[[], T]) -> list[T]:
        """``item, item, ...``: one at least."""
        items = [item()]
        while self.accept(","):
            items.append(item())
        return items

    def as_of(self) -> date | None:
        return self.day() if self.accept("as", "of") else None


def _words(text: str) -> list[str]:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=",:")
    lexer.whitespace_split = True
    lexer.commenters = ";"
    return list(lexer)


def _logical_lines(path: Path) -> Iterator[tuple[int, str, list[str]]]:
    """(first line number, text, words) of each line with words; a line ending in ``,`` goes
    on on the next."""
    pending: tuple[int, str, list[str]] | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            words = _words(raw)
        except ValueError as error:
            raise LedgerSyntaxError(f"{_where(path, number)}: {error}\n    {raw.strip()}") from None
        if pending is not None:
            first, text, before = pending
            pending = (first, f"{text} {raw.strip()}", before + words)
        elif words:
            pending = (number, raw.strip(), words)
        if pending is not None and not (pending[2] and pending[2][-1] == ","):
            yield pending
            pending = None
    if pending is not None:
        raise LedgerSyntaxError(f"{_where(path, pending[0])}: the list goes on past the end")


def _where(path: Path, line: int) -> str:
    try:
        shown = path.resolve().relative_to(REPO)
    except ValueError:
        shown = path
    return f"{shown}:{line}"


def parse(path: Path) -> Scenario:
    """The scenario in ``path``; ``LedgerSyntaxError`` naming the file and line otherwise."""
    steps: list[Step] = []
    currency: str | None = None
    for number, text, words in _logical_lines(path):
        source = _where(path, number)
        tokens = Tokens(words, source, text, currency)
        if words[0] == "check":
            if not steps:
                raise tokens.error("a check follows the step whose figures it states")
            tokens.at = 1
            steps[-1].checks.append(_check(tokens))
            continue
        on = tokens.day("a date (YYYY-MM-DD) or 'check' to start the line")
        verb = tokens.word("a verb")
        if not steps:
            if verb != "open":
                raise tokens.error("the first step opens the account: DATE open NUMBER CURRENCY")
            opening = _opening(tokens)
            currency = opening.currency
            steps.append(Step(source, text, on, opening))
            continue
        step_reader = _STEPS.get(verb)
        if step_reader is None:
            raise tokens.error(f"unknown step {verb!r}; the steps are {', '.join(sorted(_STEPS))}")
        try:
            command = step_reader(tokens, on)
        except ValidationError as error:
            raise tokens.error(f"not a valid {verb}: {error}") from None
        tokens.end()
        steps.append(Step(source, text, on, command))
    if not steps:
        raise LedgerSyntaxError(f"{_where(path, 1)}: the file has no steps")
    return Scenario(path, steps)


# --- steps --------------------------------------------------------------------------------


def _opening(t: Tokens) -> Opening:
    number = t.word("the account number")
    currency = t.word("the currency")
    net_days = t.integer("the net days") if t.accept("net") else 30
    t.end()
    try:
        Money.zero(currency)
    except DomainError:
        raise t.error(f"unknown currency {currency!r}") from None
    return Opening(number, currency, net_days)


def _charge(t: Tokens, on: date) -> AccountCommand:
    charge_id = t.word("the charge id")
    quantity = Decimal(1)
    if t.peek(1) == "x":
        quantity = Decimal(t.integer("the quantity"))
        t.expect("x")
    price = t.amount()
    tax = t.amount() if t.accept("tax") else Money.zero(price.currency)
    return PostCharge(
        charge_id=charge_id,
        code="SVC",
        description=f"service {charge_id}",
        quantity=quantity,
        unit_price=price.amount,
        tax=tax.amount,
        service_date=on,
    )


def _share(t: Tokens) -> InstallmentShareIn:
    text = t.word("a share such as 30%")
    if not re.fullmatch(r"\d+(\.\d+)?%", text):
        raise t.error(f"expected a share such as 30%, found {text!r}")
    days = 0
    if not t.accept("now"):
        t.expect("in")
        days = t.integer("the days")
        t.expect("days")
    return InstallmentShareIn(due_in_days=days, percent=Decimal(text[:-1]))


def _invoice(t: Tokens, on: date) -> AccountCommand:
    number = t.word("the invoice number")
    charge_ids = t.listing(lambda: t.word("a charge id")) if t.accept("charges") else None
    due_on = t.day() if t.accept("due") else None
    shares = t.listing(lambda: _share(t)) if t.accept("installments") else None
    return IssueInvoice(
        invoice_number=number,
        issued_on=on,
        charge_ids=charge_ids,
        due_on=due_on,
        installments=shares,
    )


def _credit_note(t: Tokens, on: date) -> AccountCommand:
    number = t.word("the note number")
    t.expect("on")
    invoice = t.word("the invoice number")
    amount = None if t.done() else t.amount().amount
    return IssueCreditNote(note_number=number, invoice_number=invoice, issued_on=on, amount=amount)


def _pay(t: Tokens, on: date) -> AccountCommand:
    payment_id = t.word("the payment id")
    return ReceivePayment(
        payment_id=payment_id,
        amount=t.amount().amount,
        method="cheque",
        reference=f"ref-{payment_id}",
        received_on=on,
    )


def _reverse(t: Tokens, on: date) -> AccountCommand:
    payment_id = t.word("the payment id")
    return ReversePayment(
        payment_id=payment_id, reason_code=t.word("the reason, e.g. NSF"), reversed_on=on
    )


def _write_off(t: Tokens, on: date) -> AccountCommand:
    write_off_id = t.word("the write-off id")
    t.expect("on")
    invoice = t.word("the invoice number")
    amount = None if t.done() else t.amount().amount
    return WriteOff(
        write_off_id=write_off_id, invoice_number=invoice, written_off_on=on, amount=amount
    )


def _invoices(t: Tokens) -> list[str]:
    t.expect("on")
    numbers = t.listing(lambda: t.word("an invoice number"))
    t.expect(":")
    return numbers


def _plan(t: Tokens, on: date) -> AccountCommand:
    plan_id = t.word("the plan id")
    numbers = _invoices(t)
    total = t.amount()
    t.expect("in")
    count = t.integer("the number of installments")
    t.expect("monthly", "installments", "from")
    first = t.day()
    return AgreePaymentPlan(
        plan_id=plan_id,
        invoice_numbers=numbers,
        installments=[
            TermIn(due_on=term.due_on, amount=term.amount.amount)
            for term in monthly_installments(total, count, first)
        ],
        agreed_on=on,
    )


def _offer(t: Tokens, on: date) -> AccountCommand:
    offer_id = t.word("the offer id")
    numbers = _invoices(t)
    if t.accept("settle", "for"):
        amount_off, settle_for = None, t.amount().amount
    else:
        amount_off, settle_for = t.amount().amount, None
        t.expect("off")
    t.expect("if", "paid", "by")
    return OfferSettlement(
        offer_id=offer_id,
        invoice_numbers=numbers,
        amount_off=amount_off,
        settle_for=settle_for,
        offered_on=on,
        expires_on=t.day(),
    )


def _claim(t: Tokens, on: date) -> AccountCommand:
    claim_id = t.word("the claim id")
    t.expect("to")
    payer = t.word("the payer")
    t.expect("for")
    charge_ids = t.listing(lambda: t.word("a charge id"))
    return SubmitClaim(claim_id=claim_id, payer=payer, charge_ids=charge_ids, submitted_on=on)


def _adjustment(t: Tokens) -> ClaimAdjustmentIn:
    code = t.word("an adjustment such as CO-45")
    group, _, reason = code.partition("-")
    if group not in ("CO", "PR", "OA", "PI") or not reason:
        raise t.error(f"expected an adjustment such as CO-45, found {code!r}")
    return ClaimAdjustmentIn.model_validate(
        {"group": group, "reason_code": reason, "amount": t.amount().amount}
    )


def _adjudicate(t: Tokens, on: date) -> AccountCommand:
    claim_id = t.word("the claim id")
    t.expect(":", "paid")
    paid = t.amount()
    adjustments = t.listing(lambda: _adjustment(t)) if t.accept(",") else []
    return AdjudicateClaim(
        claim_id=claim_id, paid=paid.amount, adjustments=adjustments, adjudicated_on=on
    )


def _insurer_payment(t: Tokens, on: date) -> AccountCommand:
    claim_id = t.word("the claim id")
    payment_id = t.word("the payment id")
    amount = t.amount()
    reference = t.word("the reference") if t.accept("ref") else payment_id
    return PostInsurerPayment(
        claim_id=claim_id,
        payment_id=payment_id,
        amount=amount.amount,
        method="eft",
        reference=reference,
        received_on=on,
    )


def _contractual_adjustment(t: Tokens, on: date) -> AccountCommand:
    return PostContractualAdjustment(claim_id=t.word("the claim id"), posted_on=on)


def _subscribe(t: Tokens, on: date) -> AccountCommand:
    subscription_id = t.word("the subscription id")
    plan_code = t.word("the plan")
    price = t.amount()
    t.expect("a", "month")
    return StartSubscription(
        subscription_id=subscription_id, plan_code=plan_code, price=price.amount, starts_on=on
    )


def _change_subscription(t: Tokens, on: date) -> AccountCommand:
    subscription_id = t.word("the subscription id")
    t.expect("to")
    plan_code = t.word("the plan")
    price = t.amount()
    t.expect("a", "month")
    timing = "next_period" if t.accept("next", "period") else "immediate"
    if timing == "immediate":
        t.expect("now")
    return ChangeSubscriptionPlan(
        subscription_id=subscription_id,
        plan_code=plan_code,
        price=price.amount,
        change_on=on,
        timing=timing,
    )


def _bill(t: Tokens, on: date) -> AccountCommand:
    return RunBilling(run_id=t.word("the run id"), through=on)


_STEPS: dict[str, Callable[[Tokens, date], AccountCommand]] = {
    "charge": _charge,
    "invoice": _invoice,
    "credit-note": _credit_note,
    "pay": _pay,
    "reverse": _reverse,
    "write-off": _write_off,
    "plan": _plan,
    "offer": _offer,
    "claim": _claim,
    "adjudicate": _adjudicate,
    "insurer-payment": _insurer_payment,
    "contractual-adjustment": _contractual_adjustment,
    "subscribe": _subscribe,
    "change-subscription": _change_subscription,
    "bill": _bill,
}


# --- checks -------------------------------------------------------------------------------

Reader = Callable[[Book, Sequence[str]], str]


def _joined(values: Sequence[object]) -> str:
    return ", ".join(str(v) for v in values) or "none"


def _named(t: Tokens, names: Sequence[str] | None = None) -> list[tuple[str, Money]]:
    """``name amount, name amount, ...``: a name may be several words (``not yet due``)."""

    def one() -> tuple[str, Money]:
        words = []
        while t.peek(1) not in (",", None):
            words.append(t.word("a name"))
        if not words:
            raise t.error("expected a name before the amount")
        name = " ".join(words)
        if names is not None and name not in names:
            raise t.error(f"unknown name {name!r}; one of {', '.join(names)}")
        return name, t.amount()

    return t.listing(one)


def _named_figures(
    pairs: list[tuple[str, Money]], read: Callable[[Book], dict[str, Money]]
) -> tuple[str, Reader]:
    """Named figures: each compared with the same name in the book's answer."""
    names = [name for name, _ in pairs]

    def figures(book: Book, events: Sequence[str]) -> str:
        answer = read(book)
        return _joined([f"{name} {answer.get(name, 'missing')!s}" for name in names])

    return _joined([f"{name} {amount!s}" for name, amount in pairs]), figures


def _check(t: Tokens) -> Check:
    what = t.word("what to check")
    reader = _CHECKS.get(what)
    if reader is None:
        raise t.error(f"unknown check {what!r}; the checks are {', '.join(sorted(_CHECKS))}")
    expected, read = reader(t)
    t.end()
    return Check(t.source, t.text, expected, read)


def _balance(t: Tokens) -> tuple[str, Reader]:
    amount = t.amount()
    as_of = t.as_of()
    return str(amount), lambda book, _: str(book.balance(as_of))


def _credit(t: Tokens) -> tuple[str, Reader]:
    return str(t.amount()), lambda book, _: str(book.credit())


def _outstanding(t: Tokens) -> tuple[str, Reader]:
    item = t.word("the item number")
    amount = t.amount()
    as_of = t.as_of()
    return str(amount), lambda book, _: str(book.outstanding(item, as_of))


def _schedule(t: Tokens) -> tuple[str, Reader]:
    item = t.word("the item number")
    t.expect(":")

    def term() -> str:
        amount = t.amount()
        t.expect("due")
        return f"{amount!s} due {t.day()}"

    return _joined(t.listing(term)), lambda book, _: _joined(
        [f"{term.amount!s} due {term.due_on}" for term in book.terms(item)]
    )


def _terms_open(t: Tokens) -> tuple[str, Reader]:
    t.expect("open")
    item = t.word("the item number")
    t.expect(":")
    expected = _joined(t.listing(t.amount))
    return expected, lambda book, _: _joined([term.open for term in book.terms(item)])


def _aging(t: Tokens) -> tuple[str, Reader]:
    lines = t.accept("lines")
    t.expect("as", "of")
    as_of = t.day()
    t.expect(":")
    if lines:
        expected = "none" if t.accept("none") else _joined(t.listing(lambda: _aging_line(t)))
        return expected, lambda book, _: _joined(book.aging_lines(as_of))
    return _named_figures(_named(t, BUCKETS), lambda book: book.aging(as_of))


def _plan_figure(t: Tokens) -> tuple[str, Reader]:
    plan_id = t.word("the plan id")
    if t.accept("paid"):
        paid = [] if t.accept("none") else t.listing(lambda: t.integer("an installment"))
        return _joined(paid), lambda book, _: _joined(book.plan_paid(plan_id))
    return t.word("the plan's status"), lambda book, _: book.plan_status(plan_id)


def _offer_figure(t: Tokens) -> tuple[str, Reader]:
    offer_id = t.word("the offer id")
    return t.word("the offer's status"), lambda book, _: book.offer_status(offer_id)


def _events(t: Tokens) -> tuple[str, Reader]:
    expected = _joined(t.listing(lambda: t.word("an event type")))
    return expected, lambda _, events: _joined(events)


def _totals(t: Tokens) -> tuple[str, Reader]:
    return _named_figures(_named(t, ledger.CATEGORIES), lambda book: book.totals())


def _trial_balance(t: Tokens) -> tuple[str, Reader]:
    t.expect("balance")
    return _named_figures(_named(t, TRIAL_BALANCE_ACCOUNTS), lambda book: book.trial_balance())


def _insurers(t: Tokens) -> tuple[str, Reader]:
    t.expect("owe")
    owed = {} if t.accept("nothing") else dict(_named(t))
    return _whole(owed), lambda book, _: _whole(book.insurers())


def _customer(t: Tokens) -> tuple[str, Reader]:
    t.expect("owes")
    return str(t.amount()), lambda book, _: str(book.customer_balance())


def _claim_figure(t: Tokens) -> tuple[str, Reader]:
    claim_id = t.word("the claim id")
    t.expect("open")
    return str(t.amount()), lambda book, _: str(book.claim_open(claim_id))


def _charge_figure(t: Tokens) -> tuple[str, Reader]:
    charge_id = t.word("the charge id")
    return str(t.amount()), lambda book, _: str(book.charge(charge_id))


def _prorations(t: Tokens) -> tuple[str, Reader]:
    expected = _whole(dict(_named(t, ("credit", "charge"))))
    return expected, lambda book, _: _whole(book.prorations())


_CHECKS: dict[str, Callable[[Tokens], tuple[str, Reader]]] = {
    "balance": _balance,
    "credit": _credit,
    "outstanding": _outstanding,
    "schedule": _schedule,
    "terms": _terms_open,
    "aging": _aging,
    "plan": _plan_figure,
    "offer": _offer_figure,
    "events": _events,
    "totals": _totals,
    "trial": _trial_balance,
    "insurers": _insurers,
    "customer": _customer,
    "claim": _claim_figure,
    "charge": _charge_figure,
    "prorations": _prorations,
}


def _whole(figures: dict[str, Money]) -> str:
    """A whole set of named figures, in name order, so that one missing or extra shows."""
    if not figures:
        return "nothing"
    return _joined([f"{name} {figures[name]!s}" for name in sorted(figures)])


def _aging_line(t: Tokens) -> str:
    item = t.word("the item number")
    t.expect("term")
    term = t.integer("the term's number")
    amount = t.amount()
    t.expect("due")
    due_on = t.day()
    if t.accept("not", "yet", "due"):
        late = 0
    else:
        late = t.integer("the days late")
        if late == 0:
            raise t.error("0 days late is written 'not yet due'")
        t.expect("days", "late")
    return str(AgingLineFigure(item, term, amount, due_on, late))
