"""Declared flags, a pickle's code and copies, as signals; picklescan is the oracle for which
imports are dangerous."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from picklescan.scanner import SafetyLevel, scan_pickle_bytes  # type: ignore[import-untyped]

from rempart.hub import pickles
from rempart.hub.declared import copy_signals, flag_signals, pickle_signals
from rempart.hub.known import KnownModel, KnownModels
from rempart.modelfile import ModelCard, ModelFile, ModelFormat, parse_model, read_model

FLAG_CASES: list[tuple[ModelCard | None, dict[str, Any] | None, str, str]] = [
    (
        ModelCard({"tags": ["lora", "not-for-all-audiences"]}, ""),
        None,
        "model.nsfw",
        "README.md:tags[1]",
    ),
    (None, {"model": {"nsfw": True}}, "model.nsfw", "x.civitai.info:model.nsfw"),
    (
        None,
        {"images": [{"nsfw": False}, {"nsfw": True}]},
        "model.nsfw",
        "x.civitai.info:images[1].nsfw",
    ),
    (None, {"images": [{"nsfw": "X"}]}, "model.nsfw", "x.civitai.info:images[0].nsfw"),
    (
        None,
        {"images": [{"nsfwLevel": 1}, {"nsfwLevel": 4}]},
        "model.nsfw",
        "x.civitai.info:images[1].nsfwLevel",
    ),
    (None, {"model": {"poi": True}}, "model.poi", "x.civitai.info:model.poi"),
    (None, {"model": {"minor": True}}, "model.minor", "x.civitai.info:model.minor"),
]


@pytest.mark.parametrize(("card", "sidecar", "name", "field"), FLAG_CASES)
def test_each_declared_flag(
    card: ModelCard | None, sidecar: dict[str, Any] | None, name: str, field: str
) -> None:
    (signal,) = flag_signals(card, sidecar, version="1", sidecar_name="x.civitai.info")
    assert (signal.name, signal.score, signal.evidence) == (name, 1.0, {"field": field})


@pytest.mark.parametrize(
    "sidecar",
    [
        {"model": {"nsfw": False, "poi": False, "minor": False}},
        {"model": {"nsfw": "true"}},  # only a JSON true declares
        {"images": [{"nsfw": "None", "nsfwLevel": 1}]},
    ],
)
def test_what_declares_nothing(sidecar: dict[str, Any]) -> None:
    assert flag_signals(ModelCard({"tags": ["nsfw-free"]}, ""), sidecar, version="1") == []


def globals_pickle(names: list[str], *, stack: bool) -> bytes:
    """A pickle that imports each of ``names`` and drops it: by GLOBAL (protocol 2) or by
    STACK_GLOBAL (protocol 4). Built opcode by opcode; never loaded."""
    out = bytearray(b"\x80\x04" if stack else b"\x80\x02")
    for full in names:
        module, name = full.rsplit(".", 1)
        if stack:
            for part in (module, name):
                raw = part.encode()
                out += b"\x8c" + bytes([len(raw)]) + raw
            out += b"\x93"
        else:
            out += b"c" + module.encode() + b"\n" + name.encode() + b"\n"
        out += b"0"  # POP
    return bytes(out + b"N.")


ORACLE = [
    "os.system",
    "posix.system",
    "nt.system",
    "subprocess.Popen",
    "builtins.eval",
    "builtins.exec",
    "builtins.getattr",
    "builtins.open",
    "__builtin__.compile",
    "runpy._run_code",
    "webbrowser.open",
    "pty.spawn",
    "socket.create_connection",
    "shutil.rmtree",
    "functools.partial",
    "operator.attrgetter",
    "pickle.loads",
    "sys.exit",
    "torch._utils._rebuild_tensor_v2",
    "collections.OrderedDict",
    "torch.FloatStorage",
    "torch.BFloat16Storage",
    "numpy.core.multiarray._reconstruct",
    "my_package.layers.Block",
]


@pytest.mark.parametrize("stack", [False, True], ids=["GLOBAL", "STACK_GLOBAL"])
def test_pickle_code_agrees_with_picklescan(tmp_path: Path, stack: bool) -> None:
    data = globals_pickle(ORACLE, stack=stack)
    path = tmp_path / "model.pt"
    path.write_bytes(data)
    model = read_model(path)
    assert set(model.imports) == set(ORACLE)
    scores = {s.value: s.score for s in pickle_signals(model, version="1")}
    scanned = scan_pickle_bytes(io.BytesIO(data), "model.pt")
    safety = {f"{g.module}.{g.name}": g.safety for g in scanned.globals}
    for name in ORACLE:
        if safety[name] is SafetyLevel.Dangerous:
            assert scores.get(name) == 1.0, name
        elif safety[name] is SafetyLevel.Innocuous and name.startswith(("torch", "collections")):
            assert name not in scores, name  # what a weights-only load accepts
        else:
            assert scores.get(name) == pickles.REFUSED_SCORE, name
    signal = next(s for s in pickle_signals(model, version="1") if s.value == "os.system")
    assert (signal.name, signal.evidence) == ("model.pickle.code", {"import": "os.system"})


def test_an_import_the_pickle_computes_runs_code_as_picklescan_says() -> None:
    """``STACK_GLOBAL`` after a non-constant push (a POP here; a call's result in an attack):
    what it imports is unknown, which picklescan calls dangerous."""
    data = b"\x80\x04\x8c\x02os\x8c\x04junk0\x8c\x06system\x93."
    model = parse_model(data)
    scanned = scan_pickle_bytes(io.BytesIO(data), "model.pt")
    assert [g.safety for g in scanned.globals] == [SafetyLevel.Dangerous]
    assert {s.value: s.score for s in pickle_signals(model, version="1")} == {"unknown.system": 1.0}


def test_a_weights_only_model_has_no_code_signal() -> None:
    model = ModelFile(
        ModelFormat.PYTORCH,
        1,
        imports=("collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch.HalfStorage"),
    )
    assert pickle_signals(model, version="1") == []


def test_a_copy_names_the_blocked_model_and_its_category() -> None:
    known = KnownModels(
        {"s1:" + "a" * 64: KnownModel("old/jane.safetensors", ("sexual_deepfake",))}
    )
    copy = ModelFile(ModelFormat.SAFETENSORS, 1, fingerprint="s1:" + "a" * 64)
    (signal,) = copy_signals(copy, known, version="1")
    assert signal.name == "model.copy"
    assert signal.evidence["known"] == "old/jane.safetensors"
    assert signal.evidence["category"] == "sexual_deepfake"
    other_scheme = ModelFile(ModelFormat.SAFETENSORS, 1, fingerprint="f1:" + "a" * 64)
    assert copy_signals(other_scheme, known, version="1") == []
    assert copy_signals(ModelFile(ModelFormat.PICKLE, 1), known, version="1") == []


def test_an_import_the_pickle_builds_as_it_runs_counts_as_code() -> None:
    # rempart.modelfile names a STACK_GLOBAL whose operands are not constants "unknown"
    model = ModelFile(ModelFormat.PICKLE, 1, imports=("unknown.unknown", "os.unknown"))
    scores = {s.value: s.score for s in pickle_signals(model, version="1")}
    assert scores == {"unknown.unknown": 1.0, "os.unknown": 1.0}
