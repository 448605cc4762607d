"""Protected persons' other names and distinctive parts, for the prompt gate.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("protected_persons") as table:
        table.add_column(sa.Column("aliases", sa.Text, nullable=False, server_default="[]"))
        table.add_column(sa.Column("distinctive", sa.Text, nullable=True))
        table.add_column(sa.Column("names_updated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("protected_persons") as table:
        table.drop_column("names_updated_at")
        table.drop_column("distinctive")
        table.drop_column("aliases")
