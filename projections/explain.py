"""Explain a figure: the events that make it up, each with its amount, summing to the figure.

An auditor asks why a figure is what it is; the answer is a list of events (position in the
store, type, business date, reference, amount) whose amounts add up to it, as of a business
date and as known at a recording time — the same cut the reports take.

Figures (``FIGURES`` lists them):

- a balance figure of ``account_balances`` — ``balance``, ``unapplied_credit``, ``invoiced``
  or a tally such as ``paid``, ``credited``, ``written_off`` — from the account's ledger lines
  or, for ``invoiced``, its invoices and voids;
- ``outstanding:<item>`` — an invoice's (or note's) total less every movement on it;
- ``aging:<bucket>`` — an aging bucket's total for the account (``aging:1-30``, ``aging:not
  yet due``, default buckets 30/60/90 unless others are given; the buckets are
  ``domain.aging``'s): for each term in the bucket, the event that issued it and each
  movement's share of that term under the waterfall (``domain.open_items.waterfall``, the
  domain's own code, not a copy). What a payment plan kept as of the date ages by one of its
  installments instead (``domain.account.queries.aged_terms``) is one line, from the event
  that put the plan's schedule in force, naming the rule, the plan and the installment.

Invariant: ``Explanation.total`` is the sum of its lines' amounts, and equals what the reports
say for the same figure and cut. The balance and item figures can be read from tables under a
``prefix``, so ``ar verify`` can name the events behind a figure from its own rebuilt copy.
A figure it does not know is :class:`UnknownFigure` (``unknown_figure``), which the HTTP API
answers as a 422 problem and the CLI as an error sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar

from domain import ledger
from domain.aging import DEFAULT_LIMITS, bucket_labels, check_limits
from domain.money import Money, from_minor_units, to_minor_units
from domain.open_items import Term, waterfall
from projections.balances import TALLIES
from projections.database import Database
from projections.ledger import RECEIVABLES, UNAPPLIED_CREDIT
from projections.reports import AgingLine, aging_lines, known_at_text

TALLY_FIGURES: dict[str, str] = {
    column.removesuffix("_minor"): category for column, category in TALLIES.items()
}
FIGURES: tuple[str, ...] = (
    "balance",
    "unapplied_credit",
    "invoiced",
    *TALLY_FIGURES,
    "outstanding:<item>",
    "aging:<bucket>",
)


#: The event type shown while the audit trail (where it is read from) has not caught up.
PENDING = "(audit trail catching up)"


class UnknownFigure(ValueError):
    """A figure ``explain`` does not know: not one of ``FIGURES``, an aging bucket not among
    the buckets asked for, or an item the account had not issued by the date. ``code`` and
    ``field`` are what the HTTP API answers with (``services.api.problems``)."""

    code: ClassVar[str] = "unknown_figure"
    field: ClassVar[str] = "figure"


@dataclass(frozen=True)
class ExplanationLine:
    position: int
    event_type: str
    effective_on: date
    reference: str
    amount_minor: int
    note: str = ""


@dataclass
class Explanation:
    account_number: str
    currency: str
    figure: str
    as_of: date
    lines: list[ExplanationLine] = field(default_factory=list)

    @property
    def total_minor(self) -> int:
        return sum(line.amount_minor for line in self.lines)

    @property
    def positions(self) -> list[int]:
        return sorted({line.position for line in self.lines})


def _date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def explain(
    db: Database,
    tenant_id: str,
    account_number: str,
    figure: str,
    as_of: date,
    *,
    known_at: datetime | None = None,
    buckets: Sequence[int] = DEFAULT_LIMITS,
    basis: str = "due",
    prefix: str = "",
) -> Explanation | None:
    """The events behind ``figure`` of the account; None if there is no such account."""
    account = db.query_one(
        f"SELECT account_id, currency FROM {prefix}account_balances"
        " WHERE tenant_id = ? AND account_number = ?",
        (tenant_id, account_number),
    )
    if account is None:
        return None
    found = Explanation(account_number, account["currency"], figure, as_of)
    cut = (account["account_id"], as_of.isoformat(), known_at_text(known_at))
    kind, _, subject = figure.partition(":")
    if figure in ("balance", "unapplied_credit") or figure in TALLY_FIGURES:
        found.lines = _ledger_lines(db, prefix, figure, cut)
    elif figure == "invoiced":
        found.lines = _invoiced(db, prefix, cut)
    elif kind == "outstanding" and subject:
        found.lines = _outstanding(db, prefix, cut, subject)
    elif kind == "aging" and subject:
        labels = bucket_labels(check_limits(buckets))
        if subject not in labels:
            msg = f"no aging bucket {subject!r}; the buckets are {', '.join(labels)}"
            raise UnknownFigure(msg)
        found.lines = _aging_bucket(
            db, tenant_id, account_number, subject, as_of, known_at, buckets, basis
        )
    else:
        msg = f"no figure {figure!r}; the figures are {', '.join(FIGURES)}"
        raise UnknownFigure(msg)
    return found


def _ledger_lines(
    db: Database, prefix: str, figure: str, cut: tuple[str, str, str]
) -> list[ExplanationLine]:
    where: str
    params: tuple[str, ...]
    if figure == "unapplied_credit":
        # The credit held: what was moved into the liability, less what left it.
        effect = (
            f"CASE WHEN credit_account = '{UNAPPLIED_CREDIT}' THEN amount_minor ELSE 0 END"
            f" - CASE WHEN debit_account = '{UNAPPLIED_CREDIT}' THEN amount_minor ELSE 0 END"
        )
        where, params = "", ()
    else:
        owed = (
            f"('{RECEIVABLES}', '{UNAPPLIED_CREDIT}')"
            if figure == "balance"
            else f"('{RECEIVABLES}')"
        )
        effect = (
            f"CASE WHEN debit_account IN {owed} THEN amount_minor ELSE 0 END"
            f" - CASE WHEN credit_account IN {owed} THEN amount_minor ELSE 0 END"
        )
        where, params = (
            ("", ()) if figure == "balance" else (" AND category = ?", (TALLY_FIGURES[figure],))
        )
    sign = 1 if figure in ("balance", "unapplied_credit") else ledger.SIGN[TALLY_FIGURES[figure]]
    rows = db.query(
        f"SELECT position, event_type, effective_on, reference, SUM({effect}) AS amount"
        f" FROM {prefix}ledger_lines WHERE account_id = ? AND effective_on <= ?"
        f" AND recorded_at <= ?{where}"
        " GROUP BY position, event_type, effective_on, reference ORDER BY position",
        (*cut, *params),
    )
    return [
        ExplanationLine(
            int(r["position"]),
            r["event_type"],
            _date(r["effective_on"]),
            r["reference"],
            sign * int(r["amount"]),
        )
        for r in rows
        if int(r["amount"])
    ]


def _invoiced(db: Database, prefix: str, cut: tuple[str, str, str]) -> list[ExplanationLine]:
    issued = db.query(
        f"SELECT i.position, i.item_number, i.issued_on, i.total_minor,"
        f" COALESCE(a.event_type, '{PENDING}') AS event_type FROM {prefix}open_items i"
        f" LEFT JOIN {prefix}audit_trail a ON a.position = i.position"
        " WHERE i.account_id = ? AND i.kind = 'invoice' AND i.issued_on <= ? AND i.recorded_at <= ?"
        " ORDER BY i.position",
        cut,
    )
    voided = db.query(
        f"SELECT m.position, m.item_number, m.effective_on, m.amount_minor, m.event_type"
        f" FROM {prefix}open_item_movements m JOIN {prefix}open_items i"
        " ON i.account_id = m.account_id AND i.item_number = m.item_number"
        " WHERE m.account_id = ? AND m.kind = 'void' AND i.kind = 'invoice'"
        " AND m.effective_on <= ? AND m.recorded_at <= ? ORDER BY m.position",
        cut,
    )
    lines = [
        ExplanationLine(
            int(r["position"]),
            r["event_type"],
            _date(r["issued_on"]),
            r["item_number"],
            int(r["total_minor"]),
            "issued",
        )
        for r in issued
    ] + [
        ExplanationLine(
            int(r["position"]),
            r["event_type"],
            _date(r["effective_on"]),
            r["item_number"],
            -int(r["amount_minor"]),
            "voided",
        )
        for r in voided
    ]
    return sorted(lines, key=lambda line: line.position)


def _item_history(
    db: Database, prefix: str, cut: tuple[str, str, str], item_number: str
) -> tuple[ExplanationLine, list[ExplanationLine]] | None:
    """The event that issued the item (its total) and every movement on it, as signed lines."""
    account_id, as_of, known = cut
    item = db.query_one(
        f"SELECT i.position, i.issued_on, i.total_minor,"
        f" COALESCE(a.event_type, '{PENDING}') AS event_type FROM {prefix}open_items i"
        f" LEFT JOIN {prefix}audit_trail a ON a.position = i.position"
        " WHERE i.account_id = ? AND i.item_number = ? AND i.issued_on <= ? AND i.recorded_at <= ?",
        (account_id, item_number, as_of, known),
    )
    if item is None:
        return None
    moves = db.query(
        f"SELECT position, line, kind, event_type, effective_on, reference, amount_minor"
        f" FROM {prefix}open_item_movements WHERE account_id = ? AND item_number = ?"
        " AND effective_on <= ? AND recorded_at <= ? ORDER BY position, line",
        (account_id, item_number, as_of, known),
    )
    issued = ExplanationLine(
        int(item["position"]),
        item["event_type"],
        _date(item["issued_on"]),
        item_number,
        int(item["total_minor"]),
        "issued",
    )
    return issued, [
        ExplanationLine(
            int(m["position"]),
            m["event_type"],
            _date(m["effective_on"]),
            m["reference"],
            -int(m["amount_minor"]),
            m["kind"],
        )
        for m in moves
    ]


def _outstanding(
    db: Database, prefix: str, cut: tuple[str, str, str], item_number: str
) -> list[ExplanationLine]:
    history = _item_history(db, prefix, cut, item_number)
    if history is None:
        msg = f"no item {item_number} issued by {cut[1]}"
        raise UnknownFigure(msg)
    issued, moves = history
    return [issued, *moves]


def _aging_bucket(
    db: Database,
    tenant_id: str,
    account_number: str,
    bucket: str,
    as_of: date,
    known_at: datetime | None,
    buckets: Sequence[int],
    basis: str,
) -> list[ExplanationLine]:
    """Each term of the bucket: its amount from the issuing event, then each movement's share.

    A movement's share of a term is how much it moved the term's open amount: what the
    domain's waterfall leaves of the term after the item's reductions up to and including it,
    less what it left before it.
    """
    rows = db.query(
        "SELECT t.account_id, t.item_number, t.term_index, t.due_on, t.amount_minor"
        " FROM open_item_terms t JOIN open_items i"
        " ON i.account_id = t.account_id AND i.item_number = t.item_number"
        " WHERE i.tenant_id = ? AND i.account_number = ? ORDER BY t.item_number, t.term_index",
        (tenant_id, account_number),
    )
    account_ids: dict[str, str] = {}
    amounts: dict[str, list[tuple[date, int]]] = {}
    for r in rows:
        account_ids[r["item_number"]] = r["account_id"]
        amounts.setdefault(r["item_number"], []).append(
            (_date(r["due_on"]), int(r["amount_minor"]))
        )
    lines: list[ExplanationLine] = []
    for line in aging_lines(
        db,
        tenant_id,
        as_of,
        known_at=known_at,
        basis=basis,
        buckets=buckets,
        account_number=account_number,
    ):
        if line.bucket != bucket:
            continue
        if line.plan_id is not None:
            lines.append(_plan_share(db, line, account_ids[line.item_number], as_of, known_at))
            continue
        shape = amounts.get(line.item_number, [])
        if line.term_index >= len(shape):  # issued by a batch committed between the two reads
            continue
        currency = line.currency
        terms = [
            Term(due_on, Money(from_minor_units(m, currency), currency)) for due_on, m in shape
        ]
        cut = (account_ids[line.item_number], as_of.isoformat(), known_at_text(known_at))
        history = _item_history(db, "", cut, line.item_number)
        if history is None:  # pragma: no cover - aging found the item under the same cut
            continue
        issued, moves = history
        label = f"term {line.term_index + 1} due {line.due_on.isoformat()}"
        lines.append(
            ExplanationLine(
                issued.position,
                issued.event_type,
                issued.effective_on,
                line.item_number,
                shape[line.term_index][1],
                f"{label}: issued",
            )
        )
        reduced = Money.zero(currency)
        open_before = terms[line.term_index].amount
        for move in sorted(moves, key=lambda m: (m.effective_on, m.position)):
            # A move's line is signed as the figure moves: a reduction is negative.
            reduced = reduced - Money(from_minor_units(move.amount_minor, currency), currency)
            open_after = waterfall(terms, reduced)[line.term_index]
            if open_after != open_before:
                lines.append(
                    ExplanationLine(
                        move.position,
                        move.event_type,
                        move.effective_on,
                        move.reference,
                        to_minor_units(open_after - open_before),
                        f"{label}: {move.note}",
                    )
                )
            open_before = open_after
    return lines


def _plan_share(
    db: Database, line: AgingLine, account_id: str, as_of: date, known_at: datetime | None
) -> ExplanationLine:
    """An amount aged by a payment plan's installment: one line, from the event that put the
    plan's schedule in force on the date, naming the rule, the plan and the installment."""
    schedule = db.query_one(
        "SELECT s.position, s.effective_on, COALESCE(a.event_type, ?) AS event_type"
        " FROM open_item_plan_terms s LEFT JOIN audit_trail a ON a.position = s.position"
        " WHERE s.account_id = ? AND s.plan_id = ? AND s.installment_index = 0"
        " AND s.effective_on <= ? AND s.recorded_at <= ? ORDER BY s.position DESC LIMIT 1",
        (PENDING, account_id, line.plan_id, as_of.isoformat(), known_at_text(known_at)),
    )
    position, event_type, effective_on = (
        (int(schedule["position"]), schedule["event_type"], _date(schedule["effective_on"]))
        if schedule
        else (0, PENDING, as_of)
    )
    return ExplanationLine(
        position,
        event_type,
        effective_on,
        line.item_number,
        line.open_minor,
        f"aged by payment plan {line.plan_id} installment {line.term_index + 1}"
        f" due {line.due_on.isoformat()}, not by the invoice's own terms: the plan is kept"
        f" as of {as_of.isoformat()} (its invoices return to their own terms when it"
        " defaults or ends)",
    )
