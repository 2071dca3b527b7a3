"""Reading a payer's X12 835 (005010X221A1) file into remittance facts.

The file is checked twice before anything is posted, and refused whole with every problem
listed (:class:`RemittanceFileRefused`) when either check fails:

1. **The implementation guide**, by ``pyx12``, the maintained X12 validator: envelope and
   control counts (SE01, GE01, IEA01 and the control numbers), the transaction's type and
   version, segment order, element types, codes and dates. Its findings are sorted by what
   they put at stake (:func:`_refuses`): one on the envelope, or on an element of a segment
   posting reads money, codes or identities from (BPR, TRN, CLP, CAS, SVC, PLB), refuses the
   file. One that leaves every posted figure unambiguous — a contact segment the guide wants
   that posting never reads (PER), a service line the guide cannot place that still balances
   — is kept with the remittance as a *note* the clerk sees. A payment date (BPR16) that is
   missing or not a date is read from the production date (DTM*405), and noted; with neither
   the file is refused.
2. **The money** (:func:`domain.remittance.balance_problems`): every claim, service line and
   the payment balance to the cent.

Our own mapping walks the segments in order (``pyx12``'s reader splits them with the
delimiters the ISA declares) and builds :class:`domain.remittance.Remittance` values; the
domain never sees a segment. Intake refusals that come before any of that: a file over
:data:`MAX_FILE_BYTES`, bytes that are not text, control characters that are not the file's
own delimiters, a file that does not begin with ISA, another transaction (ST01 ≠ 835) or
another version (GS08 ≠ 005010X221A1), a segment no 835 has.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import pyx12.errors
import pyx12.params
import pyx12.x12file
import pyx12.x12n_document

from domain.claims import ClaimAdjustment
from domain.errors import DomainError
from domain.money import Money, check_within_bound
from domain.remittance import (
    Problem,
    ProviderAdjustment,
    Remittance,
    RemittedClaim,
    ServiceLine,
    balance_problems,
)
from domain.schedules import EARLIEST_DATE, LATEST_DATE

#: A remittance file larger than this is refused before it is read (a 10,000-claim file is
#: about 2.5 MB).
MAX_FILE_BYTES: Final = 32 * 1024 * 1024
VERSION: Final = "005010X221A1"
ENVELOPE: Final = frozenset({"ISA", "GS", "ST", "SE", "GE", "IEA"})
#: Segments posting reads money, codes or identities from: a finding on one of their
#: elements refuses the file.
POSTED: Final = frozenset({"BPR", "TRN", "CLP", "CAS", "SVC", "PLB", "CUR"})
#: Every segment an 835 may carry; any other refuses the file.
KNOWN: Final = (
    ENVELOPE
    | POSTED
    | frozenset(
        {
            "REF",
            "DTM",
            "N1",
            "N2",
            "N3",
            "N4",
            "PER",
            "RDM",
            "LX",
            "TS3",
            "TS2",
            "NM1",
            "MIA",
            "MOA",
            "AMT",
            "QTY",
            "LQ",
        }
    )
)
_AMOUNT = re.compile(r"-?(\d+(\.\d*)?|\.\d+)")
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{1,2}")
_ISA_LENGTH = 106
# pyx12 reports through its logger what this module collects from its JSON report.
logging.getLogger("pyx12").setLevel(logging.CRITICAL + 1)


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the validator or the mapping found: where, and a sentence."""

    line: int
    segment: str
    sentence: str
    #: The element's reference (BPR16) when the validator found it on one element.
    element: str | None = None

    def __str__(self) -> str:
        return f"line {self.line} ({self.segment}): {self.sentence}"


class RemittanceFileRefused(ValueError):
    """The file cannot be posted as it is; nothing was posted. ``problems`` lists every one
    found, each naming its line and segment (and claim, for a balance)."""

    def __init__(self, problems: list[Finding | Problem]) -> None:
        self.problems = problems
        first = problems[0] if problems else "no remittance in it"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"The remittance file is refused, nothing was posted: {first}{more}.")


