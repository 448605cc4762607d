"""Exchanges: hash lists fetched from StopNCII, NCMEC, ThreatExchange and TAT, each into a bank
of its own, incrementally from a stored checkpoint (JSON), with a reference to its credential
(a file or an environment variable: never the secret) and the outcome of its last fetch.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchanges",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("bank_id", sa.Integer, nullable=False),
        sa.Column("options", sa.Text, nullable=False, server_default="{}"),
        sa.Column("url", sa.String(1024), nullable=True),
        sa.Column("credentials_file", sa.String(1024), nullable=True),
        sa.Column("credentials_env", sa.String(256), nullable=True),
        sa.Column("checkpoint", sa.Text, nullable=True),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("fetched", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("added", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("withdrawn", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("skipped", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("entries", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("lease_owner", sa.String(128), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_exchanges"),
        sa.UniqueConstraint("name", name="uq_exchanges_name"),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"], name="fk_exchanges_bank_id_banks"),
    )


def downgrade() -> None:
    op.drop_table("exchanges")
