"""Reading an 835: the payer's facts as typed values, or the file refused whole, naming where."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.claims import ClaimAdjustment
from services import x12_835
from services.x12_835 import RemittanceFileRefused, read_835
from tests.remittances.support import FILES, file_bytes, usd

HAND_MADE = sorted(
    p.name
    for p in FILES.glob("*.835")
    if p.name not in {"managed-care.835", "cob-contractural-adjustment.835"}
)


def refused(data: bytes) -> list[str]:
    with pytest.raises(RemittanceFileRefused) as caught:
        read_835(data)
    assert "nothing was posted" in str(caught.value)
    return [str(p) for p in caught.value.problems]


def replaced(name: str, old: bytes, new: bytes) -> bytes:
    data = file_bytes(name)
    assert old in data, f"{old!r} is not in {name}"
    return data.replace(old, new, 1)


@pytest.mark.parametrize("name", HAND_MADE)
def test_a_hand_made_file_is_clean_to_the_implementation_guide(name: str) -> None:
    read = read_835(file_bytes(name))
    assert read.notes == ()
    assert len(read.remittances) == len(read.fingerprints) == 1


def test_managed_care_reads_as_the_payer_states_it() -> None:
    read = read_835(file_bytes("managed-care.835"))
    [remittance] = read.remittances
    assert (remittance.payer_name, remittance.payer_id) == ("RUSHMORE LIFE", "1935665544")
    assert (remittance.trace_number, remittance.method) == ("7170066655", "ACH")
    assert remittance.payment == usd("945.00")
    first, second = remittance.claims
    assert (first.patient_control_number, first.status, first.payer_claim_number) == (
        "5554555444",
        "1",
        "94060555410000",
    )
    assert (first.billed, first.paid, first.patient_responsibility) == (
        usd("800.00"),
        usd("450.00"),
        usd("300.00"),
    )
    assert first.adjustments == (ClaimAdjustment("CO", "A2", usd("50.00")),)
    assert first.service_lines[0].adjustments == (ClaimAdjustment("PR", "1", usd("300.00")),)
    assert first.patient_name == "BUDD, WILLIAM"
    assert [str(a.amount.amount) for a in second.all_adjustments] == ["55.00", "600.00", "50.00"]
    # BPR16 is 20002316 (no such date): the production date is used, and that is said.
    assert str(remittance.effective_on) == "2002-03-14"
    notes = [str(n) for n in read.notes]
    assert any("BPR16" in n and "invalid date" in n for n in notes)
    assert any("PER" in n for n in notes)


def test_a_negative_adjustment_correcting_its_group_is_read_as_given() -> None:
    [remittance] = read_835(file_bytes("cob-contractural-adjustment.835")).remittances
    [claim] = remittance.claims
    assert [a.amount.amount for a in claim.all_adjustments] == [Decimal("516.00"), Decimal("-9.00")]


def test_provider_level_adjustments_are_read_pair_by_pair() -> None:
    [remittance] = read_835(file_bytes("provider-adjustments.835")).remittances
    assert [
        (p.reason_code, p.reference, str(p.amount.amount)) for p in remittance.provider_adjustments
    ][:2] == [("WO", "CLM-0999", "75.00"), ("72", "", "20.00")]


def test_several_plb_segments_are_noted_not_refused() -> None:
    data = file_bytes("provider-adjustments.835")
    start = data.index(b"PLB*")
    end = data.index(b"~", start)
    plb = data[start:end].split(b"*")
    first = b"*".join(plb[:5])  # the segment id, PLB01, PLB02 and the first pair
    second = b"*".join([*plb[:3], *plb[5:]])
    text = data[:start] + first + b"~\n" + second + data[end:]
    se = text.index(b"SE*")
    count_end = text.index(b"*", se + 3)
    count = int(text[se + 3 : count_end]) + 1
    text = text[: se + 3] + str(count).encode() + text[count_end:]
    read = read_835(text)
    assert len(read.remittances[0].provider_adjustments) == 6
    assert any("PLB" in str(n) or "FOOTER" in str(n) for n in read.notes)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"hello, this is not an interchange", "line 1 (ISA): this is not an X12 interchange"),
        (b"", "does not begin with ISA"),
        (b"\xff\xfeISA", "is not text"),
        (replaced("seed-story.835", b"ST*835", b"ST*837"), "(ST): this is a '837' transaction"),
        (replaced("seed-story.835", b"005010X221A1", b"004010X091A1"), "remittances are read"),
        (replaced("seed-story.835", b"SE*", b"SE*1"), "(ST): SE count"),
        (replaced("seed-story.835", b"GE*1*", b"GE*2*"), "(GS): GE count of 2"),
        (replaced("seed-story.835", b"IEA*1*", b"IEA*3*"), "(ISA): IEA count"),
        (
            replaced("seed-story.835", b"DOE*JANE", b"DOE*JA\x07NE"),
            "it holds a control character (U+0007)",
        ),
        (
            replaced("seed-story.835", b"CLP*CLM-1001*1*1000.00", b"CLP*CLM-1001*1*1OOO.00"),
            "(CLP):",
        ),
        (replaced("seed-story.835", b"LX*1~", b"LX*1~\nFOO*1~"), "FOO is not a segment"),
        (
            replaced("seed-story.835", b"CAS*CO*45*400.00", b"CAS*CO*45*400.001"),
            "finer than the smallest unit",
        ),
    ],
)
def test_a_bad_file_is_refused_naming_the_segment(data: bytes, says: str) -> None:
    problems = refused(data)
    assert any(says in p for p in problems), problems


def test_a_truncated_file_is_refused() -> None:
    data = file_bytes("seed-story.835")
    problems = refused(data[: data.index(b"SVC*")])
    assert any("missing" in p for p in problems), problems


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(x12_835, "MAX_FILE_BYTES", 100)
    [problem] = refused(file_bytes("seed-story.835"))
    assert "at most 100 are read" in problem


def test_every_balance_problem_is_listed_with_its_claim_and_amounts() -> None:
    data = replaced(
        "split-claim.835", b"CLP*CLM-2002*1*200.00*200.00", b"CLP*CLM-2002*1*200.00*190.00"
    )
    problems = refused(data)
    assert any(
        "claim CLM-2002" in p and "billed 200.00 USD less adjustments 0.00 USD" in p
        for p in problems
    ), problems
    assert any("(BPR)" in p and "the payment is 900.00 USD" in p for p in problems), problems


def test_any_damage_to_a_file_is_read_or_refused_never_a_crash() -> None:
    """Seeded random damage (bytes dropped, doubled, changed) to every file: each copy reads,
    or is refused naming a line; no other error ever escapes the reader."""
    import random

    randomness = random.Random(835)
    alphabet = b"*~:^0123456789.-ABCDEFGHIJKLMNOPQRSTUVWXYZabc \n"
    for path in sorted(FILES.glob("*.835")):
        original = path.read_bytes()
        for _ in range(15):
            data = bytearray(original)
            for _ in range(randomness.randint(1, 4)):
                at = randomness.randrange(len(data))
                choice = randomness.random()
                if choice < 0.4:
                    del data[at]
                elif choice < 0.7:
                    data.insert(at, data[at])
                else:
                    data[at] = randomness.choice(alphabet)
            problems: list[object] = []
            try:
                read_835(bytes(data))
            except RemittanceFileRefused as refused:
                problems = list(refused.problems) or [None]
            assert all(getattr(p, "line", 0) >= 1 for p in problems)
