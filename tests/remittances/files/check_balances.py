#!/usr/bin/env python3
"""Redo the balancing arithmetic of the 835 files in this folder, so a reader can check it.

This is NOT a test (pytest does not collect it) and it uses nothing but the standard library.
It reads each .835 with a tiny split: segments on the segment terminator, elements on the
element separator, components on the component separator, all three read from the ISA
segment (they are '~', '*' and ':' in every file here). Every amount is a Decimal.

For every transaction set it prints each rule, the figures, and [ok] or [FAIL]:
  claim    CLP03 - sum(all CAS of the claim, claim level and line level) = CLP04
           CLP05 = sum(CAS amounts in group PR)                 (empty CLP05 counts as 0)
  lines    sum(SVC02) = CLP03
           per line: SVC02 - sum(line CAS) = SVC03
           sum(SVC03) - sum(claim-level CAS) = CLP04
  reversal (CLP02 = 22) no amount is positive, and the figures are exactly the negated
           figures of a claim with the same CLP01 and CLP07 in one of the files checked
  file     BPR02 = sum(CLP04) - sum(PLB amounts)
  amounts  every amount element has at most 2 decimals ("-?digits[.d[d]]", nothing else)
  envelope ISA is 106 characters, SE01 = segments ST..SE, ST02 = SE02, GE01 = number of ST,
           GS06 = GE02, IEA01 = number of GS, ISA13 = IEA02

Usage:  python3 check_balances.py [file.835 ...]   (default: every *.835 next to this script)
Exit status 0 when every rule holds, 1 otherwise.
"""

from __future__ import annotations

import re
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

Record = dict[str, Any]  # a parsed transaction set, claim or service line

AMOUNT_FORMAT = re.compile(r"^-?\d+(\.\d{1,2})?$")
ZERO = Decimal("0.00")


class Report:
    def __init__(self) -> None:
        self.checks = 0
        self.failures = 0

    def rule(self, ok: bool, text: str, indent: str = "    ") -> None:
        self.checks += 1
        if not ok:
            self.failures += 1
        print(f"{indent}[{'ok' if ok else 'FAIL'}] {text}")


def el(seg: list[str], n: int) -> str:
    return seg[n] if n < len(seg) else ""


def terms(values: list[Decimal]) -> str:
    """'400.00 + 100.00 + (-12.50)'; '0.00' for an empty list."""
    if not values:
        return "0.00"
    return " + ".join(f"({v})" if v < 0 else str(v) for v in values)


def total(values: list[Decimal]) -> Decimal:
    return sum(values, ZERO)


def read_segments(path: Path) -> tuple[list[list[str]], str, str, str, str]:
    text = path.read_text()
    start = text.index("ISA")
    elem_sep, comp_sep, seg_term = text[start + 3], text[start + 104], text[start + 105]
    isa_raw = text[start : start + 106]
    segments = [raw.strip().split(elem_sep) for raw in text[start:].split(seg_term)]
    return [s for s in segments if s != [""]], elem_sep, comp_sep, seg_term, isa_raw


class Amounts:
    """Turns amount elements into Decimals and remembers any badly formatted one."""

    def __init__(self) -> None:
        self.count = 0
        self.bad: list[str] = []

    def __call__(self, raw: str, where: str) -> Decimal:
        if raw == "":
            return ZERO
        self.count += 1
        if not AMOUNT_FORMAT.match(raw):
            self.bad.append(f"{where}={raw!r}")
        return Decimal(raw)


def parse_cas(seg: list[str], amt: Amounts) -> list[tuple[str, str, Decimal]]:
    """CAS*group*reason*amount*qty*reason*amount*qty... -> [(group, reason, amount), ...]"""
    group, out = seg[1], []
    for i in range(2, len(seg), 3):
        if el(seg, i):
            out.append((group, seg[i], amt(el(seg, i + 1), f"CAS {group}-{seg[i]}")))
    return out


