"""``rempart exchange``: add, list, fetch, status and remove, against each exchange's loopback
fake; failures exit non-zero, say why, and never print the credential."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.invoke import jsonl, ok, run
from tests.exchanges.fakes import FakeExchange, fake_exchange

FAKES = {
    "stopncii": "tests.exchanges.stopncii",
    "ncmec": "tests.exchanges.ncmec",
    "threatexchange": "tests.exchanges.threatexchange",
    "tat": "tests.exchanges.tat",
}
KINDS = [kind for kind, module in FAKES.items() if importlib.util.find_spec(module) is not None]
PDQ_A = "f" * 8 + "0" * 56
PDQ_B = "0" * 8 + "f" * 56


@pytest.fixture(params=KINDS)
def fake(request: pytest.FixtureRequest) -> Iterator[FakeExchange]:
    with fake_exchange(request.param) as started:
        yield started


@pytest.fixture
def feed_env(env: dict[str, str], fake: FakeExchange) -> dict[str, str]:
    """``env`` with the credential in a variable and an exchange ``feed`` added."""
    made = {**env, "FEED_CREDENTIAL": fake.credentials}
    options = [arg for k, v in fake.options.items() for arg in ("--option", f"{k}={v}")]
    code, _, err = run(
        made,
        "exchange",
        "add",
        "feed",
        "--type",
        fake.kind,
        "--credentials-env",
        "FEED_CREDENTIAL",
        "--url",
        fake.url,
        *options,
    )
    assert code == 0, err
    assert "rempart exchange fetch feed" in err
    return made


def secret_parts(fake: FakeExchange) -> list[str]:
    text = fake.credentials.replace("|", ",").replace(":", ",")
    return [part for part in text.split(",") if len(part) >= 4]


def test_add_fetch_list_and_status(feed_env: dict[str, str], fake: FakeExchange) -> None:
    fake.add("pdq", PDQ_A)
    fake.add("pdq", PDQ_B)
    fake.settle()
    [report] = jsonl(feed_env, "exchange", "fetch")
    assert (report["exchange"], report["added"], report["error"]) == ("feed", 2, None)
    [listed] = jsonl(feed_env, "exchange", "list")
    assert listed["credentials"] == "env:FEED_CREDENTIAL"
    assert (listed["state"], listed["entries"], listed["bank"]) == ("ok", 2, "feed")
    table = ok(feed_env, "exchange", "status")
    assert "feed" in table
    assert "ok" in table
    [bank] = jsonl(feed_env, "bank", "stats", "feed")
    assert bank["active"] == 2
    for part in secret_parts(fake):
        assert part not in json.dumps(listed)
        assert part not in table


def test_a_failed_fetch_exits_1_says_why_and_keeps_the_bank(
    feed_env: dict[str, str], fake: FakeExchange
) -> None:
    fake.add("pdq", PDQ_A)
    fake.settle()
    ok(feed_env, "exchange", "fetch", "feed")
    fake.add("pdq", PDQ_B)
    fake.expire()
    fake.settle()
    code, out, err = run(feed_env, "exchange", "fetch", "feed")
    assert code == 1
    assert "Error: exchange 'feed': HTTP 4" in err
    assert json.loads(out)["error"].startswith("exchange 'feed': HTTP 4")
    code, out, _ = run(feed_env, "exchange", "status", "feed", "--format", "jsonl")
    assert code == 1
    status = json.loads(out)
    assert status["state"] == "failing"
    assert status["last_error"].startswith("HTTP 4")
    assert status["entries"] == 1
    for part in secret_parts(fake):
        assert part not in out + err


def test_disable_enable_and_a_fetch_of_nothing(feed_env: dict[str, str]) -> None:
    ok(feed_env, "exchange", "disable", "feed")
    [listed] = jsonl(feed_env, "exchange", "list")
    assert (listed["enabled"], listed["state"]) == (False, "disabled")
    code, out, err = run(feed_env, "exchange", "fetch")
    assert (code, out) == (0, "")
    assert "No enabled exchange" in err
    ok(feed_env, "exchange", "enable", "feed")
    [listed] = jsonl(feed_env, "exchange", "list")
    assert (listed["enabled"], listed["state"]) == (True, "never")


def test_remove_disables_the_bank_unless_kept(feed_env: dict[str, str]) -> None:
    code, _, err = run(feed_env, "exchange", "remove", "feed")
    assert code == 0, err
    assert "disabled" in err
    assert jsonl(feed_env, "exchange", "list") == []
    [bank] = jsonl(feed_env, "bank", "list")
    assert bank["enabled"] is False


@pytest.mark.parametrize("kind", KINDS[:1])
def test_bad_usage_exits_2_and_changes_nothing(
    env: dict[str, str], kind: str, tmp_path: Path
) -> None:
    credential = tmp_path / "credential"
    credential.write_text("secret", encoding="utf-8")
    cases = [
        (["--type", kind], "--credentials-file"),
        (["--type", "napster", "--credentials-env", "X"], "unknown exchange type"),
        (["--type", kind, "--credentials-env", "X", "--option", "colour"], "KEY=VALUE"),
        (["--type", kind, "--credentials-env", "X", "--option", "a=b"], "unknown option"),
        (["--type", kind, "--credentials-env", "X", "--url", "ftp://x"], "http(s)"),
        (
            ["--type", kind, "--credentials-env", "X", "--url", "https://u:s3cret@x.example"],
            "user or password",
        ),
        (["--type", kind, "--credentials-env", "REMPART_DATABASE_URL"], "REMPART_"),
        (
            ["--type", "ncmec", "--credentials-env", "X", "--option", "environment=Foo"],
            "unknown NCMEC environment 'Foo'",
        ),
        (
            ["--type", "threatexchange", "--credentials-env", "X", "--option", "privacy_group=a"],
            "privacy_group=ID",
        ),
        (
            ["--type", kind, "--credentials-env", "X", "--credentials-file", str(credential)],
            "one of",
        ),
    ]
    for args, message in cases:
        code, _, err = run(env, "exchange", "add", "feed", *args)
        assert code == 2, (args, err)
        assert message in err, (args, err)
        assert "s3cret" not in err
    assert jsonl(env, "exchange", "list") == []
    assert jsonl(env, "bank", "list") == []
    code, _, err = run(env, "exchange", "fetch", "nope")
    assert code == 2
    assert "no exchange named 'nope'" in err


def test_a_missing_credential_file_is_reported_at_fetch(
    env: dict[str, str], fake: FakeExchange, tmp_path: Path
) -> None:
    missing = tmp_path / "not-there"
    options = [arg for k, v in fake.options.items() for arg in ("--option", f"{k}={v}")]
    ok(
        env,
        "exchange",
        "add",
        "feed",
        "--type",
        fake.kind,
        "--credentials-file",
        str(missing),
        *options,
    )
    code, _, err = run(env, "exchange", "fetch")
    assert code == 1
    assert f"cannot read the credential file {missing}" in err
