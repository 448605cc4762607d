"""Banks declare a category (what their images are), which their matches carry.

Existing banks become ``ncii``, which every bank match was labelled before, except those whose
source is a child-protection list, which become ``child_sexual_abuse``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# As rempart.matching.formats.CHILD_PROTECTION_SOURCES was when this migration was written
# (a migration never changes with the code), as sources were typed.
_CHILD_PROTECTION = (
    "ncmec",
    "iwf",
    "thorn",
    "c3p",
    "arachnid",
    "project_arachnid",
    "project-arachnid",
    "inhope",
    "cybertip",
)


def upgrade() -> None:
    with op.batch_alter_table("banks") as table:
        table.add_column(
            sa.Column("category", sa.String(32), nullable=False, server_default="ncii")
        )
    banks = sa.table("banks", sa.column("source", sa.String), sa.column("category", sa.String))
    op.execute(
        banks.update()
        .where(sa.func.lower(banks.c.source).in_(_CHILD_PROTECTION))
        .values(category="child_sexual_abuse")
    )


def downgrade() -> None:
    with op.batch_alter_table("banks") as table:
        table.drop_column("category")
