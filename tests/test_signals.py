"""``Signal`` and ``Region``: what every detector returns, validated and serialised."""

from __future__ import annotations

import math

import pytest

from rempart.signals import Region, Signal


def test_json_leaves_out_what_is_absent() -> None:
    bare = Signal("face.detected", 0.9, "faces", "v1")
    assert bare.to_json() == {
        "name": "face.detected",
        "score": 0.9,
        "detector": "faces",
        "version": "v1",
    }
    full = Signal(
        "face.age", 0.51234, "faces", "v1", value=34.5, region=Region(1, 2, 3, 4), evidence={"a": 1}
    )
    assert full.to_json()["region"] == [1, 2, 3, 4]
    assert full.to_json()["score"] == 0.5123
    assert full.to_json()["evidence"] == {"a": 1}


@pytest.mark.parametrize("name", ["face", "Face.minor", "face..minor", "face.minor!", "1.a"])
def test_names_are_dotted_lowercase(name: str) -> None:
    with pytest.raises(ValueError, match="dotted lowercase"):
        Signal(name, 0.5, "d", "1")


@pytest.mark.parametrize("score", [-0.01, 1.01, math.nan, math.inf])
def test_scores_are_within_zero_and_one(score: float) -> None:
    with pytest.raises(ValueError, match="score"):
        Signal("face.minor", score, "d", "1")


def test_error_signals_say_so() -> None:
    assert Signal("provenance.c2pa.error", 0.0, "provenance", "1").is_error
    assert not Signal("provenance.c2pa.manifest", 1.0, "provenance", "1").is_error


def test_region_scales_and_clips() -> None:
    assert Region(10, 10, 20, 20).scaled(2.0, width=100, height=100) == Region(20, 20, 40, 40)
    assert Region(40, 40, 20, 20).scaled(2.0, width=100, height=90) == Region(80, 80, 20, 10)
    with pytest.raises(ValueError, match="negative"):
        Region(0, 0, -1, 5)
