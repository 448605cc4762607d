"""Matching hashes against banks: an in-memory ``HashIndex`` that follows the change log.

A ``BankMatcher`` loads the active entries of the banks it watches once, then applies the
change log (``bank_changes``) incrementally: an import, a withdrawal, a bank disabled or its
threshold changed in another process takes effect here at the next refresh, at most
``refresh_interval`` seconds later, without reloading anything. A server passes
``refresh_interval=None`` and calls ``refresh`` from a thread of its own, so that no match
waits for the database. Matching and refreshing are safe from several threads: a search
reads the index's current snapshot (see ``HashIndex``) and takes no lock.

``BankMatcher.resume`` starts from an index saved earlier instead of reading every entry, and
replays the log from the position it was saved at (see ``rempart.matching.banks.snapshot``).

Videos (vPDQ) are held apart: a second ``HashIndex`` of every stored video's frame hashes
finds the stored videos a query shares a frame with, and each is then matched exactly as vPDQ
defines it (``rempart.hashing.vpdq.match``, with its bank's thresholds). A query video's frames
also go through the image index, so that a banked image seen in a video is found. The videos
are not in a snapshot: they are read from the database at each start, as the banks' states
are, and the log replayed from the snapshot's position brings them to the same state.

Exact entries (a file's MD5 or SHA-256, ``md5`` and ``sha256`` kinds) are a dict from digest
to entries: a file's own digests are looked up in it (``match_file_digests``), a set lookup
per file. Like the videos, they are read from the database at each start, never snapshotted,
and follow the log as images do.
"""

from __future__ import annotations

import bisect
import io
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, TypeVar

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, select

from rempart.errors import (
    ImportLineError,
    MediaError,
    MediaErrorCode,
    UnknownBankError,
    media_os_error,
)
from rempart.hashing.files import FileHashes, file_digests
from rempart.hashing.hash256 import pack
from rempart.hashing.pdq import DIHEDRAL_NAMES, MIN_QUALITY
from rempart.hashing.vpdq import VpdqFeature, vpdq_hash, vpdq_hash_mirrored
from rempart.hashing.vpdq import match as vpdq_match
from rempart.matching.banks.bank import (
    DIGEST_KINDS,
    IMAGE,
    MD5,
    SHA256,
    VIDEO,
    VideoThresholds,
    last_change,
    stored_features,
    video_thresholds,
)
from rempart.matching.banks.formats import HashListFormat, Record, read_records
from rempart.matching.formats import BankCategory, stored_category
from rempart.matching.index import HashIndex, Matches, SavedState, Words
from rempart.media import MediaFailure
from rempart.store import Store
from rempart.store.schema import bank_changes, bank_entries, banks
from rempart.video import Video, VideoLimits, load_file

__all__ = [
    "FEATURE_SUFFIXES",
    "MIRROR",
    "BankMatch",
    "BankMatcher",
    "FrameMatch",
    "ImageMatch",
    "VideoFileMatch",
    "VideoMatch",
    "VideoMatches",
    "is_feature_file",
    "match_images",
    "match_video_file",
    "parse_feature_bytes",
    "video_features",
]

MIRROR: Final = "flipy"
"""The variant of a match found through a video's frames mirrored left to right: PDQ's name
for that flip (``DIHEDRAL_NAMES``), as an image's matches say it."""
# An index id is the bank id above the entry id, so a match says its bank without a lookup.
_ENTRY_BITS: Final = 40
_ENTRY_MASK: Final = (1 << _ENTRY_BITS) - 1
_LOAD_BATCH: Final = 100_000
_DIGEST_TAGS: Final = {MD5: (b"m", 32), SHA256: (b"s", 64)}
# The digests of no bytes: a video's frame, hashed as a picture, has no file of its own; an
# empty file is no image, so a banked digest of one is never what a match means.
_EMPTY: Final = frozenset(
    {
        "d41d8cd98f00b204e9800998ecf8427e",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    }
)


