"""The desk: cases, their items, the bank entries each item claims, sealed fields, the
append-only case events and sightings; banks gain a ``review`` flag (their matches send to
review instead of blocking) and entries an index on ``source_ref``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_APPEND_ONLY = ("desk_events", "desk_sightings")


def _sqlite_guards(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        for verb in ("UPDATE", "DELETE")
    ]


def _postgres_guards(table: str) -> list[str]:
    return [
        f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{table} is append-only'; END $$",
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()",
    ]


def upgrade() -> None:
    with op.batch_alter_table("banks") as batch:
        batch.add_column(sa.Column("review", sa.Boolean, nullable=False, server_default="0"))
    op.create_index("ix_bank_entries_source_ref", "bank_entries", ["source_ref"])
    op.create_table(
        "desk_cases",
        sa.Column("id", BigId, nullable=False),
        sa.Column("number", sa.String(16), nullable=False),
        sa.Column("branch", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=True),
        sa.Column("flagger_key_id", sa.String(32), nullable=True),
        sa.Column("authority", sa.String(32), nullable=True),
        sa.Column("language", sa.String(8), nullable=False, server_default="en"),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=True),
        sa.Column("wrapping_key_id", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_desk_cases"),
        sa.UniqueConstraint("number", name="uq_desk_cases_number"),
    )
    op.create_index("ix_desk_cases_state", "desk_cases", ["state"])
    op.create_index("ix_desk_cases_flagger_key_id", "desk_cases", ["flagger_key_id"])
    op.create_table(
        "desk_items",
        sa.Column("id", BigId, nullable=False),
        sa.Column("case_id", sa.BigInteger, nullable=False),
        sa.Column("url", sa.Text, nullable=True),
        sa.Column("pdq", sa.String(64), nullable=True),
        sa.Column("quality", sa.SmallInteger, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("sightings", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_sighted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_desk_items"),
        sa.ForeignKeyConstraint(
            ["case_id"], ["desk_cases.id"], name="fk_desk_items_case_id_desk_cases"
        ),
    )
    op.create_index("ix_desk_items_case_id", "desk_items", ["case_id"])
    op.create_index("ix_desk_items_pdq", "desk_items", ["pdq"])
    op.create_table(
        "desk_item_entries",
        sa.Column("item_id", sa.BigInteger, nullable=False),
        sa.Column("entry_id", sa.BigInteger, nullable=False),
        sa.Column("bank_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("item_id", "entry_id", name="pk_desk_item_entries"),
        sa.ForeignKeyConstraint(
            ["item_id"], ["desk_items.id"], name="fk_desk_item_entries_item_id_desk_items"
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["bank_entries.id"],
            name="fk_desk_item_entries_entry_id_bank_entries",
        ),
    )
    op.create_index("ix_desk_item_entries_entry_id", "desk_item_entries", ["entry_id"])
    op.create_table(
        "desk_sealed",
        sa.Column("id", BigId, nullable=False),
        sa.Column("case_id", sa.BigInteger, nullable=False),
        sa.Column("field", sa.String(32), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_desk_sealed"),
        sa.ForeignKeyConstraint(
            ["case_id"], ["desk_cases.id"], name="fk_desk_sealed_case_id_desk_cases"
        ),
    )
    op.create_index("ix_desk_sealed_case_id", "desk_sealed", ["case_id"])
    op.create_table(
        "desk_events",
        sa.Column("id", BigId, nullable=False),
        sa.Column("case_id", sa.BigInteger, nullable=False),
        sa.Column("item_id", sa.BigInteger, nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_desk_events"),
    )
    op.create_index("ix_desk_events_case_id", "desk_events", ["case_id"])
    op.create_table(
        "desk_sightings",
        sa.Column("id", BigId, nullable=False),
        sa.Column("entry_id", sa.BigInteger, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_desk_sightings"),
    )
    op.create_index("ix_desk_sightings_entry_id", "desk_sightings", ["entry_id"])
    dialect = op.get_bind().dialect.name
    for name in _APPEND_ONLY:
        guards = _sqlite_guards(name) if dialect == "sqlite" else _postgres_guards(name)
        for statement in guards:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        for name in _APPEND_ONLY:
            op.execute(f"DROP TRIGGER {name}_append_only ON {name}")
            op.execute(f"DROP FUNCTION {name}_append_only()")
    for name in (
        "desk_sightings",
        "desk_events",
        "desk_sealed",
        "desk_item_entries",
        "desk_items",
        "desk_cases",
    ):
        op.drop_table(name)
    op.drop_index("ix_bank_entries_source_ref", "bank_entries")
    with op.batch_alter_table("banks") as batch:
        batch.drop_column("review")
