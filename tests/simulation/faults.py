"""Faults at the seam between the application and its database, on a seeded schedule.

``FaultyRecorder.install(app, ...)`` wraps the application recorder's ``insert_events`` — the
one call through which ``Application.save`` writes events (and, in this product, the
idempotency keys of the same transaction). On a seeded schedule a save then:

- ``connection_lost``, ``read_only``, ``serialization``, ``timeout``: raises before writing
  anything, as eventsourcing reports a dropped connection (``InterfaceError``), a read-only
  database (``InternalError``), a serialization failure or a statement timeout
  (``OperationalError``);
- ``answer_lost``: writes and commits, then raises ``OperationalError``, as when the
  connection drops before the commit's acknowledgement arrives.

The decision depends on the seed, each idempotency key the save carries and how often a save
with that key was tried before — not on timing, nor on the other commands of the batch — so
a command keeps its faults when the stream around it is cut down (shrinking), and a retried
save does not fail forever (a key draws a fault at most ``MAX_IN_A_ROW`` times). ``rate`` is
the chance that one command's save fails on one try.

Every exception raised here is remembered, so that the harness can tell an injected fault
(the client retries) from an error the product made up on its own (a 500: a finding).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, InternalError, OperationalError

#: Kinds of fault, and what each raises.
KINDS: dict[str, Callable[[], Exception]] = {
    "connection_lost": lambda: InterfaceError("simulated: the connection was lost"),
    "read_only": lambda: InternalError(
        "simulated: cannot execute INSERT in a read-only transaction"
    ),
    "serialization": lambda: OperationalError(
        "simulated: could not serialize access due to concurrent update"
    ),
    "timeout": lambda: OperationalError("simulated: canceling statement due to statement timeout"),
    "answer_lost": lambda: OperationalError(
        "simulated: server closed the connection after the commit"
    ),
}
#: The same save (same keys) fails at most this many times in a row.
MAX_IN_A_ROW = 2


class FaultyRecorder:
    """The fault schedule of one application instance."""

    def __init__(self, seed: int, rate: float, kinds: Sequence[str] = tuple(KINDS)) -> None:
        self.seed = seed
        self.rate = rate
        self.kinds = list(kinds)
        self.injected: Counter[str] = Counter()
        self._raised: dict[int, BaseException] = {}  # kept alive, so no id is reused
        self._tries: Counter[str] = Counter()
        #: The faults each idempotency key's saves met, to show beside a shrunk command list.
        self.by_key: dict[str, list[str]] = defaultdict(list)

    def install(self, app: Any) -> FaultyRecorder:
        recorder = app.recorder
        original = recorder.insert_events

        def insert_events(stored_events: Sequence[Any], **kwargs: Any) -> Any:
            kind = self._decide(kwargs.get("idempotency", ()))
            if kind is None:
                return original(stored_events, **kwargs)
            if kind == "answer_lost":
                original(stored_events, **kwargs)
            error = KINDS[kind]()
            self.injected[kind] += 1
            self._raised[id(error)] = error
            raise error

        recorder.insert_events = insert_events
        return self

    def _decide(self, records: Sequence[Any]) -> str | None:
        """The fault for this save, if any. Each key of the save draws on its own (by the seed,
        the key and how many saves carried it before), so a command meets the same faults
        whatever other commands share its batch."""
        if self.rate <= 0:
            return None
        chosen = None
        for key in sorted(str(r.key) for r in records):
            self._tries[key] += 1
            tries = self._tries[key]
            if chosen is not None or tries > MAX_IN_A_ROW:
                continue
            digest = hashlib.sha256(f"{self.seed}|{key}|{tries}".encode()).digest()
            if int.from_bytes(digest[:4], "big") / 2**32 < self.rate:
                chosen = self.kinds[digest[4] % len(self.kinds)]
                self.by_key[key].append(chosen)
        return chosen

    def caused(self, error: BaseException | None) -> bool:
        """Whether ``error`` is (or was raised from) a fault injected here."""
        seen = 0
        while error is not None and seen < 20:
            if id(error) in self._raised:
                return True
            error = error.__cause__ or error.__context__
            seen += 1
        return False