@dataclass(frozen=True, slots=True)
class BankMatch:
    """One bank entry within its bank's threshold of a query, with the bank's category."""

    bank: str
    entry_id: int
    hash: str
    distance: int
    variant: str | None = None
    category: BankCategory = BankCategory.NCII
    review: bool = False
    """The bank is a review bank (``Bank.review``): the match sends to review, not to a block."""
    kind: str | None = None
    """``md5`` or ``sha256`` for an exact entry's match (``hash`` the digest, ``distance``
    0); None for a PDQ hash's."""

    def to_json(self, *, variant: bool = True) -> dict[str, Any]:
        """``{"bank", "category", "entry_id", "hash", "distance", "variant"}``; without
        ``variant`` when the query was a single hash, not an image's rotations and flips;
        with ``"review": true`` for a match in a review bank, ``"kind": "md5"`` (or
        ``sha256``) for an exact entry's."""
        record: dict[str, Any] = {
            "bank": self.bank,
            "category": self.category.value,
            "entry_id": self.entry_id,
            "hash": self.hash,
            "distance": self.distance,
            "variant": self.variant,
        }
        if not variant:
            del record["variant"]
        if self.review:
            record["review"] = True
        if self.kind is not None:
            record["kind"] = self.kind
            record.pop("variant", None)
        return record

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> BankMatch:
        """The match ``to_json`` wrote (a signal's evidence); ``KeyError`` or ``ValueError``
        for a record it did not write."""
        return cls(
            bank=str(record["bank"]),
            entry_id=int(record["entry_id"]),
            hash=str(record["hash"]),
            distance=int(record["distance"]),
            variant=record.get("variant"),
            category=stored_category(str(record.get("category", BankCategory.NCII.value))),
            review=record.get("review") is True,
            kind=record["kind"] if record.get("kind") in DIGEST_KINDS else None,
        )


@dataclass(frozen=True, slots=True)
class VideoMatch:
    """A stored video a query video matches as vPDQ defines it, in its bank's thresholds.

    Attributes:
        query_percent: share of the query's usable frames found in the stored video.
        stored_percent: share of the stored video's usable frames found in the query.
        timestamps: the query's frames (seconds) within the bank's distance of one of the
            stored video's.
        variant: ``MIRROR`` (``flipy``) when it was the query's mirrored frames that matched.
    """

    bank: str
    entry_id: int
    query_percent: float
    stored_percent: float
    timestamps: tuple[float, ...]
    category: BankCategory = BankCategory.NCII
    review: bool = False
    variant: str | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"bank", "category", "entry_id", "kind": "video", "query_percent",
        "stored_percent", "timestamps"}``, with ``variant`` and ``review`` when set."""
        record: dict[str, Any] = {
            "bank": self.bank,
            "category": self.category.value,
            "entry_id": self.entry_id,
            "kind": VIDEO,
            "query_percent": round(self.query_percent, 2),
            "stored_percent": round(self.stored_percent, 2),
            "timestamps": list(self.timestamps),
        }
        if self.variant:
            record["variant"] = self.variant
        if self.review:
            record["review"] = True
        return record


@dataclass(frozen=True, slots=True)
class FrameMatch:
    """A banked image found in frames of a query video, at those frames' timestamps."""

    match: BankMatch
    timestamps: tuple[float, ...]

    def to_json(self) -> dict[str, Any]:
        """The image's match (``BankMatch.to_json``) with ``"kind": "image"`` and the
        ``timestamps`` of the frames it was found in."""
        return {
            **self.match.to_json(variant=self.match.variant is not None),
            "kind": IMAGE,
            "timestamps": list(self.timestamps),
        }


@dataclass(frozen=True, slots=True)
class VideoMatches:
    """What a query video matched: stored videos, and banked images in its frames."""

    videos: list[VideoMatch]
    images: list[FrameMatch]
    exact: list[BankMatch] = field(default_factory=list)
    """Exact entries the video's file digests match (``BankMatcher.match_file_digests``)."""

    @property
    def bank_matches(self) -> list[BankMatch]:
        """The banked images found, as image matches (what the desk's watch observes), and
        the exact entries."""
        return [found.match for found in self.images] + self.exact

    def to_json(self) -> list[dict[str, Any]]:
        """Every match, videos first: each a ``VideoMatch`` or ``FrameMatch`` record, then the
        exact entries' (``BankMatch`` records with their ``kind``)."""
        return (
            [m.to_json() for m in self.videos]
            + [m.to_json() for m in self.images]
            + [m.to_json() for m in self.exact]
        )


@dataclass(frozen=True, slots=True)
class _BankState:
    name: str
    threshold: int
    enabled: bool
    category: BankCategory
    review: bool
    video: VideoThresholds


@dataclass(frozen=True, slots=True)
class _StoredVideo:
    """A video entry as the matcher holds it: its features, and the ids its frames have in
    the frame index (``first`` to ``first + len(features)``)."""

    features: tuple[VpdqFeature, ...]
    first: int


