"""``rempart scan --engine ray``: the same scan job, its images judged by actors on a Ray cluster.

The driver lists and splits the paths (walked as locally); a Ray Data dataset of those paths
goes through ``map_batches`` with an actor class whose constructor builds the same ``Scanner``
as the local engine (settings, policy, detectors, banks) once, and whose call reads, decodes
and judges a batch of files: the files are read by the workers from their paths, never shipped
through the driver. Each result comes back pickled with its index; the driver gives them to the
``ScanJob`` in input order and exactly once (a batch Ray ran again after an actor died is
dropped by index), so the output, the resume, the summary and the report are the local ones.

Actors are restarted when their process dies and their batches retried (Ray Data's defaults
for an actor pool: ``max_restarts=-1``, ``max_task_retries=-1``). ``gpu`` gives each actor a
GPU and ONNX Runtime's CUDA provider; a cluster without a GPU, or whose ``onnxruntime`` has no
CUDA, is refused before any work. Paths may be URLs (``s3://``...) that pyarrow's filesystems
read: listed on the driver (``list_url``), copied and judged by the actors.

Ray is imported only here, and only when the engine runs: the ``ray`` extra installs it.
"""

from __future__ import annotations

import logging
import os
import pickle
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from rempart.errors import EngineError, MediaError, MediaErrorCode
from rempart.media import MediaFailure
from rempart.policy import Policy
from rempart.scan.scanner import Scanner, ScanResult, VideoResult
from rempart.walk import WalkItem

if TYPE_CHECKING:
    from types import ModuleType

__all__ = [
    "LOOPBACK",
    "URL_SCHEMES",
    "JudgeBatch",
    "RayJudge",
    "ScannerRecipe",
    "import_ray",
    "in_order",
    "is_url",
    "judging",
    "list_url",
]

TEST_HOLD: Final = "_REMPART_RAY_TEST_HOLD"
"""Tests only: a folder holding ``actor`` or ``driver``. With ``actor``, an actor given a batch
from the fifth file on writes ``<pid>.pid`` there; with ``driver``, the driver does once the
first four results are written; either then waits until a file ``go`` exists, so that a test
can kill it mid-job."""
_HOLD_FROM: Final = 4
_GPU_CHECK_SECONDS: Final = 120.0


LOOPBACK: Final = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
"""What makes Ray give its processes loopback addresses (it would give a Ray of one machine
the machine's network address): set before Ray is imported, for a Ray started here alone."""


def import_ray(*, alone: bool = False) -> ModuleType:
    """Ray with Ray Data, or ``EngineError`` saying which extra installs it; ``alone``: for a
    Ray started in this process for it alone, on loopback (``LOOPBACK``)."""
    if alone and "ray" not in sys.modules:
        for key, value in LOOPBACK.items():
            os.environ.setdefault(key, value)
    try:
        import ray
        import ray.data  # Ray Data needs pyarrow: the extra installs both
    except ImportError as exc:
        raise EngineError(
            f"--engine ray needs the 'ray' extra ({exc.name or 'ray'} is not installed): "
            "pip install 'rempart[ray]'"
        ) from exc
    return ray


