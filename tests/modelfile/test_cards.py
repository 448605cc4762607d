"""Cards, sidecars and Git LFS pointers: found beside a model, read within limits, decoded
without trusting them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rempart.modelfile import (
    MAX_CARD_BYTES,
    ModelFileError,
    ModelFormat,
    Sidecars,
    beside,
    parse_model,
    read_card,
    read_model,
    read_sidecar,
    read_text_file,
)

CARD = b"""---
tags:
- not-for-all-audiences
- lora
base_model: stabilityai/stable-diffusion-xl-base-1.0
instance_prompt: photo of subject
widget:
- text: subject smiling
---
# Subject

A LoRA of a subject.
"""

POINTER = (
    b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"ab" * 32 + b"\nsize 151110132\n"
)


def test_a_card_gives_its_front_matter_and_its_body() -> None:
    card = read_card(CARD)
    assert card.front_matter["tags"] == ["not-for-all-audiences", "lora"]
    assert card.front_matter["widget"] == [{"text": "subject smiling"}]
    assert card.body == "# Subject\n\nA LoRA of a subject.\n"
    assert card.warnings == ()


@pytest.mark.parametrize(
    ("data", "warning"),
    [
        (b"---\ntags: [a, b\n---\nbody", "front matter: not YAML"),
        (b"---\n- a\n- b\n---\nbody", "front matter: a list, not a mapping"),
        (b"---\ntags: [a]\nbody without an end", "front matter: no closing ---"),
        (b"---\n" + b"[" * 5000 + b"\n---\nbody", "front matter: not YAML"),
        (b"---\nx: !!python/object/apply:os.system ['true']\n---\nbody", "front matter: not"),
    ],
)
def test_a_damaged_front_matter_is_a_warning(data: bytes, warning: str) -> None:
    card = read_card(data)
    assert card.front_matter == {}
    assert card.warnings[0].startswith(warning)


def test_an_alias_bomb_is_refused_before_anyone_walks_it() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        lines.append(f"{chr(97 + level)}: &{chr(97 + level)} " + str([f"*{chr(96 + level)}"] * 10))
    data = ("---\n" + "\n".join(lines).replace("'", "") + "\n---\nbody").encode()
    card = read_card(data)
    assert card.front_matter == {}
    assert "values" in card.warnings[0]


def test_a_card_without_front_matter_is_all_body_and_bad_utf8_is_replaced() -> None:
    card = read_card(b"\xef\xbb\xbf# Title\n\xff text")
    assert card.front_matter == {}
    assert card.body == "# Title\n\ufffd text"
    assert card.warnings == ()


def test_a_sidecar_is_a_json_object() -> None:
    info = {"name": "Subject", "trainedWords": ["subject"], "model": {"nsfw": True}}
    assert read_sidecar(json.dumps(info).encode()) == info
    for bad in (b"[1]", b"{", b"[" * 100_000, b"\xff"):
        with pytest.raises(ModelFileError) as caught:
            read_sidecar(bad)
        assert caught.value.code.value == "corrupt"


def test_read_text_file_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "README.md"
    path.write_bytes(CARD)
    assert read_text_file(path, limit=MAX_CARD_BYTES) == CARD
    with pytest.raises(ModelFileError) as caught:
        read_text_file(path, limit=10)
    assert caught.value.code.value == "too_large"
    with pytest.raises(ModelFileError) as caught:
        read_text_file(tmp_path / "missing.md", limit=10)
    assert caught.value.code.value == "not_found"


def test_beside_finds_the_nearest_card_up_to_the_root_and_the_same_stem_sidecar(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "repo" / "loras" / "v1"
    folder.mkdir(parents=True)
    model = folder / "subject.v1.safetensors"
    model.write_bytes(b"")
    (tmp_path / "repo" / "README.md").write_bytes(CARD)
    (tmp_path / "README.md").write_bytes(CARD)  # above the root: never read
    (folder / "subject.v1.civitai.info").write_bytes(b"{}")
    (folder / "other.civitai.info").write_bytes(b"{}")
    found = beside(str(model), str(tmp_path / "repo"))
    assert found == Sidecars(
        card=str(tmp_path / "repo" / "README.md"),
        sidecar=str(folder / "subject.v1.civitai.info"),
    )
    assert beside(str(model), None).card is None  # the model's own folder only
    (folder / "README.md").write_bytes(CARD)
    assert beside(str(model), None).card == str(folder / "README.md")


def test_beside_stops_at_a_root_that_does_not_hold_the_model(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "README.md").write_bytes(CARD)
    model = tmp_path / "a" / "m.safetensors"
    assert beside(str(model), str(tmp_path / "b")) == Sidecars()


def test_a_git_lfs_pointer_gives_its_oid_and_size(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(POINTER)
    model = read_model(path)
    assert model.format is ModelFormat.LFS_POINTER
    assert model.lfs is not None
    assert (model.lfs.oid, model.lfs.size) == ("sha256:" + "ab" * 32, 151110132)
    assert model.size == 151110132
    assert (model.fingerprint, model.tensors) == (None, ())
    assert parse_model(POINTER) == model


@pytest.mark.parametrize(
    "data",
    [
        POINTER.replace(b"sha256:", b"sha1:"),
        POINTER.replace(b"size 151110132", b"size -1"),
        POINTER.replace(b"size 151110132", b"size 1" + b"0" * 400),  # past 2**63
        POINTER.replace(b"/v1", b"/v1") + b"x" * 2000,
    ],
)
def test_a_damaged_lfs_pointer_is_corrupt(data: bytes) -> None:
    with pytest.raises(ModelFileError) as caught:
        parse_model(data)
    assert caught.value.code.value == "corrupt"