class BankMatcher:
    """Matches PDQ hashes against the active entries of some or all banks."""

    def __init__(
        self,
        store: Store,
        banks: Sequence[str] | None = None,
        *,
        refresh_interval: float | None = 1.0,
    ) -> None:
        self._setup(store, banks, refresh_interval)
        self._load()

    def _setup(
        self, store: Store, banks: Sequence[str] | None, refresh_interval: float | None
    ) -> None:
        self.store = store
        self.refresh_interval = refresh_interval
        self._names = None if banks is None else frozenset(banks)
        self._index = HashIndex()
        self._frames = HashIndex()
        self._videos: dict[int, _StoredVideo] = {}
        # Frame ids are handed out in runs, one per video, in increasing order: the video of a
        # frame id is found by bisection, without a map of every frame.
        self._runs: list[int] = []
        self._run_videos: list[int] = []
        self._next_frame = 0
        # An exact digest (``_digest_key``: its kind and raw bytes) to the index id of the
        # entry holding it, or a tuple of several's: a list of millions of MD5s costs about a
        # third of what hex strings in tuples did. A value is replaced, never changed in place,
        # so that a lookup from another thread sees one or the other.
        self._digests: dict[bytes, int | tuple[int, ...]] = {}
        self._digest_count = 0
        self._banks: dict[int, _BankState] = {}
        self._seq = 0
        self._refreshed = 0.0
        self._lock = threading.Lock()  # one refresh at a time; searches take no lock

    @classmethod
    def resume(
        cls,
        store: Store,
        index: HashIndex,
        seq: int,
        banks: Sequence[str] | None = None,
        *,
        refresh_interval: float | None = 1.0,
    ) -> BankMatcher:
        """A matcher from an index that holds the watched banks' active entries as of change
        ``seq`` (a snapshot, see ``rempart.matching.banks.snapshot``): the banks' states are
        read now, and the changes logged after ``seq`` are replayed before it returns."""
        matcher = cls.__new__(cls)
        matcher._setup(store, banks, refresh_interval)
        with store.read() as connection:
            matcher._load_banks(connection)
            matcher._load_videos(connection)
            matcher._load_digests(connection)
        matcher._index, matcher._seq = index, seq
        matcher.refresh()
        return matcher

    @property
    def seq(self) -> int:
        """The last change-log entry applied."""
        return self._seq

    def capture(self) -> tuple[int, SavedState]:
        """The last change-log entry applied and the index as it holds exactly the changes up
        to it (no refresh runs between the two), for a snapshot to write."""
        with self._lock:
            return self._seq, self._index.capture()

    @property
    def index(self) -> HashIndex:
        """The index searched: the watched banks' active entries, of every state."""
        return self._index

    @property
    def watched(self) -> tuple[str, ...] | None:
        """The names of the banks watched, sorted; None when every bank is."""
        return None if self._names is None else tuple(sorted(self._names))

    def __len__(self) -> int:
        return len(self._index)

    @property
    def videos(self) -> int:
        """How many videos are held (of every state)."""
        return len(self._videos)

    @property
    def digests(self) -> int:
        """How many exact entries (MD5, SHA-256) are held (of every state)."""
        return self._digest_count

    def _load(self) -> None:
        with self.store.read() as connection:
            # Read the log position first: a change made while loading is applied again by
            # the next refresh, and applying a change twice is harmless.
            self._seq = last_change(connection)
            self._load_banks(connection)
            watched = list(self._banks)
            self._load_videos(connection)
            self._load_digests(connection)
            query = (
                select(bank_entries.c.id, bank_entries.c.bank_id, bank_entries.c.hash)
                .where(
                    bank_entries.c.withdrawn_at.is_(None),
                    bank_entries.c.bank_id.in_(watched),
                    bank_entries.c.kind == IMAGE,
                )
                .order_by(bank_entries.c.bank_id, bank_entries.c.id)
            )
            result = connection.execution_options(yield_per=_LOAD_BATCH).execute(query)
            hashes: list[Words] = []
            ids: list[npt.NDArray[np.int64]] = []
            for rows in result.partitions():
                hashes.append(pack([row.hash for row in rows]))
                ids.append(np.array([_index_id(r.bank_id, r.id) for r in rows], dtype=np.int64))
        # One build: adding batch by batch would merge the tables once per batch.
        if hashes:
            self._index = HashIndex.build(np.concatenate(hashes), np.concatenate(ids))
        self._refreshed = time.monotonic()

    def _load_videos(self, connection: Connection) -> None:
        """Every active video entry of the watched banks, into the frame index."""
        query = (
            select(
                bank_entries.c.bank_id,
                bank_entries.c.id,
                bank_entries.c.kind,
                bank_entries.c.features,
            )
            .where(
                bank_entries.c.withdrawn_at.is_(None),
                bank_entries.c.bank_id.in_(list(self._banks)),
                bank_entries.c.kind == VIDEO,
            )
            .order_by(bank_entries.c.id)
        )
        result = connection.execution_options(yield_per=_LOAD_BATCH).execute(query)
        for rows in result.partitions():
            self._add_videos(rows)

    def _load_digests(self, connection: Connection) -> None:
        """Every active exact entry of the watched banks."""
        query = (
            select(
                bank_entries.c.bank_id,
                bank_entries.c.id,
                bank_entries.c.kind,
                bank_entries.c.hash,
            )
            .where(
                bank_entries.c.withdrawn_at.is_(None),
                bank_entries.c.bank_id.in_(list(self._banks)),
                bank_entries.c.kind.in_(DIGEST_KINDS),
            )
            .order_by(bank_entries.c.id)
        )
        result = connection.execution_options(yield_per=_LOAD_BATCH).execute(query)
        for rows in result.partitions():
            self._add_digests(rows)

    def _add_digests(self, rows: Sequence[Any]) -> None:
        """Hold the exact entries of ``rows`` (``bank_id``, entry id, ``kind``, ``hash``)."""
        for bank_id, entry_id, kind, digest in rows:
            key, held = _digest_key(kind, digest), _index_id(bank_id, entry_id)
            keys = _as_keys(self._digests.get(key))
            if held in keys:
                continue
            self._digests[key] = held if not keys else (*keys, held)
            self._digest_count += 1

    def _remove_digest(self, kind: str, digest: str, held: int) -> None:
        key = _digest_key(kind, digest)
        keys = _as_keys(self._digests.get(key))
        if held not in keys:
            return
        rest = tuple(k for k in keys if k != held)
        if not rest:
            del self._digests[key]
        else:
            self._digests[key] = rest[0] if len(rest) == 1 else rest
        self._digest_count -= 1

    def _add_videos(self, rows: Sequence[Any]) -> None:
        """Hold the video entries of ``rows`` (``bank_id``, entry id, ``kind``, ``features``)
        not held yet, their frames added to the frame index in one batch."""
        hashes: list[str] = []
        ids: list[int] = []
        for bank_id, entry_id, kind, text in rows:
            key = _index_id(bank_id, entry_id)
            features = stored_features({"kind": kind, "features": text})
            if key in self._videos or not features:
                continue
            first = self._next_frame
            self._next_frame += len(features)
            # The video before its run's start: a search bisecting the runs finds both.
            self._run_videos.append(key)
            self._runs.append(first)
            hashes.extend(f.hex for f in features)
            ids.extend(range(first, first + len(features)))
            self._videos[key] = _StoredVideo(features, first)
        if hashes:
            self._frames.add(pack(hashes), np.array(ids, dtype=np.int64))

    def _remove_video(self, key: int) -> None:
        video = self._videos.pop(key, None)
        if video is not None:
            self._frames.remove(
                np.arange(video.first, video.first + len(video.features), dtype=np.int64)
            )

    def _video_of(self, frame_id: int) -> tuple[int, _StoredVideo] | None:
        """The held video a frame id is of, with its key; None when it is gone."""
        run = bisect.bisect_right(self._runs, frame_id) - 1
        key = self._run_videos[run]
        video = self._videos.get(key)
        if video is None or not video.first <= frame_id < video.first + len(video.features):
            return None  # a run of a video removed since (and perhaps held again)
        return key, video

    def _load_banks(self, connection: Connection) -> None:
        rows = connection.execute(select(banks)).mappings().all()
        if self._names is not None:
            missing = self._names - {row["name"] for row in rows}
            if missing:
                raise UnknownBankError(f"no bank named {', '.join(sorted(missing))}")
        self._banks = {
            row["id"]: _BankState(
                row["name"],
                row["threshold"],
                bool(row["enabled"]),
                stored_category(row["category"]),
                bool(row["review"]),
                video_thresholds(row),
            )
            for row in rows
            if self._names is None or row["name"] in self._names
        }

    def refresh(self) -> int:
        """Apply the changes logged since the last refresh; returns how many."""
        with self._lock, self.store.read() as connection:
            query = (
                select(
                    bank_changes.c.seq,
                    bank_changes.c.op,
                    bank_changes.c.bank_id,
                    bank_changes.c.entry_id,
                    bank_entries.c.hash,
                    bank_entries.c.withdrawn_at,
                    bank_entries.c.kind,
                    bank_entries.c.features,
                )
                .outerjoin(bank_entries, bank_entries.c.id == bank_changes.c.entry_id)
                .where(bank_changes.c.seq > self._seq)
                .order_by(bank_changes.c.seq)
            )
            applied = 0
            result = connection.execution_options(yield_per=_LOAD_BATCH).execute(query)
            for rows in result.partitions():
                if any(row.op == "bank" for row in rows):
                    self._load_banks(connection)
                self._apply(rows)
                self._seq = rows[-1].seq
                applied += len(rows)
        self._refreshed = time.monotonic()
        return applied

    def _apply(self, rows: Sequence[Any]) -> None:
        """Apply consecutive log entries: runs of adds in one batch, each removal at once."""
        adds: list[Any] = []
        for row in [*rows, None]:
            # An entry withdrawn since is not added (an import logs the adds of its entries
            # after the withdrawals it makes, which may withdraw some of them); withdrawn is
            # final: the entry is never active again.
            if (
                row is not None
                and row.op == "add"
                and row.bank_id in self._banks
                and row.withdrawn_at is None
            ):
                adds.append(row)
                continue
            if adds:
                self._add_images([a for a in adds if a.kind not in (VIDEO, *DIGEST_KINDS)])
                self._add_videos(
                    [(a.bank_id, a.entry_id, a.kind, a.features) for a in adds if a.kind == VIDEO]
                )
                exact = [a for a in adds if a.kind in DIGEST_KINDS]
                self._add_digests([(a.bank_id, a.entry_id, a.kind, a.hash) for a in exact])
                adds = []
            if row is not None and row.op == "withdraw":
                key = _index_id(row.bank_id, row.entry_id)
                if row.kind == VIDEO:
                    self._remove_video(key)
                elif row.kind in DIGEST_KINDS:
                    self._remove_digest(row.kind, row.hash, key)
                else:
                    self._index.remove(np.array([key]))

    def _add_images(self, adds: Sequence[Any]) -> None:
        if not adds:
            return
        ids = np.array([_index_id(a.bank_id, a.entry_id) for a in adds], dtype=np.int64)
        new = ~self._index.contains(ids)
        hashes = pack([a.hash for a in adds])
        self._index.add(hashes[new], ids[new])

    def _maybe_refresh(self) -> None:
        interval = self.refresh_interval
        if interval is not None and time.monotonic() - self._refreshed >= interval:
            self.refresh()

    def match(self, hashes: Words) -> list[list[BankMatch]]:
        """For each packed hash, its matches in enabled banks, nearest first."""
        return self._search(self._index.search, hashes)

    def match_dihedral(self, variants: Words) -> list[list[BankMatch]]:
        """Like ``match`` for ``(q, 8, 4)`` rotations and flips; each entry once per query."""
        return self._search(self._index.search_dihedral, variants)

    def match_digest(self, algorithm: str, digest: str) -> list[BankMatch]:
        """The exact entries of enabled banks that hold ``digest``, an ``md5`` or ``sha256``
        (``algorithm``) hex digest of any case: a dict lookup, each match at distance 0 with
        the digest as its ``hash``. None for another algorithm or a digest of no entry."""
        self._maybe_refresh()
        kind, value = algorithm.lower(), digest.strip().lower()
        found = []
        try:
            held = self._digests.get(_digest_key(kind, value))
        except (KeyError, ValueError):  # another algorithm, or not hex: no entry holds it
            held = None
        for key in _as_keys(held):
            bank = self._banks.get(key >> _ENTRY_BITS)
            if bank is None or not bank.enabled:
                continue
            found.append(
                BankMatch(
                    bank=bank.name,
                    entry_id=key & _ENTRY_MASK,
                    hash=value,
                    distance=0,
                    category=bank.category,
                    review=bank.review,
                    kind=kind,
                )
            )
        return sorted(found, key=lambda m: (m.bank, m.entry_id))

    def match_file_digests(self, md5: str | None, sha256: str | None) -> list[BankMatch]:
        """The exact entries a file's digests match (either may be None: not known), MD5's
        first; the digests of no bytes at all never match (a video's frame has none)."""
        found: list[BankMatch] = []
        for kind, digest in (("md5", md5), ("sha256", sha256)):
            if digest and digest.lower() not in _EMPTY:
                found += self.match_digest(kind, digest)
        return found

    def match_video(
        self,
        features: Sequence[VpdqFeature],
        *,
        mirrored: Sequence[VpdqFeature] | None = None,
    ) -> VideoMatches:
        """A video's matches from its vPDQ ``features``: the stored videos it matches (each
        bank's thresholds), and the banked images its frames match. With ``mirrored`` (the
        features of its frames mirrored left to right, ``vpdq_hash_mirrored``), a mirrored
        copy is found too, its matches' variant ``MIRROR`` (vPDQ itself is not
        flip-invariant)."""
        self._maybe_refresh()
        images = _with_mirror(
            self._match_frames, features, mirrored, lambda m: (m.match.bank, m.match.entry_id)
        )
        return VideoMatches(self.match_stored_videos(features, mirrored=mirrored), images)

    def match_stored_videos(
        self,
        features: Sequence[VpdqFeature],
        *,
        mirrored: Sequence[VpdqFeature] | None = None,
    ) -> list[VideoMatch]:
        """The stored videos ``features`` match (``match_video`` without the banked images,
        for a caller that matched the frames as images already)."""
        self._maybe_refresh()
        return _with_mirror(self._match_videos, features, mirrored, lambda m: (m.bank, m.entry_id))

    def _match_videos(
        self, features: Sequence[VpdqFeature], variant: str | None
    ) -> list[VideoMatch]:
        """The stored videos ``features`` match: candidates are those sharing a frame within
        the largest distance of any bank (a match needs one, the query's share being above
        0), each then matched exactly with its bank's thresholds."""
        enabled = [bank.video for bank in self._banks.values() if bank.enabled]
        if not enabled or not self._videos:
            return []
        floor = min(t.quality for t in enabled)
        distinct = list(dict.fromkeys(f.hex for f in features if f.quality >= floor))
        if not distinct:
            return []
        found = self._frames.search(pack(distinct), max(t.distance for t in enabled))
        hits: dict[int, list[tuple[str, int, int]]] = {}  # video: (query hash, frame, bits)
        for query, frame_id, distance in zip(
            found.query.tolist(), found.ids.tolist(), found.distances.tolist(), strict=True
        ):
            held = self._video_of(frame_id)
            if held is not None:
                key, video = held
                hits.setdefault(key, []).append((distinct[query], frame_id - video.first, distance))
        results = [
            result
            for key, pairs in hits.items()
            if (result := self._video_match(key, features, pairs, variant)) is not None
        ]
        return sorted(results, key=lambda m: (-m.query_percent, m.bank, m.entry_id))

    def _video_match(
        self,
        key: int,
        features: Sequence[VpdqFeature],
        pairs: list[tuple[str, int, int]],
        variant: str | None,
    ) -> VideoMatch | None:
        """The match of ``features`` with the held video ``key`` in its bank's thresholds,
        or None; ``pairs`` are their frames within the largest distance of any bank."""
        bank = self._banks.get(key >> _ENTRY_BITS)
        video = self._videos.get(key)
        if bank is None or not bank.enabled or video is None:
            return None
        limits = bank.video
        result = vpdq_match(
            features,
            video.features,
            quality_threshold=limits.quality,
            distance_threshold=limits.distance,
            query_match_percent=limits.query_percent,
            stored_match_percent=limits.stored_percent,
        )
        if not result.matched:
            return None
        near = {
            query
            for query, frame, distance in pairs
            if distance <= limits.distance and video.features[frame].quality >= limits.quality
        }
        return VideoMatch(
            bank=bank.name,
            entry_id=key & _ENTRY_MASK,
            query_percent=result.query_percent,
            stored_percent=result.stored_percent,
            timestamps=_timestamps(features, near, limits.quality),
            category=bank.category,
            review=bank.review,
            variant=variant,
        )

    def _match_frames(
        self, features: Sequence[VpdqFeature], variant: str | None
    ) -> list[FrameMatch]:
        """The banked images found in the frames of a video (frames of matchable quality,
        each distinct hash searched once), each with the timestamps it was found at."""
        distinct = list(dict.fromkeys(f.hex for f in features if f.quality >= MIN_QUALITY))
        if not distinct:
            return []
        where: dict[tuple[str, int], set[str]] = {}
        first: dict[tuple[str, int], BankMatch] = {}
        for hex_hash, matches in zip(distinct, self.match(pack(distinct)), strict=True):
            for found in matches:
                entry = (found.bank, found.entry_id)
                where.setdefault(entry, set()).add(hex_hash)
                best = first.get(entry)
                if best is None or found.distance < best.distance:
                    first[entry] = found
        return [
            FrameMatch(
                replace(match, variant=variant),
                _timestamps(features, where[entry], MIN_QUALITY),
            )
            for entry, match in sorted(first.items(), key=lambda item: item[1].distance)
        ]

    def _search(
        self, search: Callable[[Words, int], Matches], queries: Words
    ) -> list[list[BankMatch]]:
        self._maybe_refresh()
        threshold = self._max_threshold()
        if threshold is None:
            return [[] for _ in range(len(queries))]
        return self._collect(search(queries, threshold), len(queries))

    def _max_threshold(self) -> int | None:
        thresholds = [bank.threshold for bank in self._banks.values() if bank.enabled]
        return max(thresholds) if thresholds else None

    def _collect(self, found: Matches, queries: int) -> list[list[BankMatch]]:
        results: list[list[BankMatch]] = [[] for _ in range(queries)]
        bank_ids: npt.NDArray[np.int64] = found.ids >> _ENTRY_BITS
        for i in range(len(found)):
            bank = self._banks.get(int(bank_ids[i]))
            distance = int(found.distances[i])
            if bank is None or not bank.enabled or distance > bank.threshold:
                continue
            variant = None if found.variant is None else DIHEDRAL_NAMES[int(found.variant[i])]
            results[int(found.query[i])].append(
                BankMatch(
                    bank=bank.name,
                    entry_id=int(found.ids[i]) & _ENTRY_MASK,
                    hash=found.hashes[i].astype(">u8").tobytes().hex(),
                    distance=distance,
                    variant=variant,
                    category=bank.category,
                    review=bank.review,
                )
            )
        return results


