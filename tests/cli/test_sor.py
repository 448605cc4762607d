"""``rempart sor``: a decision recorded on a notice to the deployment's own platform exported
as statements of reasons (one file per decision, batches), all or nothing; statements made
elsewhere checked, a broken one named by its index and field."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from rempart.config import load_settings
from rempart.store import Store
from rempart.store.schema import desk_statements
from tests.cli.invoke import desk_environment, ok, run
from tests.desk.smtp import SmtpServer, smtp_server_fixture  # noqa: F401

PLATFORMS = """\
version: 1
platforms:
  ours:
    title: Our Service
    domains: [example.net]
    jurisdictions: [eu-dsa]
    channel:
      email: abuse@example.net
    own: true
"""


def refused(env: dict[str, str], *args: str) -> str:
    code, out, err = run(env, *args)
    assert code != 0, out
    assert err.startswith("Error: ")
    return err


@pytest.fixture
def sor_env(env: dict[str, str], tmp_path: Path, smtp_server: SmtpServer) -> dict[str, str]:
    return desk_environment(
        env, tmp_path, PLATFORMS, **smtp_server.environ(), REMPART_SMTP_FROM="desk@example.org"
    )


def removed(env: dict[str, str], *urls: str) -> None:
    """A minor's case with these URLs, notified to our platform, which removed them."""
    args = [arg for url in urls for arg in ("--url", url)]
    [case] = [
        json.loads(line)
        for line in ok(env, "report", *args, "--age", "under-18", "--format", "jsonl").splitlines()
    ]
    ok(env, "notice", "draft", case["number"], "--platform", "ours")
    [notice] = [
        json.loads(line)
        for line in ok(env, "notice", "list", case["number"], "--format", "jsonl").splitlines()
    ]
    ok(env, "notice", "send", notice["reference"])
    ok(env, "notice", "record", notice["reference"], "--decision", "removed", "--not-automated")


def test_export_writes_each_statement_and_a_batch_once(
    sor_env: dict[str, str], tmp_path: Path
) -> None:
    removed(sor_env, "https://example.net/p/1", "https://example.net/p/2")
    out = tmp_path / "statements"
    ok(sor_env, "sor", "export", "--out", str(out))
    files = sorted(path.name for path in out.iterdir())
    assert len(files) == 3
    assert files[0] == "batch-0001.json"
    batch = json.loads((out / "batch-0001.json").read_text(encoding="utf-8"))
    assert len(batch["statements"]) == 2
    for statement in batch["statements"]:
        assert statement["category"] == "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"
        assert (out / f"{statement['puid']}.json").exists()
    ok(sor_env, "sor", "check", str(out / "batch-0001.json"))
    ok(sor_env, "sor", "check", str(out / files[1]))
    # Exported once: the next export has nothing new; --since exports them again.
    again = tmp_path / "again"
    ok(sor_env, "sor", "export", "--out", str(again))
    assert [path.name for path in again.iterdir()] == []
    since = tmp_path / "since"
    ok(sor_env, "sor", "export", "--since", "2000-01-01", "--out", str(since))
    assert len(list(since.iterdir())) == 3
    assert "not an empty folder" in refused(sor_env, "sor", "export", "--out", str(since))
    assert "--since" in refused(sor_env, "sor", "export", "--since", "May", "--out", "x")


def statement(puid: str = "ext-1", **change: Any) -> dict[str, Any]:
    return {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
        "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
        "incompatible_content_ground": "Terms, section 4",
        "incompatible_content_explanation": "Nudity is not allowed.",
        "content_type": ["CONTENT_TYPE_IMAGE"],
        "category": "STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE",
        "content_date": "2026-11-30",
        "application_date": "2026-12-01",
        "decision_facts": "The image was removed.",
        "source_type": "SOURCE_VOLUNTARY",
        "automated_detection": "Yes",
        "automated_decision": "AUTOMATED_DECISION_PARTIALLY",
        "puid": puid,
        **change,
    }


def test_check_names_the_statement_and_field(env: dict[str, str], tmp_path: Path) -> None:
    one = tmp_path / "one.json"
    one.write_text(json.dumps(statement()), encoding="utf-8")
    assert "1 statements valid" in run(env, "sor", "check", str(one))[2]
    batch = tmp_path / "batch.json"
    broken = statement("ext-2", decision_visibility=["DECISION_VISIBILITY_OTHER"])
    batch.write_text(json.dumps({"statements": [statement(), broken]}), encoding="utf-8")
    assert "statements[1].decision_visibility_other" in refused(env, "sor", "check", str(batch))
    leaky = statement(decision_facts="Write to someone@example.org")
    batch.write_text(json.dumps({"statements": [leaky]}), encoding="utf-8")
    assert "statements[0].decision_facts" in refused(env, "sor", "check", str(batch))
    many = [statement(f"ext-{i}") for i in range(101)]
    batch.write_text(json.dumps({"statements": many}), encoding="utf-8")
    assert "statements: at most 100" in refused(env, "sor", "check", str(batch))
    batch.write_text("{", encoding="utf-8")
    assert "not JSON" in refused(env, "sor", "check", str(batch))


def test_export_is_all_or_nothing(sor_env: dict[str, str], tmp_path: Path) -> None:
    removed(sor_env, "https://example.net/p/1", "https://example.net/p/2")
    ok(sor_env, "sor", "export", "--out", str(tmp_path / "first"))
    # A statement spoiled in the database after it was made: the export names it, writes
    # nothing, and marks nothing exported.
    store = Store.open(load_settings(sor_env).database_url)
    with closing(store), store.write() as connection:
        row = connection.execute(select(desk_statements).order_by(desk_statements.c.id)).first()
        assert row is not None
        spoiled = json.loads(row.statement) | {"decision_facts": "Mail me: a@b.example"}
        connection.execute(
            update(desk_statements)
            .where(desk_statements.c.id == row.id)
            .values(statement=json.dumps(spoiled))
        )
    out = tmp_path / "second"
    err = refused(sor_env, "sor", "export", "--since", "2000-01-01", "--out", str(out))
    assert "statements[0].decision_facts" in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".second")] == []
