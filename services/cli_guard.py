"""How ``ar`` ends when it cannot start its work: one sentence on stderr, a non-zero status.

Two failures are the operator's to fix, not bugs, and every command can meet them: settings
that do not validate (exit status 2) and a database that is away or refuses the credentials
(exit status 1). Neither prints a traceback, and neither quotes the database address, which
holds a password: the settings refuse without echoing their input, and the reason a database
is unreachable is psycopg's own sentence about a fresh connection (host, port, user, database),
passed through ``redact`` all the same. Anything else is a bug and keeps its traceback, redacted
too.

The modules that tell these failures apart (pydantic, the settings, the store's errors) are
imported only once a run has failed, so that ``ar --help`` does not load them.
"""

from __future__ import annotations

import sys
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from pydantic import ValidationError

    from domain.provenance import Provenance
    from services.bootstrap import Runtime


class GuardedTyper(typer.Typer):
    """A ``typer.Typer`` whose run ends in a sentence when the settings or the database fail."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as failure:
            from pydantic import ValidationError

            from services.logging import redact
            from services.settings import Settings
            from services.store_errors import is_database_unavailable

            if isinstance(failure, ValidationError):
                if failure.title != Settings.__name__:
                    raise
                for sentence in settings_sentences(failure):
                    typer.echo(f"error: {sentence}", err=True)
                raise SystemExit(2) from None
            if not is_database_unavailable(failure):
                # A bug: its traceback is for the developer, with any password blanked.
                sys.stderr.write(redact("".join(traceback.format_exception(failure))))
                raise SystemExit(1) from None
            typer.echo(f"error: {database_unavailable_sentence(failure)}", err=True)
            raise SystemExit(1) from None


def settings_sentences(invalid: ValidationError) -> list[str]:
    """One sentence per refused setting, named as its environment variable."""
    from services.logging import redact

    sentences = []
    for error in invalid.errors(include_input=False, include_url=False):
        variable = "AR_" + "_".join(str(part) for part in error["loc"]).upper()
        message = redact(str(error["msg"]).removeprefix("Value error, "))
        sentences.append(message if message.startswith(variable) else f"{variable}: {message}")
    return sentences


def database_unavailable_sentence(failure: BaseException) -> str:
    from pydantic import ValidationError

    from services.logging import redact
    from services.settings import Settings
    from services.store_errors import why_unreachable

    try:
        settings = Settings()
    except ValidationError:  # not from the environment, then: say what the error says
        return f"the database is not answering: {redact(str(failure))}"
    reason = why_unreachable(settings) or redact(" ".join(str(failure).split()))
    stop = "" if reason.endswith((".", "?", "!")) else "."
    return (
        f"the database is not answering ({settings.database_place}): {reason}{stop} "
        "Check AR_DATABASE_URL and that the database server is running, then try again."
    )


@contextmanager
def refusals_exit(
    runtime_factory: Callable[[], Runtime], what: str = "the body"
) -> Iterator[Runtime]:
    """A runtime for one command's work, closed after it; a refusal of that work (a business
    rule's, the service's, or a value that does not validate, ``what`` naming the thing the
    value belongs to) ends the command with its sentence and exit status 1."""
    from pydantic import ValidationError

    from domain.errors import DomainError
    from services.errors import ServiceError

    runtime = runtime_factory()
    try:
        yield runtime
    except (DomainError, ServiceError) as refusal:
        typer.echo(f"error: {refusal}", err=True)
        raise typer.Exit(1) from None
    except ValidationError as invalid:
        first = invalid.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or what
        typer.echo(f"error: {where}: {first['msg']}", err=True)
        raise typer.Exit(1) from None
    finally:
        runtime.close()


def cli_provenance(actor: str, reason: str | None = None) -> Provenance:
    """Who records a fact from the command line, under a correlation id of its own."""
    from domain.provenance import Provenance

    return Provenance(actor=actor, correlation_id=f"cli-{uuid.uuid4().hex[:16]}", reason=reason)
