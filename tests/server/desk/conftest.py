"""The desk's pages served in this process, and a visitor that uses them as a browser would:
its cookies kept, each form's CSRF token read from the page, ``Origin`` sent with each POST.

``desk_server``: the app with the desk (``create_app(..., desk=True)``) on a temporary data
folder with a desk key file, over HTTPS as a deployment serves it (its cookies are
``Secure``), its session clock a ``FixedClock`` the test may move. ``keys``: an API key per
role in its database. ``LiveDesk``: the same app on a loopback port under uvicorn, in a
thread of this process, for a real browser.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from rempart.access.keys import ApiKeys, Role
from rempart.config import Settings, load_settings
from rempart.desk import Desk, DeskKeys, FixedClock
from rempart.server import create_app
from rempart.server.desk.session import COOKIE
from rempart.store import Store
from tests.desk.noticing import NOTIFIER_EMAIL, NOTIFIER_NAME, PLATFORMS
from tests.desk.smtp import SmtpServer, smtp_server_fixture  # noqa: F401
from tests.server.inprocess import InProcessServer
from tests.server.running import free_port

ORIGIN = "https://rempart.test"
START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def desk_settings(data_dir: Path, **environ: str) -> Settings:
    """Settings on ``data_dir`` (its SQLite database), with a desk key file made there, and
    any other ``REMPART_*`` given."""
    data_dir.mkdir(parents=True, exist_ok=True)
    DeskKeys.create(data_dir / "desk.key")
    return load_settings({"REMPART_DATA_DIR": str(data_dir), **environ})


def notice_environ(folder: Path, smtp: SmtpServer, *, desk_url: str = ORIGIN) -> dict[str, str]:
    """The settings of a desk that sends notices: the test platforms (``PLATFORMS``) in
    ``folder``, the notifier, the test's mail server on loopback, the desk's address and a
    time zone other than UTC (Paris: times on the pages are an hour ahead in winter)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "platforms.yaml").write_text(PLATFORMS)
    return {
        "REMPART_DESK_PLATFORMS": str(folder),
        "REMPART_DESK_NOTIFIER_NAME": NOTIFIER_NAME,
        "REMPART_DESK_NOTIFIER_EMAIL": NOTIFIER_EMAIL,
        "REMPART_DESK_TIMEZONE": "Europe/Paris",
        "REMPART_DESK_URL": desk_url,
        "REMPART_SMTP_HOST": smtp.host,
        "REMPART_SMTP_PORT": str(smtp.port),
        "REMPART_SMTP_SECURITY": "none",
    }


class DeskServer(InProcessServer):
    """The app with the desk's pages, served over HTTPS in this process."""

    url = ORIGIN

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.app = create_app(settings, desk=True)

    @property
    def clock(self) -> FixedClock:
        """The clock the sessions are judged by."""
        clock: FixedClock = self.app.state.desk_web.sessions.clock
        return clock

    @property
    def desk(self) -> Desk:
        """The worker's desk, to check what the pages did."""
        desk: Desk = self.app.state.services.desk
        return desk

    @property
    def store(self) -> Store:
        """The worker's database."""
        store: Store = self.app.state.services.runtime.store
        return store

    def visitor(self, **headers: str) -> Visitor:
        """A new browser visiting the desk."""
        client = self.client(follow_redirects=False)
        client.headers.update(headers)
        return Visitor(client)


class Visitor:
    """One browser: keeps its cookies, reads the CSRF token of the last page it got."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.csrf = ""

    def get(self, path: str, **options: Any) -> httpx.Response:
        """GET a page; remember its form token."""
        response = self.client.get(path, **options)
        found = _CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    def post(
        self,
        path: str,
        data: dict[str, Any] | None = None,
        *,
        origin: str | None = ORIGIN,
        token: bool = True,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST a form as this site's page would (``Origin`` and the token), unless told not
        to; remember the token of the page it answers with."""
        fields = dict(data or {})
        if token:
            fields.setdefault("csrf", self.csrf)
        sent = dict(headers or {})
        if origin is not None:
            sent["Origin"] = origin
        response = self.client.post(path, data=fields, headers=sent)
        found = _CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    @property
    def session_cookie(self) -> str | None:
        """The session cookie's value, if the browser holds one."""
        return self.client.cookies.get(COOKIE, path="/desk")


@pytest.fixture
def desk_server(tmp_path: Path) -> Iterator[DeskServer]:
    """A desk served in this process, on its own data folder; sessions on a fixed clock."""
    server = DeskServer(desk_settings(tmp_path / "data"))
    server.app.state.desk_web.sessions.clock = FixedClock(START)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def notice_server(tmp_path: Path, smtp_server: SmtpServer) -> Iterator[DeskServer]:
    """A desk that sends notices (``notice_environ``) to the test's mail server; its cases,
    notices and sessions on one fixed clock (``server.clock``)."""
    environ = notice_environ(tmp_path / "platforms", smtp_server)
    server = DeskServer(desk_settings(tmp_path / "data", **environ))
    server.app.state.desk_web.sessions.clock = FixedClock(START)
    server.start()
    server.desk.clock = server.clock
    yield server
    server.stop()


@pytest.fixture
def keys(desk_server: DeskServer) -> dict[str, str]:
    """An API key per role (by role name) in the desk server's database."""
    made = ApiKeys(desk_server.store)
    return {role.value: made.create(role, name=f"desk {role.value}").secret for role in Role}


def report(visitor: Visitor, *, age: str = "adult", **fields: Any) -> httpx.Response:
    """Report through the pages as a victim does: the age question, then the form."""
    visitor.get(f"/desk/report?age={age}")
    return visitor.post("/desk/report", {"age": age, **fields})


def card(response: httpx.Response) -> tuple[str, str]:
    """The case number and secret a card page shows."""
    number = re.search(r"R-[A-Z2-7]{10}", response.text)
    secret = re.search(r"[A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{5}", response.text)
    assert number, response.text
    assert secret, response.text
    return number.group(0), secret.group(0)


def new_key(server: DeskServer, role: Role) -> str:
    """A new API key of ``role`` in the server's database."""
    return ApiKeys(server.store).create(role, name=f"desk {role.value}").secret


def staff_visitor(server: DeskServer, key: str) -> Visitor:
    """A staff member signed in with ``key``."""
    visitor = server.visitor()
    visitor.get("/desk/staff")
    response = visitor.post("/desk/staff/sign-in", {"key": key})
    assert response.status_code == 303, response.text
    return visitor


class LiveDesk:
    """The app with the desk under uvicorn on a loopback port, in a thread of this process."""

    def __init__(self, settings: Settings, *, port: int | None = None) -> None:
        self.app = create_app(settings, desk=True)
        self.port = port or free_port()
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def desk(self) -> Desk:
        """The desk the pages use."""
        desk: Desk = self.app.state.services.desk
        return desk

    def start(self, *, timeout: float = 60) -> LiveDesk:
        """Serve, once the app has started and loaded its match index."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server.started:
                try:
                    if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
            time.sleep(0.05)
        raise RuntimeError("the desk did not start")

    def stop(self) -> None:
        """Stop serving and end the app's lifespan."""
        self.server.should_exit = True
        self.thread.join(timeout=30)