@dataclass(frozen=True)
class ScannerRecipe:
    """What builds, in an actor, the scanner the local engine would build: the ``REMPART_*``
    settings of the driver (its database URL made absolute, so that every node reads the same
    banks), the policy, the detectors by name, the banks (``with_banks``: matched at all;
    ``banks``: which, None for every one) and whether flagged images get a thumbnail. The
    settings stay out of its ``repr``: the database URL may hold a password."""

    environ: Mapping[str, str] = field(repr=False)
    policy: Policy
    detectors: Sequence[str]
    with_banks: bool = False
    banks: Sequence[str] | None = None
    thumbnails: bool = False
    batch_size: int = 8

    @classmethod
    def of(
        cls,
        environ: Mapping[str, str],
        database_url: str,
        policy: Policy,
        detectors: Sequence[str],
        *,
        with_banks: bool = False,
        banks: Sequence[str] | None = None,
        thumbnails: bool = False,
        batch_size: int = 8,
    ) -> ScannerRecipe:
        """A recipe from the driver's environment and ``database_url`` (its settings')."""
        chosen = {
            key: value
            for key, value in environ.items()
            if key.startswith("REMPART_") or key == TEST_HOLD
        }
        chosen["REMPART_DATABASE_URL"] = _absolute(database_url)
        return cls(
            chosen,
            policy,
            tuple(detectors),
            with_banks=with_banks,
            banks=tuple(banks) if banks is not None else None,
            thumbnails=thumbnails,
            batch_size=batch_size,
        )

    def build(self) -> Scanner:
        """The scanner, in this process (its models load on first use); the process's
        environment is left as it is."""
        from rempart.config import load_settings
        from rempart.detectors import default_registry
        from rempart.matching.banks import BankMatcher
        from rempart.persons import PersonsSnapshot
        from rempart.store import Store

        settings = load_settings(self.environ)
        registry = default_registry(
            settings, gallery=PersonsSnapshot(settings.database_url).gallery
        )
        matcher = (
            BankMatcher(Store.open(settings.database_url), self.banks) if self.with_banks else None
        )
        return Scanner.from_registry(
            registry,
            self.policy,
            names=list(self.detectors),
            matcher=matcher,
            thumbnails=self.thumbnails,
            limits=settings.media,
            video_limits=settings.video,
            batch_size=self.batch_size,
        )


def _absolute(database_url: str) -> str:
    """A SQLite URL with its file's path made absolute; any other URL as it is."""
    prefix = "sqlite:///"
    if database_url.startswith(prefix) and not database_url.startswith(prefix + "/"):
        return prefix + str(Path(database_url.removeprefix(prefix)).resolve())
    return database_url


class JudgeBatch:
    """The actor: builds the scanner of its ``recipe`` once, then judges each batch of paths
    it is given. A batch is ``{"index": [...], "path": [raw path bytes, ...]}``; it returns
    each file's index and its result (``ScanResult``, ``VideoResult`` or ``MediaFailure``),
    pickled.

    The recipe is a class attribute (``judging``), not a constructor argument: the class
    travels with the job's definition, so an actor restarted late still has it."""

    recipe: ScannerRecipe

    def __init__(self) -> None:
        # This process's settings are the driver's (ONNX Runtime reads its provider here).
        os.environ.update(self.recipe.environ)
        self.scanner = self.recipe.build()

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        indexes = [int(index) for index in batch["index"]]
        if min(indexes) >= _HOLD_FROM:
            _test_hold("actor")
        paths = [os.fsdecode(bytes(path)) for path in batch["path"]]
        if not any(is_url(path) for path in paths):
            results = [_dumps(result) for result in self.scanner.scan(paths)]
            return {"index": indexes, "result": results}
        with tempfile.TemporaryDirectory(prefix="rempart-") as folder:
            fetched: dict[str, str] = {}  # the local copy's path: its URL
            readable: list[str | MediaFailure] = []
            for number, path in enumerate(paths):
                if not is_url(path):
                    readable.append(path)
                    continue
                copy = os.path.join(folder, f"{number}{Path(path).suffix[:16]}")
                try:
                    _fetch(path, copy, self.scanner.max_bytes)
                except (OSError, ValueError) as exc:
                    error = MediaError(MediaErrorCode.UNREADABLE, f"{path}: {exc}")
                    readable.append(MediaFailure(path, error))
                    continue
                fetched[copy] = path
                readable.append(copy)
            results = [
                _dumps(_as_fetched(result, fetched)) for result in self.scanner.scan(readable)
            ]
        return {"index": indexes, "result": results}


def is_url(path: str) -> bool:
    """Whether ``path`` is a URL of a filesystem pyarrow reads (``URL_SCHEMES``: ``s3://``,
    ``gs://``, ``hdfs://``, ``file://``...), not a path."""
    scheme, separator, _ = path.partition("://")
    return bool(separator) and scheme.lower() in URL_SCHEMES


