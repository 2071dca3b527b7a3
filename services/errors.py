"""Errors the application layer reports, besides the domain's own rule violations.

Each has a stable ``code``, a sentence a clerk understands, the ``field`` at fault where there is
one, and the HTTP ``status`` it maps to. Domain errors (``domain.errors.DomainError``, also
``domain.aging.InvalidBuckets``) map to 422, as does the read models' ``UnknownFigure``
(``projections.explain``): each error is defined once, in the lowest layer that raises it, and
none is copied here (``services.api.problems`` answers them all).
"""

from __future__ import annotations

from typing import ClassVar


def a_or_an(word: str) -> str:
    """``word`` with its indefinite article: "an admin", "a clerk", "an invoice". By the first
    letter: the roles, document kinds and command names it is given sound as they are spelt."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


class ServiceError(Exception):
    code: ClassVar[str] = "service_error"
    status: ClassVar[int] = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class AccountNotFound(ServiceError):
    code = "account_not_found"
    status = 404

    def __init__(self, account_number: str) -> None:
        super().__init__(f"There is no account {account_number}.", field="account_number")


class AccountAlreadyExists(ServiceError):
    code = "account_already_exists"
    status = 409

    def __init__(self, account_number: str) -> None:
        super().__init__(f"Account {account_number} is already open.", field="account_number")


class ConcurrentUpdate(ServiceError):
    code = "concurrent_update"
    status = 409

    def __init__(self, account_number: str) -> None:
        super().__init__(
            f"Account {account_number} was changed by another request at the same moment; "
            "nothing was recorded, send the request again."
        )


class ServiceStopping(ServiceError):
    code = "service_stopping"
    status = 503

    def __init__(self) -> None:
        super().__init__(
            "The service is stopping and did not take the request; nothing was recorded, send"
            " it again (with the same Idempotency-Key) in a moment."
        )


class Unauthenticated(ServiceError):
    code = "unauthenticated"
    status = 401

    def __init__(self) -> None:
        super().__init__("Send a valid API key in the Authorization header: 'Bearer <key>'.")


class Forbidden(ServiceError):
    code = "forbidden"
    status = 403

    def __init__(self, role: str, allowed: tuple[str, ...]) -> None:
        roles = " or ".join(sorted(allowed))
        super().__init__(
            f"{a_or_an(role).capitalize()} key cannot do this; it needs {a_or_an(roles)} key."
        )


class IdempotencyKeyReused(ServiceError):
    code = "idempotency_key_reused"
    status = 409

    def __init__(self, key: str) -> None:
        super().__init__(
            f"The idempotency key {key!r} was already used for a different request; "
            "use a new key for a new request.",
            field="Idempotency-Key",
        )


class KeyNotFound(ServiceError):
    code = "key_not_found"
    status = 404

    def __init__(self, key_id: str) -> None:
        super().__init__(f"Your tenant has no live API key {key_id}.", field="key_id")


class InvalidRange(ServiceError):
    code = "invalid_range"
    status = 422

    def __init__(self, low: str, high: str) -> None:
        super().__init__(f"{high} is before {low}; give a range that runs forward.", field=high)


class UnknownEventType(ServiceError, ValueError):
    """An event type the product does not know: a report filter naming no event type, or a
    published record (``services.event_contract``) whose type or schema version the contract
    does not know. A ValueError too, as is every other record that breaks the contract."""

    code = "unknown_event_type"
    status = 422

    def __init__(
        self, name: object, sentence: str | None = None, *, field: str = "event_type"
    ) -> None:
        super().__init__(
            sentence
            or f"There is no event type {name!r}; event types are class names such as "
            "'PaymentReceived' (see an account's events).",
            field=field,
        )


class MomentOutOfRange(ServiceError):
    code = "moment_out_of_range"
    status = 422

    def __init__(self, field: str) -> None:
        super().__init__(
            f"{field} is out of range once turned into UTC; give a moment between the years 1 "
            "and 9999.",
            field=field,
        )


class UnknownParameter(ServiceError):
    """A query parameter the endpoint does not take (a misspelt filter must not be ignored:
    the answer would look like a filtered one). A malformed request, as Stripe answers it:
    400, not 422 (which is for values that are not valid)."""

    code = "unknown_parameter"
    status = 400

    def __init__(self, name: str, known: list[str]) -> None:
        takes = f"it takes {', '.join(known)}" if known else "it takes none"
        super().__init__(
            f"{name!r} is not a parameter of this request; {takes}.",
            field=name,
        )


class RepeatedParameter(ServiceError):
    code = "repeated_parameter"
    status = 400

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is given more than once; give it once.", field=name)


# --- close of day and the tenant's settings ----------------------------------------------


class DayInFuture(ServiceError):
    code = "day_in_future"
    status = 422

    def __init__(self, day: str, today: str) -> None:
        super().__init__(
            f"{day} has not come yet: it is {today} in the tenant's time zone; a business day"
            " can be closed from that day on.",
            field="date",
        )


class DayCloseRunning(ServiceError):
    code = "day_close_running"
    status = 409

    def __init__(self, tenant_id: str) -> None:
        super().__init__(
            f"A close of day is running for tenant {tenant_id} (here or on another server);"
            " nothing was recorded by this request. Ask again once it is over."
        )


class DayCloseInterrupted(ServiceError):
    """The store went away while accounts were being closed: not one account's failure."""

    code = "day_close_interrupted"
    status = 503

    def __init__(self, day: str) -> None:
        super().__init__(
            f"The close of {day} was interrupted: the database did not answer. The day is not"
            " recorded as closed; closing it again is safe and finishes it."
        )


class AgendaNotCurrent(ServiceError):
    """The agenda read model could not be brought up to date (a rebuild holds it)."""

    code = "agenda_not_current"
    status = 503

    def __init__(self) -> None:
        super().__init__(
            "The agenda that says which accounts have something due is being rebuilt; nothing"
            " was closed. Close the day again once the rebuild is over."
        )


class NoDunningPolicy(ServiceError):
    code = "no_dunning_policy"
    status = 404

    def __init__(self, on: str | None) -> None:
        when = f" on {on}" if on else ""
        super().__init__(f"Your tenant had no dunning policy in force{when}.", field="as_of")


class DayNotClosed(ServiceError):
    code = "day_not_closed"
    status = 404

    def __init__(self, day: str) -> None:
        super().__init__(f"{day} has not been closed.", field="date")


class CatchUpTooLong(ServiceError):
    """Closing through a date would close more missed days than one close may."""

    code = "catch_up_too_long"
    status = 422

    def __init__(self, first: str, through: str, days: int, most: int, last: str) -> None:
        super().__init__(
            f"Closing through {through} would close {days} days, from {first} on; a close"
            f" closes at most {most} days. Close through {last} first.",
            field="date",
        )
