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
    Float,
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
    "bank_entry_sources",
    "bank_imports",
    "banks",
    "desk_cases",
    "desk_checks",
    "desk_deliveries",
    "desk_escalations",
    "desk_events",
    "desk_evidence",
    "desk_evidence_blobs",
    "desk_item_entries",
    "desk_items",
    "desk_notice_items",
    "desk_notices",
    "desk_replies",
    "desk_reset_tokens",
    "desk_sealed",
    "desk_sightings",
    "desk_statements",
    "exchanges",
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
    # A match in a review bank (a victim's report, not yet confirmed) sends to review: it is
    # a ``bank.reported`` signal, not ``bank.match``, which blocks.
    Column("review", Boolean, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # How the bank's videos match (vPDQ, ``rempart.hashing.vpdq``): frames of quality under
    # ``video_quality`` left out, a frame matching within ``video_distance`` bits, a video
    # when these shares of the query's and the stored video's frames match. The reference's
    # defaults.
    Column("video_quality", SmallInteger, nullable=False, server_default="50"),
    Column("video_distance", SmallInteger, nullable=False, server_default="31"),
    Column("video_query_percent", Float, nullable=False, server_default="80"),
    Column("video_stored_percent", Float, nullable=False, server_default="0"),
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
    # Whether the exchange record whose key is ``source_ref`` lists the entry (its first key,
    # set when that record brought it): most entries have one key, held here; further keys
    # are rows of ``bank_entry_sources``.
    Column("source_listed", Boolean, nullable=False, server_default="0"),
    Column("note", Text, nullable=True),
    Column("withdrawn_at", DateTime(timezone=True), nullable=True),
    Column("withdrawn_reason", Text, nullable=True),
    # ``image``: ``hash`` is a PDQ hash. ``video``: ``features`` holds its vPDQ features (the
    # reference's text format) and ``hash`` a SHA-256 of them (``video_key``), so that a video
    # is held once; ``md5``/``sha256`` are the file's, when the list gave them.
    Column("kind", String(8), nullable=False, server_default="image"),
    Column("features", Text, nullable=True),
    Column("md5", String(32), nullable=True),
    Column("sha256", String(64), nullable=True),
    UniqueConstraint("bank_id", "hash"),
    Index("ix_bank_entries_import_id", "import_id"),
    Index("ix_bank_entries_source_ref", "source_ref"),
)

