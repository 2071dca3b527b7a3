"""The account directory: one row per account, to find an account by what a clerk knows of it.

Table ``account_directory`` (``{t}`` is empty for the live model): one row per account,
written from the account as the domain left it after its latest event (as
``account_balances`` is): number, name, currency, status (``open``/``closed``), opening
date, contact details (e-mail address, phone number and its digits, the customer's own
reference, preferred channel, the billing address on one line), collector, dunning level,
balance (minor units), and ``oldest_due_on``: the earliest due date of a term with something
outstanding now (the domain's own waterfall), null when nothing is outstanding. Two columns
hold normalised text (:func:`normalise`: accents removed, case folded, white space made
single spaces, so "José  GARCÍA" reads "jose garcia"):

- ``name_key``: the name as it is sorted;
- ``search_text``: the number, name, e-mail address and external reference, normalised,
  and the phone's digits, one per line.

Search (:func:`search_directory`): ``q`` is normalised the same way and split into words; a
row matches when each word is found in its ``search_text`` (``LIKE '%word%'``: inside a name,
an e-mail, a number). A ``q`` that reads as a phone number (digits and phone punctuation, at
least :data:`PHONE_QUERY_DIGITS` digits) also matches the rows whose phone digits contain its
digits, however either was written. On PostgreSQL the table gets a GIN trigram index on
``search_text`` where the ``pg_trgm`` extension is (or can be) installed, which answers those
LIKEs; where it is not the same query reads the table through, as it does on SQLite.

Filters: status, currency, dunning level, collector, and *has overdue* as of a business date:
a term due before the date still has something outstanding (``oldest_due_on < as_of``, as
known now: a term paid since is no longer overdue as of an earlier date; disputed items count,
they are flagged in the domain, not hidden). Sort (:data:`SORT_KEYS`): name, number or opening
date, ``-`` first for descending; ties go to the account number, so the order is total and
each sort has its index.

Paging is keyset: a page starts after the sort value and account number of the previous
page's last row, so accounts that arrive meanwhile are never repeated and none that were there
is skipped (a renamed account moves in a listing by name, as it should). The cursor is opaque to
clients (URL-safe base64 of JSON): it carries that position, the business date the listing's
"overdue" was read as of, and a fingerprint of the listing (tenant, q, filters, sort); a cursor
that is not one, or that belongs to another listing, is refused (:class:`InvalidDirectoryQuery`,
``invalid_cursor``) rather than read as something else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, Final

from domain import plans as plan_rules
from domain.account import Account
from domain.account.core import CLOSED, OPEN
from domain.contacts import control_character_in, phone_digits
from domain.money import to_minor_units
from domain.schedules import LATEST_DATE
from projections.database import Cursor, Database
from projections.replay import Change
from projections.runner import ReadModel

#: The stable codes of what a directory query is refused for.
UNKNOWN_SORT_KEY: Final = "unknown_sort_key"
INVALID_CURSOR: Final = "invalid_cursor"

#: Sort keys clients name → the column sorted on.
SORT_KEYS: Final[dict[str, str]] = {
    "name": "name_key",
    "number": "account_number",
    "opened_on": "opened_on",
}
DEFAULT_SORT: Final = "name"
STATUSES: Final = (OPEN, CLOSED)
#: Fewer digits than this in a query are not read as a phone number.
PHONE_QUERY_DIGITS: Final = 4
MAX_LIMIT: Final = 200

_CURSOR_VERSION = 1
_CURSOR_MAX = 1000
_PHONE_QUERY = re.compile(r"[+0-9 ().\-/]+")
# Letters NFKD does not take apart, written as a reader without the accent would type them.
_UNACCENTED = str.maketrans(
    {"ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ı": "i"}
)


class InvalidDirectoryQuery(ValueError):
    """A directory query the read model cannot answer: an unknown sort key, a cursor that is
    not one of this listing's. ``code`` is stable; ``str()`` is a sentence."""

    def __init__(self, code: str, message: str, field: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


def normalise(text: str) -> str:
    """Text as the directory compares it: accents removed, case folded, one space between
    words. "José  GARCÍA" → "jose garcia"; "Øster" → "oster"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_UNACCENTED))
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def search_text(
    account_number: str,
    name: str,
    email: str | None,
    phone: str | None,
    external_reference: str | None,
) -> str:
    """What a search looks in: the normalised fields and the phone's digits, one per line."""
    fields = [normalise(v) for v in (account_number, name, email, external_reference) if v]
    if phone:
        fields.append(phone_digits(phone))
    return "\n".join(fields)


#: The columns of a row, in the order ``row_values`` gives them.
COLUMNS: Final = (
    "account_id",
    "tenant_id",
    "account_number",
    "name",
    "name_key",
    "currency",
    "status",
    "opened_on",
    "email",
    "phone",
    "external_reference",
    "preferred_channel",
    "address",
    "collector",
    "dunning_level",
    "balance_minor",
    "oldest_due_on",
    "search_text",
    "last_version",
    "last_position",
)


def row_values(
    *,
    account_id: str,
    tenant_id: str,
    account_number: str,
    name: str,
    currency: str,
    status: str,
    opened_on: date,
    email: str | None,
    phone: str | None,
    external_reference: str | None,
    preferred_channel: str | None,
    address: str | None,
    collector: str | None,
    dunning_level: int,
    balance_minor: int,
    oldest_due_on: date | None,
    last_version: int,
    last_position: int,
) -> tuple[Any, ...]:
    """One directory row from plain values (what ``handle`` writes; benchmarks fill the table
    with it too)."""
    return (
        account_id,
        tenant_id,
        account_number,
        name,
        normalise(name),
        currency,
        status,
        opened_on.isoformat(),
        email,
        phone,
        external_reference,
        preferred_channel,
        address,
        collector,
        dunning_level,
        balance_minor,
        None if oldest_due_on is None else oldest_due_on.isoformat(),
        search_text(account_number, name, email, phone, external_reference),
        last_version,
        last_position,
    )


def oldest_due_on(account: Account) -> date | None:
    """The earliest due date of a term with something outstanding on the account now. An
    invoice on a payment plan being kept is dated by the plan's installments, as aging dates
    it (:func:`domain.account.queries.aged_terms`), so a customer keeping to a plan is not
    listed as overdue until an installment is missed."""
    if not any(plan.status == plan_rules.ACTIVE for plan in account.plans.values()):
        dates = [account.items[number].earliest_open_due_on() for number in account.open_items]
        return min(dates, default=None)
    # Everything recorded counts, and only a plan that has ended no longer dates its invoices.
    aged = account.aged(LATEST_DATE)
    return min((term.due_on for term in aged if term.outstanding.is_positive), default=None)


class AccountDirectory(ReadModel):
    name: ClassVar[str] = "account_directory"
    table_names: ClassVar[list[str]] = ["account_directory"]
    tables: ClassVar[list[str]] = [
        "CREATE TABLE IF NOT EXISTS {t}account_directory ("
        " account_id TEXT PRIMARY KEY,"
        " tenant_id TEXT NOT NULL,"
        " account_number TEXT NOT NULL,"
        " name TEXT NOT NULL,"
        " name_key TEXT NOT NULL,"
        " currency TEXT NOT NULL,"
        " status TEXT NOT NULL,"
        " opened_on {date} NOT NULL,"
        " email TEXT,"
        " phone TEXT,"
        " external_reference TEXT,"
        " preferred_channel TEXT,"
        " address TEXT,"
        " collector TEXT,"
        " dunning_level INTEGER NOT NULL,"
        " balance_minor {money} NOT NULL,"
        " oldest_due_on {date},"
        " search_text TEXT NOT NULL,"
        " last_version {bigint} NOT NULL,"
        " last_position {bigint} NOT NULL,"
        " UNIQUE (tenant_id, account_number))",
        # One index per sort, each ending in the tie-breaker, so a page is an index range.
        "CREATE INDEX IF NOT EXISTS {t}account_directory_by_name"
        " ON {t}account_directory (tenant_id, name_key, account_number)",
        "CREATE INDEX IF NOT EXISTS {t}account_directory_by_opening"
        " ON {t}account_directory (tenant_id, opened_on, account_number)",
        "CREATE INDEX IF NOT EXISTS {t}account_directory_by_collector"
        " ON {t}account_directory (tenant_id, collector, name_key, account_number)",
        "CREATE INDEX IF NOT EXISTS {t}account_directory_by_oldest_due"
        " ON {t}account_directory (tenant_id, oldest_due_on)",
    ]

    def __init__(self, prefix: str = "") -> None:
        super().__init__(prefix)
        #: The batch's newest row per account.
        self._latest: dict[str, tuple[Any, ...]] = {}

    def engine_ddl(self, db: Database) -> list[str]:
        """On PostgreSQL: ``pg_trgm`` where it can be installed, and a GIN trigram index on
        ``search_text`` where it is; each step gives way quietly where it cannot be taken, and
        the search reads the table instead (see the module's docstring)."""
        if not db.is_postgres:
            return []
        index, table = self.t("account_directory_search"), self.t("account_directory")
        # PL/pgSQL blocks: a refusal (no such extension, no privilege) is caught inside the
        # block, so it does not abort the transaction creating the tables.
        return [
            "DO $$ BEGIN CREATE EXTENSION IF NOT EXISTS pg_trgm;"
            " EXCEPTION WHEN OTHERS THEN"
            " RAISE NOTICE 'pg_trgm cannot be installed: %', SQLERRM; END $$",
            "DO $$ DECLARE trgm_schema TEXT; BEGIN"
            " SELECT n.nspname INTO trgm_schema FROM pg_extension e"
            " JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';"
            " IF trgm_schema IS NOT NULL THEN"
            " EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I USING gin"
            f" (search_text %I.gin_trgm_ops)', '{index}', '{table}', trgm_schema);"
            " END IF; END $$",
        ]

    def handle(self, change: Change) -> None:
        """Nothing per event: the row is the account as the batch leaves it (``settle``)."""

    def settle(self, change: Change) -> None:
        account: Account = change.account
        address = account.billing_address
        self._latest[change.account_id] = row_values(
            account_id=change.account_id,
            tenant_id=account.tenant_id,
            account_number=account.account_number,
            name=account.name,
            currency=account.currency,
            status=account.status,
            opened_on=account.opened_on,
            email=account.email,
            phone=account.phone,
            external_reference=account.external_reference,
            preferred_channel=account.preferred_channel,
            address=None if address is None else address.one_line(),
            collector=account.collector,
            dunning_level=account.dunning_level,
            balance_minor=to_minor_units(account.balance),
            oldest_due_on=oldest_due_on(account),
            last_version=account.version,
            last_position=change.position,
        )

    def flush(self, c: Cursor, db: Database) -> None:
        updated = ", ".join(f"{column} = excluded.{column}" for column in COLUMNS[1:])
        self.write(
            f"INSERT INTO {self.t('account_directory')} ({', '.join(COLUMNS)})"
            f" VALUES ({', '.join('?' for _ in COLUMNS)})"
            f" ON CONFLICT (account_id) DO UPDATE SET {updated}",
            *self._latest.values(),
        )
        self._latest = {}
        super().flush(c, db)

    def discard(self) -> None:
        self._latest = {}
        super().discard()


# ------------------------------------------------------------------------------ queries


@dataclass(frozen=True)
class DirectoryRow:
    """One account as the directory lists it; ``balance_minor`` in its ``currency``;
    ``has_overdue`` as of the listing's business date."""

    account_id: str
    account_number: str
    name: str
    currency: str
    status: str
    opened_on: date
    email: str | None
    phone: str | None
    external_reference: str | None
    preferred_channel: str | None
    address: str | None
    collector: str | None
    dunning_level: int
    balance_minor: int
    oldest_due_on: date | None
    has_overdue: bool


@dataclass(frozen=True)
class DirectoryQuery:
    """What a listing asks for. ``as_of`` is the business date "overdue" is read as of: the
    caller's, or else the one the cursor carries, or else ``today`` (given by the caller:
    the read model reads no clock)."""

    tenant_id: str
    q: str | None = None
    status: str | None = None
    currency: str | None = None
    has_overdue: bool | None = None
    dunning_level: int | None = None
    collector: str | None = None
    sort: str = DEFAULT_SORT
    as_of: date | None = None
    limit: int = 50

    def fingerprint(self) -> str:
        """What makes two requests pages of one listing (not the date, nor the page size)."""
        listing = [
            self.tenant_id,
            None if self.q is None else normalise(self.q),
            self.status,
            self.currency,
            self.has_overdue,
            self.dunning_level,
            self.collector,
            self.sort,
        ]
        return hashlib.sha256(json.dumps(listing).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class DirectoryPage:
    rows: list[DirectoryRow]
    #: Pass as ``cursor`` for the next page; None on the last page.
    next_cursor: str | None
    as_of: date


def sort_column(sort: str) -> tuple[str, bool]:
    """The column a sort key sorts on and whether it is descending; refuses an unknown key."""
    descending = sort.startswith("-")
    column = SORT_KEYS.get(sort.removeprefix("-"))
    if column is None:
        keys = ", ".join(sorted(SORT_KEYS))
        raise InvalidDirectoryQuery(
            UNKNOWN_SORT_KEY,
            f"{sort!r} is not a sort key; sort by {keys}, with '-' first for descending "
            "(such as -opened_on).",
            "sort",
        )
    return column, descending


def encode_cursor(query: DirectoryQuery, as_of: date, key: tuple[str, str]) -> str:
    document = {"v": _CURSOR_VERSION, "f": query.fingerprint(), "d": as_of.isoformat(), "k": key}
    text = json.dumps(document, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(query: DirectoryQuery, cursor: str) -> tuple[date, tuple[str, str]]:
    """The business date and position a cursor of this listing carries."""

    def refused(why: str) -> InvalidDirectoryQuery:
        return InvalidDirectoryQuery(
            INVALID_CURSOR,
            f"The cursor {why}; pass the next_cursor of the previous page unchanged, with the "
            "same q, filters and sort, or start again without a cursor.",
            "cursor",
        )

    try:
        if len(cursor) > _CURSOR_MAX:
            raise ValueError(cursor)
        padded = cursor + "=" * (-len(cursor) % 4)
        document = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        version, fingerprint = document["v"], document["f"]
        as_of, (value, number) = date.fromisoformat(document["d"]), document["k"]
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeError):
        raise refused("is not one this listing gave") from None
    if (
        version != _CURSOR_VERSION
        or not isinstance(value, str)
        or not isinstance(number, str)
        or control_character_in(value + number)
        or not _is_key_of(query, value)
    ):
        raise refused("is not one this listing gave")
    if fingerprint != query.fingerprint():
        raise refused("belongs to another listing (other q, filters or sort)")
    if query.as_of is not None and query.as_of != as_of:
        raise refused(f"belongs to the listing as of {as_of.isoformat()}")
    return as_of, (value, number)


def _is_key_of(query: DirectoryQuery, value: str) -> bool:
    """Whether ``value`` can be a sort value of the query's sort (a date where it sorts by
    date), so a forged cursor is refused rather than handed to the database to refuse."""
    if sort_column(query.sort)[0] != "opened_on":
        return True
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _like(fragment: str) -> str:
    escaped = fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search_condition(q: str) -> tuple[str, list[Any]]:
    """SQL matching ``q`` against ``search_text`` (see the module's docstring)."""
    words = normalise(q).split()
    conditions = ["search_text LIKE ? ESCAPE '\\'" for _ in words]
    params: list[Any] = [_like(word) for word in words]
    sql = " AND ".join(conditions) or "1 = 1"
    digits = phone_digits(q)
    if _PHONE_QUERY.fullmatch(q.strip()) and len(digits) >= PHONE_QUERY_DIGITS:
        sql = f"(({sql}) OR search_text LIKE ? ESCAPE '\\')"
        params.append(_like(digits))
    return sql, params


def _narrowed_by_trigrams(q: str) -> bool:
    """Whether a word of ``q`` is long enough for the trigram index to narrow the search."""
    return any(len(word) >= 3 for word in normalise(q).split())


def search_directory(
    db: Database, query: DirectoryQuery, *, today: date, cursor: str | None = None
) -> DirectoryPage:
    """One page of the tenant's accounts that match the query, in its sort order."""
    column, descending = sort_column(query.sort)
    after: tuple[str, str] | None = None
    as_of = query.as_of or today
    if cursor is not None:
        as_of, after = decode_cursor(query, cursor)
    conditions = ["tenant_id = ?"]
    params: list[Any] = [query.tenant_id]
    if query.q is not None and query.q.strip():
        sql, words = _search_condition(query.q)
        conditions.append(sql)
        params += words
    for name, value in (
        ("status", query.status),
        ("currency", query.currency),
        ("dunning_level", query.dunning_level),
        ("collector", query.collector),
    ):
        if value is not None:
            conditions.append(f"{name} = ?")
            params.append(value)
    if query.has_overdue is True:
        conditions.append("oldest_due_on < ?")
        params.append(as_of.isoformat())
    elif query.has_overdue is False:
        conditions.append("(oldest_due_on IS NULL OR oldest_due_on >= ?)")
        params.append(as_of.isoformat())
    if after is not None:
        conditions.append(f"({column}, account_number) {'<' if descending else '>'} (?, ?)")
        params += list(after)
    order = " DESC" if descending else ""
    limit = max(1, min(query.limit, MAX_LIMIT))
    selected = (
        f"SELECT {', '.join(_SELECTED)} FROM account_directory WHERE {' AND '.join(conditions)}"
    )
    if db.is_postgres and query.q is not None and _narrowed_by_trigrams(query.q):
        # The matches first (the trigram index), then their order. Left to itself the planner
        # walks the sort's index and filters, expecting the matches spread along it; a name
        # search's matches sit together in name order, so it reads most of the table first.
        selected = f"SELECT * FROM ({selected} OFFSET 0) matches"
    rows = db.query(
        f"{selected} ORDER BY {column}{order}, account_number{order} LIMIT ?",
        [*params, limit + 1],
    )
    page = [_row(r, as_of) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(query, as_of, (str(last[column]), last["account_number"]))
    return DirectoryPage(rows=page, next_cursor=next_cursor, as_of=as_of)


def directory_entry(
    db: Database, tenant_id: str, account_number: str, as_of: date
) -> DirectoryRow | None:
    """The directory's row of one account, or None if it has none (yet)."""
    row = db.query_one(
        f"SELECT {', '.join(_SELECTED)} FROM account_directory"
        " WHERE tenant_id = ? AND account_number = ?",
        (tenant_id, account_number),
    )
    return None if row is None else _row(row, as_of)


_SELECTED: Final = (
    "account_id",
    "account_number",
    "name",
    "name_key",
    "currency",
    "status",
    "opened_on",
    "email",
    "phone",
    "external_reference",
    "preferred_channel",
    "address",
    "collector",
    "dunning_level",
    "balance_minor",
    "oldest_due_on",
)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _row(r: dict[str, Any], as_of: date) -> DirectoryRow:
    due = None if r["oldest_due_on"] is None else _as_date(r["oldest_due_on"])
    return DirectoryRow(
        account_id=r["account_id"],
        account_number=r["account_number"],
        name=r["name"],
        currency=r["currency"],
        status=r["status"],
        opened_on=_as_date(r["opened_on"]),
        email=r["email"],
        phone=r["phone"],
        external_reference=r["external_reference"],
        preferred_channel=r["preferred_channel"],
        address=r["address"],
        collector=r["collector"],
        dunning_level=int(r["dunning_level"]),
        balance_minor=int(r["balance_minor"]),
        oldest_due_on=due,
        has_overdue=due is not None and due < as_of,
    )
