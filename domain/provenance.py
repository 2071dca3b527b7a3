"""Provenance: who asked for a command, why, and in which request.

Concept
    Every fact on an account is traceable to a person (or system) and a request:
    the services layer builds a :class:`Provenance` from the API key (actor), the
    request's correlation id, and the clerk's stated reason when the command has
    one. Every command method on the aggregate takes ``meta: Provenance``, and
    every event records the three values.

Invariants
    ``actor`` and ``correlation_id`` are non-empty; ``reason`` is optional text.

Vocabulary
    actor: who did it; correlation id: the request it came from; reason: why.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import ProvenanceIncomplete


@dataclass(frozen=True, slots=True)
class Provenance:
    actor: str
    correlation_id: str
    reason: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.actor, str) or not self.actor.strip():
            raise ProvenanceIncomplete("Every entry needs the person who made it.", field="actor")
        if not isinstance(self.correlation_id, str) or not self.correlation_id.strip():
            raise ProvenanceIncomplete(
                "Every entry needs the id of the request that made it.", field="correlation_id"
            )
