"""The local admin key: made on a first start, kept in the data folder, shown once.

On its first start ``ar serve`` makes an admin API key of tenant ``default``, named
``local-admin``, keeps it in the data folder (``admin-api-key``, mode 600) and prints it. Making,
keeping and showing are one step, which completes or leaves no trace:

1. the key is written to ``admin-api-key.new`` (mode 600) and flushed to disk: a data folder
   that cannot be written stops the step here, with nothing stored anywhere;
2. its row is stored in ``api_keys``: a database that refuses it leaves no file behind;
3. the file is renamed to ``admin-api-key`` (atomic) and the folder flushed: should that
   fail, the row is deleted again (nobody has seen the key);
4. the key is shown.

A start stopped between 2 and 3 (a power cut) leaves a ``.new`` file whose key is live: the next
start finishes the rename and shows the key, which nobody has seen. A ``.new`` file whose key
is not live was never stored, and is removed. One process takes the step at a time
(``services.bootstrap.one_process_at_a_time``), so two servers started together make one key.

What a start finds, said on its banner (``AdminKeyStart``): the file holds a live admin key of
this database (``in_file``); the key was made now (``created``, the only time it is shown); the
database has an admin key and the file is missing (``not_in_file``: kept elsewhere, or lost);
the file holds a key this database does not take, revoked or from another database
(``not_live``). The last two say to run ``ar keys reset-admin``, which makes a new
``local-admin`` key the same way, over the file, and revokes the earlier ones.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from services.api_keys import ApiKeys, IssuedKey, Role
from services.bootstrap import CannotStart, Runtime, one_process_at_a_time

ADMIN_NAME = "local-admin"
ADMIN_TENANT = "default"
#: The lock the step holds on PostgreSQL (ASCII "RecvAdm").
_MAKING_ADMIN_KEY = 0x52_65_63_76_41_64_6D
RESET_HINT = "`ar keys reset-admin` makes a new one (and revokes the lost one)"


class Found(StrEnum):
    created = "created"
    in_file = "in_file"
    not_in_file = "not_in_file"
    not_live = "not_live"


@dataclass(frozen=True)
class AdminKeyStart:
    found: Found
    key_file: Path
    #: The key, only when it was made (or finished) by this start.
    secret: str | None = None

    @property
    def banner(self) -> str:
        """The line the server prints about its admin key."""
        match self.found:
            case Found.created:
                return f"admin API key (shown once, also kept in {self.key_file}): {self.secret}"
            case Found.in_file:
                return f"admin API key: in {self.key_file}"
            case Found.not_in_file:
                return (
                    f"admin API key: an admin key exists, but not in {self.key_file} (kept"
                    f" elsewhere?); if it is lost, {RESET_HINT}"
                )
            case Found.not_live:
                return (
                    f"admin API key: the key in {self.key_file} is not a live key of this"
                    f" database (revoked, or made for another one); {RESET_HINT}"
                )


class AdminKeyNotStored(CannotStart):
    """The admin key could not be kept in the data folder; nothing of it was stored."""


def ensure_admin_key(runtime: Runtime) -> AdminKeyStart:
    """The first start's step (see the module's docstring); on later starts, what was found."""
    key_file = runtime.settings.admin_key_file
    with _one_at_a_time(runtime):
        pending = _pending(key_file)
        if pending.exists():
            unseen = _live_admin(runtime.keys, pending)
            if unseen is None:
                pending.unlink()  # a step stopped before its key was stored
            else:
                _move_into_place(pending, key_file)
                return AdminKeyStart(Found.created, key_file, unseen)
        if key_file.exists():
            live = _live_admin(runtime.keys, key_file) is not None
            return AdminKeyStart(Found.in_file if live else Found.not_live, key_file)
        if runtime.keys.any_admin():
            return AdminKeyStart(Found.not_in_file, key_file)
        issued = _make(runtime.keys, key_file, replacing=False)
        return AdminKeyStart(Found.created, key_file, issued.secret)


def reset_admin_key(runtime: Runtime) -> IssuedKey:
    """A new ``local-admin`` key in the file, in place of the one there (or lost); the earlier
    ``local-admin`` keys are revoked as the new one is stored."""
    with _one_at_a_time(runtime):
        pending = _pending(runtime.settings.admin_key_file)
        if pending.exists():
            pending.unlink()
        return _make(runtime.keys, runtime.settings.admin_key_file, replacing=True)


def _one_at_a_time(runtime: Runtime) -> AbstractContextManager[None]:
    _prepare_folder(runtime.settings.admin_key_file)
    return one_process_at_a_time(runtime.settings, _MAKING_ADMIN_KEY)


def _pending(key_file: Path) -> Path:
    return key_file.with_name(key_file.name + ".new")


def _live_admin(keys: ApiKeys, path: Path) -> str | None:
    """The key in the file if it is a live admin key of this database."""
    try:
        presented = path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    caller = keys.authenticate(presented)
    return presented if caller is not None and caller.role is Role.admin else None


def _make(keys: ApiKeys, key_file: Path, *, replacing: bool) -> IssuedKey:
    issued = keys.issue(name=ADMIN_NAME, tenant_id=ADMIN_TENANT, role=Role.admin)
    pending = _pending(key_file)
    try:
        _write_flushed(pending, issued.secret + "\n")
    except OSError as failure:
        pending.unlink(missing_ok=True)
        raise _not_written(key_file, failure) from None
    try:
        keys.store(issued, revoke_named=replacing)
    except BaseException:
        pending.unlink(missing_ok=True)
        raise
    try:
        _move_into_place(pending, key_file)
    except OSError as failure:
        keys.forget(issued.caller.key_id)
        pending.unlink(missing_ok=True)
        raise _not_written(key_file, failure) from None
    return issued


def _prepare_folder(key_file: Path) -> None:
    try:
        key_file.parent.mkdir(parents=True, exist_ok=True)
    except OSError as failure:
        raise _not_written(key_file, failure) from None


def _write_flushed(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())


def _move_into_place(pending: Path, key_file: Path) -> None:
    os.replace(pending, key_file)
    folder = os.open(key_file.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _not_written(key_file: Path, failure: OSError) -> AdminKeyNotStored:
    return AdminKeyNotStored(
        f"the admin API key cannot be kept in {key_file}: {failure.strerror or failure}."
        f" Nothing was stored: make {key_file.parent} (AR_DATA_DIR) a folder this process can"
        " write, then start again."
    )
