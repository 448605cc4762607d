"""Entry sources: which exchange records (keys) list each bank entry, so that a hash two
records share stays active until the last of them is deleted, and an updated record's old
hashes can be told from the others'.

Existing entries an exchange fetch brought (their import's origin ``exchange NAME``) get the
key they were stored with (``source_ref``), unless a deletion at source withdrew them; a key
that listed a hash already held was not recorded before: a full fetch
(``rempart exchange fetch --full``) records it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# sync.py's reason for an entry an exchange deleted, as this was written.
_WITHDRAWN_AT_SOURCE = "withdrawn at source"


def upgrade() -> None:
    sources = op.create_table(
        "bank_entry_sources",
        sa.Column("entry_id", sa.BigInteger, nullable=False),
        sa.Column("source_ref", sa.String(512), nullable=False),
        sa.Column("bank_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("entry_id", "source_ref", name="pk_bank_entry_sources"),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["bank_entries.id"], name="fk_bank_entry_sources_entry_id_bank_entries"
        ),
        sa.ForeignKeyConstraint(
            ["bank_id"], ["banks.id"], name="fk_bank_entry_sources_bank_id_banks"
        ),
    )
    op.create_index(
        "ix_bank_entry_sources_bank_id", "bank_entry_sources", ["bank_id", "source_ref"]
    )
    entries = sa.table(
        "bank_entries",
        sa.column("id"),
        sa.column("bank_id"),
        sa.column("import_id"),
        sa.column("source_ref"),
        sa.column("withdrawn_reason"),
    )
    imports = sa.table("bank_imports", sa.column("id"), sa.column("origin"))
    brought = (
        sa.select(entries.c.id, entries.c.source_ref, entries.c.bank_id)
        .select_from(entries.join(imports, imports.c.id == entries.c.import_id))
        .where(
            entries.c.source_ref.is_not(None),
            imports.c.origin.like("exchange %"),
            sa.or_(
                entries.c.withdrawn_reason.is_(None),
                entries.c.withdrawn_reason != _WITHDRAWN_AT_SOURCE,
            ),
        )
    )
    op.execute(sources.insert().from_select(["entry_id", "source_ref", "bank_id"], brought))


def downgrade() -> None:
    op.drop_index("ix_bank_entry_sources_bank_id", "bank_entry_sources")
    op.drop_table("bank_entry_sources")
