"""Where the relay is up to: the last notification it published, per relay name.

A row is written only after the broker acknowledged every record up to it (see
``services.relay``), so it is a safe place to resume from and ``head - position`` is the relay's
lag. The table is made by the product's migrations (``services.migrations``).
"""

from __future__ import annotations

from projections.database import Database

RELAY_NAME = "kafka"


def relay_position(db: Database, name: str = RELAY_NAME) -> int:
    """The last notification the relay has published (0 before its first batch)."""
    row = db.query_one("SELECT notification_id FROM relay_positions WHERE name = ?", (name,))
    return int(row["notification_id"]) if row else 0


def record_relay_position(db: Database, notification_id: int, name: str = RELAY_NAME) -> None:
    """Move the position forward (never back: a relay that lost its lock cannot undo the
    progress of the one that took it over)."""
    db.execute(
        "INSERT INTO relay_positions (name, notification_id) VALUES (?, ?)"
        " ON CONFLICT (name) DO UPDATE SET notification_id = excluded.notification_id"
        " WHERE relay_positions.notification_id < excluded.notification_id",
        (name, notification_id),
    )
