"""ONNX models: found in installed packages (or at a path a deployment gives), checked against
their recorded SHA-256, loaded into ONNX Runtime lazily and once per process.

ONNX Runtime is configured explicitly: intra-op threads (half the cores: the detectors run side
by side, dlib's face search on a core of its own; on 2 cores this took the scan from 6.1 to 7.5
images/s and the gate's p95 with an image from 162 to 133 ms), one inter-op thread, errors-only
logging, and the execution provider ``REMPART_ONNX_PROVIDER`` chooses: by default CUDA first
when the installed ``onnxruntime`` has it (GPU is optional, never required); ``cpu``; or
``cuda``, refused (``DetectorError``) where there is none. Its exceptions never escape raw:
they become ``DetectorError``.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from rempart.errors import DetectorError, import_extra

__all__ = [
    "ModelFile",
    "OnnxModel",
    "file_sha256",
    "packaged_bytes",
    "packaged_file",
    "provider_names",
]

PROVIDER_ENV: Final = "REMPART_ONNX_PROVIDER"
CUDA: Final = "CUDAExecutionProvider"
CPU: Final = "CPUExecutionProvider"


@dataclass(frozen=True, slots=True)
class ModelFile:
    """A model file and the SHA-256 it must have (None: a deployment's own file, not checked).

    Attributes:
        path: where the file is (for a model shipped as bytes, the module that holds them).
        sha256: the recorded digest of the model; a mismatch refuses to load it.
        label: short name for versions and messages (``320n``).
        content: for a model a package ships as bytes in a module, what gives them (not
            compared: files of the same path and digest share one session).
    """

    path: Path
    sha256: str | None
    label: str
    content: Callable[[], bytes] | None = field(default=None, compare=False)

    @property
    def digest(self) -> str:
        """The file's SHA-256: the recorded one, or computed once for a deployment's file."""
        return self.sha256 or file_sha256(self.path)

    def check(self) -> None:
        """Raise ``DetectorError`` unless the file exists and has its recorded digest."""
        if not self.path.is_file():
            raise DetectorError(f"model file {self.path} does not exist")
        if self.sha256 is None:
            return  # a deployment's own file: nothing recorded to check it against
        if self.content is not None:
            digest = hashlib.sha256(self.content()).hexdigest()
        else:
            digest = file_sha256(self.path)
        if digest != self.sha256:
            raise DetectorError(
                f"model file {self.path} does not have the recorded SHA-256 {self.sha256}; "
                "reinstall the package that ships it"
            )


@functools.cache
def file_sha256(path: Path) -> str:
    """SHA-256 of a file, computed once per process."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def packaged_file(
    package: str, resource: str, *, sha256: str, label: str, extra: str, detector: str
) -> ModelFile:
    """The model ``resource`` inside installed ``package``, or ``MissingExtraError``."""
    import_extra(package, extra=extra, detector=detector)
    path = Path(str(importlib.resources.files(package).joinpath(resource)))
    return ModelFile(path=path, sha256=sha256, label=label)


def packaged_bytes(
    module: str, attribute: str, *, sha256: str, label: str, extra: str, detector: str
) -> ModelFile:
    """A model an installed package ships as ``bytes`` (``attribute`` of ``module``), or
    ``MissingExtraError``."""
    holder = import_extra(module, extra=extra, detector=detector)
    return ModelFile(
        path=Path(str(holder.__file__)),
        sha256=sha256,
        label=label,
        content=functools.partial(getattr, holder, attribute),
    )


class OnnxModel:
    """An ONNX model found on first use (``locate`` may import the package that ships it),
    whose session is created on the first ``run`` and shared by the process."""

    def __init__(self, locate: Callable[[], ModelFile], *, detector: str, extra: str) -> None:
        self._locate = locate
        self.detector = detector
        self.extra = extra

    @functools.cached_property
    def file(self) -> ModelFile:
        """The model file, located on first use."""
        return self._locate()

    def session(self) -> Any:
        """The ONNX Runtime session (created and cached on first use)."""
        import_extra("onnxruntime", extra=self.extra, detector=self.detector)
        return _session(self.file, _threads(), _providers(os.environ.get(PROVIDER_ENV, "")))

    def run(self, batch: NDArray[np.float32]) -> list[NDArray[Any]]:
        """Run the model on one input tensor; its outputs in the model's order."""
        session = self.session()
        try:
            outputs: list[NDArray[Any]] = session.run(None, {session.get_inputs()[0].name: batch})
        except Exception as exc:  # onnxruntime raises its own, unexported exception types
            raise DetectorError(
                f"{self.detector}: the model {self.file.path.name} failed on a batch of shape "
                f"{batch.shape}: {exc}"
            ) from exc
        return outputs


def provider_names(choice: str) -> list[str]:
    """The execution providers a session is given for ``choice`` (``auto``, ``cpu``,
    ``cuda``), best first; ``DetectorError`` for ``cuda`` where ``onnxruntime`` is not
    installed or has no CUDA."""
    try:
        import onnxruntime as ort
    except ImportError:
        available: list[str] = []
    else:
        available = ort.get_available_providers()
    if choice == "cpu":
        return [CPU]
    if choice == "cuda" and CUDA not in available:
        raise DetectorError(
            "REMPART_ONNX_PROVIDER=cuda, but the onnxruntime installed here has no CUDA "
            f"(it has {', '.join(available) or 'none: it is not installed'}): install "
            "onnxruntime-gpu on a machine with an NVIDIA GPU, or leave REMPART_ONNX_PROVIDER "
            "unset"
        )
    return [name for name in (CUDA, CPU) if name in available]


@functools.cache
def _providers(setting: str) -> tuple[str, ...]:
    """The providers for the setting's value as the environment gives it (checked once per
    value, as the settings check it)."""
    from rempart.config import load_settings

    choice = load_settings({PROVIDER_ENV: setting} if setting else {}).onnx_provider
    return tuple(provider_names(choice))


def _threads() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // 2)


@functools.cache
def _session(file: ModelFile, threads: int, providers: tuple[str, ...]) -> Any:
    import onnxruntime as ort

    file.check()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: ORT's warnings are not the user's business
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        model = file.content() if file.content is not None else str(file.path)
        return ort.InferenceSession(model, sess_options=options, providers=list(providers))
    except Exception as exc:  # onnxruntime raises its own, unexported exception types
        raise DetectorError(f"{file.path} is not a model ONNX Runtime can load: {exc}") from exc
