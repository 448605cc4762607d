"""One error model: every ``RempartError`` knows its exit status and its problem type, and the
command line and the server each map every one of them through their one handler."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import typer
from fastapi import FastAPI
from typer.testing import CliRunner

from rempart import errors
from rempart.cli.errors import RempartGroup
from rempart.errors import ExitCode, MediaErrorCode, PromptErrorCode, RempartError
from rempart.server.app import handle_errors
from rempart.server.problems import PROBLEMS, TYPE_PREFIX


def subclasses(cls: type[RempartError]) -> list[type[RempartError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *subclasses(sub)]
    return found


ERRORS = [cls for cls in subclasses(RempartError) if not cls.__name__.startswith("_")]


def example(cls: type[RempartError]) -> RempartError:
    """An instance of each error, made as the code that raises it makes it."""
    made: dict[type[RempartError], RempartError] = {
        errors.MediaError: errors.MediaError(MediaErrorCode.TRUNCATED, "photo.jpg: truncated"),
        errors.VideoError: errors.VideoError(MediaErrorCode.TOO_LONG, "clip.mp4: too long"),
        errors.ModelFileError: errors.ModelFileError(
            MediaErrorCode.CORRUPT, "lora.safetensors: corrupt"
        ),
        errors.PromptError: errors.PromptError(PromptErrorCode.TOO_LONG, "too long"),
        errors.MissingExtraError: errors.MissingExtraError("nudity", "nudity", "nudenet"),
        errors.ImportLineError: errors.ImportLineError(3, "invalid PDQ hash"),
        errors.EnrolmentError: errors.EnrolmentError("Ada: Quist", ["a.jpg: no face"]),
        errors.NoticeInvalidError: errors.NoticeInvalidError("signature", "no signature"),
        errors.SorInvalidError: errors.SorInvalidError("decision_facts", "is required"),
        errors.FetchError: errors.FetchError("https://example.org/a", "no answer in 20 s"),
        errors.FetchRefusedError: errors.FetchRefusedError(
            "http://169.254.169.254/", "a link-local address"
        ),
    }
    return made.get(cls) or cls("something is wrong")


def test_every_error_is_in_errors_py() -> None:
    assert ERRORS, "no error classes found"
    for cls in ERRORS:
        assert cls.__module__ == "rempart.errors", cls
        assert cls.__name__ in errors.__all__


@pytest.mark.parametrize("cls", ERRORS, ids=lambda cls: cls.__name__)
def test_every_error_has_an_exit_status_and_a_problem_type(cls: type[RempartError]) -> None:
    error = example(cls)
    assert error.exit_code in (ExitCode.SOME_FAILED, ExitCode.USAGE)
    assert error.problem_slug in PROBLEMS, f"{cls.__name__}: no problem {error.problem_slug!r}"
    assert PROBLEMS[error.problem_slug].status != 500


def cli_raising(error: BaseException) -> typer.Typer:
    app = typer.Typer(cls=RempartGroup)

    @app.command()
    def fail() -> None:
        raise error

    @app.command()
    def other() -> None:  # a group of two, as rempart's commands are
        pass

    return app


@pytest.mark.parametrize("cls", ERRORS, ids=lambda cls: cls.__name__)
def test_the_cli_maps_every_error(cls: type[RempartError]) -> None:
    error = example(cls)
    result = CliRunner().invoke(cli_raising(error), ["fail"])
    assert result.exit_code == error.exit_code
    assert result.stderr.startswith("Error: ")
    assert error.describe().splitlines()[0] in result.stderr
    assert "Traceback" not in result.stderr


def test_ctrl_c_exits_130() -> None:
    result = CliRunner().invoke(cli_raising(KeyboardInterrupt()), ["fail"])
    assert result.exit_code == ExitCode.INTERRUPTED.value == 130


@pytest.fixture(scope="module")
def app() -> FastAPI:
    app = FastAPI()
    handle_errors(app)

    @app.get("/fail/{name}")
    def fail(name: str) -> None:
        raise example(getattr(errors, name))

    return app


def get(app: FastAPI, path: str) -> httpx.Response:
    """``GET path`` from the app in this process (no server, no socket)."""

    async def request() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path)

    return asyncio.run(request())


@pytest.mark.parametrize("cls", ERRORS, ids=lambda cls: cls.__name__)
def test_the_server_maps_every_error(app: FastAPI, cls: type[RempartError]) -> None:
    error = example(cls)
    response = get(app, f"/fail/{cls.__name__}")
    kind = PROBLEMS[error.problem_slug]
    assert response.status_code == kind.status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == TYPE_PREFIX + error.problem_slug
    for key, value in error.problem_extra().items():
        assert body[key] == value


def test_the_server_keeps_database_details_in_its_log(app: FastAPI) -> None:
    body = get(app, "/fail/StoreError").json()
    assert "something is wrong" not in body["detail"]