@dataclass(frozen=True)
class RemittanceFile:
    """What a file holds: its remittances (one per transaction set), the notes kept with them,
    the SHA-256 of its bytes, and each remittance's *fingerprint*: the SHA-256 of its
    transaction's segments, control numbers included (what tells the same remittance sent
    again from a different one under the same trace number)."""

    remittances: tuple[Remittance, ...]
    fingerprints: tuple[str, ...]
    notes: tuple[Finding, ...]
    sha256: str


def read_835(data: bytes) -> RemittanceFile:
    """The remittances of an 835 file, validated and balanced, or ``RemittanceFileRefused``."""
    if len(data) > MAX_FILE_BYTES:
        raise RemittanceFileRefused(
            [
                Finding(
                    1,
                    "ISA",
                    f"the file is {len(data):,} bytes; at most {MAX_FILE_BYTES:,} are read",
                )
            ]
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as bad:
        line = data[: bad.start].count(b"\n") + 1
        raise RemittanceFileRefused(
            [Finding(line, "?", f"byte {bad.start} is not text (an X12 file is plain text)")]
        ) from None
    text = text.lstrip("\ufeff \r\n\t")
    if not text.startswith("ISA"):
        raise RemittanceFileRefused(
            [Finding(1, "ISA", "this is not an X12 interchange: it does not begin with ISA")]
        )
    if len(text) < _ISA_LENGTH:
        raise RemittanceFileRefused(
            [
                Finding(
                    1,
                    "ISA",
                    f"the interchange header is cut short: an ISA segment is "
                    f"{_ISA_LENGTH} characters, the file holds {len(text)}",
                )
            ]
        )
    try:
        return _checked(text, data)
    except RemittanceFileRefused:
        raise
    except (
        IndexError,
        KeyError,
        ValueError,
        pyx12.errors.X12Error,
        pyx12.errors.EngineError,
    ) as bad:
        # Damage the checks above do not name (pyx12's reader or our mapping could not take a
        # segment apart): the file is refused like any other, never answered with a crash.
        raise RemittanceFileRefused(
            [Finding(1, "ISA", f"the file cannot be read as X12: {str(bad)[:200]}")]
        ) from None


def _checked(text: str, data: bytes) -> RemittanceFile:
    _refuse_control_characters(text)
    segments = _segments(text)
    findings = _validator_findings(text)
    mapped = _Mapping(segments)
    remittances = mapped.remittances()
    refused_by_guide = [_refuses(f, mapped) for f in findings]
    noted = [f for f, refuses in zip(findings, refused_by_guide, strict=True) if not refuses]
    refusing = [f for f, refuses in zip(findings, refused_by_guide, strict=True) if refuses]
    refusing += mapped.problems
    if not remittances and not refusing:
        refusing.append(Finding(1, "ST", "the file holds no 835 transaction"))
    refusing_all: list[Finding | Problem] = list(refusing)
    for remittance in remittances if not refusing else ():
        refusing_all.extend(balance_problems(remittance))
    if refusing_all:
        raise RemittanceFileRefused(sorted(refusing_all, key=lambda p: p.line))
    notes = noted + mapped.notes
    return RemittanceFile(
        remittances=tuple(remittances),
        fingerprints=tuple(mapped.fingerprints),
        notes=tuple(sorted(notes, key=lambda f: f.line)),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _refuse_control_characters(text: str) -> None:
    """No control character (C0, DEL or C1) inside an element. The delimiters are whatever the
    ISA declares, control characters included; CR and LF may only follow a segment's end."""
    terminator = text[105]
    delimiters = {text[3], text[82], text[104], terminator}
    line, previous = 1, ""
    for char in text:
        if _is_control(char) and char not in delimiters:
            at_segment_end = previous == terminator or (previous in "\r\n" and previous != "")
            if char not in "\r\n" or not at_segment_end:
                raise RemittanceFileRefused(
                    [
                        Finding(
                            line,
                            _segment_at(text, line),
                            f"it holds a control character (U+{ord(char):04X}) inside an "
                            "element, which no X12 element may",
                        )
                    ]
                )
        if char == "\n":
            line += 1
        previous = char


def _is_control(char: str) -> bool:
    code = ord(char)
    return code < 0x20 or 0x7F <= code <= 0x9F


def _segment_at(text: str, line: int) -> str:
    words = text.split("\n")[line - 1].strip("\r")
    return (words.split(text[3], 1)[0] or "?")[:3]


@dataclass
class _Segment:
    line: int
    id: str
    elements: list[str]
    raw: Any

    def value(self, position: int) -> str:
        """Element ``position`` (1-based) as written, '' when absent."""
        return self.elements[position - 1] if position <= len(self.elements) else ""

    def component(self, position: int, part: int) -> str:
        value = self.raw.get_value(f"{self.id}{position:02d}-{part}")
        return value or ""


def _segments(text: str) -> list[_Segment]:
    try:
        reader = pyx12.x12file.X12Reader(io.StringIO(text))
        segments = []
        for raw in reader:
            seg_id = raw.get_seg_id() or ""
            if not _SEGMENT_ID.fullmatch(seg_id):
                raise RemittanceFileRefused(
                    [
                        Finding(
                            reader.get_cur_line(),
                            seg_id[:3] or "?",
                            f"{seg_id!r} is not a segment id (two or three capitals and digits)",
                        )
                    ]
                )
            # The composites as written (``HC:99213``); one lookup by reference per element
            # would parse the reference each time, a third of the read on a large file.
            values = [element.format() for element in raw.elements]
            segments.append(_Segment(reader.get_cur_line(), seg_id, values, raw))
        return segments
    except pyx12.errors.X12Error as bad:
        sentence = str(bad).split(" for ISA", 1)[0].splitlines()[0][:200].rstrip(".")
        raise RemittanceFileRefused([Finding(1, "ISA", sentence)]) from None


def _validator_findings(text: str) -> list[Finding]:
    report = io.StringIO()
    try:
        pyx12.x12n_document.x12n_document(
            pyx12.params.params(), io.StringIO(text), None, None, fd_json=report
        )
    except Exception as bad:  # any fault of the validator on a damaged file refuses the file
        return [Finding(1, "ISA", f"the file could not be validated: {str(bad)[:200]}")]
    try:
        tree = json.loads(report.getvalue() or "{}")
    except json.JSONDecodeError:  # pragma: no cover - pyx12 writes its report or raises
        return [Finding(1, "ISA", "the validator could not read the file")]
    return list(_walk(tree, "ISA", 1))


_LEVEL_SEGMENT = {"interchanges": "ISA", "groups": "GS", "transactions": "ST"}


def _walk(node: dict[str, Any], segment: str, line: int) -> Iterator[Finding]:
    for error in node.get("errors") or []:
        yield Finding(line, segment, _sentence(error))
    for level, seg in _LEVEL_SEGMENT.items():
        for child in node.get(level) or []:
            yield from _walk(child, seg, int(child.get("cur_line") or line))
    for child in node.get("segments") or []:
        seg_id = str(child.get("seg_id") or "?")
        seg_line = int(child.get("cur_line") or line)
        for error in child.get("errors") or []:
            yield Finding(seg_line, seg_id, _sentence(error))
        for element in child.get("elements") or []:
            ref = f"{seg_id}{int(element.get('ele_pos') or 0):02d}"
            for error in element.get("errors") or []:
                yield Finding(seg_line, seg_id, _sentence(error), ref)


def _sentence(error: dict[str, Any]) -> str:
    return " ".join(str(error.get("err_str") or f"error {error.get('err_cde')}").split())


def _refuses(finding: Finding, mapped: _Mapping) -> bool:
    """Whether a validator finding refuses the file (see the module's docstring)."""
    if finding.segment in ENVELOPE:
        return True
    if finding.element is None:
        return False
    if finding.element == "BPR16" and mapped.production_date_read:
        return False  # the payment date was read from DTM*405, and that is noted
    return finding.segment in POSTED


class _Mapping:
    """The segments, in order, as remittances; ``problems`` refuse the file, ``notes`` don't."""

    def __init__(self, segments: list[_Segment]) -> None:
        self.segments = segments
        self.problems: list[Finding] = []
        self.notes: list[Finding] = []
        self.production_date_read = False
        self.fingerprints: list[str] = []
        self._built: list[Remittance] | None = None

    def remittances(self) -> list[Remittance]:
        if self._built is None:
            self._built = self._read()
        return self._built

    def problem(self, segment: _Segment, sentence: str) -> None:
        self.problems.append(Finding(segment.line, segment.id, sentence))

    # ------------------------------------------------------------------------ values

    def amount(
        self, segment: _Segment, position: int, currency: str, *, blank_zero: bool = False
    ) -> Money:
        text = segment.value(position).strip()
        if not text and blank_zero:
            return Money.zero(currency)
        ref = f"{segment.id}{position:02d}"
        if not _AMOUNT.fullmatch(text):
            self.problem(segment, f"{ref} {text!r} is not an amount")
            return Money.zero(currency)
        value = Decimal(text)
        if value.is_zero():
            value = abs(value)  # "-0.00" is 0.00: a sign on nothing says nothing
        try:
            return check_within_bound(Money(value, currency), ref, ref)
        except (DomainError, InvalidOperation) as bad:
            self.problem(segment, f"{ref} {text!r}: {bad}")
            return Money.zero(currency)

    def date(self, segment: _Segment, position: int) -> date | None:
        text = segment.value(position).strip()
        try:
            value = date(int(text[:4]), int(text[4:6]), int(text[6:8]))
        except ValueError:
            return None
        if len(text) != 8 or not EARLIEST_DATE <= value <= LATEST_DATE:
            return None
        return value

    def required_text(self, segment: _Segment, position: int, what: str) -> str:
        text = segment.value(position).strip()
        if not text:
            self.problem(segment, f"{what} ({segment.id}{position:02d}) is missing")
        return text

    # ------------------------------------------------------------------------ walk

    def _read(self) -> list[Remittance]:
        built: list[Remittance] = []
        transaction: _Transaction | None = None
        for segment in self.segments:
            seg_id = segment.id
            if seg_id not in KNOWN:
                self.problem(segment, f"{seg_id} is not a segment of an 835")
                continue
            if seg_id == "GS":
                if segment.value(1) != "HP" or segment.value(8) != VERSION:
                    self.problem(
                        segment,
                        f"this is a {segment.value(1)!r} group of version "
                        f"{segment.value(8)!r}; remittances are read from HP groups of "
                        f"{VERSION} only",
                    )
            elif seg_id == "ST":
                if segment.value(1) != "835":
                    self.problem(segment, f"this is a {segment.value(1)!r} transaction, not an 835")
                transaction = _Transaction(self, segment)
            elif seg_id == "SE":
                if transaction is not None:
                    transaction.digest.update(segment.raw.format().encode())
                    remittance = transaction.finish()
                    if remittance is not None:
                        built.append(remittance)
                        self.fingerprints.append(transaction.digest.hexdigest())
                transaction = None
            elif seg_id in ("ISA", "GE", "IEA"):
                continue
            elif transaction is None:
                self.problem(segment, f"{seg_id} is outside any transaction (ST … SE)")
            else:
                transaction.digest.update(segment.raw.format().encode())
                transaction.take(segment)
        return built


@dataclass
class _Claim:
    start: _Segment
    fields: dict[str, Any]
    adjustments: list[ClaimAdjustment] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)


class _Transaction:
    """One ST … SE: the remittance being read."""

    def __init__(self, mapping: _Mapping, start: _Segment) -> None:
        self.m = mapping
        self.start = start
        self.digest = hashlib.sha256(start.raw.format().encode())
        self.currency = "USD"
        self.header: dict[str, Any] = {}
        self.party: str | None = None  # the N1 loop being read: PR (payer) or PE (payee)
        self.claims: list[_Claim] = []
        self.plb: list[ProviderAdjustment] = []
        self.bpr: _Segment | None = None
        self.trn: _Segment | None = None
        self.production_date: date | None = None

    @property
    def claim(self) -> _Claim | None:
        return self.claims[-1] if self.claims else None

    def take(self, s: _Segment) -> None:
        handler = getattr(self, f"_{s.id.lower()}", None)
        if handler is not None:
            handler(s)

    def _bpr(self, s: _Segment) -> None:
        self.bpr = s

    def _trn(self, s: _Segment) -> None:
        if self.trn is None:
            self.trn = s

    def _cur(self, s: _Segment) -> None:
        if s.value(1) == "PR" and re.fullmatch(r"[A-Z]{3}", s.value(2)):
            self.currency = s.value(2)

    def _dtm(self, s: _Segment) -> None:
        qualifier, when = s.value(1), self.m.date(s, 2)
        claim = self.claim
        if claim is None:
            if qualifier == "405":
                self.production_date = when
        elif claim.lines and qualifier in ("472", "150", "151"):
            line = claim.lines[-1]
            if qualifier == "151":
                line["service_end"] = when
            elif line["service_date"] is None:
                line["service_date"] = when
        elif qualifier == "232":
            claim.fields["from"] = when
        elif qualifier == "233":
            claim.fields["to"] = when

    def _n1(self, s: _Segment) -> None:
        self.party = s.value(1)
        if self.claim is not None:
            return
        if self.party == "PR":
            self.header["payer_name"] = s.value(2).strip()
        elif self.party == "PE":
            self.header["payee_name"] = s.value(2).strip()
            self.header["payee_id"] = s.value(4).strip()

    def _clp(self, s: _Segment) -> None:
        c = self.currency
        pcn = self.m.required_text(s, 1, "The patient control number")
        status = self.m.required_text(s, 2, "The claim status")
        self.claims.append(
            _Claim(
                start=s,
                fields={
                    "pcn": pcn,
                    "status": status,
                    "billed": self.m.amount(s, 3, c),
                    "paid": self.m.amount(s, 4, c),
                    "pr": self.m.amount(s, 5, c, blank_zero=True),
                    "icn": s.value(7).strip(),
                    "patient": "",
                    "from": None,
                    "to": None,
                    "crossover": None,
                },
            )
        )

    def _nm1(self, s: _Segment) -> None:
        claim = self.claim
        if claim is None:
            return
        if s.value(1) == "QC":
            last, first = s.value(3).strip(), s.value(4).strip()
            claim.fields["patient"] = f"{last}, {first}" if first else last
        elif s.value(1) == "TT":
            claim.fields["crossover"] = s.value(3).strip() or None

    def _cas(self, s: _Segment) -> None:
        claim = self.claim
        if claim is None:
            self.m.problem(s, "an adjustment (CAS) comes before any claim (CLP)")
            return
        group = s.value(1)
        found = []
        for position in range(2, 20, 3):
            reason = s.value(position).strip()
            if not reason and not s.value(position + 1).strip():
                continue
            if not reason:
                self.m.problem(s, f"the adjustment at CAS{position + 1:02d} has no reason code")
                continue
            found.append(
                ClaimAdjustment(group, reason, self.m.amount(s, position + 1, self.currency))
            )
        if not found:
            self.m.problem(s, "the adjustment (CAS) lists no reason and amount")
        if claim.lines:
            claim.lines[-1]["adjustments"].extend(found)
        else:
            claim.adjustments.extend(found)

    def _svc(self, s: _Segment) -> None:
        claim = self.claim
        if claim is None:
            self.m.problem(s, "a service line (SVC) comes before any claim (CLP)")
            return
        claim.lines.append(
            {
                "procedure": s.value(1).strip(),
                "billed": self.m.amount(s, 2, self.currency),
                "paid": self.m.amount(s, 3, self.currency),
                "adjustments": [],
                "service_date": None,
                "service_end": None,
                "line": s.line,
            }
        )

    def _plb(self, s: _Segment) -> None:
        provider = s.value(1).strip()
        period = self.m.date(s, 2)
        if period is None:
            self.m.problem(s, f"PLB02 {s.value(2)!r} is not a date (CCYYMMDD)")
            period = EARLIEST_DATE
        for position in range(3, 15, 2):
            if not s.value(position).strip():
                continue
            reason = s.component(position, 1).strip() or s.value(position).strip()
            reference = s.component(position, 2).strip()
            amount = self.m.amount(s, position + 1, self.currency)
            self.plb.append(ProviderAdjustment(provider, period, reason, reference, amount, s.line))

    def finish(self) -> Remittance | None:
        m, start = self.m, self.start
        if self.bpr is None:
            m.problem(start, "the transaction has no payment (BPR)")
            return None
        if self.trn is None:
            m.problem(start, "the transaction has no trace number (TRN)")
            return None
        payment = m.amount(self.bpr, 2, self.currency)
        if payment.is_negative:
            m.problem(
                self.bpr,
                f"the payment (BPR02) is {payment}; it is never less than zero (a debit is "
                "said by BPR03 D)",
            )
        if self.bpr.value(3) == "D":
            payment = -payment
        effective_on = m.date(self.bpr, 16)
        if effective_on is None:
            if self.production_date is None:
                m.problem(
                    self.bpr,
                    "the payment date (BPR16) is missing or not a date, and "
                    "there is no production date (DTM*405) to read it from",
                )
                return None
            effective_on = self.production_date
            m.production_date_read = True
            m.notes.append(
                Finding(
                    self.bpr.line,
                    "BPR",
                    f"the payment date (BPR16) is missing "
                    f"or not a date; the production date {effective_on} "
                    f"(DTM*405) is used",
                )
            )
        trace = m.required_text(self.trn, 2, "The trace number")
        payer_id = self.trn.value(3).strip() or self.header.get("payer_name", "")
        claims = [self._claim(c) for c in self.claims]
        return Remittance(
            payer_name=self.header.get("payer_name", ""),
            payer_id=payer_id,
            payee_name=self.header.get("payee_name", ""),
            payee_id=self.header.get("payee_id", ""),
            payment=payment,
            method=self.bpr.value(4).strip() or "NON",
            effective_on=effective_on,
            trace_number=trace,
            claims=tuple(claims),
            provider_adjustments=tuple(self.plb),
            payment_line=self.bpr.line,
        )

    def _claim(self, c: _Claim) -> RemittedClaim:
        f = c.fields
        starts = [d for line in c.lines for d in (line["service_date"],) if d]
        ends = [d for line in c.lines for d in (line["service_end"], line["service_date"]) if d]
        service_from = f["from"] or min(starts, default=None)
        service_to = f["to"] or max(ends, default=None) or service_from
        return RemittedClaim(
            patient_control_number=f["pcn"],
            status=f["status"],
            billed=f["billed"],
            paid=f["paid"],
            patient_responsibility=f["pr"],
            payer_claim_number=f["icn"],
            patient_name=f["patient"],
            service_from=service_from,
            service_to=service_to,
            adjustments=tuple(c.adjustments),
            service_lines=tuple(
                ServiceLine(
                    procedure=line["procedure"],
                    billed=line["billed"],
                    paid=line["paid"],
                    adjustments=tuple(line["adjustments"]),
                    service_date=line["service_date"],
                    line=line["line"],
                )
                for line in c.lines
            ),
            crossover_payer=f["crossover"],
            line=c.start.line,
        )
