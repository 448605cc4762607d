"""``Gate``: one generation request (prompt, negative prompt, uploaded photos, generated image)
in, one ``Verdict`` out, explained.

What each part gives the policy:

- the prompt and negative prompt: ``text.*`` signals (``rempart.text``);
- each uploaded photo: ``upload.photo``, and for every face found ``upload.face`` (the request is
  about a real person, named or not), ``face.minor``, a protected person's ``identity.match``,
  and ``bank.match`` for a known image;
- the generated image: nudity, faces and apparent age, ``identity.match`` against the protected
  persons and against the faces of the uploaded photos, and ``bank.match``;
- a generated video (told by its first bytes): the same, on a frame a second, each signal its
  frames' strongest naming their ``timestamps`` (``detectors.frames``), so that a block says
  where in the video it is.

Image signals carry ``evidence.source`` (``input 1``, ``output``). The rules that no setting can
switch off (``MANDATORY_RULES``) then block a minor with anything sexualised, a real person with
anything sexualised, and an undressing request on an uploaded photo.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np

from rempart.detectors.banks import BankDetector
from rempart.detectors.builtin import default_registry
from rempart.detectors.frames import detect_video, load_video
from rempart.detectors.identity import IdentityDetector
from rempart.detectors.picture import Picture
from rempart.detectors.pipeline import decode_side, load_picture, run_detectors
from rempart.detectors.protocol import Detector
from rempart.detectors.registry import DetectorRegistry
from rempart.errors import MediaError
from rempart.gallery import Gallery
from rempart.gate.request import GateRequest
from rempart.media import DEFAULT_LIMITS, MediaLimits
from rempart.policy import Policy, Verdict, load_policy
from rempart.signals import Signal
from rempart.text import PersonName, PromptAnalyser
from rempart.text.deadline import DEFAULT_PROMPT_MS
from rempart.types import ImageInput
from rempart.video import DEFAULT_LIMITS as DEFAULT_VIDEO_LIMITS
from rempart.video import VideoLimits
from rempart.walk import looks_like_video, starts_as_video

if TYPE_CHECKING:
    from rempart.config import Settings
    from rempart.matching.banks import BankMatcher

__all__ = ["Gate", "GateDetectors", "Persons"]

Persons = Iterable[str | PersonName] | Mapping[str, Iterable[str]]
"""Protected persons as the prompt reader takes them."""
_NAME: Final = "gate"
_VERSION: Final = "1"
OUTPUT: Final = "output"


@dataclass(frozen=True)
class GateDetectors:
    """The detectors a gate runs: on each uploaded photo (``inputs``), on the generated image
    (``output``), and the identity detector that compares the generated image's faces with the
    uploaded photos' (None: no comparison)."""

    inputs: Sequence[Detector]
    output: Sequence[Detector]
    identity: IdentityDetector | None = None

    @classmethod
    def from_registry(
        cls, registry: DetectorRegistry, *, matcher: BankMatcher | None = None
    ) -> GateDetectors:
        """Faces with apparent age and identity on every image; nudity and every plugin
        detector installed on the generated one; bank matching on both.
        ``MissingExtraError`` names the extra a built-in one needs."""
        faces, identity, nudity = (
            registry.create(name) for name in ("faces", "identity", "nudity")
        )
        assert isinstance(identity, IdentityDetector)
        plugins = registry.create_all(registry.plugins)
        bank = BankDetector(matcher)
        return cls(
            inputs=(bank, faces, identity),
            output=(bank, nudity, faces, identity, *plugins),
            identity=identity,
        )

    @classmethod
    def default(
        cls,
        settings: Settings | None = None,
        *,
        gallery: Callable[[], Gallery] = Gallery,
        matcher: BankMatcher | None = None,
    ) -> GateDetectors:
        """``from_registry`` on the built-in detectors and the installed plugins."""
        return cls.from_registry(default_registry(settings, gallery=gallery), matcher=matcher)


