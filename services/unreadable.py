"""An account whose stored history cannot be read is a problem to show, not a 500 to repeat.

A stored event that no longer decodes (its bytes were altered, an upcaster is missing) or a
history with a version gap makes eventsourcing raise while it loads the account. Every query
and command that loads the account then answers ``409 account_unreadable`` with a sentence
naming the version at which the history stops reading, and the operator's next step; nothing
is recorded. A database that is away is not the account's fault and is left to propagate
(it answers 503 elsewhere).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application

from domain.account import Account
from projections.parking import TRANSIENT
from services.errors import ServiceError


class AccountUnreadable(ServiceError):
    code = "account_unreadable"
    status = 409

    def __init__(self, account: str, version: int, error: BaseException) -> None:
        super().__init__(
            f"The history of account {account} cannot be read at version {version}"
            f" ({type(error).__name__}); nothing was changed. An operator must look at it"
            " (ar verify names the event).",
            field="account_number",
        )
        self.version = version


def unreadable_at(app: Application[Any], account_id: UUID, version: int | None = None) -> int:
    """The first version of the account's history that does not read (decode, follow on from
    the one before, apply); one past the last when all of it reads."""
    account: Account | None = None
    last = 0
    try:
        for event in app.events.get(account_id, lte=version):
            if event.originator_version != last + 1:
                return last + 1
            account = event.mutate(account)  # type: ignore[attr-defined]
            last = event.originator_version
    except TRANSIENT:
        raise
    except Exception:  # the event after ``last`` is where reading stops
        return last + 1
    return last + 1


#: Failures that say nothing about the history: no such account, a refusal, the database away.
_NOT_THE_HISTORY: tuple[type[BaseException], ...] = (
    AggregateNotFoundError,
    ServiceError,
    *TRANSIENT,
)


@contextmanager
def readable(app: Application[Any], account_id: UUID, account: str) -> Iterator[None]:
    """Turn a failure to read the account's history into ``AccountUnreadable``."""
    try:
        yield
    except _NOT_THE_HISTORY:
        raise
    except Exception as error:
        raise AccountUnreadable(account, unreadable_at(app, account_id), error) from None


def load_account_or_problem(
    app: Application[Any], account_id: UUID, account: str | None = None
) -> Account | None:
    """The account as stored (None if there is none), or ``AccountUnreadable`` when its
    history does not read; ``account`` names it in the sentence (default: its id)."""
    with readable(app, account_id, account or str(account_id)):
        try:
            loaded: object = app.repository.get(account_id)
        except AggregateNotFoundError:
            return None
    return loaded if isinstance(loaded, Account) else None
