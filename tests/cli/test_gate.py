"""``rempart guard`` as a service's engineer runs it: one request and its exit status, the text
format, the registry from a file or from the data directory, and --batch."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

import pytest

from rempart.cli.gate import ACTION_EXIT_CODES
from rempart.policy import Action
from tests.cli.invoke import run
from tests.images import encode, gradient

REVIEW_SEXUAL = """\
policy: review-sexual
version: "1"
extends: default
rules:
  - id: sexual-request
    when: [sexual]
    action: review
    category: adult_nudity
    reason: A sexual request goes to a person.
"""


@pytest.fixture
def registry_file(tmp_path: Path) -> Path:
    path = tmp_path / "registry.json"
    path.write_text(
        json.dumps(
            {"protected_persons": ["Taylor Swift", {"name": "Beyoncé", "aliases": ["Queen B"]}]}
        )
    )
    return path


def test_exit_status_says_the_action() -> None:
    assert ACTION_EXIT_CODES == {Action.ALLOW: 0, Action.REVIEW: 3, Action.BLOCK: 4}


def test_one_request_prints_action_categories_and_reasons(env: dict[str, str]) -> None:
    code, out, _ = run(env, "guard", "--prompt", "nude 15 year old")
    assert code == 4
    verdict = json.loads(out)
    assert set(verdict) == {"action", "categories", "reasons"}
    assert verdict["action"] == "block"
    assert verdict["categories"][0]["name"] == "child_sexual_abuse"
    signals = verdict["reasons"][0]["signals"]
    assert {s["evidence"]["match"] for s in signals} == {"nude", "15 year old"}
    assert run(env, "guard", "--prompt", "a lighthouse at sunset")[:2] == (
        0,
        '{"action": "allow", "categories": [], "reasons": []}\n',
    )


def test_review_exits_3(env: dict[str, str], tmp_path: Path) -> None:
    policy = tmp_path / "review.yaml"
    policy.write_text(REVIEW_SEXUAL)
    code, out, _ = run(env, "guard", "--prompt", "nsfw", "--policy", str(policy))
    assert (code, json.loads(out)["action"]) == (3, "review")


def test_text_format_names_rule_match_and_view(env: dict[str, str]) -> None:
    code, out, _ = run(env, "guard", "--prompt", "t e e n nude", "--format", "text")
    assert code == 4
    assert out.startswith("BLOCK  child_sexual_abuse\n")
    assert "minor-sexualised (block)" in out
    assert "'t e e n' in the prompt, view spacing, term 'teen'" in out


def test_negative_prompt_is_read_in_reverse(env: dict[str, str]) -> None:
    args = ("guard", "--prompt", "sexy girl, nsfw")
    assert run(env, *args)[0] == 0
    code, out, _ = run(env, *args, "--negative", "adult, mature, woman")
    assert code == 4
    fields = {s["evidence"]["field"] for s in json.loads(out)["reasons"][0]["signals"]}
    assert fields == {"prompt", "negative"}


def test_registry_file_names_protected_persons_and_aliases(
    env: dict[str, str], registry_file: Path
) -> None:
    assert run(env, "guard", "--prompt", "Taylor Swift nude")[0] == 0  # nobody registered
    for prompt in ("Taylor Swift nude", "t4ylor sw1ft topless", "queen b in lingerie"):
        code, out, _ = run(env, "gate", "--prompt", prompt, "--persons", str(registry_file))
        assert code == 4, prompt
    values = {
        s.get("value")
        for s in json.loads(out)["reasons"][0]["signals"]
        if s["name"] == "text.person"
    }
    assert values == {"Beyoncé"}
    ok = run(env, "guard", "--prompt", "Taylor Swift on stage", "--registry", str(registry_file))
    assert ok[0] == 0


def test_text_format_says_how_far_a_name_was_written(
    env: dict[str, str], registry_file: Path
) -> None:
    args = ("--prompt", "Tayllor Swfit topless", "--registry", str(registry_file))
    code, out, _ = run(env, "guard", *args, "--format", "text")
    assert code == 4
    assert "text.person: 'Tayllor Swfit' in the prompt" in out
    assert "term 'Taylor Swift', 1 edit away" in out


def test_the_registry_in_the_data_directory_is_used_by_default(
    env: dict[str, str], testdata: Path
) -> None:
    photo = testdata / "faces" / "obama.jpg"
    assert run(env, "registry", "enroll", "Barack Obama", str(photo))[0] == 0
    assert run(env, "guard", "--prompt", "barack obama nude")[0] == 4
    assert run(env, "guard", "--prompt", "barack obama at a desk")[0] == 0


@pytest.mark.parametrize(
    ("contents", "message"),
    [
        ("not json", "is not JSON"),
        ('{"persons": []}', "protected_persons"),
        ('{"protected_persons": [1]}', "entry 0"),
    ],
)
def test_a_bad_registry_file_is_a_usage_error(
    env: dict[str, str], tmp_path: Path, contents: str, message: str
) -> None:
    path = tmp_path / "registry.json"
    path.write_text(contents)
    code, _, err = run(env, "guard", "--prompt", "x", "--registry", str(path))
    assert code == 2
    assert message in err


def test_an_uploaded_photo_with_a_face(env: dict[str, str], testdata: Path) -> None:
    photo = str(testdata / "faces" / "biden.jpg")
    code, out, _ = run(env, "guard", "--prompt", "put her in a bikini", "--input", photo)
    assert code == 4
    rules = {reason["rule"] for reason in json.loads(out)["reasons"]}
    assert rules == {"real-person-sexualised"}
    assert run(env, "guard", "--prompt", "make her smile", "--input", photo)[0] == 0
    assert run(env, "guard", "--prompt", "undress", "--person-photo")[0] == 4


def test_a_prompt_not_read_within_the_setting_goes_to_review(env: dict[str, str]) -> None:
    # 16,000 characters of words take well over a millisecond of CPU to read on any machine.
    rng = random.Random(17)
    prompt = " ".join(
        "".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(2_600)
    )[:16_000]
    code, out, _ = run({**env, "REMPART_GATE_PROMPT_MS": "1"}, "guard", "--prompt", prompt)
    assert code == ACTION_EXIT_CODES[Action.REVIEW]
    assert [reason["rule"] for reason in json.loads(out)["reasons"]] == ["prompt-unread"]
    assert run({**env, "REMPART_GATE_PROMPT_MS": "0"}, "guard", "--prompt", prompt)[0] == 0


def test_bad_input_is_refused_and_nothing_judged(env: dict[str, str], tmp_path: Path) -> None:
    code, out, err = run(env, "guard", "--prompt", "a" * 100_000)
    assert (code, out) == (1, "")
    assert "100,000 characters" in err
    code, out, err = run(env, "guard", "--prompt", "nude \udcff")
    assert (code, out) == (1, "")
    assert "not valid Unicode" in err
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(encode(gradient(300, 200), "JPEG")[:400])
    code, out, err = run(env, "guard", "--prompt", "a portrait", "--output", str(cut))
    assert (code, out) == (1, "")
    assert "output: " in err


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("--prompt", "x", "--batch", "-"),
        ("--prompt", "x", "--format", "xml"),
    ],
)
def test_usage_errors_exit_2(env: dict[str, str], args: tuple[str, ...]) -> None:
    code, _, err = run(env, "guard", *args)
    assert code == 2
    assert "Error:" in err


def test_batch_prints_one_record_per_line_in_order(env: dict[str, str], tmp_path: Path) -> None:
    good = tmp_path / "ok.png"
    good.write_bytes(encode(gradient(64, 64), "PNG"))
    lines = [
        {"id": "a", "text": "nude 15 year old", "negative": None},
        {"id": "b", "prompt": "a lighthouse", "negative_prompt": "fog", "inputs": []},
        {"id": "c", "prompt": "undress", "person_photo": True},
        {"id": "d", "text": "x" * 20_000},
        {"id": "e", "text": "a portrait", "output": str(tmp_path / "missing.png")},
        {"id": 6, "text": 42},
    ]
    raw = "\n".join(json.dumps(line) for line in lines) + "\nnot json\n\n"
    path = tmp_path / "requests.jsonl"
    path.write_text(raw)
    code, out, _ = run(env, "gate", "--batch", str(path))
    assert code == 1
    records = [json.loads(line) for line in out.splitlines()]
    assert [r.get("id") for r in records] == ["a", "b", "c", "d", "e", 6, None]
    assert [r.get("action") for r in records[:3]] == ["block", "allow", "block"]
    assert set(records[0]) == {"id", "action", "categories", "reasons"}
    assert [r["error"]["code"] for r in records[3:]] == [
        "too_long",
        "not_found",
        "invalid_request",
        "invalid_request",
    ]
    assert records[-1]["line"] == 7


def test_batch_reads_standard_input(env: dict[str, str]) -> None:
    stdin = json.dumps({"id": 1, "text": "Kim Kardashian seins nus"}) + "\n"
    code, out, _ = run(env, "guard", "--batch", "-", stdin=stdin)
    assert code == 0
    assert json.loads(out)["action"] == "allow"  # no registry: not a protected person


def test_old_batch_names_and_the_old_command_still_work(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "old.jsonl"
    path.write_text(json.dumps({"id": "x", "text": "undress", "has_input_photo": True}) + "\n")
    code, out, _ = run(env, "guard", "--batch", str(path))
    assert code == 0
    assert json.loads(out)["action"] == "block"
    code, out, _ = run(env, "--help")
    assert " gate " in out
    assert " guard " not in out  # a hidden alias
