"""Money: an exact amount of one ISO-4217 currency.

Concept
    A ledger's numbers are typed: ``Money(amount, currency)`` pairs a
    :class:`~decimal.Decimal` with a currency code. Never ``float``: binary
    floating point cannot hold 0.10 exactly, and a receivables ledger must tie
    out to the cent, so float input is refused outright rather than converted.

Invariants
    - ``currency`` is a known ISO-4217 code; ``amount`` is a finite Decimal
      quantized to exactly the currency's minor unit (USD 2 places, JPY 0,
      KWD 3), so ``Money("1.5", "USD") == Money("1.50", "USD")`` and
      ``str()`` gives ``"1.50"``.
    - An amount finer than the minor unit (``1.005 USD``) is an error
      (:class:`~domain.errors.AmountTooPrecise`), never a silent rounding.
    - Every Money value, including the result of any arithmetic, has at most
      :data:`MAX_DIGITS` (18) digits counted in minor units; past that,
      :class:`~domain.errors.AmountOutOfRange` (``amount_out_of_range``). So a
      value can always be decoded again, and in minor units it always fits a
      signed 64-bit integer (< 9.2e18), the read models' BIGINT.
    - Business bound :data:`MAX_AMOUNT`: an amount a client gives, and every
      running total of an account (the ledger tallies: charged, debit notes,
      paid, credited, refunded, reversed, written off, recovered), is less than
      10,000,000,000,000 major units, whatever the currency. The account refuses
      a command that would take a tally past it, before triggering any event
      (discounts, contractual adjustments and what was invoiced are bounded by
      what was charged and re-opened, so they need no check). Every other account
      figure (balance, outstanding, unapplied credit, plan and claim totals) is a
      signed sum of at most ten tallies, so it stays below 10^14 major units:
      10^17 minor units in a currency of three decimals, well inside the 18-digit
      and BIGINT limits, with room to sum hundreds of accounts at the bound in a
      report (PostgreSQL sums BIGINT as NUMERIC in any case).
    - Arithmetic never mixes currencies (:class:`~domain.errors.CurrencyMismatch`).
    - Multiplying by a factor is exact or refused; when a product genuinely needs
      rounding (proration, percentages), the caller takes a :class:`Product`
      from :meth:`Money.times` and decides with :meth:`Product.round_to_minor`.

    - Read models store amounts as integers of minor units: :func:`to_minor_units` and
      :func:`from_minor_units` are the one conversion each way, exact both ways.

Vocabulary
    minor unit: the smallest coin of a currency (the cent); "exact": representable
    in whole minor units.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import (
    ROUND_DOWN,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    Inexact,
    InvalidOperation,
    localcontext,
)
from typing import Final

from domain.errors import (
    AmountOutOfRange,
    AmountTooPrecise,
    CurrencyMismatch,
    FloatAmountRefused,
    InvalidAmount,
    UnknownCurrency,
)

#: ISO-4217 codes and their minor units (number of decimal places).
MINOR_UNITS: Final[dict[str, int]] = {
    "AED": 2, "ARS": 2, "AUD": 2, "BGN": 2, "BHD": 3, "BRL": 2, "CAD": 2,
    "CHF": 2, "CLP": 0, "CNY": 2, "COP": 2, "CZK": 2, "DKK": 2, "EGP": 2,
    "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2,
    "ISK": 0, "JOD": 3, "JPY": 0, "KES": 2, "KRW": 0, "KWD": 3, "LYD": 3,
    "MAD": 2, "MXN": 2, "MYR": 2, "NGN": 2, "NOK": 2, "NZD": 2, "OMR": 3,
    "PHP": 2, "PKR": 2, "PLN": 2, "QAR": 2, "RON": 2, "RSD": 2, "SAR": 2,
    "SEK": 2, "SGD": 2, "THB": 2, "TND": 3, "TRY": 2, "TWD": 2, "UAH": 2,
    "UGX": 0, "USD": 2, "VND": 0, "XAF": 0, "XOF": 0, "ZAR": 2,
}  # fmt: skip

#: The most digits any Money value may have, counted in minor units (USD: up to
#: 9,999,999,999,999,999.99): what the transcoding decodes, and less than a BIGINT holds.
MAX_DIGITS: Final = 18

#: Every amount given and every running total of an account is less than this, in major
#: units of any currency (see the module's invariants for why this bound).
MAX_AMOUNT: Final = Decimal(10**13)

# Products are computed with room for any two bounded operands, and refused rather
# than rounded when even that is not enough.
_EXACT_PRODUCTS: Final = Context(prec=60, traps=[Inexact, InvalidOperation])

_QUANTUM: Final[dict[str, Decimal]] = {
    code: Decimal(1).scaleb(-places) for code, places in MINOR_UNITS.items()
}
# The smallest amount of each currency with more than MAX_DIGITS digits in minor units: one
# comparison instead of counting digits on every sum.
_TOO_LARGE: Final[dict[str, Decimal]] = {
    code: Decimal(10) ** (MAX_DIGITS - places) for code, places in MINOR_UNITS.items()
}


def minor_unit(currency: str) -> Decimal:
    """The smallest representable amount of ``currency`` (``Decimal("0.01")`` for USD)."""
    try:
        return _QUANTUM[currency]
    except KeyError:
        raise UnknownCurrency(
            f"{currency!r} is not a currency we know; use an ISO-4217 code such as USD.",
            field="currency",
        ) from None


def to_minor_units(money: Money) -> int:
    """The amount in the currency's smallest unit (1050 for 10.50 USD): exact, never rounded,
    as the read models store it."""
    return int(money.amount.scaleb(MINOR_UNITS[money.currency]))


def from_minor_units(minor: int, currency: str) -> Decimal:
    """A count of the currency's smallest unit as its exact amount (1050 USD → ``10.50``,
    with exactly the currency's places). A Decimal, not Money: a report's sum over many
    accounts may pass what one Money holds (see the module's invariants)."""
    return Decimal(minor).scaleb(-MINOR_UNITS[currency])


def check_currency(currency: str) -> str:
    minor_unit(currency)
    return currency


def _to_decimal(amount: object) -> Decimal:
    # bool is an int subclass: True dollars is a bug, not an amount.
    if isinstance(amount, bool):
        raise InvalidAmount("An amount must be a number, not true/false.", field="amount")
    if isinstance(amount, float):
        raise FloatAmountRefused(
            f"The amount {amount!r} was given as a floating-point number; "
            "give it as a decimal string such as '10.25'.",
            field="amount",
        )
    if isinstance(amount, Decimal):
        value = amount
    elif isinstance(amount, int):
        value = Decimal(amount)
    elif isinstance(amount, str):
        try:
            value = Decimal(amount.strip())
        except InvalidOperation:
            raise InvalidAmount(f"{amount!r} is not a number.", field="amount") from None
    else:
        raise InvalidAmount(
            "An amount must be a decimal, an integer or a decimal string, "
            f"not {type(amount).__name__}.",
            field="amount",
        )
    if not value.is_finite():
        raise InvalidAmount(f"{amount!r} is not a finite amount.", field="amount")
    return value


def _quantize_exactly(value: Decimal, currency: str) -> Decimal:
    quantum = minor_unit(currency)
    try:
        quantized = value.quantize(quantum)
    except InvalidOperation:
        raise AmountOutOfRange(f"{value} is too large an amount.", field="amount") from None
    if quantized != value:
        raise AmountTooPrecise(
            f"{value} {currency} is finer than the smallest unit of {currency} "
            f"({quantum}); amounts are never rounded silently.",
            field="amount",
        )
    return _check_size(quantized, currency)


def _check_size(quantized: Decimal, currency: str) -> Decimal:
    if len(quantized.as_tuple().digits) > MAX_DIGITS:
        raise AmountOutOfRange(
            f"{quantized} {currency} is too large an amount: at most {MAX_DIGITS} digits "
            f"counting the minor unit.",
            field="amount",
        )
    return quantized


def check_within_bound(amount: Money, field: str, what: str = "The amount") -> Money:
    """``amount`` if it is less than :data:`MAX_AMOUNT` either way, else ``AmountOutOfRange``."""
    if abs(amount.amount) >= MAX_AMOUNT:
        raise AmountOutOfRange(
            f"{what} would be {amount.amount} {amount.currency}; amounts and an account's "
            f"running totals must stay below {MAX_AMOUNT:,} {amount.currency}.",
            field=field,
        )
    return amount


class Money:
    """An exact amount of one currency. Immutable and hashable."""

    __slots__ = ("amount", "currency")

    amount: Decimal
    currency: str

    def __init__(self, amount: Decimal | int | str, currency: str) -> None:
        if not isinstance(currency, str):
            raise UnknownCurrency("A currency must be an ISO-4217 code.", field="currency")
        value = _to_decimal(amount)
        object.__setattr__(self, "currency", currency)
        object.__setattr__(self, "amount", _quantize_exactly(value, currency))

    @classmethod
    def _trusted(cls, amount: Decimal, currency: str) -> Money:
        # Arithmetic on two exact amounts is exact: skip the validation work, but never the
        # size, or a sum could make a value no event could be decoded with again.
        money = object.__new__(cls)
        quantized = amount.quantize(_QUANTUM[currency])
        if abs(quantized) >= _TOO_LARGE[currency]:
            _check_size(quantized, currency)
        object.__setattr__(money, "amount", quantized)
        object.__setattr__(money, "currency", currency)
        return money

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def sum(cls, amounts: Iterable[Money], currency: str) -> Money:
        """Total of ``amounts`` (zero when empty), all in ``currency``."""
        total = cls.zero(currency)
        for amount in amounts:
            total = total + amount
        return total

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Money is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Money is immutable")

    def __reduce__(self) -> tuple[type[Money], tuple[str, str]]:
        return (Money, (str(self.amount), self.currency))

    # --- comparison ---

    def _check_same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(
                f"Cannot combine {other.currency} with {self.currency}: "
                "amounts in different currencies never mix.",
                field="currency",
            )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        return self.currency == other.currency and self.amount == other.amount

    def __hash__(self) -> int:
        return hash((self.amount, self.currency))

    def __lt__(self, other: Money) -> bool:
        self._check_same_currency(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._check_same_currency(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._check_same_currency(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._check_same_currency(other)
        return self.amount >= other.amount

    # --- arithmetic ---

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._check_same_currency(other)
        return Money._trusted(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._check_same_currency(other)
        return Money._trusted(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money._trusted(-self.amount, self.currency)

    def __abs__(self) -> Money:
        return Money._trusted(abs(self.amount), self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        """Exact product, or :class:`AmountTooPrecise` when it needs rounding."""
        return self.times(factor).exact()

    __rmul__ = __mul__

    def times(self, factor: Decimal | int) -> Product:
        """The unrounded product; call ``.round_to_minor()`` or ``.exact()`` on it.

        The product is exact: a factor so fine that Decimal would have to round it is
        refused (:class:`AmountTooPrecise`), never silently rounded."""
        value = _to_decimal(factor)
        try:
            with localcontext(_EXACT_PRODUCTS):
                product = self.amount * value
        except (Inexact, InvalidOperation):
            raise AmountTooPrecise(
                f"{self.amount} × {value} needs more digits than can be kept exactly; "
                "amounts are never rounded silently.",
                field="amount",
            ) from None
        return Product(product, self.currency)

    def prorate(self, numerator: int, denominator: int) -> Product:
        """``self × numerator / denominator`` unrounded (e.g. days used / days in period)."""
        if denominator <= 0:
            raise InvalidAmount("A proration needs a positive denominator.", field="denominator")
        return Product(self.amount * numerator / denominator, self.currency)

    # --- predicates ---

    @property
    def is_zero(self) -> bool:
        return self.amount == 0

    @property
    def is_positive(self) -> bool:
        return self.amount > 0

    @property
    def is_negative(self) -> bool:
        return self.amount < 0

    def min(self, other: Money) -> Money:
        return self if self <= other else other

    def max(self, other: Money) -> Money:
        return self if self >= other else other

    def __str__(self) -> str:
        return str(self.amount)

    def __repr__(self) -> str:
        return f"Money('{self.amount}', '{self.currency}')"

    def __format__(self, spec: str) -> str:
        if spec:
            return format(self.amount, spec)
        return f"{self.amount} {self.currency}"


class Product:
    """An unrounded amount (a product or a quotient) waiting for the caller's rounding."""

    __slots__ = ("amount", "currency")

    def __init__(self, amount: Decimal, currency: str) -> None:
        self.amount = amount
        self.currency = currency

    def exact(self) -> Money:
        """The product as Money when it is exact; otherwise :class:`AmountTooPrecise`."""
        return Money(self.amount, self.currency)

    def round_to_minor(self, rounding: str = ROUND_HALF_EVEN) -> Money:
        """Round to the currency's minor unit with the caller's chosen rule."""
        try:
            rounded = self.amount.quantize(minor_unit(self.currency), rounding=rounding)
        except InvalidOperation:
            raise AmountOutOfRange(
                f"{self.amount} is too large an amount.", field="amount"
            ) from None
        return Money._trusted(_check_size(rounded, self.currency), self.currency)

    def truncate_to_minor(self) -> Money:
        return self.round_to_minor(ROUND_DOWN)

    def __repr__(self) -> str:
        return f"Product('{self.amount}', '{self.currency}')"
