"""``rempart signals`` and ``rempart persons`` as a new user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rempart.detectors.identity import IdentityDetector
from tests.cli.invoke import run
from tests.images import encode, gradient


def test_signals_prints_every_detectors_signals(
    env: dict[str, str], testdata: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(encode(gradient(300, 200), "JPEG")[:500])
    files = [testdata / "faces" / "obama.jpg", testdata / "provenance" / "C.jpg", broken]
    code, out, err = run(env, "signals", *map(str, files))
    assert code == 1
    records = [json.loads(line) for line in out.splitlines()]
    assert [Path(r["path"]).name for r in records] == ["obama.jpg", "C.jpg", "broken.jpg"]
    obama = {s["name"] for s in records[0]["signals"]}
    assert {"nudity.face", "face.detected", "face.age", "face.minor"} <= obama
    assert "provenance.c2pa.ai_generated" in {s["name"] for s in records[1]["signals"]}
    assert records[2]["error"]["code"] == "truncated"
    assert "failed, nudity, faces, identity, provenance in" in err  # no bank: nothing to match
    assert not (tmp_path / "data").exists(), "reading signals created no database"


def test_signals_table_and_chosen_detectors(env: dict[str, str], testdata: Path) -> None:
    code, out, _ = run(
        env, "signals", "-d", "provenance", "--format", "csv", str(testdata / "provenance")
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == (
        "path,signal,score,value,region,detector,error_code,error_message,timestamps"
    )
    assert any("provenance.c2pa.tampered" in line for line in lines)
    assert not any("face." in line for line in lines)


def test_unknown_detector_is_a_usage_error(env: dict[str, str], testdata: Path) -> None:
    code, _, err = run(env, "signals", "-d", "nudityy", str(testdata / "faces" / "obama.jpg"))
    assert code == 2
    assert "choose from bank, nudity, faces, identity, provenance" in err


def test_registry_enrol_match_list_remove(env: dict[str, str], testdata: Path) -> None:
    faces = testdata / "faces"
    code, out, _ = run(
        env,
        "persons",
        "enroll",
        "Barack Obama",
        *(str(faces / f"obama{n}.jpg") for n in ("", "2", "3")),
    )
    assert code == 0
    assert json.loads(out)["embeddings"] == 3

    code, out, _ = run(
        env, "persons", "match", str(faces / "obama_and_biden.jpg"), str(faces / "biden.jpg")
    )
    assert code == 0
    group, biden = (json.loads(line) for line in out.splitlines())
    matched = [face for face in group["faces"] if face["matches"]]
    assert len(group["faces"]) == 3
    assert [m["name"] for face in matched for m in face["matches"]] == ["Barack Obama"]
    assert matched[0]["matches"][0]["distance"] < 0.6
    assert len(matched[0]["box"]) == 4
    assert biden["faces"][0]["matches"] == []

    code, out, _ = run(env, "signals", "-d", "identity", str(faces / "obama_and_biden.jpg"))
    (signal,) = json.loads(out)["signals"]
    assert (signal["name"], signal["value"]) == ("identity.match", "Barack Obama")

    code, out, _ = run(env, "persons", "list", "--format", "jsonl")
    assert [json.loads(line)["name"] for line in out.splitlines()] == ["Barack Obama"]
    assert run(env, "registry", "list", "--format", "jsonl")[1] == out  # the old name
    code, _, err = run(env, "persons", "remove", "Barack Obama")
    assert code == 0
    assert "3 embeddings" in err
    code, out, _ = run(env, "persons", "list", "--format", "jsonl")
    assert out == ""


def test_enrolment_is_all_or_nothing(env: dict[str, str], testdata: Path) -> None:
    code, _, err = run(
        env,
        "persons",
        "enroll",
        "Someone",
        str(testdata / "faces" / "obama.jpg"),
        str(testdata / "faces" / "obama_and_biden.jpg"),
        str(testdata / "provenance" / "C.jpg"),
    )
    assert code == 1
    assert "obama_and_biden.jpg: 3 faces" in err
    assert "C.jpg: no face found" in err
    assert "nothing enrolled" in err
    code, out, _ = run(env, "persons", "list", "--format", "jsonl")
    assert out == ""
    code, out, _ = run(
        env,
        "persons",
        "enroll",
        "Someone",
        "--largest",
        str(testdata / "faces" / "obama_and_biden.jpg"),
    )
    assert code == 0
    assert json.loads(out)["embeddings"] == 1


def test_removing_an_unknown_person_exits_2(env: dict[str, str]) -> None:
    code, _, err = run(env, "persons", "remove", "Nobody")
    assert code == 2
    assert "no protected person named 'Nobody'" in err


def test_registry_names_are_read_by_the_gate(env: dict[str, str], testdata: Path) -> None:
    faces = testdata / "faces"
    code, out, err = run(
        env, "persons", "enroll", "Barack Obama", "--alias", "Barry O", str(faces / "obama.jpg")
    )
    assert code == 0, err
    assert json.loads(out)["aliases"] == ["Barry O"]
    code, out, _ = run(env, "guard", "--prompt", "Barry O nude")
    assert code == 4
    assert json.loads(out)["reasons"][0]["rule"] == "real-person-sexualised"

    code, out, _ = run(
        env,
        "persons",
        "names",
        "Barack Obama",
        "--alias",
        "Barack H. Obama",
        "--distinctive",
        "Obama",
    )
    assert code == 0
    assert (json.loads(out)["aliases"], json.loads(out)["distinctive"]) == (
        ["Barack H. Obama"],
        ["Obama"],
    )
    assert run(env, "guard", "--prompt", "Barry O nude")[0] == 0  # the alias set before is gone
    assert run(env, "guard", "--prompt", "Obama nude")[0] == 4
    code, out, _ = run(env, "persons", "list", "--format", "jsonl")
    assert json.loads(out)["distinctive"] == ["Obama"]
    code, _, err = run(env, "persons", "names", "Nobody", "--alias", "N")
    assert code == 2
    assert "no protected person named 'Nobody'" in err


@pytest.mark.parametrize(
    ("setting", "finder"), [("dlib", "DlibFaceFinder"), ("", "RetinaFaceFinder")]
)
def test_persons_enroll_and_match_find_faces_as_the_setting_says(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str, finder: str
) -> None:
    """``REMPART_FACE_DETECTOR`` chooses the faces enrolled and matched, as it does a scan's."""
    import rempart.persons
    import rempart.persons.match

    used: list[str] = []

    def enrol(*args: object, identity: IdentityDetector, **kwargs: object) -> object:
        used.append(type(identity.finder).__name__)
        raise SystemExit(0)

    def match(paths: object, identity: IdentityDetector, **kwargs: object) -> list[object]:
        used.append(type(identity.finder).__name__)
        return []

    monkeypatch.setattr(rempart.persons, "enrol_photos", enrol)
    monkeypatch.setattr(rempart.persons.match, "match_photos", match)
    photo = tmp_path / "photo.png"
    photo.write_bytes(encode(gradient(64, 64), "PNG"))
    env = {**env, "REMPART_FACE_DETECTOR": setting}
    run(env, "persons", "enroll", "Ada Quist", str(photo))
    run(env, "persons", "match", str(photo))
    assert used == [finder, finder]