def _timestamps(
    features: Sequence[VpdqFeature], hashes: set[str], quality: int
) -> tuple[float, ...]:
    """The timestamps of the frames of ``features`` whose hash is one of ``hashes``."""
    return tuple(
        sorted({f.timestamp for f in features if f.hex in hashes and f.quality >= quality})
    )


_Found = TypeVar("_Found", "VideoMatch", "FrameMatch")


def _with_mirror(
    search: Callable[[Sequence[VpdqFeature], str | None], list[_Found]],
    features: Sequence[VpdqFeature],
    mirrored: Sequence[VpdqFeature] | None,
    entry: Callable[[_Found], tuple[str, int]],
) -> list[_Found]:
    """``search``'s matches of ``features``, then those of ``mirrored`` (variant ``MIRROR``)
    for the entries the plain frames did not match."""
    found = search(features, None)
    if mirrored is not None:
        seen = {entry(match) for match in found}
        found += [match for match in search(mirrored, MIRROR) if entry(match) not in seen]
    return found


def _digest_key(kind: str, digest: str) -> bytes:
    """An exact digest as the matcher holds it: a byte for its kind, then its raw bytes.
    ``KeyError`` for a kind no entry has, ``ValueError`` for what is not its hex digest."""
    tag, length = _DIGEST_TAGS[kind]
    if len(digest) != length:
        raise ValueError(f"a {kind} digest has {length} hex digits")
    return tag + bytes.fromhex(digest)


