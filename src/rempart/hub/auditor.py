"""``Auditor``: judge model files by what they and the files beside them say, never by a
weight and never by running a pickle.

For each file: ``read_model`` (its format, metadata, a pickle's imports, its fingerprint), the
nearest card and same-stem sidecar (``beside``; a card or sidecar that cannot be read is a
warning on the record, not a failure of the model), their texts read into ``text.*`` signals
(``TextReader``), the declared flags, the pickle's code, a copy of a known blocked model, and
with ``images`` the pictures in the model's folder and its metadata; then the policy's
verdict. An LFS pointer is judged on its card alone.

``scan(jobs=N)`` audits on N processes (the reading holds the GIL), each building its own
``Auditor`` once from an ``AuditorSpec``; results come in the order of the paths.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from rempart import __version__
from rempart.errors import MediaError, MediaErrorCode, ModelFileError
from rempart.hub.declared import copy_signals, flag_signals, pickle_signals
from rempart.hub.known import KnownModels
from rempart.hub.result import AuditResult
from rempart.hub.signals import DETECTOR, TextReader
from rempart.hub.texts import texts
from rempart.media import MediaFailure
from rempart.modelfile import (
    CARD_NAME,
    DEFAULT_MAX_HEADER_BYTES,
    MAX_CARD_BYTES,
    MAX_SIDECAR_BYTES,
    SIDECAR_SUFFIX,
    FingerprintMode,
    ModelCard,
    ModelFile,
    beside,
    parse_model,
    read_card,
    read_model,
    read_sidecar,
    read_text_file,
)
from rempart.policy import Policy, load_policy
from rempart.scan import Scanner, ScanResult, VideoResult
from rempart.signals import Signal
from rempart.text import PersonName, PromptAnalyser
from rempart.walk import WalkItem, item_path, looks_like_image
from rempart.workers import batched

__all__ = ["FILES_PER_PROCESS", "MAX_COVER_IMAGES", "MAX_FOLDER_IMAGES", "Auditor", "AuditorSpec"]

T = TypeVar("T")

MAX_FOLDER_IMAGES: Final = 16
"""The most pictures of a model's folder read with ``images``: a repository's samples."""
MAX_COVER_IMAGES: Final = 16
"""The most of a model's ``ssmd_cover_images`` read with ``images``: a header of thousands of
tiny pictures would hold the image detectors for minutes."""
_HEAD_BYTES: Final = 16
_FOLDERS_KEPT: Final = 64  # folders whose pictures are kept read (a walk goes folder by folder)
_CHUNK: Final = 8  # paths a worker audits per task: few enough to keep the order moving
_AHEAD_PER_JOB: Final = 4  # chunks in flight per process
_THUMBNAIL: Final = "modelspec.thumbnail"
_COVERS: Final = "ssmd_cover_images"


FILES_PER_PROCESS: Final = 200
"""Files each process of ``Auditor.scan(jobs=N)`` should have for starting it to pay: it takes
about 3 s to read the lexicons and names, which the running process did once already, and a
LoRA takes about 10 ms to audit."""


@dataclass(frozen=True)
class AuditorSpec:
    """What an ``Auditor`` is built from, picklable, so that each process of ``scan(jobs=N)``
    builds its own: the policy (a built-in name, a YAML file, or a ``Policy``), the protected
    persons' names, the fingerprint mode, an earlier output of known models, whether to read
    images (every installed image detector but identity), and the header limit."""

    policy: str | Policy = "hub"
    persons: tuple[PersonName, ...] = ()
    fingerprint: FingerprintMode = FingerprintMode.SAMPLED
    known: str | None = None
    images: bool = False
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES

    def build(self) -> Auditor:
        """The ``Auditor`` this spec describes (``PolicyError``, ``ScanOutputError`` for a
        bad known file, ``MissingExtraError`` for images without their extra)."""
        policy = self.policy if isinstance(self.policy, Policy) else load_policy(self.policy)
        return Auditor(
            policy,
            analyser=PromptAnalyser(persons=self.persons, prompt_ms=0),
            fingerprint=self.fingerprint,
            known=KnownModels.read(self.known) if self.known is not None else None,
            images=Scanner.default(policy=policy) if self.images else None,
            max_header_bytes=self.max_header_bytes,
            spec=self,
        )


class Auditor:
    """Judges model files by their metadata, cards and sidecars, under ``policy``.

    ``analyser`` reads the texts (by default the built-in lexicons, no protected person);
    ``known``: the blocked models of an earlier audit; ``images``: the scanner that reads the
    pictures beside a model and in its metadata. ``spec``: what it was built from, which
    ``scan(jobs>1)`` needs (``AuditorSpec.build`` sets it)."""

    def __init__(
        self,
        policy: Policy,
        *,
        analyser: PromptAnalyser | None = None,
        fingerprint: FingerprintMode = FingerprintMode.SAMPLED,
        known: KnownModels | None = None,
        images: Scanner | None = None,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        spec: AuditorSpec | None = None,
    ) -> None:
        self.policy = policy
        self.analyser = analyser or PromptAnalyser(prompt_ms=0)
        self.fingerprint = fingerprint
        self.known = known
        self.images = images
        self.max_header_bytes = max_header_bytes
        self.spec = spec
        self.version = self.analyser.version + (
            f"+known:{known.digest[:12]}" if known is not None else ""
        )
        self.reader = TextReader(self.analyser, version=self.version)
        # A folder's pictures are read once, not once per model of it: a folder of 35,000
        # LoRAs would open every file and scan the same pictures 35,000 times.
        self._folder_signals = functools.lru_cache(maxsize=_FOLDERS_KEPT)(self._scan_folder)
        self._cards = functools.lru_cache(maxsize=_FOLDERS_KEPT)(self._read_card)

    def audit(self, path: str, *, root: str | None = None) -> AuditResult:
        """One model file's record; its card is the nearest ``README.md`` up to ``root``.
        Raises ``ModelFileError`` when the file is not a model file Rempart reads."""
        model = read_model(
            path, max_header_bytes=self.max_header_bytes, fingerprint=self.fingerprint
        )
        found = beside(path, root)
        card, failures = self._card(found.card) if found.card else (None, ())
        warnings = list(failures)
        sidecar = _read_beside(found.sidecar, MAX_SIDECAR_BYTES, read_sidecar, warnings)
        sidecar_name = os.path.basename(found.sidecar) if found.sidecar else SIDECAR_SUFFIX
        return self._judge(
            path,
            model,
            card,
            sidecar,
            sidecar_name,
            warnings,
            pictures=path,
            file_name=os.path.basename(path),
        )

    def audit_bytes(
        self,
        header: bytes,
        *,
        card: bytes | None = None,
        sidecar: bytes | None = None,
        file_name: str | None = None,
    ) -> AuditResult:
        """The record of a model given as its first bytes (a header, an LFS pointer), with its
        card and sidecar as bytes and the name it was uploaded under; no path, no
        fingerprint. ``ModelFileError`` when the header is not a model file's."""
        model = parse_model(header, max_header_bytes=self.max_header_bytes)
        warnings: list[str] = []
        read = _parsed(card, CARD_NAME, read_card, warnings)
        side = _parsed(sidecar, SIDECAR_SUFFIX, read_sidecar, warnings)
        return self._judge(
            "", model, read, side, SIDECAR_SUFFIX, warnings, pictures=None, file_name=file_name
        )

    def scan(
        self, paths: Iterable[WalkItem], *, jobs: int = 1, roots: Sequence[str] = ()
    ) -> Iterator[AuditResult | MediaFailure]:
        """Each file's record, or why it could not be read, in the order of ``paths`` (a
        walk's failures passed on). A file's card is looked for up to the deepest of
        ``roots`` (the folders named to the run) that holds it. ``jobs`` > 1: that many
        processes, which needs an Auditor built from an ``AuditorSpec``; their results'
        models hold what the record shows, not the header's metadata and tensors."""
        if jobs < 1:
            raise ValueError(f"jobs must be at least 1, got {jobs}")
        tops = [os.path.abspath(root) for root in roots]
        items = [(item, _root(item, tops) if tops else None) for item in paths]
        # A process starts in seconds (the lexicons, the names): worth it for hundreds of
        # files, not for a few, which this process, its lexicons read, audits at once.
        jobs = min(jobs, max(1, len(items) // FILES_PER_PROCESS))
        if jobs == 1:
            for item, root in items:
                yield self._one(item, root)
            return
        if self.spec is None:
            raise ValueError("scan(jobs > 1) needs an Auditor built by AuditorSpec.build()")
        yield from _pooled(self.spec, items, jobs)

    def fingerprint_of_run(self) -> dict[str, Any]:
        """What made this run's records, for its output's first line: Rempart's version, the
        policy, the reader (lexicons and persons) and the fingerprint mode as detectors, the
        known models' file, and each image detector."""
        detectors = {DETECTOR: self.version, "fingerprint": self.fingerprint.value}
        if self.images is not None:
            detectors.update({d.name: str(d.version) for d in self.images.detectors})
        return {
            "rempart": __version__,
            "policy": self.policy.ref.to_json(),
            "detectors": detectors,
            "banks": {},
            "known": self.known.digest if self.known is not None else None,
        }

    def _one(self, item: WalkItem, root: str | None) -> AuditResult | MediaFailure:
        if isinstance(item, MediaFailure):
            return item
        try:
            return self.audit(item, root=root)
        except ModelFileError as exc:
            return MediaFailure(item, exc)

    def _judge(
        self,
        path: str,
        model: ModelFile,
        card: ModelCard | None,
        sidecar: Mapping[str, Any] | None,
        sidecar_name: str,
        warnings: list[str],
        *,
        pictures: str | None,
        file_name: str | None = None,
    ) -> AuditResult:
        if card is not None:
            warnings.extend(f"{CARD_NAME}: {warning}" for warning in card.warnings)
        found = self.reader.signals(
            texts(model, card, sidecar, sidecar_name=sidecar_name, file_name=file_name)
        )
        found += flag_signals(card, sidecar, version=self.version, sidecar_name=sidecar_name)
        found += pickle_signals(model, version=self.version)
        found += copy_signals(model, self.known, version=self.version)
        if self.images is not None:
            found += self._image_signals(model, pictures, warnings)
        if warnings:
            model = dataclasses.replace(model, warnings=(*model.warnings, *warnings))
        return AuditResult(path, model, found, self.policy.decide(found))

    def _image_signals(
        self, model: ModelFile, path: str | None, warnings: list[str]
    ) -> list[Signal]:
        """The signals of the pictures beside ``path`` and in ``model``'s metadata, each
        with ``evidence.image`` naming the picture (its file name, or its key)."""
        assert self.images is not None
        found: list[Signal] = []
        if path:
            signals, failures = self._folder_signals(os.path.dirname(path) or ".")
            found += signals
            warnings += failures
        for key, data in _metadata_images(model, self.images.limits.max_bytes, warnings):
            try:
                found += _from_image(self.images.scan_bytes(data, name=key), key)
            except MediaError as exc:
                warnings.append(f"{key}: {exc.message}")
        return found

    def _card(self, path: str) -> tuple[ModelCard | None, tuple[str, ...]]:
        """The card at ``path`` and why it could not be read, read once while unchanged (its
        size and time): a repository's README.md of a MiB above thousands of models took
        most of each one's audit."""
        try:
            info = os.stat(path)
        except OSError:
            return self._read_card(path, -1, -1)  # read_text_file says why
        return self._cards(path, info.st_size, info.st_mtime_ns)

    def _read_card(
        self, path: str, size: int, mtime: int
    ) -> tuple[ModelCard | None, tuple[str, ...]]:
        del size, mtime  # the cache's key: a changed card is read again
        warnings: list[str] = []
        return _read_beside(path, MAX_CARD_BYTES, read_card, warnings), tuple(warnings)

    def _scan_folder(self, folder: str) -> tuple[tuple[Signal, ...], tuple[str, ...]]:
        """The signals of a folder's pictures, and a warning for each that cannot be read."""
        assert self.images is not None
        found: list[Signal] = []
        failures: list[str] = []
        for result in self.images.scan(_folder_images(folder)):
            if isinstance(result, MediaFailure):
                failures.append(f"{os.path.basename(result.path)}: {result.error.message}")
            else:
                found += _from_image(result, os.path.basename(result.path))
        return tuple(found), tuple(failures)


def _read_beside(
    path: str | None, limit: int, parse: Callable[[bytes], T], warnings: list[str]
) -> T | None:
    """A card or sidecar beside the model, parsed; None, and a warning, when it cannot be."""
    if path is None:
        return None
    name = os.path.basename(path)
    return _warned(name, lambda: parse(read_text_file(path, limit=limit)), warnings)


def _parsed(
    data: bytes | None, name: str, parse: Callable[[bytes], T], warnings: list[str]
) -> T | None:
    """A card or sidecar given as bytes, parsed; None, and a warning, when it cannot be."""
    return None if data is None else _warned(name, lambda: parse(data), warnings)


def _warned(name: str, read: Callable[[], T], warnings: list[str]) -> T | None:
    """What ``read`` gives; None, and a warning naming ``name``, for a ``ModelFileError``: a
    card or sidecar that cannot be read is said on the record, never a failure of the model."""
    try:
        return read()
    except ModelFileError as exc:
        warnings.append(f"{name}: {exc.message}")
        return None


def _root(item: WalkItem, roots: Sequence[str]) -> str | None:
    """The deepest of ``roots`` (absolute paths) that holds the item's file (None: none)."""
    folder = os.path.dirname(os.path.abspath(item_path(item)))
    holding = [root for root in roots if os.path.commonpath([folder, root]) == root]
    return max(holding, key=len, default=None)


def _folder_images(folder: str) -> list[str]:
    """The first ``MAX_FOLDER_IMAGES`` files, by name, of ``folder`` whose bytes start as an
    image's."""
    found: list[str] = []
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return found
    for name in names:
        candidate = os.path.join(folder, name)
        try:
            if not os.path.isfile(candidate):
                continue
            with open(candidate, "rb") as stream:
                head = stream.read(_HEAD_BYTES)
        except OSError:
            continue
        if looks_like_image(head):
            found.append(candidate)
            if len(found) == MAX_FOLDER_IMAGES:
                break
    return found


def _metadata_images(
    model: ModelFile, max_bytes: int, warnings: list[str]
) -> Iterator[tuple[str, bytes]]:
    """``modelspec.thumbnail`` (a ``data:`` URI) and each of ``ssmd_cover_images`` (base64),
    decoded; one whose decoding would pass ``max_bytes``, or is not base64, a warning."""
    thumbnail = model.metadata.get(_THUMBNAIL)
    if isinstance(thumbnail, str) and thumbnail.startswith("data:") and "," in thumbnail:
        data = _base64(_THUMBNAIL, thumbnail.split(",", 1)[1], max_bytes, warnings)
        if data is not None:
            yield _THUMBNAIL, data
    covers = model.metadata.get(_COVERS)
    covers = covers if isinstance(covers, list) else []
    if len(covers) > MAX_COVER_IMAGES:
        warnings.append(f"{_COVERS}: {len(covers):,} images, the first {MAX_COVER_IMAGES} read")
    for index, cover in enumerate(covers[:MAX_COVER_IMAGES]):
        key = f"{_COVERS}[{index}]"
        data = _base64(key, cover, max_bytes, warnings) if isinstance(cover, str) else None
        if data is not None:
            yield key, data


def _base64(key: str, text: str, max_bytes: int, warnings: list[str]) -> bytes | None:
    if len(text) // 4 * 3 > max_bytes:
        warnings.append(f"{key}: the image is over the limit of {max_bytes:,} bytes; not read")
        return None
    try:
        return base64.b64decode(text, validate=False)
    except (binascii.Error, ValueError) as exc:
        warnings.append(f"{key}: not base64 ({exc}); not read")
        return None


def _from_image(result: ScanResult | VideoResult, name: str) -> list[Signal]:
    return [dataclasses.replace(s, evidence={**s.evidence, "image": name}) for s in result.signals]


# The process pool: each worker builds its Auditor once, then audits chunks of paths.
_WORKER: Auditor | None = None


def _start_worker(spec: AuditorSpec) -> None:
    """A worker's start: Ctrl-C is the parent's to handle (it cancels the pool)."""
    global _WORKER
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER = spec.build()


_Sent = tuple[str, str | None] | None  # a path and its root; None: a walk's failure, kept
_Back = AuditResult | tuple[str, str] | None  # a record; a failure's code and message


def _audit_chunk(chunk: list[_Sent]) -> list[_Back]:
    """A worker's records of ``chunk``, each model less what its record does not show (its
    metadata, tensors and pickle's imports). A failure goes back as its code and message: an
    exception with two arguments does not unpickle."""
    assert _WORKER is not None
    back: list[_Back] = []
    for sent in chunk:
        found = None if sent is None else _WORKER._one(*sent)
        if isinstance(found, MediaFailure):
            back.append((found.error.code.value, found.error.message))
        elif found is not None:
            # what the record needs: a header's metadata and tensors (thousands of entries)
            # would cost more to send back than the audit took
            model = found.model
            slim = ModelFile(
                model.format,
                model.size,
                lfs=model.lfs,
                warnings=model.warnings,
                fingerprint=model.fingerprint,
            )
            back.append(dataclasses.replace(found, model=slim))
        else:
            back.append(None)
    return back


def _received(item: WalkItem, back: _Back) -> AuditResult | MediaFailure:
    if isinstance(item, MediaFailure):
        return item
    if isinstance(back, tuple):
        return MediaFailure(item, ModelFileError(MediaErrorCode(back[0]), back[1]))
    assert back is not None
    return back


def _pooled(
    spec: AuditorSpec, items: Iterable[tuple[WalkItem, str | None]], jobs: int
) -> Iterator[AuditResult | MediaFailure]:
    """The records of ``items`` audited on ``jobs`` spawned processes, in order; a bounded
    window of chunks in flight. Leaving early (Ctrl-C, a closed generator) cancels the rest."""
    pool = ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(spec,),
    )
    pending: deque[tuple[list[WalkItem], Future[list[_Back]]]] = deque()
    finished = False

    def ready() -> Iterator[AuditResult | MediaFailure]:
        chunk, future = pending.popleft()
        return map(_received, chunk, future.result())

    try:
        for chunk in batched(items, _CHUNK):
            sent = [
                None if isinstance(item, MediaFailure) else (item, root) for item, root in chunk
            ]
            pending.append(([item for item, _ in chunk], pool.submit(_audit_chunk, sent)))
            if len(pending) >= jobs * _AHEAD_PER_JOB:
                yield from ready()
        while pending:
            yield from ready()
        finished = True
    finally:
        pool.shutdown(wait=finished, cancel_futures=not finished)