class Gate:
    """Checks generation requests under ``policy`` (the built-in ``default`` when None).

    ``persons``: the protected persons the prompt is read for (names, ``PersonName``s with
    aliases and distinctive parts, or names mapped to aliases), or a function that gives them
    as they are now (a long-running process's follows the database; the prompt reader is
    rebuilt when it gives another list). ``prompt_ms``: the CPU milliseconds a request's
    prompt and negative prompt may take to read (0: no limit); past them, ``text.unread``,
    and the request goes to review (``analyser``, when given, has its own). ``detectors``
    builds the image detectors on the first request that has an image, so a text-only gate
    needs no model. The output may be a video (``video_limits``): a frame a second goes through
    the output's detectors. Safe to share between threads.
    """

    def __init__(
        self,
        policy: Policy | None = None,
        *,
        persons: Persons | Callable[[], Sequence[PersonName]] = (),
        analyser: PromptAnalyser | None = None,
        detectors: Callable[[], GateDetectors] = GateDetectors.default,
        limits: MediaLimits = DEFAULT_LIMITS,
        video_limits: VideoLimits = DEFAULT_VIDEO_LIMITS,
        prompt_ms: float = DEFAULT_PROMPT_MS,
    ) -> None:
        self.policy = policy or load_policy("default")
        self.prompt_ms = prompt_ms
        self._persons_source = persons if callable(persons) else None
        first = analyser
        if first is None and not callable(persons):
            first = PromptAnalyser(persons=persons, prompt_ms=prompt_ms)
        # The persons read last and the prompt reader built for them, swapped as one; the
        # reader for a function's persons is built on first use.
        self._analysed: tuple[object, PromptAnalyser | None] = (None, first)
        self._building = threading.Lock()
        self.limits = limits
        self.video_limits = video_limits
        self._make_detectors = detectors
        self._detectors: GateDetectors | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    @property
    def analyser(self) -> PromptAnalyser:
        """The prompt reader, for the persons as they are now.

        When they change, one thread builds the new reader (a long-running process's
        follower does, see ``Runtime``) while requests go on with the one before; only the
        first reader is waited for."""
        persons, reader = self._analysed
        if self._persons_source is None or (
            self._persons_source() is persons and reader is not None
        ):
            assert reader is not None
            return reader
        if self._building.acquire(blocking=reader is None):
            try:
                current = self._persons_source()
                if current is not self._analysed[0] or self._analysed[1] is None:
                    fresh = PromptAnalyser(persons=current, prompt_ms=self.prompt_ms)
                    self._analysed = (current, fresh)
            finally:
                self._building.release()
        built = self._analysed[1]
        assert built is not None
        return built

    def check_request(self, request: GateRequest) -> Verdict:
        """The verdict on a ``GateRequest`` (as ``parse_gate_request`` reads one)."""
        return self.check(
            request.prompt,
            request.negative_prompt,
            request.inputs,
            request.output,
            person_photo=request.person_photo,
        )

    def check(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        inputs: Sequence[ImageInput] = (),
        output: ImageInput | None = None,
        *,
        person_photo: bool = False,
    ) -> Verdict:
        """The verdict on one request.

        ``person_photo``: the request edits an uploaded photo of a person that the caller does
        not pass (it keeps no photos); it counts as an uploaded photo with a face.

        Raises ``PromptError`` for a prompt that is too long or not text, and ``MediaError``
        (its message naming the image) for an image that cannot be read; nothing is judged
        then.
        """
        return self.policy.decide(
            self.signals(prompt, negative_prompt, inputs, output, person_photo=person_photo)
        )

    def signals(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        inputs: Sequence[ImageInput] = (),
        output: ImageInput | None = None,
        *,
        person_photo: bool = False,
    ) -> list[Signal]:
        """Every signal the request gives, which ``check`` judges."""
        signals = self.analyser.signals(prompt, negative_prompt)
        if person_photo:
            signals.append(Signal("upload.photo", 1.0, _NAME, _VERSION, value="declared"))
            signals.append(
                Signal(
                    "upload.face",
                    1.0,
                    _NAME,
                    _VERSION,
                    value="declared",
                    evidence={"declared": True},
                )
            )
        if not inputs and output is None:
            return signals
        detectors = self.detectors
        uploaded = [
            self._load(item, f"input {index}", detectors.inputs)
            for index, item in enumerate(inputs, start=1)
        ]
        video = output is not None and _is_video(output)
        generated = None
        if output is not None and not video:
            generated = self._load(output, OUTPUT, detectors.output)
        pool = self._executor(detectors)
        if uploaded:
            found = run_detectors(detectors.inputs, uploaded, pool)
            for picture, picture_signals in zip(uploaded, found, strict=True):
                signals.extend(_uploaded(picture, picture_signals))
        if output is not None and video:
            signals.extend(self._video_signals(output, detectors, uploaded, pool))
        if generated is not None:
            (found_output,) = run_detectors(detectors.output, [generated], pool)
            signals.extend(_sourced(found_output, OUTPUT))
            if uploaded and detectors.identity is not None:
                signals.extend(_like_uploaded(detectors.identity, uploaded, generated))
        return signals

    def _video_signals(
        self,
        output: ImageInput,
        detectors: GateDetectors,
        uploaded: Sequence[Picture],
        pool: ThreadPoolExecutor,
    ) -> list[Signal]:
        """A generated video's signals: its frames' through the output's detectors (and the
        uploaded photos' faces looked for in them), merged with their timestamps. A frame at
        a time, so that it holds no more than the frames a server's budget charges."""
        on_frames = list(detectors.output)
        if uploaded and detectors.identity is not None:
            on_frames.append(_UploadedFaces(detectors.identity, uploaded))
        try:
            video = load_video(
                output if isinstance(output, bytes) else str(output), limits=self.video_limits
            )
            found = detect_video(video, on_frames, path=OUTPUT, batch_size=1, pool=pool)
        except MediaError as exc:
            raise type(exc)(exc.code, f"{OUTPUT}: {exc.message}") from exc
        return _sourced(found.signals, OUTPUT)

    @property
    def detectors(self) -> GateDetectors:
        """The image detectors, built on first use."""
        with self._lock:
            if self._detectors is None:
                self._detectors = self._make_detectors()
            return self._detectors

    def _executor(self, detectors: GateDetectors) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                workers = max(len(detectors.inputs), len(detectors.output), 1)
                self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gate")
            return self._pool

    def _load(self, source: ImageInput, label: str, detectors: Sequence[Detector]) -> Picture:
        try:
            picture = load_picture(
                source if isinstance(source, bytes) else str(source),
                limits=self.limits,
                side=decode_side(detectors),
                path=label,
            )
        except MediaError as exc:
            raise type(exc)(exc.code, f"{label}: {exc.message}") from exc
        return picture

    def close(self) -> None:
        """Stop the detector threads (a new request starts them again)."""
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None


