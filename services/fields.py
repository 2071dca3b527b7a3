"""Field types shared by the request and response models.

Amounts travel as decimal strings ("12.50"), never JSON numbers: a JSON number is a float to
most parsers, and money never passes through float. Currencies are ISO-4217 codes.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

_MAX_DIGITS = 18


def _decimal_from_string(value: Any) -> Decimal:
    if isinstance(value, Decimal):  # from Python callers (the CLI, tests), already exact
        number = value
    elif not isinstance(value, str):
        msg = 'must be a decimal string such as "12.50", not a JSON number'
        raise ValueError(msg)
    else:
        number = _parse(value)
    if not number.is_finite():
        msg = "must be a finite number"
        raise ValueError(msg)
    if len(number.as_tuple().digits) > _MAX_DIGITS:
        msg = f"has more than {_MAX_DIGITS} digits"
        raise ValueError(msg)
    return number


def _parse(value: str) -> Decimal:
    try:
        return Decimal(value.strip())
    except InvalidOperation:
        msg = f"{value!r} is not a decimal number"
        raise ValueError(msg) from None


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


_decimal_schema = WithJsonSchema(
    {"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "examples": ["12.50"]}
)

DecimalString = Annotated[
    Decimal,
    BeforeValidator(_decimal_from_string),
    PlainSerializer(str, return_type=str),
    _decimal_schema,
]
#: An amount in a response: the domain's exact Decimal, written as a string.
AmountOut = Annotated[Decimal, PlainSerializer(str, return_type=str), _decimal_schema]
PositiveAmount = Annotated[
    Decimal,
    BeforeValidator(_decimal_from_string),
    AfterValidator(_positive),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\d+(\.\d+)?$", "examples": ["12.50"]}),
]
NonNegativeAmount = Annotated[
    Decimal,
    BeforeValidator(_decimal_from_string),
    AfterValidator(_not_negative),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\d+(\.\d+)?$", "examples": ["0.00"]}),
]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]

STRICT = ConfigDict(extra="forbid", str_strip_whitespace=False)
