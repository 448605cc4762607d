"""Entry sources: which exchange records (keys) list each bank entry, so that a hash two
records share stays active until the last of them is deleted, and an updated record's old
hashes can be told from the others'.

Existing entries an exchange's fetch brought into its bank (their import's origin
``exchange NAME``) get the key they were stored with (``source_ref``), unless a deletion at
source withdrew them. A key that listed a hash already held was not recorded before, so each
exchange's next fetch is made a full one (its checkpoint set to sync's marker of an unfinished
full fetch), which records every key.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# sync.py's reason for an entry an exchange deleted, and its checkpoint marking a full fetch
# unfinished, as this was written.
_WITHDRAWN_AT_SOURCE = "withdrawn at source"
_FULL_FETCH_UNFINISHED = json.dumps({"rempart": "full fetch unfinished"})


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
    exchanges = sa.table(
        "exchanges", sa.column("name"), sa.column("bank_id"), sa.column("checkpoint")
    )
    brought = (
        sa.select(entries.c.id, entries.c.source_ref, entries.c.bank_id)
        .select_from(
            entries.join(imports, imports.c.id == entries.c.import_id).join(
                exchanges, exchanges.c.bank_id == entries.c.bank_id
            )
        )
        .where(
            entries.c.source_ref.is_not(None),
            imports.c.origin == sa.literal("exchange ") + exchanges.c.name,
            sa.or_(
                entries.c.withdrawn_reason.is_(None),
                entries.c.withdrawn_reason != _WITHDRAWN_AT_SOURCE,
            ),
        )
    )
    op.execute(sources.insert().from_select(["entry_id", "source_ref", "bank_id"], brought))
    op.execute(exchanges.update().values(checkpoint=_FULL_FETCH_UNFINISHED))


def downgrade() -> None:
    op.drop_index("ix_bank_entry_sources_bank_id", "bank_entry_sources")
    op.drop_table("bank_entry_sources")
