"""Hash banks: banks, their entries, the imports that added them, and the change log.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "banks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("threshold", sa.SmallInteger, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_banks"),
        sa.UniqueConstraint("name", name="uq_banks_name"),
    )
    op.create_table(
        "bank_imports",
        sa.Column("id", BigId, nullable=False),
        sa.Column("bank_id", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("origin", sa.String(512), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("added", sa.Integer, nullable=False),
        sa.Column("already_present", sa.Integer, nullable=False),
        sa.Column("withdrawn", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bank_imports"),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"], name="fk_bank_imports_bank_id_banks"),
    )
    op.create_table(
        "bank_entries",
        sa.Column("id", BigId, nullable=False),
        sa.Column("bank_id", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("quality", sa.SmallInteger, nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("import_id", sa.BigInteger, nullable=False),
        sa.Column("source_ref", sa.String(512), nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_bank_entries"),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"], name="fk_bank_entries_bank_id_banks"),
        sa.ForeignKeyConstraint(
            ["import_id"], ["bank_imports.id"], name="fk_bank_entries_import_id_bank_imports"
        ),
        sa.UniqueConstraint("bank_id", "hash", name="uq_bank_entries_bank_id"),
    )
    op.create_index("ix_bank_entries_import_id", "bank_entries", ["import_id"])
    op.create_table(
        "bank_changes",
        sa.Column("seq", BigId, nullable=False),
        sa.Column("bank_id", sa.Integer, nullable=False),
        sa.Column("entry_id", sa.BigInteger, nullable=True),
        sa.Column("op", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_bank_changes"),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"], name="fk_bank_changes_bank_id_banks"),
    )


def downgrade() -> None:
    op.drop_table("bank_changes")
    op.drop_index("ix_bank_entries_import_id", "bank_entries")
    op.drop_table("bank_entries")
    op.drop_table("bank_imports")
    op.drop_table("banks")
