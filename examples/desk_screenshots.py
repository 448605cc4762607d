"""The desk's pages in English and French, as PNGs for docs/desk.md (``make screenshots``).

Starts ``rempart serve --desk`` on a throwaway data folder, with one platform profile and a
mail server on loopback (aiosmtpd, which keeps what it gets), then walks the pages in Debian's
chromium as a victim and a reviewer would: the age question, the report form with a photo
fingerprinted in the page (a landscape from scikit-image), the card, the status page, the
consent form, the reviewer's queue and the case (a page of a local web server captured as
evidence and checked), a notice drafted, sent and answered, the platforms, and the victim's
page with the notice. Writes ``docs/desk/<lang>-<page>.png``.

Run: ``make screenshots`` (or ``python examples/desk_screenshots.py --out docs/desk``).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import skimage.data
from PIL import Image
from playwright.sync_api import Page, ViewportSize

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.desk.browser import launch  # noqa: E402
from tests.desk.served import Site  # noqa: E402
from tests.desk.smtp import SmtpServer  # noqa: E402
from tests.server.running import free_port  # noqa: E402

LANGUAGES = ("en", "fr")
VIEWPORT: ViewportSize = {"width": 900, "height": 700}
# A platform of the deployment's own (the shipped example one is never sent to).
PLATFORMS = """\
version: 1
platforms:
  social:
    title: Example social network
    domains: [example.org]
    jurisdictions: [eu-dsa, us-take-it-down]
    dsa_online_platform: true
    channel:
      email: abuse@example.org
    language: en
"""
_CARD = re.compile(r"(R-[A-Z2-7]{10}).*?([A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{5})", re.S)


def rempart(*args: str, env: dict[str, str]) -> str:
    """Run a ``rempart`` command; its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "rempart", *args], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"rempart {' '.join(args)}: {done.stderr}")
    return done.stdout


@contextmanager
def desk(data: Path, mail: SmtpServer, site: Site) -> Iterator[tuple[str, str]]:
    """A desk served on loopback, sending notices and news to ``mail`` and fetching from
    ``site`` (captures, removal checks): its URL and a reviewer's API key."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    platforms = data.parent / "platforms"
    platforms.mkdir(parents=True, exist_ok=True)
    (platforms / "platforms.yaml").write_text(PLATFORMS)
    env = {
        "PATH": "/usr/bin:/bin",
        "REMPART_DATA_DIR": str(data),
        "HOME": str(data),
        "REMPART_DESK_PLATFORMS": str(platforms),
        "REMPART_DESK_NOTIFIER_NAME": "Example association",
        "REMPART_DESK_NOTIFIER_EMAIL": "desk@example.net",
        "REMPART_DESK_TIMEZONE": "Europe/Paris",
        "REMPART_DESK_URL": url,
        "REMPART_SMTP_HOST": mail.host,
        "REMPART_SMTP_PORT": str(mail.port),
        "REMPART_SMTP_SECURITY": "none",
        "REMPART_DESK_FETCH_ALLOW": site.allow,
        # A checkout not installed (a worktree) names its sources here.
        **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}),
    }
    rempart("desk", "init", env=env)
    created = rempart("key", "create", "--role", "reviewer", "--name", "screenshots", env=env)
    key = re.search(r"rmp_\S+", created)
    assert key, created
    server = subprocess.Popen(
        [sys.executable, "-m", "rempart", "serve", "--desk", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the desk did not start")
            time.sleep(0.2)
        yield url, key.group(0)
    finally:
        server.terminate()
        server.wait(30)


def posted(site: Site) -> str:
    """A benign page with a gradient on ``site``, as a copy found online: its URL."""
    gradient = Image.linear_gradient("L").resize((160, 120)).convert("RGB")
    buffer = io.BytesIO()
    gradient.save(buffer, "PNG")
    site.serve("/post/2.png", buffer.getvalue(), "image/png")
    site.serve("/post/2", b'<!doctype html><title>Post 2</title><img src="/post/2.png" alt="">')
    return site.url("/post/2")


def landscape(folder: Path) -> Path:
    """A benign photo to fingerprint: scikit-image's rocket launch pad."""
    path = folder / "photo.png"
    buffer = io.BytesIO()
    Image.fromarray(getattr(skimage.data, "rocket")()).save(buffer, "PNG")  # noqa: B009 (untyped)
    path.write_bytes(buffer.getvalue())
    return path


