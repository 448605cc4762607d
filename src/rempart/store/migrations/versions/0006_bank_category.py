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

# As rempart.matching.formats.CHILD_PROTECTION_SOURCES was when this migration was written: a
# migration never changes with the code.
_CHILD_PROTECTION = frozenset(
    {"ncmec", "iwf", "thorn", "c3p", "arachnid", "projectarachnid", "inhope", "cybertip"}
)


def upgrade() -> None:
    with op.batch_alter_table("banks") as table:
        table.add_column(
            sa.Column("category", sa.String(32), nullable=False, server_default="ncii")
        )
    banks = sa.table(
        "banks", sa.column("id", sa.Integer), sa.column("source"), sa.column("category")
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(banks.c.id, banks.c.source)).all()
    child = [row.id for row in rows if _key(row.source) in _CHILD_PROTECTION]
    if child:
        connection.execute(
            banks.update().where(banks.c.id.in_(child)).values(category="child_sexual_abuse")
        )


def _key(source: str) -> str:
    """The source in lowercase letters and digits, as the code compares it."""
    return "".join(char for char in source.lower() if char.isascii() and char.isalnum())


def downgrade() -> None:
    with op.batch_alter_table("banks") as table:
        table.drop_column("category")
