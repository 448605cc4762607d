"""Change notifications: on PostgreSQL, a commit that changes what matches (the bank change
log), the API keys or the protected persons (their change log) notifies the channel
``rempart_changes``, so that every server following the database wakes at once instead of at
its next poll. Triggers, so that no writer can forget; one notification per statement (and
PostgreSQL folds equal ones within a transaction). SQLite has no notifications: a no-op there.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# rempart.store.notify.CHANNEL; written out, as a migration must not change when code does.
_CHANNEL = "rempart_changes"
# Each table, and the statements on it that change what a server follows.
_TABLES = {
    "bank_changes": "INSERT",
    "person_changes": "INSERT",
    "api_keys": "INSERT OR UPDATE OR DELETE",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE FUNCTION rempart_notify_change() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN PERFORM pg_notify('{_CHANNEL}', TG_TABLE_NAME); RETURN NULL; END $$"
    )
    for table, events in _TABLES.items():
        op.execute(
            f"CREATE TRIGGER {table}_notify AFTER {events} ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION rempart_notify_change()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.execute(f"DROP TRIGGER {table}_notify ON {table}")
    op.execute("DROP FUNCTION rempart_notify_change()")
