"""Cursors: where the next page of a large report starts.

A report that can be large (the aging, the collections worklist, the audit trail) is read a
page at a time. Each page after the first starts after the sort key of the previous page's last
row (keyset paging, never an offset), so a row is never shown twice and none that stays in the
report is skipped while others arrive or leave between two pages.

A cursor is opaque to clients: URL-safe base64 (no padding) of a small JSON document holding the
report's name, a fingerprint of the listing (:func:`fingerprint` of the tenant, the date, the
filters and the sort: everything that makes two requests pages of one listing, never the page
size) and the last row's key, each part of a type its report declares. A cursor that is not
one, that another report gave, or that belongs to another listing of the same report is refused
(:class:`InvalidCursor`, code ``invalid_cursor``) rather than read as something else; nothing
in it is trusted before each part has been read back as the type its report expects.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Final

#: The stable code of a cursor refused.
INVALID_CURSOR: Final = "invalid_cursor"
#: Longer than this, a cursor is not one a report gave.
CURSOR_MAX_LENGTH: Final = 1000

_VERSION = 1
#: A BIGINT column's range: positions and counts compared in SQL.
_SMALLEST_INTEGER, _LARGEST_INTEGER = -(2**63), 2**63 - 1

#: How one part of a row's key is read back from a cursor.
KeyReader = Callable[[Any], Any]


class InvalidCursor(ValueError):
    """A cursor a report cannot continue from. ``code`` is stable; ``str()`` is a sentence."""

    code: Final = INVALID_CURSOR
    field: Final = "cursor"


def fingerprint(*listing: Any) -> str:
    """What makes two requests pages of one listing, as a short digest of the JSON of
    ``listing`` (dates as ISO text)."""
    text = json.dumps(listing, default=_text)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_cursor(report: str, listing: str, key: Sequence[Any]) -> str:
    """The cursor of the page after the row whose sort key is ``key``."""
    document = {"v": _VERSION, "r": report, "f": listing, "k": [_text(part) for part in key]}
    text = json.dumps(document, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(
    report: str, listing: str, cursor: str, readers: Sequence[KeyReader]
) -> tuple[Any, ...]:
    """The sort key after which the page starts, read from a cursor of this report's
    ``listing`` (a :func:`fingerprint`), each part by its reader (``int`` reads an integer,
    any other reader a string: ``str``, ``date.fromisoformat``, :func:`finite_decimal`)."""
    try:
        if len(cursor) > CURSOR_MAX_LENGTH:
            raise ValueError(cursor)
        padded = cursor + "=" * (-len(cursor) % 4)
        document = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        version, given_by, given_listing, parts = (
            document["v"],
            document["r"],
            document["f"],
            document["k"],
        )
        if version != _VERSION or not isinstance(parts, list) or len(parts) != len(readers):
            raise ValueError(cursor)
        for read, part in zip(readers, parts, strict=True):
            if not _is_key_part(part, int if read is int else str):
                raise ValueError(cursor)
        key = tuple(read(part) for read, part in zip(readers, parts, strict=True))
    except (ValueError, TypeError, KeyError, InvalidOperation, binascii.Error, UnicodeError):
        raise _refused("is not one a report gave") from None
    if given_by != report:
        raise _refused("belongs to another report")
    if given_listing != listing:
        raise _refused("belongs to another listing of this report (other date, filters or sort)")
    return key


def finite_decimal(text: str) -> Decimal:
    """A decimal read back from a cursor: a number, never NaN or infinity."""
    value = Decimal(text)
    if not value.is_finite():
        raise ValueError(text)
    return value


def _is_key_part(part: Any, kind: type) -> bool:
    """Whether a part of a cursor's key is of its kind and could be a stored sort value: an
    integer a database column holds, text without control characters (a NUL would be refused
    by PostgreSQL rather than compared)."""
    if isinstance(part, bool) or not isinstance(part, kind):
        return False
    if isinstance(part, int):
        return _SMALLEST_INTEGER <= part <= _LARGEST_INTEGER
    return isinstance(part, str) and not any(ord(c) < 0x20 or ord(c) == 0x7F for c in part)


def _refused(why: str) -> InvalidCursor:
    return InvalidCursor(
        f"The cursor {why}; pass the next_cursor of the previous page unchanged, with the same "
        "date, filters and sort, or start again without a cursor."
    )


def _text(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | str) or value is None:
        return value
    return str(value)
