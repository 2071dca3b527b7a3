"""The general-ledger journal: the ledger's double entries on the tenant's own GL accounts.

Concept
    The product keeps a double-entry ledger of its own (:data:`domain.ledger.LEDGER_ACCOUNTS`:
    receivables, revenue, tax, cash, ...). A finance team posts it into *their* general ledger,
    whose accounts have their own codes: the tenant's *chart of accounts*
    (:class:`ChartOfAccounts`) maps every ledger account to a *GL account* (a code such as
    ``1200`` and a name such as ``Accounts receivable``). It is a setting of the tenant
    (``domain.tenant.ChartOfAccountsSet``), so what it was when an export was made can be asked
    again.

    The *journal of a period* (:class:`domain.periods.Period`, a calendar month) turns each ledger
    posting effective in the month (:class:`LedgerPosting`: one amount debited to one ledger
    account and credited to another) into two :class:`JournalLine` s — a debit on the debit
    account's GL account and a credit on the credit account's — each naming the events behind
    it: the account number, the event type, the posting's place in the store's log
    (``position``, ``line``) and the entry's reference. *Detailed* is those lines; *summarised*
    (:func:`summarise`) is one :class:`SummaryLine` per GL account and currency with the
    period's total debit and total credit, dated the period's last day: what a GL import posts
    as one journal entry for the month.

Invariants
    - Every ledger account is mapped, and only those (:class:`~domain.errors.UnmappedLedgerAccount`,
      :class:`~domain.errors.UnknownLedgerAccount`); a GL code is a short one-line identifier
      (:data:`GL_CODE_PATTERN`) and one code has one name
      (:class:`~domain.errors.InvalidGlAccount`). Two ledger accounts may share a GL account.
    - Amounts are :class:`~domain.money.Money` (Decimal with its currency), never float; a
      line is a debit or a credit, the other side zero.
    - Debits equal credits per currency, detailed and summarised alike: :func:`check_balanced`
      raises :class:`UnbalancedJournal` — a programming error, never exported — otherwise.
    - A period is a month written ``YYYY-MM`` (:class:`domain.periods.Period`, the accounting
      period a tenant closes); one that begins after the tenant's today has nothing to journal
      yet (:class:`~domain.errors.PeriodInFuture`). The domain reads no clock: today is given.
    - The same postings and chart give the same lines in the same order (by date, position,
      line; debit before credit), so an export asked for again is the same bytes.

Vocabulary
    ledger account, GL account, chart of accounts, posting, journal line, period, detailed,
    summarised, AR control account (the GL accounts of receivables and unapplied credit),
    owed not aged (charges not yet billed, and what insurers owe on claims: owed, but on no
    aged item).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Final

from domain import errors
from domain.contacts import check_text
from domain.ledger import LEDGER_ACCOUNTS, RECEIVABLES, UNAPPLIED_CREDIT
from domain.money import Money
from domain.periods import Period

if TYPE_CHECKING:
    from domain.account import Account

#: A GL account code: letters, digits and ``. - _ /`` after a letter or digit, one line.
GL_CODE_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,31}")
GL_NAME_MAX: Final = 120
#: The ledger accounts whose GL accounts together are the AR control account.
AR_CONTROL_LEDGER_ACCOUNTS: Final = (RECEIVABLES, UNAPPLIED_CREDIT)
#: How a journal is asked for.
DETAILED: Final = "detailed"
SUMMARY: Final = "summary"
DETAILS: Final = (SUMMARY, DETAILED)


class UnbalancedJournal(AssertionError):
    """Debits and credits of a journal differ in a currency: a bug in what built it."""


def check_period_begun(period: Period, today: date) -> Period:
    """``period``, if it has begun by ``today`` (the tenant's business date)."""
    if period.first_day > today:
        raise errors.PeriodInFuture(
            f"{period} has not begun (today is {today.isoformat()}); its journal would be"
            " empty. Ask for a period up to the current month.",
            field="period",
        )
    return period


@dataclass(frozen=True, slots=True)
class GlAccountMapping:
    """The GL account (``code``, ``name``) a ledger account is posted to."""

    ledger_account: str
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class ChartOfAccounts:
    """Every ledger account's GL account, in the order of ``LEDGER_ACCOUNTS``."""

    mappings: tuple[GlAccountMapping, ...]

    def gl_account(self, ledger_account: str) -> GlAccountMapping:
        for mapping in self.mappings:
            if mapping.ledger_account == ledger_account:
                return mapping
        raise errors.UnmappedLedgerAccount(
            f"The chart of accounts does not map the ledger account {ledger_account!r}.",
            field="ledger_account",
        )

    def as_mapping(self) -> dict[str, dict[str, str]]:
        """Ledger account -> {code, name}, as the API and the CLI write it."""
        return {m.ledger_account: {"code": m.code, "name": m.name} for m in self.mappings}

    @property
    def ar_control_codes(self) -> tuple[str, ...]:
        """The GL accounts that make up the AR control account, without repeats."""
        codes = (self.gl_account(name).code for name in AR_CONTROL_LEDGER_ACCOUNTS)
        return tuple(dict.fromkeys(codes))


def check_chart_of_accounts(accounts: Mapping[str, tuple[str, str]]) -> ChartOfAccounts:
    """The chart from ledger account -> (GL code, GL name): every ledger account mapped, no
    other; each code a short identifier with one name."""
    if not isinstance(accounts, Mapping):
        raise errors.UnmappedLedgerAccount("A chart of accounts is required.", field="accounts")
    unknown = sorted(str(name) for name in accounts if name not in LEDGER_ACCOUNTS)
    if unknown:
        raise errors.UnknownLedgerAccount(
            f"There is no ledger account {', '.join(map(repr, unknown))}; the ledger accounts"
            f" are {', '.join(LEDGER_ACCOUNTS)}.",
            field="accounts",
        )
    missing = [name for name in LEDGER_ACCOUNTS if name not in accounts]
    if missing:
        raise errors.UnmappedLedgerAccount(
            f"The chart of accounts leaves {', '.join(missing)} unmapped; map every ledger"
            f" account ({', '.join(LEDGER_ACCOUNTS)}) to a GL account.",
            field="accounts",
        )
    mappings = []
    names: dict[str, str] = {}
    for ledger_account in LEDGER_ACCOUNTS:
        code, name = accounts[ledger_account]
        field = f"accounts.{ledger_account}"
        if not isinstance(code, str) or not GL_CODE_PATTERN.fullmatch(code):
            raise errors.InvalidGlAccount(
                f"The GL account code {code!r} of {ledger_account} is not a short identifier:"
                " 1 to 32 letters, digits, '.', '-', '_' or '/', starting with a letter or"
                " digit.",
                field=f"{field}.code",
            )
        check_text(name, f"{field}.name", "The GL account's name", max_length=GL_NAME_MAX)
        if names.setdefault(code, name) != name:
            raise errors.InvalidGlAccount(
                f"The GL account {code} is named both {names[code]!r} and {name!r}; give one"
                " code one name.",
                field=f"{field}.name",
            )
        mappings.append(GlAccountMapping(ledger_account, code, name))
    return ChartOfAccounts(tuple(mappings))


@dataclass(frozen=True, slots=True)
class LedgerPosting:
    """One line of the product's ledger: ``amount`` debited to ``debit_account`` and credited
    to ``credit_account``, with the event it came from."""

    position: int
    line: int
    account_number: str
    event_type: str
    effective_on: date
    debit_account: str
    credit_account: str
    amount: Money
    category: str
    reference: str


@dataclass(frozen=True, slots=True)
class JournalLine:
    """One side of a posting on a GL account: ``debit`` or ``credit`` is zero."""

    on: date
    gl_code: str
    gl_name: str
    debit: Money
    credit: Money
    ledger_account: str
    account_number: str
    event_type: str
    position: int
    line: int
    category: str
    reference: str

    @property
    def currency(self) -> str:
        return self.debit.currency


@dataclass(frozen=True, slots=True)
class SummaryLine:
    """A GL account's total debit and credit in one currency over the period."""

    on: date
    gl_code: str
    gl_name: str
    debit: Money
    credit: Money
    #: How many detailed lines it sums.
    lines: int

    @property
    def currency(self) -> str:
        return self.debit.currency


def journal_lines(postings: Iterable[LedgerPosting], chart: ChartOfAccounts) -> list[JournalLine]:
    """The detailed journal: each posting as a debit line then a credit line, by date and
    place in the log; balanced per currency (checked)."""
    lines: list[JournalLine] = []
    ordered = sorted(postings, key=lambda p: (p.effective_on, p.position, p.line))
    for posting in ordered:
        nothing = Money.zero(posting.amount.currency)
        for ledger_account, debit, credit in (
            (posting.debit_account, posting.amount, nothing),
            (posting.credit_account, nothing, posting.amount),
        ):
            gl = chart.gl_account(ledger_account)
            lines.append(
                JournalLine(
                    on=posting.effective_on,
                    gl_code=gl.code,
                    gl_name=gl.name,
                    debit=debit,
                    credit=credit,
                    ledger_account=ledger_account,
                    account_number=posting.account_number,
                    event_type=posting.event_type,
                    position=posting.position,
                    line=posting.line,
                    category=posting.category,
                    reference=posting.reference,
                )
            )
    check_balanced(lines)
    return lines


def summarise(lines: Iterable[JournalLine], period: Period) -> list[SummaryLine]:
    """One line per GL account and currency (by currency, then code): the period's total
    debit and total credit, dated its last day; balanced per currency (checked)."""
    totals: dict[tuple[str, str], SummaryLine] = {}
    for line in lines:
        key = (line.currency, line.gl_code)
        found = totals.get(key)
        if found is None:
            totals[key] = SummaryLine(
                period.last_day, line.gl_code, line.gl_name, line.debit, line.credit, 1
            )
        else:
            totals[key] = SummaryLine(
                found.on,
                found.gl_code,
                found.gl_name,
                found.debit + line.debit,
                found.credit + line.credit,
                found.lines + 1,
            )
    summary = [totals[key] for key in sorted(totals)]
    check_balanced(summary)
    return summary


def check_balanced(lines: Iterable[JournalLine | SummaryLine]) -> None:
    """Raise :class:`UnbalancedJournal` unless debits equal credits in every currency."""
    difference: dict[str, Money] = {}
    for line in lines:
        before = difference.get(line.currency, Money.zero(line.currency))
        difference[line.currency] = before + line.debit - line.credit
    unbalanced = {currency: d for currency, d in difference.items() if not d.is_zero}
    if unbalanced:
        described = ", ".join(f"{d.amount} {c}" for c, d in sorted(unbalanced.items()))
        raise UnbalancedJournal(f"the journal's debits exceed its credits by {described}")


def owed_not_aged(account: Account, as_of: date) -> Money:
    """What the account owes as of ``as_of`` that no aged item holds: charges posted and not
    yet on an invoice or a claim, and what insurers still owe on claims. The balance is what
    the items hold (the aging) plus this, less unapplied credit (``domain.account.core``)."""
    currency = account.currency
    claims = Money.sum((c.owed_by_payer_as_of(as_of) for c in account.claims.values()), currency)
    uninvoiced = Money.zero(currency)
    for charge in account.charges.values():
        billed_on = None
        if charge.invoice_number is not None:
            billed_on = account.items[charge.invoice_number].issued_on
        elif charge.claim_id is not None:
            billed_on = account.claims[charge.claim_id].submitted_on
        voided = charge.voided_on is not None and charge.voided_on <= as_of
        if charge.posted_on <= as_of and not voided and (billed_on is None or billed_on > as_of):
            uninvoiced = uninvoiced + charge.total
    return claims + uninvoiced
