"""What the notice tests share: platform profiles written to a folder, a desk on the test's
database with a fixed clock, and ``Notices`` built from settings whose SMTP server is the
test's (aiosmtpd on loopback). A module imports the fixtures it uses::

    from tests.desk.noticing import clock_fixture, desk_fixture, make_notices_fixture
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from pypdf import PdfReader

from rempart.access.roles import Role
from rempart.config import load_settings
from rempart.desk import Actor, Desk, DeskKeys, FixedClock, ItemInput, Mandate, Notices
from rempart.store import Store
from tests.desk import without_cases
from tests.desk.smtp import SmtpServer

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
REVIEWER = Actor("staff", "reviewer1", Role.REVIEWER)
ADMIN = Actor("staff", "admin1", Role.ADMIN)
OTHER_FLAGGER = Actor("staff", "flagger2", Role.FLAGGER)
MANDATE = Mandate("ASSOC-2026-001", "report text 2", date(2026, 11, 1), date(2027, 11, 1))
NOTIFIER_NAME = "Rempart Test Desk"
NOTIFIER_EMAIL = "desk@rempart.test"

# social: the TAKE IT DOWN Act and the DSA, by e-mail; dsa-only and take-it-down: one law
# each; uk-form: the UK's provisional 48 hours and the French authority's order, by a form.
PLATFORMS = """\
version: 1
platforms:
  social:
    title: Social Test
    domains: [social.test, example.org]
    jurisdictions: [eu-dsa, us-take-it-down]
    dsa_online_platform: true
    channel:
      email: abuse@social.test
    language: en
  dsa-only:
    title: DSA Only
    domains: [dsa.test]
    jurisdictions: [eu-dsa]
    channel:
      email: notices@dsa.test
    language: fr
  take-it-down:
    title: Take It Down Only
    domains: [tida.test, us.test]
    jurisdictions: [us-take-it-down]
    channel:
      email: notices@us.test
  uk-form:
    title: UK Form
    domains: [forms.test]
    jurisdictions: [uk, fr-authority]
    channel:
      form: https://forms.test/report
"""


def link(host: str, path: str = "p/1") -> ItemInput:
    return ItemInput(url=f"https://{host}/{path}")


@pytest.fixture(name="clock")
def clock_fixture() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture(name="desk")
def desk_fixture(store: Store, tmp_path: Path, clock: FixedClock) -> Desk:
    without_cases(store)
    keys = DeskKeys.create(tmp_path / "desk.key")
    return Desk(store, keys=keys, clock=clock, authority="PHAROS")


@pytest.fixture(name="make_notices")
def make_notices_fixture(
    desk: Desk, tmp_path: Path, smtp_server: SmtpServer
) -> Callable[..., Notices]:
    """Notices as settings make them: the test platforms, the notifier, the test's SMTP
    server; ``REMPART_*`` overrides (None: unset)."""
    folder = tmp_path / "platforms"
    folder.mkdir()
    (folder / "test.yaml").write_text(PLATFORMS, encoding="utf-8")

    def make(
        overrides: dict[str, str | None] | None = None,
        on_news: Callable[[str], None] | None = None,
    ) -> Notices:
        environ: dict[str, str | None] = {
            "REMPART_DATA_DIR": str(tmp_path),
            "REMPART_DESK_PLATFORMS": str(folder),
            "REMPART_DESK_NOTIFIER_NAME": NOTIFIER_NAME,
            "REMPART_DESK_NOTIFIER_EMAIL": NOTIFIER_EMAIL,
            "REMPART_SMTP_HOST": smtp_server.host,
            "REMPART_SMTP_PORT": str(smtp_server.port),
            "REMPART_SMTP_SECURITY": "none",
            "REMPART_SMTP_FROM": NOTIFIER_EMAIL,
            "REMPART_SMTP_TIMEOUT": "5",
        }
        environ.update(overrides or {})
        settings = load_settings({k: v for k, v in environ.items() if v is not None})
        return Notices.from_settings(settings, desk, on_news=on_news)

    return make


def pdf_of(message: EmailMessage) -> bytes:
    """The mail's PDF attachment."""
    parts = [
        part for part in message.iter_attachments() if part.get_content_type() == "application/pdf"
    ]
    assert len(parts) == 1
    payload = parts[0].get_content()
    assert isinstance(payload, bytes)
    return payload


def pdf_text(pdf: bytes) -> str:
    """The PDF's text, its white space made single spaces."""
    reader = PdfReader(io.BytesIO(pdf))
    return flat(" ".join(page.extract_text() for page in reader.pages))


def mail_text(message: EmailMessage) -> str:
    """The mail's plain-text body, its white space made single spaces."""
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return flat(str(body.get_content()))


def flat(text: str) -> str:
    return " ".join(text.split())
