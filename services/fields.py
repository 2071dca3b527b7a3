"""Field types shared by the request and response models, the CLI and the CSV importer.

What cannot be stored and read back is refused here, at intake, with a stable code (the
``type`` of the pydantic error, which the HTTP API answers as the problem's ``code``):

- Amounts travel as decimal strings ("12.50"), never JSON numbers: a JSON number is a float to
  most parsers, and money never passes through float. A string must match the documented
  pattern exactly: ASCII digits, an optional fraction, a leading ``-`` only where the field
  allows a sign; no exponent, no underscores, no spaces, no other digits. An amount is less
  than ``domain.money.MAX_AMOUNT`` (10,000,000,000,000) either way (``amount_out_of_range``).
- Text holds no control characters (C0, DEL, C1) and no lone surrogates: PostgreSQL's text
  cannot hold NUL, and UTF-8 cannot encode a surrogate (``control_character``). One-line text
  (names, references, descriptions) refuses tab and newline too; a note may span lines.
- Business dates lie within ``EARLIEST_DATE``..``LATEST_DATE`` (``date_out_of_range``), so
  every date the domain counts from them (due dates, installments, periods) is representable.
- Identifiers (account numbers, charge ids, invoice numbers, ...) follow one grammar,
  :data:`IDENTIFIER_PATTERN`, used by the body models and the path parameters alike, so that
  whatever is accepted can be routed to.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from domain.money import MAX_AMOUNT
from domain.schedules import EARLIEST_DATE, LATEST_DATE

#: The stable codes of the refusals made here (pydantic error types, answered as problem codes).
CONTROL_CHARACTER: Final = "control_character"
AMOUNT_OUT_OF_RANGE: Final = "amount_out_of_range"
DATE_OUT_OF_RANGE: Final = "date_out_of_range"
INTAKE_CODES: Final = frozenset({CONTROL_CHARACTER, AMOUNT_OUT_OF_RANGE, DATE_OUT_OF_RANGE})

#: One grammar for every client-given identifier, in bodies and in paths. It starts with a
#: letter or digit, so no path segment is ``.`` or ``..``; ``:`` is a plain character in a path.
IDENTIFIER_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
IDENTIFIER_MAX_LENGTH: Final = 64

_MAX_DIGITS = 18
_UNSIGNED_PATTERN = r"^[0-9]+(\.[0-9]+)?$"
_SIGNED_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
_UNSIGNED = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_SIGNED = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
# C0 controls, DEL and C1 controls, and lone surrogates; tab, newline and CR where one line.
_CONTROL_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_MULTI_LINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def parse_amount(value: str, *, signed: bool = False) -> Decimal:
    """The Decimal a string in the documented pattern stands for; ``ValueError`` otherwise.
    Shared by the request models and the CSV importer."""
    if not (_SIGNED if signed else _UNSIGNED).fullmatch(value):
        pattern = _SIGNED_PATTERN if signed else _UNSIGNED_PATTERN
        msg = f'{value!r} is not a decimal string such as "12.50" (pattern {pattern})'
        raise ValueError(msg)
    try:
        return _bounded(Decimal(value))
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        msg = f"{value!r} is not a decimal number"
        raise ValueError(msg) from None


def _bounded(number: Decimal) -> Decimal:
    if not number.is_finite():
        msg = "must be a finite number"
        raise ValueError(msg)
    if abs(number) >= MAX_AMOUNT:
        raise PydanticCustomError(
            AMOUNT_OUT_OF_RANGE,
            "must be less than {bound} either way: amounts and an account's running totals "
            "are bounded so that every figure can be stored and read back",
            {"bound": f"{MAX_AMOUNT:,}"},
        )
    if len(number.as_tuple().digits) > _MAX_DIGITS:
        msg = f"has more than {_MAX_DIGITS} digits"
        raise ValueError(msg)
    return number


def _decimal_from(value: Any, *, signed: bool) -> Decimal:
    if isinstance(value, Decimal):  # from Python callers (the CLI, tests), already exact
        return _bounded(value)
    if not isinstance(value, str):
        msg = 'must be a decimal string such as "12.50", not a JSON number'
        raise ValueError(msg)
    return parse_amount(value, signed=signed)


def _decimal_from_string(value: Any) -> Decimal:
    return _decimal_from(value, signed=True)


def _unsigned_decimal_from_string(value: Any) -> Decimal:
    return _decimal_from(value, signed=False)


def _one_line(value: str) -> str:
    if _CONTROL_ONE_LINE.search(value):
        raise PydanticCustomError(
            CONTROL_CHARACTER,
            "must not contain control characters (such as NUL, tab or newline)",
        )
    return value


def one_line_if_given(value: str | None) -> str | None:
    """``value`` (None allowed) if it holds no control character: for optional text that comes
    in other than in a body (a header recorded on the events)."""
    return None if value is None else _one_line(value)


def _lines(value: str) -> str:
    if _CONTROL_MULTI_LINE.search(value):
        raise PydanticCustomError(
            CONTROL_CHARACTER,
            "must not contain control characters other than tab and newline (such as NUL)",
        )
    return value


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: Any) -> Any:
    """A date is written YYYY-MM-DD; pydantic would also read a number (``0``) as seconds
    since 1970, which the OpenAPI document does not allow and no client means."""
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
        return value
    raise PydanticCustomError("date_parsing", "must be a date written YYYY-MM-DD")


def _in_calendar(value: date) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise PydanticCustomError(
            DATE_OUT_OF_RANGE,
            "must be a date from {earliest} to {latest}",
            {"earliest": EARLIEST_DATE.isoformat(), "latest": LATEST_DATE.isoformat()},
        )
    return value


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        msg = "must be greater than zero"
        raise ValueError(msg)
    return value


def _not_negative(value: Decimal) -> Decimal:
    if value < 0:
        msg = "must not be negative"
        raise ValueError(msg)
    return value


_AMOUNT_DESCRIPTION = (
    f"A decimal string less than {MAX_AMOUNT:,}; an account's running totals stay below it too."
)
_decimal_schema = WithJsonSchema(
    {"type": "string", "pattern": _SIGNED_PATTERN, "examples": ["12.50"]}
)

DecimalString = Annotated[
    Decimal,
    BeforeValidator(_decimal_from_string),
    PlainSerializer(str, return_type=str),
    _decimal_schema,
]
#: An amount in a response: the domain's exact Decimal, written as a string.
AmountOut = Annotated[Decimal, PlainSerializer(str, return_type=str), _decimal_schema]
#: An amount a client gives: digits, an optional fraction, no sign; less than ``MAX_AMOUNT``.
PositiveAmount = Annotated[
    Decimal,
    BeforeValidator(_unsigned_decimal_from_string),
    AfterValidator(_positive),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": _UNSIGNED_PATTERN,
            "examples": ["12.50"],
            "description": _AMOUNT_DESCRIPTION,
        }
    ),
]
NonNegativeAmount = Annotated[
    Decimal,
    BeforeValidator(_unsigned_decimal_from_string),
    AfterValidator(_not_negative),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": _UNSIGNED_PATTERN,
            "examples": ["0.00"],
            "description": _AMOUNT_DESCRIPTION,
        }
    ),
]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Identifier = Annotated[
    str,
    StringConstraints(min_length=1, max_length=IDENTIFIER_MAX_LENGTH, pattern=IDENTIFIER_PATTERN),
]
#: One line of text: a name, a reference, a description.
ShortText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, strip_whitespace=True),
    AfterValidator(_one_line),
]
#: Free text the domain takes as optional (``""`` when there is none); may span lines.
Note = Annotated[
    str, StringConstraints(max_length=200, strip_whitespace=True), AfterValidator(_lines)
]
#: A business date a command names: from ``EARLIEST_DATE`` to ``LATEST_DATE``.
BusinessDate = Annotated[date, BeforeValidator(_iso_date), AfterValidator(_in_calendar)]

STRICT = ConfigDict(extra="forbid", str_strip_whitespace=False)