# Which exchange records (keys, as ``source_ref``) list each entry besides the one its
# ``bank_entries.source_ref`` names when ``source_listed``: an entry an exchange brought stays
# active while one key lists it, and is withdrawn when the last key goes. Only exchange fetches
# fill it, and only for a hash two records share (or one that a key lists again after it was
# withdrawn), so that a fetch of a million distinct hashes writes no row here.
bank_entry_sources = Table(
    "bank_entry_sources",
    metadata,
    Column("entry_id", BigInteger, ForeignKey("bank_entries.id"), primary_key=True),
    Column("source_ref", String(512), primary_key=True),
    Column("bank_id", Integer, ForeignKey("banks.id"), nullable=False),
    Index("ix_bank_entry_sources_bank_id", "bank_id", "source_ref"),
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

# A hash exchange (StopNCII, NCMEC, ThreatExchange, TAT) fetched into a bank of its own. The
# credential is a reference (a file path or an environment variable's name), never the secret;
# the checkpoint is JSON (python-threatexchange's checkpoint dataclass), never a pickle.
exchanges = Table(
    "exchanges",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("type", String(32), nullable=False),
    Column("bank_id", Integer, ForeignKey("banks.id"), nullable=False),
    Column("options", Text, nullable=False, server_default="{}"),
    Column("url", String(1024), nullable=True),
    Column("credentials_file", String(1024), nullable=True),
    Column("credentials_env", String(256), nullable=True),
    Column("checkpoint", Text, nullable=True),
    Column("enabled", Boolean, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_success_at", DateTime(timezone=True), nullable=True),
    Column("last_error", Text, nullable=True),
    # Totals over every fetch: signals received, hashes added, withdrawn, skipped (types
    # Rempart does not bank); ``entries``: the bank's active entries after the last fetch.
    Column("fetched", BigInteger, nullable=False, server_default="0"),
    Column("added", BigInteger, nullable=False, server_default="0"),
    Column("withdrawn", BigInteger, nullable=False, server_default="0"),
    Column("skipped", BigInteger, nullable=False, server_default="0"),
    Column("entries", BigInteger, nullable=False, server_default="0"),
    # Who fetches it now and until when (renewed each page): one fetcher per deployment.
    Column("lease_owner", String(128), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
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


# The desk (``rempart.desk``): a victim's case, asked its branch first (``minor`` when the
# person was under 18 when the image was made, or unsure). ``secret_hash`` is a SHA-256 of the
# victim's secret; ``wrapped_key`` the case's data key, wrapped by the deployment's key file,
# which seals its ``desk_sealed`` rows (erased, with the key, when the case is withdrawn).
desk_cases = Table(
    "desk_cases",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("number", String(16), nullable=False, unique=True),
    Column("branch", String(8), nullable=False),
    Column("state", String(16), nullable=False),
    Column("secret_hash", String(64), nullable=True),
    Column("flagger_key_id", String(32), nullable=True),
    Column("authority", String(32), nullable=True),
    Column("language", String(8), nullable=False, server_default="en"),
    Column("wrapped_key", LargeBinary, nullable=True),
    Column("wrapping_key_id", String(32), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # When the case last closed (None while open): its captures' retention counts from it.
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Index("ix_desk_cases_state", "state"),
    Index("ix_desk_cases_flagger_key_id", "flagger_key_id"),
)

# What a case asks to take down: a URL, a PDQ hash (made on the victim's device), or both.
desk_items = Table(
    "desk_items",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("case_id", BigInteger, ForeignKey("desk_cases.id"), nullable=False),
    Column("url", Text, nullable=True),
    Column("pdq", String(64), nullable=True),
    Column("quality", SmallInteger, nullable=True),
    Column("state", String(16), nullable=False),
    Column("sightings", Integer, nullable=False, server_default="0"),
    Column("last_sighted_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # Removal checks: when the URL is next due one, and when a check found it removed.
    Column("next_check_at", DateTime(timezone=True), nullable=True),
    Column("removal_verified_at", DateTime(timezone=True), nullable=True),
    Index("ix_desk_items_case_id", "case_id"),
    Index("ix_desk_items_pdq", "pdq"),
)

# The bank entries an item claims: two cases reporting one hash share its entry, which is
# withdrawn only when no active item claims it any more.
desk_item_entries = Table(
    "desk_item_entries",
    metadata,
    Column("item_id", BigInteger, ForeignKey("desk_items.id"), primary_key=True),
    Column("entry_id", BigInteger, ForeignKey("bank_entries.id"), primary_key=True),
    Column("bank_id", Integer, nullable=False),
    Index("ix_desk_item_entries_entry_id", "entry_id"),
)

# Sealed fields (notes, the victim's words, mandates): AES-256-GCM under the case's data key.
desk_sealed = Table(
    "desk_sealed",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("case_id", BigInteger, ForeignKey("desk_cases.id"), nullable=False),
    Column("field", String(32), nullable=False),
    Column("author", String(64), nullable=False),
    Column("sealed", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_desk_sealed_case_id", "case_id"),
)

# Everything that happened to a case, append-only (triggers refuse UPDATE and DELETE). The
# actor is a staff key id, or ``victim`` (never an address); ``detail`` is JSON, never a
# sealed field's plain text.
desk_events = Table(
    "desk_events",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("case_id", BigInteger, nullable=False),
    Column("item_id", BigInteger, nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("from_state", String(16), nullable=True),
    Column("to_state", String(16), nullable=True),
    Column("detail", Text, nullable=True),
    Index("ix_desk_events_case_id", "case_id"),
)

# A desk entry matched somewhere (a platform's match or scan): who asked, when, how many
# times since the last row. Append-only, like the audit log.
desk_sightings = Table(
    "desk_sightings",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("entry_id", BigInteger, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("key_id", String(32), nullable=True),
    Column("count", Integer, nullable=False),
    Index("ix_desk_sightings_entry_id", "entry_id"),
)


# A notice to one platform for several items of a case (``rempart.desk.notices``): drafted,
# then sent once (``sending`` while a channel has it). ``rules`` is the deadline rules of the
# platform's jurisdictions as JSON, fixed when sent; ``options`` what the draft was asked
# (nature, items, signatory); ``sealed`` the canonical record as sent, sealed with the case's
# data key (erased with it), and ``digest`` its SHA-256, which stays.
desk_notices = Table(
    "desk_notices",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("case_id", BigInteger, ForeignKey("desk_cases.id"), nullable=False),
    Column("platform", String(64), nullable=False),
    Column("language", String(8), nullable=False),
    Column("nature", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("options", Text, nullable=False),
    Column("rules", Text, nullable=True),
    Column("sealed", LargeBinary, nullable=True),
    Column("digest", String(64), nullable=True),
    Column("message_id", String(255), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("order_at", DateTime(timezone=True), nullable=True),
    Column("order_ref", String(128), nullable=True),
    Index("ix_desk_notices_case_id", "case_id"),
    Index("ix_desk_notices_state", "state"),
)

# The items a notice names, each with its clock: due and reminder times (fixed when sent, or
# when an authority's order starts a stricter one), and when and how the platform answered.
# Overdue is never stored: it is ``due_at`` against the clock, when read.
desk_notice_items = Table(
    "desk_notice_items",
    metadata,
    Column("notice_id", BigInteger, ForeignKey("desk_notices.id"), primary_key=True),
    Column("item_id", BigInteger, ForeignKey("desk_items.id"), primary_key=True),
    Column("due_at", DateTime(timezone=True), nullable=True),
    Column("reminder_at", DateTime(timezone=True), nullable=True),
    Column("answered_at", DateTime(timezone=True), nullable=True),
    Column("outcome", String(16), nullable=True),
    Index("ix_desk_notice_items_item_id", "item_id"),
    Index("ix_desk_notice_items_due_at", "due_at"),
)

# Each attempt to deliver a notice, by a channel or recorded by hand. Append-only.
desk_deliveries = Table(
    "desk_deliveries",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("notice_id", BigInteger, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("message_id", String(255), nullable=True),
    Column("ticket", String(128), nullable=True),
    Column("how", Text, nullable=True),
    Column("error", Text, nullable=True),
    Index("ix_desk_deliveries_notice_id", "notice_id"),
)

# What a platform answered: a receipt (DSA Art. 16(4)) or a decision on one item or all of
# them (removed, restricted, refused; by automated means or not; the redress it offers; its
# reference and statement of reasons' PUID when given). Append-only.
desk_replies = Table(
    "desk_replies",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("notice_id", BigInteger, nullable=False),
    Column("item_id", BigInteger, nullable=True),
    Column("kind", String(16), nullable=False),
    Column("decision", String(16), nullable=True),
    Column("automated", Boolean, nullable=True),
    Column("redress", Text, nullable=True),
    Column("reference", String(128), nullable=True),
    Column("puid", String(500), nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(64), nullable=False),
    Index("ix_desk_replies_notice_id", "notice_id"),
)

# An escalation step taken for a notice's item (the platform again, its host, search
# delisting, the regulator, the authority). Append-only.
desk_escalations = Table(
    "desk_escalations",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("notice_id", BigInteger, nullable=False),
    Column("item_id", BigInteger, nullable=True),
    Column("step", String(32), nullable=False),
    Column("target", String(255), nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(64), nullable=False),
    Index("ix_desk_escalations_notice_id", "notice_id"),
)

# One-time links that let a victim set a new secret, sent to the case's news address (sealed):
# a SHA-256 of the token, its expiry, and when it was used.
desk_reset_tokens = Table(
    "desk_reset_tokens",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("case_id", BigInteger, ForeignKey("desk_cases.id"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
    Index("ix_desk_reset_tokens_case_id", "case_id"),
)

# A statement of reasons (DSA Art. 17) for a decision the deployment took on content it hosts:
# one per (notice, item), its puid unique and never reused, the statement as JSON text in the
# Transparency Database's field names; ``exported_at`` when ``rempart sor export`` wrote it.
desk_statements = Table(
    "desk_statements",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("notice_id", BigInteger, nullable=False),
    Column("item_id", BigInteger, nullable=False),
    Column("puid", String(500), nullable=False, unique=True),
    Column("statement", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("exported_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("notice_id", "item_id"),
)

# Each check of a notified URL (``desk.recheck``): the method (HEAD only on a minor's case),
# the HTTP status (None when no answer), the outcome (present, removed, manual, unreachable),
# the PDQ distance of a served image to the item's. Append-only.
desk_checks = Table(
    "desk_checks",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("item_id", BigInteger, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("method", String(8), nullable=False),
    Column("status", SmallInteger, nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("distance", SmallInteger, nullable=True),
    Column("detail", String(300), nullable=True),
    Index("ix_desk_checks_item_id", "item_id"),
)

# A capture of an adult case's item (``desk.evidence``): the WARC's SHA-256 and size (kept
# after a purge), its manifest (JSON), its data key wrapped by the deployment's key file (None
# once purged), an RFC 3161 token, a reviewer's hold, the purge. The database refuses a row
# for a minor's case (trigger ``desk_evidence_adult_only``).
desk_evidence = Table(
    "desk_evidence",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("case_id", BigInteger, ForeignKey("desk_cases.id"), nullable=False),
    Column("item_id", BigInteger, ForeignKey("desk_items.id"), nullable=False),
    Column("url", Text, nullable=False),
    Column("requested_by", String(64), nullable=False),
    Column("captured_at", DateTime(timezone=True), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("manifest", Text, nullable=False),
    Column("wrapped_key", LargeBinary, nullable=True),
    Column("wrapping_key_id", String(32), nullable=True),
    Column("timestamp_token", LargeBinary, nullable=True),
    Column("held_at", DateTime(timezone=True), nullable=True),
    Column("held_by", String(64), nullable=True),
    Column("hold_reason", Text, nullable=True),
    Column("purged_at", DateTime(timezone=True), nullable=True),
    Column("purge_reason", String(32), nullable=True),
    Index("ix_desk_evidence_case_id", "case_id"),
)

# A capture's WARC, sealed (AES-256-GCM under its own data key): the stored bytes are never the
# plain ones. The row is deleted when the capture is purged.
desk_evidence_blobs = Table(
    "desk_evidence_blobs",
    metadata,
    Column("evidence_id", BigInteger, ForeignKey("desk_evidence.id"), primary_key=True),
    Column("sealed", LargeBinary, nullable=False),
)