def parse_transactions(segments: list[list[str]], comp_sep: str) -> list[Record]:
    """One record per ST..SE: bpr02, claims (each with claim-level CAS and lines), plb pairs."""
    sets: list[Record] = []
    cur: Record | None = None
    claim: Record | None = None
    line: Record | None = None
    for seg in segments:
        sid = seg[0]
        if sid == "ST":
            amt = Amounts()
            cur = {"st02": el(seg, 2), "claims": [], "plb": [], "bpr02": None, "amt": amt}
            sets.append(cur)
            claim = line = None
        elif cur is None:
            continue
        elif sid == "BPR":
            cur["bpr02"] = cur["amt"](el(seg, 2), "BPR02")
        elif sid == "CLP":
            a = cur["amt"]
            claim = {
                "clp01": el(seg, 1),
                "status": el(seg, 2),
                "billed": a(el(seg, 3), "CLP03"),
                "paid": a(el(seg, 4), "CLP04"),
                "pr": a(el(seg, 5), "CLP05"),
                "pr_empty": el(seg, 5) == "",
                "clp07": el(seg, 7),
                "cas": [],
                "lines": [],
            }
            cur["claims"].append(claim)
            line = None
        elif sid == "SVC" and claim is not None:
            a = cur["amt"]
            line = {
                "proc": el(seg, 1),
                "charge": a(el(seg, 2), "SVC02"),
                "paid": a(el(seg, 3), "SVC03"),
                "cas": [],
            }
            claim["lines"].append(line)
        elif sid == "CAS" and claim is not None:
            (line if line is not None else claim)["cas"] += parse_cas(seg, cur["amt"])
        elif sid == "PLB":
            for i in range(3, len(seg), 2):
                if el(seg, i):
                    reason, _, ref = seg[i].partition(comp_sep)
                    amount = cur["amt"](el(seg, i + 1), f"PLB {reason}")
                    cur["plb"].append((reason, ref, amount))
        elif sid == "SE":
            cur = claim = line = None
    return sets


def signature(claim: Record, sign: int = 1) -> tuple[Any, ...]:
    def cas(items: list[tuple[str, str, Decimal]]) -> tuple[Any, ...]:
        return tuple(sorted((g, r, a * sign) for g, r, a in items))

    lines = tuple(
        (ln["proc"], ln["charge"] * sign, ln["paid"] * sign, cas(ln["cas"]))
        for ln in claim["lines"]
    )
    return (
        claim["clp01"],
        claim["clp07"],
        claim["billed"] * sign,
        claim["paid"] * sign,
        claim["pr"] * sign,
        cas(claim["cas"]),
        lines,
    )


def check_envelope(rep: Report, segments: list[list[str]], isa_raw: str, seg_term: str) -> None:
    rep.rule(
        len(isa_raw) == 106 and isa_raw.endswith(seg_term),
        f"ISA is {len(isa_raw)} characters including the terminator (must be 106)",
        "  ",
    )
    isa13 = el(segments[0], 13)
    gs_count = 0
    st_in_group = 0
    gs06 = ""
    st_index = None
    st02 = ""
    for i, seg in enumerate(segments):
        sid = seg[0]
        if sid == "GS":
            gs_count += 1
            st_in_group = 0
            gs06 = el(seg, 6)
        elif sid == "ST":
            st_in_group += 1
            st_index, st02 = i, el(seg, 2)
        elif sid == "SE" and st_index is not None:
            counted = i - st_index + 1
            rep.rule(
                el(seg, 1) == str(counted) and el(seg, 2) == st02,
                f"SE01 {el(seg, 1)} = {counted} segments ST..SE; ST02 {st02} = SE02 {el(seg, 2)}",
                "  ",
            )
            st_index = None
        elif sid == "GE":
            rep.rule(
                el(seg, 1) == str(st_in_group) and el(seg, 2) == gs06,
                f"GE01 {el(seg, 1)} = {st_in_group} transaction set(s); "
                f"GS06 {gs06} = GE02 {el(seg, 2)}",
                "  ",
            )
        elif sid == "IEA":
            rep.rule(
                el(seg, 1) == str(gs_count) and el(seg, 2) == isa13,
                f"IEA01 {el(seg, 1)} = {gs_count} group(s); ISA13 {isa13} = IEA02 {el(seg, 2)}",
                "  ",
            )


