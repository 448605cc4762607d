"""Known models come from an earlier audit's output: its blocked records, by fingerprint."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from rempart.errors import ScanOutputError
from rempart.hub import KnownModel, KnownModels


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def verdict(action: str, *categories: str) -> dict[str, Any]:
    return {"action": action, "categories": [{"name": name} for name in categories]}


def test_only_blocked_records_with_a_fingerprint_are_known(tmp_path: Path) -> None:
    output = write(
        tmp_path / "audit.jsonl",
        [
            {"rempart_scan": {"policy": {"name": "hub"}}},
            {"path": "a", "fingerprint": "s1:aa", "verdict": verdict("block", "sexual_deepfake")},
            {"path": "b", "fingerprint": "s1:bb", "verdict": verdict("review", "likeness_model")},
            {"path": "c", "fingerprint": None, "verdict": verdict("block")},
            {"path": "d", "error": {"code": "corrupt", "message": "..."}},
            {
                "path": "e",
                "fingerprint": "s1:aa",
                "verdict": verdict("block"),
            },  # a copy: first kept
        ],
    )
    known = KnownModels.read(output)
    assert known.models == {"s1:aa": KnownModel("a", ("sexual_deepfake",))}
    assert len(known.digest) == 64
    assert known.get(None) is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json\n", "not a JSON record"),
        ("[1, 2]\n", "not an audit record"),
        ('{"path": "a"}\n', "no path, verdict or error"),
        ('{"x": 1}\n{"rempart_scan": {}}\n', "no path, verdict or error"),
    ],
)
def test_a_file_that_is_not_an_audit_output_is_refused(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(ScanOutputError, match=message):
        KnownModels.read(path)


@pytest.mark.parametrize("categories", [5, None, "sexual_deepfake", {"name": "x"}, [1, None]])
def test_a_blocked_record_s_categories_of_any_shape_are_read_or_passed_over(
    tmp_path: Path, categories: object
) -> None:
    record = {"path": "a", "fingerprint": "s1:aa", "verdict": {"action": "block"}}
    record["verdict"]["categories"] = categories  # type: ignore[index]
    known = KnownModels.read(write(tmp_path / "audit.jsonl", [record]))
    assert known.models == {"s1:aa": KnownModel("a", ())}


def test_a_pipe_or_a_device_is_refused_unopened(tmp_path: Path) -> None:
    fifo = tmp_path / "known.fifo"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        with pytest.raises(ScanOutputError, match="not a file"):
            KnownModels.read(path)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScanOutputError, match="cannot read the known models"):
        KnownModels.read(tmp_path / "missing.jsonl")
