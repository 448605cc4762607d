"""The desk's removal checks and evidence: each check of a notified URL (append-only), when an
item is next checked and when its removal was verified, when a case closed, and captures (their
sealed WARCs apart), which the database refuses for a minor's case.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_MINOR_REFUSED = "a case of the minor branch is never captured"
_MINOR_KEPT = "a case moves to the minor branch only once its captures are purged"


def _when(name: str, *, nullable: bool = True) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _guards(dialect: str) -> list[str]:
    """``desk_checks`` append-only; a capture refused for a minor's case (on insert, and when
    its blob is written)."""
    minor = "(SELECT branch FROM desk_cases WHERE id = NEW.case_id) = 'minor'"
    blob_minor = (
        "(SELECT c.branch FROM desk_cases c JOIN desk_evidence e ON e.case_id = c.id "
        "WHERE e.id = NEW.evidence_id) = 'minor'"
    )
    # A case moves to the minor branch only once its captures are purged (the desk purges
    # them in the same transaction, first).
    kept = (
        "NEW.branch = 'minor' AND EXISTS (SELECT 1 FROM desk_evidence "
        "WHERE case_id = NEW.id AND purged_at IS NULL)"
    )
    if dialect == "sqlite":
        return [
            *(
                f"CREATE TRIGGER desk_checks_no_{verb.lower()} BEFORE {verb} ON desk_checks "
                "BEGIN SELECT RAISE(ABORT, 'desk_checks is append-only'); END"
                for verb in ("UPDATE", "DELETE")
            ),
            "CREATE TRIGGER desk_cases_minor_no_captures BEFORE UPDATE OF branch ON desk_cases "
            f"WHEN {kept} BEGIN SELECT RAISE(ABORT, '{_MINOR_KEPT}'); END",
            "CREATE TRIGGER desk_evidence_adult_only BEFORE INSERT ON desk_evidence "
            f"WHEN {minor} BEGIN SELECT RAISE(ABORT, '{_MINOR_REFUSED}'); END",
            "CREATE TRIGGER desk_evidence_blobs_adult_only BEFORE INSERT ON desk_evidence_blobs "
            f"WHEN {blob_minor} BEGIN SELECT RAISE(ABORT, '{_MINOR_REFUSED}'); END",
        ]
    return [
        "CREATE FUNCTION desk_checks_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'desk_checks is append-only'; END $$",
        "CREATE TRIGGER desk_checks_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON "
        "desk_checks FOR EACH STATEMENT EXECUTE FUNCTION desk_checks_append_only()",
        "CREATE FUNCTION desk_evidence_adult_only() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN IF {minor} THEN RAISE EXCEPTION '{_MINOR_REFUSED}'; END IF; "
        "RETURN NEW; END $$",
        "CREATE TRIGGER desk_evidence_adult_only BEFORE INSERT ON desk_evidence "
        "FOR EACH ROW EXECUTE FUNCTION desk_evidence_adult_only()",
        "CREATE FUNCTION desk_evidence_blobs_adult_only() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN IF {blob_minor} THEN RAISE EXCEPTION '{_MINOR_REFUSED}'; END IF; "
        "RETURN NEW; END $$",
        "CREATE TRIGGER desk_evidence_blobs_adult_only BEFORE INSERT ON desk_evidence_blobs "
        "FOR EACH ROW EXECUTE FUNCTION desk_evidence_blobs_adult_only()",
        "CREATE FUNCTION desk_cases_minor_no_captures() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN IF {kept} THEN RAISE EXCEPTION '{_MINOR_KEPT}'; END IF; RETURN NEW; END $$",
        "CREATE TRIGGER desk_cases_minor_no_captures BEFORE UPDATE OF branch ON desk_cases "
        "FOR EACH ROW EXECUTE FUNCTION desk_cases_minor_no_captures()",
    ]


def upgrade() -> None:
    with op.batch_alter_table("desk_cases") as batch:
        batch.add_column(_when("closed_at"))
    # A case closed before this migration: its retention counts from its last change.
    op.execute("UPDATE desk_cases SET closed_at = updated_at WHERE state = 'closed'")
    with op.batch_alter_table("desk_items") as batch:
        batch.add_column(_when("next_check_at"))
        batch.add_column(_when("removal_verified_at"))
    op.create_table(
        "desk_checks",
        sa.Column("id", BigId, nullable=False),
        sa.Column("item_id", sa.BigInteger, nullable=False),
        _when("at", nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("status", sa.SmallInteger, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("distance", sa.SmallInteger, nullable=True),
        sa.Column("detail", sa.String(300), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_desk_checks"),
    )
    op.create_index("ix_desk_checks_item_id", "desk_checks", ["item_id"])
    op.create_table(
        "desk_evidence",
        sa.Column("id", BigId, nullable=False),
        sa.Column("case_id", sa.BigInteger, nullable=False),
        sa.Column("item_id", sa.BigInteger, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        _when("captured_at", nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("manifest", sa.Text, nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=True),
        sa.Column("wrapping_key_id", sa.String(32), nullable=True),
        sa.Column("timestamp_token", sa.LargeBinary, nullable=True),
        _when("held_at"),
        sa.Column("held_by", sa.String(64), nullable=True),
        sa.Column("hold_reason", sa.Text, nullable=True),
        _when("purged_at"),
        sa.Column("purge_reason", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_desk_evidence"),
        sa.ForeignKeyConstraint(
            ["case_id"], ["desk_cases.id"], name="fk_desk_evidence_case_id_desk_cases"
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["desk_items.id"], name="fk_desk_evidence_item_id_desk_items"
        ),
    )
    op.create_index("ix_desk_evidence_case_id", "desk_evidence", ["case_id"])
    op.create_table(
        "desk_evidence_blobs",
        sa.Column("evidence_id", sa.BigInteger, nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("evidence_id", name="pk_desk_evidence_blobs"),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["desk_evidence.id"],
            name="fk_desk_evidence_blobs_evidence_id_desk_evidence",
        ),
    )
    for statement in _guards(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP TRIGGER desk_checks_append_only ON desk_checks")
        op.execute("DROP FUNCTION desk_checks_append_only()")
        for table in ("desk_evidence", "desk_evidence_blobs"):
            op.execute(f"DROP TRIGGER {table}_adult_only ON {table}")
            op.execute(f"DROP FUNCTION {table}_adult_only()")
        op.execute("DROP TRIGGER desk_cases_minor_no_captures ON desk_cases")
        op.execute("DROP FUNCTION desk_cases_minor_no_captures()")
    else:
        op.execute("DROP TRIGGER desk_cases_minor_no_captures")
    op.drop_table("desk_evidence_blobs")
    op.drop_table("desk_evidence")
    op.drop_table("desk_checks")
    with op.batch_alter_table("desk_items") as batch:
        batch.drop_column("removal_verified_at")
        batch.drop_column("next_check_at")
    with op.batch_alter_table("desk_cases") as batch:
        batch.drop_column("closed_at")
