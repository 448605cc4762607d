"""The desk's statements of reasons (DSA Art. 17): one per decision the deployment took on an
item it hosts, its puid unique and never reused, and when it was exported.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "desk_statements",
        sa.Column("id", BigId, nullable=False),
        sa.Column("notice_id", sa.BigInteger, nullable=False),
        sa.Column("item_id", sa.BigInteger, nullable=False),
        sa.Column("puid", sa.String(500), nullable=False),
        sa.Column("statement", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_desk_statements"),
        sa.UniqueConstraint("puid", name="uq_desk_statements_puid"),
        sa.UniqueConstraint("notice_id", "item_id", name="uq_desk_statements_notice_id"),
    )


def downgrade() -> None:
    op.drop_table("desk_statements")