def check_claim(
    rep: Report, n: int, claim: Record, originals: list[tuple[str, int, Record]]
) -> None:
    print(
        f"  claim {n}: CLP01 {claim['clp01']}  status {claim['status']}  "
        f"CLP07 {claim['clp07'] or '-'}  lines {len(claim['lines'])}"
    )
    claim_cas = [a for _, _, a in claim["cas"]]
    line_cas = [a for ln in claim["lines"] for _, _, a in ln["cas"]]
    all_cas = claim_cas + line_cas
    labels = [f"{g}-{r} {a}" for g, r, a in claim["cas"]] + [
        f"{g}-{r} {a}" for ln in claim["lines"] for g, r, a in ln["cas"]
    ]
    if labels:
        print(f"    adjustments: {', '.join(labels)}")
    got = claim["billed"] - total(all_cas)
    rep.rule(
        got == claim["paid"],
        f"CLP03 - all CAS = CLP04: {claim['billed']} - ({terms(all_cas)}) = {got}"
        f"  vs CLP04 {claim['paid']}",
    )
    pr = [a for ln in [claim, *claim["lines"]] for g, _, a in ln["cas"] if g == "PR"]
    rep.rule(
        total(pr) == claim["pr"],
        f"CLP05 = sum PR: {terms(pr)} = {total(pr)}  vs CLP05 {claim['pr']}"
        + (" (empty)" if claim["pr_empty"] else ""),
    )
    if claim["lines"]:
        charges = [ln["charge"] for ln in claim["lines"]]
        rep.rule(
            total(charges) == claim["billed"],
            f"sum SVC02 = CLP03: {terms(charges)} = {total(charges)}  vs CLP03 {claim['billed']}",
        )
        for i, ln in enumerate(claim["lines"], 1):
            cas = [a for _, _, a in ln["cas"]]
            got = ln["charge"] - total(cas)
            rep.rule(
                got == ln["paid"],
                f"line {i} {ln['proc']}: SVC02 - line CAS = SVC03: {ln['charge']} - ({terms(cas)})"
                f" = {got}  vs SVC03 {ln['paid']}",
            )
        paid = [ln["paid"] for ln in claim["lines"]]
        got = total(paid) - total(claim_cas)
        rep.rule(
            got == claim["paid"],
            f"sum SVC03 - claim-level CAS = CLP04: ({terms(paid)}) - ({terms(claim_cas)}) = {got}"
            f"  vs CLP04 {claim['paid']}",
        )
    else:
        print("    (no service lines: the three service-line rules do not apply)")
    if claim["status"] == "22":
        amounts = [claim["billed"], claim["paid"], claim["pr"], *all_cas]
        amounts += [x for ln in claim["lines"] for x in (ln["charge"], ln["paid"])]
        rep.rule(
            all(a <= 0 for a in amounts),
            f"reversal: none of its {len(amounts)} amounts is positive",
        )
        wanted = signature(claim, -1)
        match = [(f, k) for f, k, c in originals if c["status"] != "22" and signature(c) == wanted]
        where = ", ".join(f"{f} claim {k}" for f, k in match) or "no claim in the files checked"
        rep.rule(
            bool(match),
            f"reversal: figures are exactly the negated figures of {where}",
        )


def check_file(rep: Report, path: Path, originals: list[tuple[str, int, Record]]) -> None:
    segments, elem_sep, comp_sep, seg_term, isa_raw = read_segments(path)
    print(f"\n== {path.name}")
    print(
        f"  delimiters from ISA: element {elem_sep!r}, component {comp_sep!r}, segment {seg_term!r}"
    )
    check_envelope(rep, segments, isa_raw, seg_term)
    for ts in parse_transactions(segments, comp_sep):
        print(f"  transaction set ST02 {ts['st02']}: {len(ts['claims'])} claim(s)")
        for n, claim in enumerate(ts["claims"], 1):
            check_claim(rep, n, claim, originals)
        seen: dict[str, list[Record]] = {}
        for claim in ts["claims"]:
            seen.setdefault(claim["clp01"], []).append(claim)
        for clp01, group in seen.items():
            if len(group) > 1:
                billed = [c["billed"] for c in group]
                paid = [c["paid"] for c in group]
                print(
                    f"  [info] CLP01 {clp01} is in {len(group)} CLPs (statuses "
                    f"{', '.join(c['status'] for c in group)}): billed {terms(billed)} = "
                    f"{total(billed)}; paid {terms(paid)} = {total(paid)}"
                )
        for reason, ref, amount in ts["plb"]:
            print(f"  PLB {reason}{':' + ref if ref else ''} {amount}")
        paid = [c["paid"] for c in ts["claims"]]
        plb = [a for _, _, a in ts["plb"]]
        got = total(paid) - total(plb)
        rep.rule(
            got == ts["bpr02"],
            f"BPR02 = sum CLP04 - sum PLB: ({terms(paid)}) - ({terms(plb)}) = {got}"
            f"  vs BPR02 {ts['bpr02']}",
            "  ",
        )
        bad = ts["amt"].bad
        rep.rule(
            not bad,
            f"amount format: {ts['amt'].count} amount elements, at most 2 decimals"
            + (f"; bad: {', '.join(bad)}" if bad else ""),
            "  ",
        )


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    paths = [Path(a) for a in argv] if argv else sorted(here.glob("*.835"))
    originals: list[tuple[str, int, Record]] = []
    for path in paths:
        segments, _, comp_sep, _, _ = read_segments(path)
        for ts in parse_transactions(segments, comp_sep):
            for k, claim in enumerate(ts["claims"], 1):
                originals.append((path.name, k, claim))
    rep = Report()
    for path in paths:
        check_file(rep, path, originals)
    verdict = "every rule holds" if rep.failures == 0 else f"{rep.failures} FAILED"
    print(f"\n{len(paths)} files, {rep.checks} checks: {verdict}")
    return 0 if rep.failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
