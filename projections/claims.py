"""The claims index: every insurance claim of every account, to match a payer's remittance.

Table ``claims_index`` (``{t}`` empty for the live model): one row per claim, written from the
account as the domain left it after the claim's latest event: claim id (the *patient control
number* the payer quotes back), account, payer (as recorded and normalised), billed amount
(minor units) and currency, status, the patient's name as the account names them, normalised
to its words in order (:func:`patient_key`: "DOE, JANE" and "Jane Doe" read alike), and the
dates of service of the claim's charges (first and last). ``control_number`` is the number a
payer quotes for the claim: its id, or for a secondary claim a crossover made, the primary's.

Matching a remittance's claim (:func:`find_claims`) asks, in order: the claim id; the patient
and the dates of service (the remittance's range inside the claim's). The payer's own claim
number is remembered by the remittance postings, not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, Final

from domain.account import Account
from domain.money import to_minor_units
from projections.database import Cursor, Database
from projections.directory import normalise
from projections.replay import Change
from projections.runner import ReadModel

COLUMNS: Final = (
    "account_id",
    "claim_id",
    "control_number",
    "tenant_id",
    "account_number",
    "payer",
    "payer_key",
    "billed_minor",
    "currency",
    "status",
    "patient_key",
    "service_from",
    "service_to",
    "last_position",
)
#: Events after which an account's claims are written again (the claim ones, and a rename).
_REWRITTEN_AFTER: Final = frozenset(
    {
        "ClaimSubmitted",
        "ClaimAdjudicated",
        "ClaimDenied",
        "ClaimAppealed",
        "ClaimResubmitted",
        "ClaimAdjudicationReversed",
        "ClaimForwarded",
        "DetailsChanged",
    }
)


def patient_key(name: str) -> str:
    """A person's name as its words, normalised and sorted: "DOE, JANE" → "doe jane"."""
    return " ".join(sorted(normalise(name.replace(",", " ")).split()))


def payer_key(payer: str) -> str:
    return normalise(payer)


class ClaimsIndex(ReadModel):
    name: ClassVar[str] = "claims_index"
    table_names: ClassVar[list[str]] = ["claims_index"]
    tables: ClassVar[list[str]] = [
        "CREATE TABLE IF NOT EXISTS {t}claims_index ("
        " account_id TEXT NOT NULL,"
        " claim_id TEXT NOT NULL,"
        " control_number TEXT NOT NULL,"
        " tenant_id TEXT NOT NULL,"
        " account_number TEXT NOT NULL,"
        " payer TEXT NOT NULL,"
        " payer_key TEXT NOT NULL,"
        " billed_minor {money} NOT NULL,"
        " currency TEXT NOT NULL,"
        " status TEXT NOT NULL,"
        " patient_key TEXT NOT NULL,"
        " service_from {date},"
        " service_to {date},"
        " last_position {bigint} NOT NULL,"
        " PRIMARY KEY (account_id, claim_id))",
        "CREATE INDEX IF NOT EXISTS {t}claims_index_by_control_number"
        " ON {t}claims_index (tenant_id, control_number)",
        "CREATE INDEX IF NOT EXISTS {t}claims_index_by_patient"
        " ON {t}claims_index (tenant_id, patient_key)",
    ]

    def __init__(self, prefix: str = "") -> None:
        super().__init__(prefix)
        self._latest: dict[tuple[str, str], tuple[Any, ...]] = {}

    def handle(self, change: Change) -> None:
        if change.event_type not in _REWRITTEN_AFTER:
            return
        account: Account = change.account
        patient = patient_key(account.name)
        for claim in account.claims.values():
            dates = [account.charges[c].service_date for c in claim.charge_ids]
            self._latest[(change.account_id, claim.claim_id)] = (
                change.account_id,
                claim.claim_id,
                claim.forwarded_from or claim.claim_id,
                account.tenant_id,
                account.account_number,
                claim.payer,
                payer_key(claim.payer),
                to_minor_units(claim.billed),
                claim.billed.currency,
                claim.status,
                patient,
                min(dates).isoformat() if dates else None,
                max(dates).isoformat() if dates else None,
                change.position,
            )

    def flush(self, c: Cursor, db: Database) -> None:
        updated = ", ".join(f"{column} = excluded.{column}" for column in COLUMNS[2:])
        self.write(
            f"INSERT INTO {self.t('claims_index')} ({', '.join(COLUMNS)})"
            f" VALUES ({', '.join('?' for _ in COLUMNS)})"
            f" ON CONFLICT (account_id, claim_id) DO UPDATE SET {updated}",
            *self._latest.values(),
        )
        self._latest = {}
        super().flush(c, db)

    def discard(self) -> None:
        self._latest = {}
        super().discard()


@dataclass(frozen=True)
class IndexedClaim:
    account_number: str
    claim_id: str
    control_number: str
    payer: str
    billed_minor: int
    currency: str
    status: str


_SELECTED = "account_number, claim_id, control_number, payer, billed_minor, currency, status"


def _rows(rows: list[dict[str, Any]]) -> list[IndexedClaim]:
    return [
        IndexedClaim(
            r["account_number"],
            r["claim_id"],
            r["control_number"],
            r["payer"],
            int(r["billed_minor"]),
            r["currency"],
            r["status"],
        )
        for r in rows
    ]


def claims_numbered(db: Database, tenant_id: str, control_number: str) -> list[IndexedClaim]:
    """The tenant's claims a payer would quote by this number: the claim with this id and the
    secondary claims forwarded from it (one account each, unless two use the same number)."""
    return _rows(
        db.query(
            f"SELECT {_SELECTED} FROM claims_index WHERE tenant_id = ? AND control_number = ?"
            " ORDER BY account_number, claim_id",
            (tenant_id, control_number),
        )
    )


def claims_numbered_many(
    db: Database, tenant_id: str, control_numbers: list[str]
) -> dict[str, list[IndexedClaim]]:
    """:func:`claims_numbered` for many numbers at once (one query per 500), by number."""
    found: dict[str, list[IndexedClaim]] = {}
    wanted = list(dict.fromkeys(control_numbers))
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        rows = db.query(
            f"SELECT {_SELECTED} FROM claims_index WHERE tenant_id = ?"
            f" AND control_number IN ({marks}) ORDER BY account_number, claim_id",
            [tenant_id, *chunk],
        )
        for claim in _rows(rows):
            found.setdefault(claim.control_number, []).append(claim)
    return found


def claims_of_patient(
    db: Database, tenant_id: str, patient_name: str, service_from: date, service_to: date
) -> list[IndexedClaim]:
    """The tenant's claims of this patient whose charges' dates of service hold the range."""
    return _rows(
        db.query(
            f"SELECT {_SELECTED} FROM claims_index WHERE tenant_id = ? AND patient_key = ?"
            " AND service_from <= ? AND service_to >= ? ORDER BY account_number, claim_id",
            (
                tenant_id,
                patient_key(patient_name),
                service_from.isoformat(),
                service_to.isoformat(),
            ),
        )
    )