URL_SCHEMES: Final = frozenset(("s3", "gs", "gcs", "hdfs", "viewfs", "abfs", "abfss", "file"))


def list_url(url: str, *, recursive: bool = False) -> list[str]:
    """The files at ``url`` through pyarrow's filesystem for its scheme (the one file, or
    those in the folder, ``recursive``: and below, by name), as URLs; only those whose
    names' suffixes: images' and videos'. ``EngineError`` when it cannot be listed."""
    from pyarrow import ArrowException, fs

    scheme = url.partition("://")[0]
    try:
        filesystem, root = fs.FileSystem.from_uri(url)
        info = filesystem.get_file_info(root)
        if info.type == fs.FileType.File:
            return [url]
        if info.type != fs.FileType.Directory:
            raise EngineError(f"{url}: no such file or folder")
        found = filesystem.get_file_info(fs.FileSelector(root, recursive=recursive))
    except (OSError, ArrowException) as exc:
        raise EngineError(f"{url} cannot be listed: {exc}") from exc
    files = sorted(entry.path for entry in found if entry.type == fs.FileType.File)
    listed = IMAGE_SUFFIXES | VIDEO_SUFFIXES
    return [f"{scheme}://{path}" for path in files if Path(path).suffix.lower() in listed]


IMAGE_SUFFIXES: Final = frozenset(
    (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".heic", ".heif", ".avif")
)
VIDEO_SUFFIXES: Final = frozenset((".mp4", ".m4v", ".mov", ".3gp", ".mkv", ".webm", ".avi"))


def _fetch(url: str, copy: str, max_bytes: int) -> None:
    """Copy at most ``max_bytes`` + 1 bytes of ``url`` to ``copy`` (the scanner then refuses
    a file over its limit as it would locally)."""
    from pyarrow import ArrowException, fs

    try:
        filesystem, path = fs.FileSystem.from_uri(url)
        with filesystem.open_input_stream(path) as stream, open(copy, "wb") as out:
            left = max_bytes + 1
            while left > 0:
                block = stream.read(min(left, 1 << 20))
                if not block:
                    break
                out.write(block)
                left -= len(block)
    except ArrowException as exc:
        raise ValueError(str(exc)) from exc


def _as_fetched(
    result: ScanResult | VideoResult | MediaFailure, fetched: Mapping[str, str]
) -> ScanResult | VideoResult | MediaFailure:
    """A result of a local copy under its URL."""
    if isinstance(result, MediaFailure):
        if result.path not in fetched:
            return result
        url = fetched[result.path]
        error = MediaError(result.error.code, result.error.message.replace(result.path, url))
        return MediaFailure(url, error)
    if result.path not in fetched:
        return result
    url = fetched[result.path]
    if isinstance(result, VideoResult):
        return replace(result, path=url, found=replace(result.found, path=url))
    return replace(result, path=url, hashes=replace(result.hashes, path=url))


def judging(recipe: ScannerRecipe) -> type[JudgeBatch]:
    """The actor class that builds ``recipe``'s scanner (pickled by value with the job)."""
    return type("RecipeJudgeBatch", (JudgeBatch,), {"recipe": recipe})


def _dumps(result: ScanResult | VideoResult | MediaFailure) -> bytes:
    """A result as the driver rebuilds it (``_loads``): a ``MediaError`` is not picklable as
    it is, so a failure travels as its path, code and message."""
    if isinstance(result, MediaFailure):
        error = result.error
        return pickle.dumps(("failure", result.path, error.code.value, error.message))
    return pickle.dumps(result)


def _loads(data: bytes) -> ScanResult | VideoResult | MediaFailure:
    loaded = pickle.loads(data)
    if isinstance(loaded, tuple):
        _, path, code, message = loaded
        return MediaFailure(path, MediaError(MediaErrorCode(code), message))
    assert isinstance(loaded, ScanResult | VideoResult)
    return loaded


