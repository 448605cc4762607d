"""The desk's notices: one per platform for several items of a case, the items each names
with its clock, each delivery, each reply, each escalation step (the last three
append-only), and one-time links to set a new secret.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_APPEND_ONLY = ("desk_deliveries", "desk_replies", "desk_escalations")


def _guards(dialect: str, table: str) -> list[str]:
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            for verb in ("UPDATE", "DELETE")
        ]
    return [
        f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{table} is append-only'; END $$",
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()",
    ]


def _when(name: str, *, nullable: bool = True) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "desk_notices",
        sa.Column("id", BigId, nullable=False),
        sa.Column("case_id", sa.BigInteger, nullable=False),
        sa.Column("platform", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("nature", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("options", sa.Text, nullable=False),
        sa.Column("rules", sa.Text, nullable=True),
        sa.Column("sealed", sa.LargeBinary, nullable=True),
        sa.Column("digest", sa.String(64), nullable=True),
        sa.Column("message_id", sa.String(255), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_by", sa.String(64), nullable=False),
        _when("created_at", nullable=False),
        _when("updated_at", nullable=False),
        _when("sent_at"),
        _when("order_at"),
        sa.Column("order_ref", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_desk_notices"),
        sa.ForeignKeyConstraint(
            ["case_id"], ["desk_cases.id"], name="fk_desk_notices_case_id_desk_cases"
        ),
    )
    op.create_index("ix_desk_notices_case_id", "desk_notices", ["case_id"])
    op.create_index("ix_desk_notices_state", "desk_notices", ["state"])
    op.create_table(
        "desk_notice_items",
        sa.Column("notice_id", sa.BigInteger, nullable=False),
        sa.Column("item_id", sa.BigInteger, nullable=False),
        _when("due_at"),
        _when("reminder_at"),
        _when("answered_at"),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("notice_id", "item_id", name="pk_desk_notice_items"),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["desk_notices.id"], name="fk_desk_notice_items_notice_id_desk_notices"
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["desk_items.id"], name="fk_desk_notice_items_item_id_desk_items"
        ),
    )
    op.create_index("ix_desk_notice_items_item_id", "desk_notice_items", ["item_id"])
    op.create_index("ix_desk_notice_items_due_at", "desk_notice_items", ["due_at"])
    op.create_table(
        "desk_deliveries",
        sa.Column("id", BigId, nullable=False),
        sa.Column("notice_id", sa.BigInteger, nullable=False),
        _when("at", nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("message_id", sa.String(255), nullable=True),
        sa.Column("ticket", sa.String(128), nullable=True),
        sa.Column("how", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_desk_deliveries"),
    )
    op.create_index("ix_desk_deliveries_notice_id", "desk_deliveries", ["notice_id"])
    op.create_table(
        "desk_replies",
        sa.Column("id", BigId, nullable=False),
        sa.Column("notice_id", sa.BigInteger, nullable=False),
        sa.Column("item_id", sa.BigInteger, nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("decision", sa.String(16), nullable=True),
        sa.Column("automated", sa.Boolean, nullable=True),
        sa.Column("redress", sa.Text, nullable=True),
        sa.Column("reference", sa.String(128), nullable=True),
        sa.Column("puid", sa.String(500), nullable=True),
        _when("at", nullable=False),
        _when("recorded_at", nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_desk_replies"),
    )
    op.create_index("ix_desk_replies_notice_id", "desk_replies", ["notice_id"])
    op.create_table(
        "desk_escalations",
        sa.Column("id", BigId, nullable=False),
        sa.Column("notice_id", sa.BigInteger, nullable=False),
        sa.Column("item_id", sa.BigInteger, nullable=True),
        sa.Column("step", sa.String(32), nullable=False),
        sa.Column("target", sa.String(255), nullable=True),
        _when("at", nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_desk_escalations"),
    )
    op.create_index("ix_desk_escalations_notice_id", "desk_escalations", ["notice_id"])
    op.create_table(
        "desk_reset_tokens",
        sa.Column("id", BigId, nullable=False),
        sa.Column("case_id", sa.BigInteger, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        _when("created_at", nullable=False),
        _when("expires_at", nullable=False),
        _when("used_at"),
        sa.PrimaryKeyConstraint("id", name="pk_desk_reset_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_desk_reset_tokens_token_hash"),
        sa.ForeignKeyConstraint(
            ["case_id"], ["desk_cases.id"], name="fk_desk_reset_tokens_case_id_desk_cases"
        ),
    )
    op.create_index("ix_desk_reset_tokens_case_id", "desk_reset_tokens", ["case_id"])
    dialect = op.get_bind().dialect.name
    for name in _APPEND_ONLY:
        for statement in _guards(dialect, name):
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        for name in _APPEND_ONLY:
            op.execute(f"DROP TRIGGER {name}_append_only ON {name}")
            op.execute(f"DROP FUNCTION {name}_append_only()")
    for name in (
        "desk_reset_tokens",
        "desk_escalations",
        "desk_replies",
        "desk_deliveries",
        "desk_notice_items",
        "desk_notices",
    ):
        op.drop_table(name)
