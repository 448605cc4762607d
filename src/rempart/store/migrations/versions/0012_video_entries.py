"""Video banks: an entry is an image (a PDQ hash) or a video (its vPDQ features, keyed by a
SHA-256 of them, with the file's MD5 and SHA-256 when known), and each bank says how its
videos match (vPDQ's quality, distance and the two shares, the reference's defaults).

Existing entries are images; existing banks get the reference's thresholds.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# The reference's defaults (rempart.hashing.vpdq as this was written; a migration never
# changes with the code).
_BANK_COLUMNS = (
    ("video_quality", sa.SmallInteger, "50"),
    ("video_distance", sa.SmallInteger, "31"),
    ("video_query_percent", sa.Float, "80"),
    ("video_stored_percent", sa.Float, "0"),
)


def upgrade() -> None:
    with op.batch_alter_table("banks") as table:
        for name, kind, default in _BANK_COLUMNS:
            table.add_column(sa.Column(name, kind, nullable=False, server_default=default))
    with op.batch_alter_table("bank_entries") as table:
        table.add_column(sa.Column("kind", sa.String(8), nullable=False, server_default="image"))
        table.add_column(sa.Column("features", sa.Text, nullable=True))
        table.add_column(sa.Column("md5", sa.String(32), nullable=True))
        table.add_column(sa.Column("sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    # A video entry has no meaning to the older schema: it goes, with its change-log rows.
    entries = sa.table("bank_entries", sa.column("id"), sa.column("kind"))
    changes = sa.table("bank_changes", sa.column("entry_id"))
    videos = sa.select(entries.c.id).where(entries.c.kind == "video")
    op.execute(changes.delete().where(changes.c.entry_id.in_(videos)))
    op.execute(entries.delete().where(entries.c.kind == "video"))
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35 and later too): a batch's copy of
    # ``banks`` could not drop the table the others' foreign keys point at.
    for name in ("sha256", "md5", "features", "kind"):
        op.drop_column("bank_entries", name)
    for name, _kind, _default in reversed(_BANK_COLUMNS):
        op.drop_column("banks", name)