def _as_keys(held: int | tuple[int, ...] | None) -> tuple[int, ...]:
    """The index ids a ``_digests`` value stands for."""
    if held is None:
        return ()
    return (held,) if isinstance(held, int) else held


def _index_id(bank_id: int, entry_id: int) -> int:
    return (bank_id << _ENTRY_BITS) | entry_id


@dataclass(frozen=True, slots=True)
class ImageMatch:
    """An image's hashes and the bank entries they match. A hash of quality under
    ``MIN_QUALITY`` is too featureless to act on: it is not looked up (``skipped``)."""

    hashes: FileHashes
    matches: list[BankMatch]
    skipped: str | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"path", "sha256", "pdq", "quality", "matches"}`` (each match with its ``variant``
        when the rotations and flips were matched), with ``"skipped": "low_quality"``."""
        dihedral = self.hashes.dihedral is not None
        record: dict[str, Any] = {
            "path": self.hashes.path,
            "sha256": self.hashes.sha256,
            "pdq": self.hashes.pdq,
            "quality": self.hashes.quality,
            "matches": [match.to_json(variant=dihedral) for match in self.matches],
        }
        if self.skipped:
            record["skipped"] = self.skipped
        return record


def match_images(matcher: BankMatcher, images: Sequence[FileHashes]) -> list[ImageMatch]:
    """Each image's matches, in order, its rotations and flips too where they were hashed,
    then the exact entries its file's digests match; the images of matchable quality looked
    up in one search of each kind."""
    found: list[list[BankMatch]] = [[] for _ in images]
    wanted = [i for i, hashes in enumerate(images) if hashes.quality >= MIN_QUALITY]
    flipped = [i for i in wanted if images[i].dihedral is not None]
    single = [i for i in wanted if images[i].dihedral is None]
    if flipped:
        variants = pack([h for i in flipped for h in images[i].dihedral or ()])
        for i, matches in zip(
            flipped, matcher.match_dihedral(variants.reshape(-1, 8, 4)), strict=True
        ):
            found[i] = matches
    if single:
        for i, matches in zip(
            single, matcher.match(pack([images[i].pdq for i in single])), strict=True
        ):
            found[i] = matches
    # A file's exact digests match whatever its PDQ quality: a featureless image is banked so.
    return [
        ImageMatch(
            hashes,
            matches + matcher.match_file_digests(hashes.md5, hashes.sha256),
            None if hashes.quality >= MIN_QUALITY else "low_quality",
        )
        for hashes, matches in zip(images, found, strict=True)
    ]


FEATURE_SUFFIXES: Final = (".vpdq", ".vpdq.txt")
"""Names of vPDQ feature files (the reference's text format), matched as the video they hash."""


@dataclass(frozen=True, slots=True)
class VideoFileMatch:
    """A video file's (or feature file's) matches, with how many frames were hashed."""

    path: str
    frames: int
    matches: VideoMatches

    def to_json(self) -> dict[str, Any]:
        """``{"path", "kind": "video", "frames", "matches"}``, each match a video's
        (``VideoMatch``) or a banked image's found in frames (``FrameMatch``)."""
        return {
            "path": self.path,
            "kind": VIDEO,
            "frames": self.frames,
            "matches": self.matches.to_json(),
        }


def is_feature_file(path: str) -> bool:
    """Whether ``path`` names a vPDQ feature file (``FEATURE_SUFFIXES``)."""
    return path.lower().endswith(FEATURE_SUFFIXES)


def match_video_file(
    matcher: BankMatcher, path: str, *, limits: VideoLimits, mirrored: bool = False
) -> VideoFileMatch | MediaFailure:
    """Hash a video file (within ``limits``) or read a feature file, and match it; with
    ``mirrored``, its frames mirrored left to right too. A file that cannot be used gives a
    ``MediaFailure`` saying why."""
    exact: list[BankMatch] = []
    try:
        if is_feature_file(path):
            plain, flipped = read_feature_file(path, limits.max_bytes), None
        else:
            video = load_file(path, limits=limits)
            plain, flipped = video_features(video, mirrored=mirrored)
            exact = matcher.match_file_digests(*_md5_sha256(video))
    except MediaError as exc:
        return MediaFailure(path, exc)
    found = matcher.match_video(plain, mirrored=flipped)
    return VideoFileMatch(path, len(plain), replace(found, exact=exact))


def _md5_sha256(video: Video) -> tuple[str, str]:
    """A video file's MD5 and SHA-256 (``file_digests`` gives them the other way round)."""
    sha256, md5 = file_digests(video.source)
    return md5, sha256


def video_features(
    video: Video, *, mirrored: bool = False
) -> tuple[list[VpdqFeature], list[VpdqFeature] | None]:
    """A video's vPDQ features, and with ``mirrored`` those of its frames mirrored (else
    None): what ``BankMatcher.match_video`` takes. ``MediaError`` when it cannot be decoded."""
    if mirrored:
        return vpdq_hash_mirrored(video)
    return list(vpdq_hash(video)), None


def read_feature_file(path: str, max_bytes: int) -> list[VpdqFeature]:
    """The features of a vPDQ feature file of at most ``max_bytes``; ``MediaError`` for one
    that cannot be read or is not valid."""
    try:
        with open(path, "rb") as stream:
            data = stream.read(max_bytes + 1)
    except OSError as exc:
        raise media_os_error(path, exc) from None
    return parse_feature_bytes(data, max_bytes)


def parse_feature_bytes(data: bytes, max_bytes: int) -> list[VpdqFeature]:
    """The features a vPDQ feature file's bytes hold (the reference's text format, one frame a
    line, read as ``bank import --format vpdq`` reads it); ``MediaError`` saying why they are
    not: too large, not text, a bad line, no frame."""
    if len(data) > max_bytes:
        raise MediaError(MediaErrorCode.TOO_LARGE, f"a feature file over {max_bytes:,} bytes")
    try:
        (record,) = read_records(io.BytesIO(data), HashListFormat.VPDQ)
    except ImportLineError as exc:
        raise MediaError(MediaErrorCode.CORRUPT, f"not a vPDQ feature file: {exc}") from None
    # A vpdq file gives one video of one frame or more.
    assert isinstance(record, Record)
    assert record.features is not None
    return list(record.features)
