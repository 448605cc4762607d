"""The database schema, as SQLAlchemy Core tables. Migrations in ``migrations/`` create it.

Hashes are stored as 64 lowercase hex digits: readable in any SQL client, identical on SQLite
and PostgreSQL, and the form every hash-list format uses. Times are UTC.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "api_keys",
    "audit_log",
    "bank_changes",
    "bank_entries",
    "bank_imports",
    "banks",
    "metadata",
    "person_changes",
    "person_embeddings",
    "protected_persons",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments an INTEGER PRIMARY KEY (its rowid), so BIGINT keys become INTEGER
# there; they are 64-bit on both.
BigId = BigInteger().with_variant(Integer(), "sqlite")

banks = Table(
    "banks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("source", String(32), nullable=False, default="local"),
    # A rempart.matching.formats.BankCategory: what the bank's images are.
    Column("category", String(32), nullable=False, server_default="ncii"),
    Column("threshold", SmallInteger, nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# One row per operation that added entries (an import, a single add): what, when, from where.
bank_imports = Table(
    "bank_imports",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("bank_id", Integer, ForeignKey("banks.id"), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("origin", String(512), nullable=False),
    Column("format", String(16), nullable=False),
    Column("added", Integer, nullable=False, default=0),
    Column("already_present", Integer, nullable=False, default=0),
    Column("withdrawn", Integer, nullable=False, default=0),
)

bank_entries = Table(
    "bank_entries",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("bank_id", Integer, ForeignKey("banks.id"), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("quality", SmallInteger, nullable=True),
    Column("added_at", DateTime(timezone=True), nullable=False),
    Column("import_id", BigInteger, ForeignKey("bank_imports.id"), nullable=False),
    Column("source_ref", String(512), nullable=True),
    Column("note", Text, nullable=True),
    Column("withdrawn_at", DateTime(timezone=True), nullable=True),
    Column("withdrawn_reason", Text, nullable=True),
    UniqueConstraint("bank_id", "hash"),
    Index("ix_bank_entries_import_id", "import_id"),
)

# Every change to what matches, in commit order: a matcher in another process follows this
# log instead of reloading a bank. ``entry_id`` is null for a change to the bank itself.
bank_changes = Table(
    "bank_changes",
    metadata,
    Column("seq", BigId, primary_key=True),
    Column("bank_id", Integer, ForeignKey("banks.id"), nullable=False),
    Column("entry_id", BigInteger, nullable=True),
    Column("op", String(16), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

# The protected-persons registry: people who asked (or for whom an association asked) that
# sexual imagery of them be stopped. Only face embeddings are kept, never the photos.
protected_persons = Table(
    "protected_persons",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Other names the prompt gate reads for the person, and the parts of the name that name
    # them alone (NULL: decided from word frequencies): JSON lists of strings.
    Column("aliases", Text, nullable=False, server_default="[]"),
    Column("distinctive", Text, nullable=True),
    Column("names_updated_at", DateTime(timezone=True), nullable=True),
)

# Every enrolment, renaming and removal, in commit order: a long-running process compares the
# last ``seq`` it read with the newest to know its gallery and names are stale.
person_changes = Table(
    "person_changes",
    metadata,
    Column("seq", BigId, primary_key=True),
    Column("person", String(200), nullable=False),
    Column("op", String(16), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

person_embeddings = Table(
    "person_embeddings",
    metadata,
    Column("id", BigId, primary_key=True),
    Column(
        "person_id",
        Integer,
        ForeignKey("protected_persons.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("model", String(64), nullable=False),
    Column("vector", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_person_embeddings_person_id", "person_id"),
)

# API keys: only an Argon2 hash of each secret is kept; ``key_id`` is the public part of the
# key, by which a request's key is found. A revoked key stays on record for the audit log.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key_id", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False, default=""),
    Column("role", String(16), nullable=False),
    Column("secret_hash", String(256), nullable=False),
    Column("rate_limit", Integer, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

# Every API request: who (the key), what (method, route, target), when, and the outcome
# (status, verdict). Append-only: triggers refuse UPDATE and DELETE. Never image bytes.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("key_id", String(32), nullable=True),
    Column("role", String(16), nullable=True),
    Column("method", String(8), nullable=False),
    Column("route", String(200), nullable=False),
    Column("target", String(512), nullable=True),
    Column("status", SmallInteger, nullable=False),
    Column("outcome", String(64), nullable=True),
    Column("detail", Text, nullable=True),
    Column("client", String(64), nullable=True),
    Column("duration_ms", Integer, nullable=False),
    Index("ix_audit_log_at", "at"),
    Index("ix_audit_log_key_id", "key_id"),
)
