"""The protected-persons registry: persons and their face embeddings (never photos).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "protected_persons",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_protected_persons"),
        sa.UniqueConstraint("name", name="uq_protected_persons_name"),
    )
    op.create_table(
        "person_embeddings",
        sa.Column("id", BigId, nullable=False),
        sa.Column("person_id", sa.Integer, nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_person_embeddings"),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["protected_persons.id"],
            name="fk_person_embeddings_person_id_protected_persons",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_person_embeddings_person_id", "person_embeddings", ["person_id"])


def downgrade() -> None:
    op.drop_table("person_embeddings")
    op.drop_table("protected_persons")