def _test_hold(who: str) -> None:
    folder = os.environ.get(TEST_HOLD)
    if not folder or not os.path.exists(os.path.join(folder, who)):
        return
    if os.path.exists(os.path.join(folder, "go")):
        return
    Path(folder, f"{os.getpid()}.pid").write_text(str(os.getpid()))
    deadline = time.monotonic() + 120
    while not os.path.exists(os.path.join(folder, "go")) and time.monotonic() < deadline:
        time.sleep(0.05)


@dataclass
class RayJudge:
    """A ``Judge`` whose scans run on Ray: ``address`` (None: ``RAY_ADDRESS``, else a Ray
    started here; ``auto``; ``ray://HOST:PORT``), ``actors`` (0: one per CPU of the cluster,
    one per GPU with ``gpu``), ``gpu``: one GPU per actor and ONNX Runtime's CUDA provider."""

    recipe: ScannerRecipe
    address: str | None = None
    actors: int = 0
    gpu: bool = False
    _started: bool = field(default=False, init=False, repr=False)
    _checked: bool = field(default=False, init=False, repr=False)

    @property
    def policy(self) -> Policy:
        """The policy the actors judge by."""
        return self.recipe.policy

    @property
    def alone(self) -> bool:
        """Whether the scan starts a Ray of its own (no address, none in ``RAY_ADDRESS``)."""
        return not self.address and not os.environ.get("RAY_ADDRESS")

    def connect(self) -> None:
        """Join (or start) the cluster and check it can run what is asked: ``EngineError``
        otherwise. ``scan`` calls it; call it before any other work to refuse early. An
        initialised Ray (``ray.init`` called in this process) is used as it is."""
        if self._checked:
            return
        ray = import_ray(alone=self.alone)
        for name in ("ray", "ray.data"):  # the driver's progress is the job's, not Ray's
            logging.getLogger(name).setLevel(logging.ERROR)
        # Ray's deprecations of its own settings (its DataContext warns as it copies itself)
        # are not the user's business.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ray(\.|$)")
        if not ray.is_initialized():
            try:
                ray.init(
                    address=self.address or None,
                    include_dashboard=False,
                    logging_level=logging.ERROR,
                    log_to_driver=False,
                )
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise EngineError(
                    f"cannot join the Ray cluster at {self.address or 'RAY_ADDRESS'}: {exc}"
                ) from exc
            self._started = True
        if self.gpu:
            try:
                self._check_gpu(ray)
            except EngineError:
                self.close()
                raise
        self._checked = True

    def close(self) -> None:
        """Leave the cluster, if ``connect`` joined it."""
        self._checked = False
        if self._started:
            import ray

            ray.shutdown()
            self._started = False

    def _check_gpu(self, ray: ModuleType) -> None:
        gpus = ray.cluster_resources().get("GPU", 0)
        if gpus < 1:
            raise EngineError(
                "--gpu: the Ray cluster has no GPU (it has "
                f"{int(ray.cluster_resources().get('CPU', 0))} CPUs); run without --gpu, or "
                "start the cluster's nodes on machines with an NVIDIA GPU"
            )
        probe = ray.remote(num_gpus=1)(_onnx_providers)
        try:
            providers = ray.get(probe.remote(), timeout=_GPU_CHECK_SECONDS)
        except Exception as exc:  # Ray's own errors: no worker could run the probe
            raise EngineError(f"--gpu: no GPU worker answered: {exc}") from exc
        if "CUDAExecutionProvider" not in providers:
            raise EngineError(
                "--gpu: the onnxruntime on the cluster's GPU nodes has no CUDA (it has "
                f"{', '.join(providers) or 'none'}); install onnxruntime-gpu there"
            )

    def _actors(self, ray: ModuleType) -> int:
        if self.actors:
            return self.actors
        resources = ray.cluster_resources()
        return max(1, int(resources.get("GPU" if self.gpu else "CPU", 1)))

    def scan(
        self, paths: Iterable[WalkItem], *, jobs: int = 1
    ) -> Iterator[ScanResult | VideoResult | MediaFailure]:
        """Each file's result, or why it could not be read, in the order of ``paths``, each
        once (``jobs`` is the local engine's; the actors are ``actors``)."""
        items = list(paths)
        todo = [(index, item) for index, item in enumerate(items) if isinstance(item, str)]
        if not todo:
            yield from (item for item in items if isinstance(item, MediaFailure))
            return
        self.connect()
        judged = self._judged(todo)
        for index, item in enumerate(items):
            if index == _HOLD_FROM:
                _test_hold("driver")
            if isinstance(item, MediaFailure):
                yield item
                continue
            found, result = next(judged, (None, None))
            if found != index or result is None:
                raise EngineError(f"the Ray scan lost the result of {item!r} (index {index})")
            yield result

    def _judged(
        self, todo: list[tuple[int, str]]
    ) -> Iterator[tuple[int, ScanResult | VideoResult | MediaFailure]]:
        """Each file's (index, result) in the order of ``todo``, each once: results that come
        early wait, a result seen before is dropped."""
        ray = import_ray()
        from ray.data import DataContext

        context = DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        # Blocks of about a batch each, a few per actor; no more actors than blocks.
        batches = -(-len(todo) // self.recipe.batch_size)
        blocks = max(1, min(batches, 4 * self._actors(ray)))
        actors = min(self._actors(ray), blocks)
        dataset = ray.data.from_items(
            [{"index": index, "path": os.fsencode(path)} for index, path in todo],
            override_num_blocks=blocks,
        )
        environ = dict(self.recipe.environ)
        if self.gpu:
            environ["REMPART_ONNX_PROVIDER"] = "cuda"
        recipe = ScannerRecipe(
            environ,
            self.recipe.policy,
            self.recipe.detectors,
            with_banks=self.recipe.with_banks,
            banks=self.recipe.banks,
            thumbnails=self.recipe.thumbnails,
            batch_size=self.recipe.batch_size,
        )
        judged = dataset.map_batches(
            judging(recipe),
            batch_size=self.recipe.batch_size,
            batch_format="numpy",
            # Ray Data restarts a dead actor (max_restarts=-1) and retries its batches
            # (max_task_retries=-1) by default; the tests kill one.
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=0 if self.gpu else 1,
            num_gpus=1 if self.gpu else None,
        )
        rows = ((int(row["index"]), bytes(row["result"])) for row in _rows(ray, judged))
        for index, data in in_order(rows, [index for index, _ in todo]):
            yield index, _loads(data)


def in_order(
    rows: Iterable[tuple[int, bytes]], expected: Sequence[int]
) -> Iterator[tuple[int, bytes]]:
    """``rows`` (index, result) given in the order of ``expected`` (increasing indexes), each
    once: a row that comes early waits, a row seen before (a batch Ray ran again) is dropped,
    and ``EngineError`` says which index never came."""
    wanted = iter(expected)
    waiting: dict[int, bytes] = {}
    want = next(wanted, None)
    for index, data in rows:
        if want is None or index < want or index in waiting:
            continue  # a batch run again: its results were given already
        waiting[index] = data
        while want is not None and want in waiting:
            yield want, waiting.pop(want)
            want = next(wanted, None)
    if want is not None:
        raise EngineError(f"the Ray scan ended without the result of file {want}")


def _rows(ray: ModuleType, dataset: Any) -> Iterator[dict[str, Any]]:
    """The dataset's rows; ``EngineError`` when the job fails on the cluster for good (an
    actor that cannot start, as where a node lacks Rempart: a batch that fails is retried)."""
    try:
        yield from dataset.iter_rows()
    except ray.exceptions.RayError as exc:
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise EngineError(
            f"the scan failed on the Ray cluster ({first[:300]}); every node needs Rempart "
            "with the 'ray' extra and the detectors' extras, the version the driver has"
        ) from exc


def _onnx_providers() -> list[str]:
    try:
        import onnxruntime as ort
    except ImportError:
        return []
    return list(ort.get_available_providers())
