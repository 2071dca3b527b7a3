"""Errors the application layer reports, besides the domain's own rule violations.

Each has a stable ``code``, a sentence a clerk understands, the ``field`` at fault where there is
one, and the HTTP ``status`` it maps to. Domain errors (``domain.errors.DomainError``) map to 422
unless ``DOMAIN_STATUS`` says otherwise.
"""

from __future__ import annotations

from typing import ClassVar


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
        super().__init__(f"A {role} key cannot do this; it needs a {roles} key.")


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


class InvalidBuckets(ServiceError):
    code = "invalid_buckets"
    status = 422

    def __init__(self) -> None:
        super().__init__(
            "buckets are rising whole numbers of days separated by commas, e.g. 30,60,90.",
            field="buckets",
        )


class InvalidRange(ServiceError):
    code = "invalid_range"
    status = 422

    def __init__(self, low: str, high: str) -> None:
        super().__init__(f"{high} is before {low}; give a range that runs forward.", field=high)


class UnknownEventType(ServiceError):
    code = "unknown_event_type"
    status = 422

    def __init__(self, name: str) -> None:
        super().__init__(
            f"There is no event type {name!r}; event types are class names such as "
            "'PaymentReceived' (see an account's events).",
            field="event_type",
        )


class UnknownFigure(ServiceError):
    """A figure ``explain`` does not know: not one of its figures, an aging bucket not among the
    buckets asked for, or an item the account had not issued by the date."""

    code = "unknown_figure"
    status = 422

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence, field="figure")


class MomentOutOfRange(ServiceError):
    code = "moment_out_of_range"
    status = 422

    def __init__(self, field: str) -> None:
        super().__init__(
            f"{field} is out of range once turned into UTC; give a moment between the years 1 "
            "and 9999.",
            field=field,
        )
