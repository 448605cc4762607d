"""An entry's first key back in ``bank_entries``: ``source_listed`` says that the exchange
record whose key is the entry's ``source_ref`` lists it, and ``bank_entry_sources`` keeps only
the further keys (a hash two records share). A fetch of a million distinct hashes then writes
no source row, where 0014's table took a row (and two index entries) per hash.

Each row of ``bank_entry_sources`` naming its entry's own ``source_ref`` becomes the flag; the
other rows stay. Downgraded, the flags become rows again.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_ENTRIES = sa.table(
    "bank_entries",
    sa.column("id"),
    sa.column("bank_id"),
    sa.column("source_ref"),
    sa.column("source_listed"),
)
_SOURCES = sa.table(
    "bank_entry_sources", sa.column("entry_id"), sa.column("source_ref"), sa.column("bank_id")
)


def upgrade() -> None:
    with op.batch_alter_table("bank_entries") as table:
        table.add_column(sa.Column("source_listed", sa.Boolean, nullable=False, server_default="0"))
    own_key = sa.and_(
        _SOURCES.c.entry_id == _ENTRIES.c.id, _SOURCES.c.source_ref == _ENTRIES.c.source_ref
    )
    op.execute(_ENTRIES.update().where(sa.exists().where(own_key)).values(source_listed=sa.true()))
    op.execute(
        _SOURCES.delete().where(sa.exists().where(own_key, _ENTRIES.c.source_listed.is_(sa.true())))
    )


def downgrade() -> None:
    flagged = sa.select(_ENTRIES.c.id, _ENTRIES.c.source_ref, _ENTRIES.c.bank_id).where(
        _ENTRIES.c.source_listed.is_(sa.true())
    )
    op.execute(_SOURCES.insert().from_select(["entry_id", "source_ref", "bank_id"], flagged))
    # SQLite's own DROP COLUMN (3.35 and later): batch mode would copy the table, which the
    # tables that refer to it do not let go.
    op.drop_column("bank_entries", "source_listed")
