"""Changes to API keys announced to every process (PostgreSQL)

Each process remembers the keys it authenticated (``services.key_cache``) and listens on the
channel ``api_keys_changed``: a trigger notifies it with the key's id on every UPDATE or DELETE
of a row of ``api_keys``, and with an empty payload (every key) on TRUNCATE. The notification
is sent when the change commits, and not at all if it rolls back.

SQLite needs nothing here: a process sees that another has committed through ``PRAGMA
data_version``, so on SQLite this migration only moves the recorded revision.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UPGRADE = [
    "CREATE OR REPLACE FUNCTION api_keys_changed() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "   IF TG_OP = 'TRUNCATE' THEN"
    "     PERFORM pg_notify('api_keys_changed', '');"
    "   ELSE"
    "     PERFORM pg_notify('api_keys_changed', OLD.key_id);"
    "   END IF;"
    "   RETURN NULL;"
    " END $$",
    # Dropped first, as a store whose recorded revision was lost runs every migration again.
    "DROP TRIGGER IF EXISTS api_keys_changed ON api_keys",
    "DROP TRIGGER IF EXISTS api_keys_truncated ON api_keys",
    "CREATE TRIGGER api_keys_changed AFTER UPDATE OR DELETE ON api_keys"
    " FOR EACH ROW EXECUTE FUNCTION api_keys_changed()",
    "CREATE TRIGGER api_keys_truncated AFTER TRUNCATE ON api_keys"
    " FOR EACH STATEMENT EXECUTE FUNCTION api_keys_changed()",
]

_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS api_keys_truncated ON api_keys",
    "DROP TRIGGER IF EXISTS api_keys_changed ON api_keys",
    "DROP FUNCTION IF EXISTS api_keys_changed()",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _UPGRADE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _DOWNGRADE:
            op.execute(statement)