def _is_video(source: ImageInput) -> bool:
    """Whether an output is a video: bytes or a file that starts as one."""
    if isinstance(source, bytes):
        return looks_like_video(source[:16])
    return starts_as_video(str(source))


class _UploadedFaces:
    """The uploaded photos' faces looked for in each frame of a generated video, as a
    detector beside the others: ``identity.match`` whose value is the photo (``input 1``)."""

    name = "identity"

    def __init__(self, identity: IdentityDetector, uploaded: Sequence[Picture]) -> None:
        self.identity = identity
        self.version = identity.version
        self.max_side = identity.max_side
        self.gallery = _uploaded_gallery(identity, uploaded)

    def detect(self, pictures: Sequence[Picture]) -> list[list[Signal]]:
        """Each frame's faces that are an uploaded photo's."""
        if self.gallery is None:
            return [[] for _ in pictures]
        return self.identity.detect_in(self.gallery, pictures)


def _sourced(signals: Iterable[Signal], source: str) -> list[Signal]:
    """Signals with ``evidence.source`` saying which image they came from."""
    return [dataclasses.replace(s, evidence={**s.evidence, "source": source}) for s in signals]


def _uploaded(picture: Picture, signals: list[Signal]) -> list[Signal]:
    """An uploaded photo's signals, with ``upload.photo`` and an ``upload.face`` per face."""
    source = picture.path
    upload = [Signal("upload.photo", 1.0, _NAME, _VERSION, value=source)]
    upload.extend(
        Signal("upload.face", s.score, _NAME, _VERSION, value=source, region=s.region)
        for s in signals
        if s.name == "face.detected"
    )
    return _sourced([*upload, *signals], source)


def _like_uploaded(
    identity: IdentityDetector, uploaded: Sequence[Picture], generated: Picture
) -> list[Signal]:
    """``identity.match`` for each face of the generated image that is the face of an uploaded
    photo, its value the photo (``input 1``)."""
    gallery = _uploaded_gallery(identity, uploaded)
    if gallery is None:
        return []
    (found,) = identity.detect_in(gallery, [generated])
    return _sourced(found, OUTPUT)


def _uploaded_gallery(identity: IdentityDetector, uploaded: Sequence[Picture]) -> Gallery | None:
    """The uploaded photos' faces as a gallery, each named for its photo; None without one."""
    names: list[str] = []
    vectors: list[np.ndarray] = []
    for picture, embeddings in zip(uploaded, identity.embed(uploaded), strict=True):
        names.extend(picture.path for _ in embeddings)
        vectors.extend(embedding.vector for embedding in embeddings)
    if not names:
        return None
    return Gallery(names, np.stack(vectors).astype(np.float32))