class Shots:
    """Screenshots of one page's visits, named ``<lang>-<label>.png``."""

    def __init__(self, page: Page, out: Path, lang: str) -> None:
        self.page, self.out, self.lang = page, out, lang
        self.written: list[Path] = []

    def snap(self, label: str) -> None:
        """The whole page as it is now."""
        path = self.out / f"{self.lang}-{label}.png"
        shot = Image.open(io.BytesIO(self.page.screenshot(full_page=True)))
        # A page of text needs few colours: a palette makes the file a third of the size.
        shot.convert("RGB").quantize(colors=64).save(path, optimize=True)
        self.written.append(path)


def shoot(out: Path) -> list[Path]:
    """Every page in every language; the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with (
        tempfile.TemporaryDirectory() as name,
        SmtpServer() as mail,
        Site() as site,  # the copy found online, served on loopback
        desk(Path(name) / "data", mail, site) as (url, key),
    ):
        copy = posted(site)
        photo = landscape(Path(name))
        with launch() as browser:
            for lang in LANGUAGES:
                page = browser.new_page(viewport=VIEWPORT, locale=lang)
                shots = Shots(page, out, lang)
                snap = shots.snap
                page.goto(f"{url}/desk?lang={lang}")
                snap("home")
                page.goto(f"{url}/desk/report")
                snap("report-age")
                page.check("#age-adult")
                page.click("form button[type=submit]")
                page.set_input_files("#photos", str(photo))
                page.wait_for_selector("#report input[name=pdq]", state="attached")
                page.fill("#urls", f"https://example.org/post/1\n{copy}")
                snap("report")
                page.click("#report button[type=submit]")
                page.wait_for_load_state()
                snap("card")
                found = _CARD.search(page.inner_text("main"))
                assert found, page.inner_text("main")
                page.goto(f"{url}/desk/sign-in")
                page.fill("#number", found.group(1))
                page.fill("#secret", found.group(2))
                page.click("main form button[type=submit]")
                page.wait_for_load_state()
                snap("status")
                page.fill("#consent-name", "Camille Martin")
                page.fill("#consent-contact", "camille@example.net")
                page.fill("#consent-signature", "Camille Martin")
                page.check("#consent-confirm")
                page.locator("#consent").scroll_into_view_if_needed()
                snap("consent")
                page.click("form[action='/desk/status/consent'] button")
                page.goto(f"{url}/desk/staff")
                page.fill("#key", key)
                page.click("main form button[type=submit]")
                page.wait_for_load_state()
                snap("staff-queue")
                page.goto(f"{url}/desk/staff/cases/{found.group(1)}")
                # The local copy (the second address): captured with a reason, then checked.
                capture = page.locator("form[action$='/capture']").nth(1)
                capture.locator("input[name=reason]").fill("Before the complaint")
                capture.locator("button").click()
                page.wait_for_load_state()
                page.locator("form[action$='/check'] button").nth(1).click()
                page.wait_for_load_state()
                snap("staff-case")
                page.click("form[action$='/notices'] button")
                page.wait_for_load_state()
                page.click("form[action$='/send'] button")
                page.wait_for_load_state()
                page.check("#kind-receipt")
                page.click("form[action$='/reply'] button")
                page.wait_for_load_state()
                snap("staff-notice")
                page.goto(f"{url}/desk/staff/platforms")
                snap("staff-platforms")
                page.goto(f"{url}/desk/sign-in")
                page.fill("#number", found.group(1))
                page.fill("#secret", found.group(2))
                page.click("main form button[type=submit]")
                page.wait_for_load_state()
                snap("status-notice")
                page.close()
                written += shots.written
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "desk")
    args = parser.parse_args()
    for path in shoot(args.out):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
