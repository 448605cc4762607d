"""Platform profiles and jurisdictions read from YAML: the built-in ones, a deployment's folder,
every error naming its file and line, and which platform an item's URL belongs to."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import rempart.desk.platforms
from rempart.desk.notice_model import ChannelKind
from rempart.desk.platforms import BUILTIN_FILES, ELEMENTS, PlatformBook, normalise_host
from rempart.desk.platforms.files import MAX_FILE_BYTES
from rempart.errors import ConfigError, PlatformFileError, PlatformUnknownError

PICS = """\
version: 1
platforms:
  pics:
    title: Pics
    domains: [pics.example.net, "Bücher.example"]
    jurisdictions: [eu-dsa, uk]
    dsa_online_platform: true
    channel:
      form: https://pics.example.net/report
    language: fr-CA
  pics-cdn:
    domains: [cdn.pics.example.net]
    jurisdictions: [us-take-it-down]
    channel: {manual: by post to the host}
    own: true
"""


def folder_with(tmp_path: Path, **files: str) -> Path:
    """A deployment's folder holding ``files`` (name without .yaml: text)."""
    folder = tmp_path / "platforms"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    return folder


def refused(tmp_path: Path, text: str | bytes) -> str:
    """The message of the error loading ``text`` as a deployment's only file."""
    folder = tmp_path / "platforms"
    folder.mkdir(exist_ok=True)
    path = folder / "acme.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(PlatformFileError) as caught:
        PlatformBook.load(folder)
    return str(caught.value)


# --- the built-in files ----------------------------------------------------------------------


def test_the_built_in_jurisdictions_carry_their_deadlines_and_elements() -> None:
    book = PlatformBook.load()
    laws = book.jurisdictions
    assert list(laws) == ["us-take-it-down", "eu-dsa", "uk", "fr-authority"]
    assert (laws["us-take-it-down"].hours, laws["us-take-it-down"].starts) == (48, "sent")
    assert laws["us-take-it-down"].elements == (
        "signature",
        "identification",
        "good-faith",
        "contact",
    )
    assert laws["eu-dsa"].hours is None  # the deployment's: Settings.dsa_hours
    assert laws["eu-dsa"].elements == ("explanation", "url", "notifier", "bona-fide")
    assert (laws["uk"].hours, laws["uk"].provisional) == (48, True)
    assert not laws["eu-dsa"].provisional
    assert (laws["fr-authority"].hours, laws["fr-authority"].starts) == (24, "order")
    assert "6-1" in laws["fr-authority"].law
    assert "Art. 16" in laws["eu-dsa"].law
    assert laws["uk"].source == "built-in/jurisdictions.yaml:33"


def test_the_built_in_files_are_those_the_package_ships() -> None:
    here = Path(rempart.desk.platforms.__file__).parent
    assert sorted(path.name for path in here.glob("*.yaml")) == sorted(BUILTIN_FILES)
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert "desk/platforms/*.yaml" in pyproject["tool"]["setuptools"]["package-data"]["rempart"]


def test_the_example_platform_is_listed_and_matched_but_marked() -> None:
    example = PlatformBook.load().platform("example")
    assert example.example
    assert not example.own
    assert example.dsa_online_platform
    assert example.jurisdictions == ("eu-dsa", "us-take-it-down")
    assert (example.channel.kind, example.channel.address) == (
        ChannelKind.EMAIL,
        "notices@example.com",
    )
    assert example.language == "en"
    assert example.source == "built-in/example.yaml:7"
    assert PlatformBook.load().for_url("https://example.com/p/1") == example
    assert example.to_json()["channel"] == {"kind": "email", "address": "notices@example.com"}


# --- a deployment's folder -------------------------------------------------------------------


def test_a_deployments_files_join_the_built_in_ones(tmp_path: Path) -> None:
    own = "version: 1\njurisdictions:\n  de-netzdg:\n    title: Germany\n    law: NetzDG, § 3\n"
    own += "    hours: 24\n    elements: [explanation, url]\n"
    folder = folder_with(tmp_path, b_pics=PICS, a_laws=own)
    (folder / "notes.txt").write_text("not read")
    book = PlatformBook.load(folder)
    assert list(book.platforms) == ["example", "pics", "pics-cdn"]
    assert list(book.jurisdictions)[-1] == "de-netzdg"
    pics = book.platform("pics")
    assert pics.title == "Pics"
    assert pics.domains == ("pics.example.net", "xn--bcher-kva.example")
    assert (pics.channel.kind, pics.language, pics.own) == (ChannelKind.FORM, "fr-CA", False)
    assert pics.source == f"{folder / 'b_pics.yaml'}:3"
    cdn = book.platform("PICS-CDN")
    assert (cdn.title, cdn.channel.kind, cdn.own, cdn.language) == (
        "pics-cdn",
        ChannelKind.MANUAL,
        True,
        "en",
    )
    assert not cdn.dsa_online_platform
    assert book.jurisdictions["de-netzdg"].starts == "sent"


def test_a_platform_may_name_a_jurisdiction_another_file_defines(tmp_path: Path) -> None:
    uses = "version: 1\nplatforms:\n  p:\n    domains: [p.example.org]\n"
    uses += "    jurisdictions: [zz-law]\n    channel: {email: a@p.example.org}\n"
    law = "version: 1\njurisdictions:\n  zz-law:\n    title: Z\n    law: Z\n    hours: 12\n"
    law += "    starts: order\n    provisional: true\n    elements: [url]\n"
    book = PlatformBook.load(folder_with(tmp_path, a=uses, b=law))
    assert book.platform("p").jurisdictions == ("zz-law",)
    assert book.jurisdictions["zz-law"].provisional


def test_a_missing_folder_or_a_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PlatformFileError, match="no-such: no such folder"):
        PlatformBook.load(tmp_path / "no-such")
    (tmp_path / "file.yaml").write_text(PICS)
    with pytest.raises(PlatformFileError, match=r"file\.yaml: no such folder"):
        PlatformBook.load(tmp_path / "file.yaml")
    assert issubclass(PlatformFileError, ConfigError)


def test_an_empty_folder_gives_the_built_in_ones(tmp_path: Path) -> None:
    folder = folder_with(tmp_path)
    assert list(PlatformBook.load(folder).platforms) == ["example"]


# --- errors, each naming file:line -----------------------------------------------------------

PLATFORM = "version: 1\nplatforms:\n  acme:\n"
GOOD = "    domains: [acme.example.org]\n    jurisdictions: [eu-dsa]\n"
EMAIL = "    channel: {email: abuse@acme.example.org}\n"
REST = "    jurisdictions: [eu-dsa]\n" + EMAIL
LAW = "version: 1\njurisdictions:\n  zz:\n    title: Z\n    law: Z\n    elements: [url]\n"


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("- a list\n", 1, "the file must be a mapping"),
        ("", 1, "empty"),
        ("version: 2\n", 1, "version 2 is not one this Rempart reads"),
        ("version: one\n", 1, "version must be a whole number"),
        ("platforms: {}\n", 1, "lacks version"),
        ("version: 1\nplatform: {}\n", 2, "unknown key 'platform'"),
        ("version: 1\nversion: 1\n", 2, "'version' appears twice"),
        ("version: 1\nplatforms: [a]\n", 2, "platforms must be a mapping"),
        (PLATFORM + GOOD + EMAIL + "    domian: x\n", 7, "unknown key 'domian'"),
        (PLATFORM + GOOD, 4, "platform 'acme' lacks channel"),
        (PLATFORM + GOOD + EMAIL + "    own: maybe\n", 7, "own must be true or false"),
        (PLATFORM + GOOD + EMAIL + "    title: 12\n", 7, "title must be text"),
        (PLATFORM + GOOD + EMAIL + "    language: French\n", 7, "invalid language 'French'"),
        (PLATFORM + "    domains: []\n    jurisdictions: [eu-dsa]\n" + EMAIL, 4, "non-empty list"),
        (PLATFORM + "    domains: example.org\n" + REST, 4, "domains must be a non-empty list"),
        (
            PLATFORM + "    domains:\n      - a.org\n      - https://b.org/x\n" + REST,
            6,
            "not a host",
        ),
        (PLATFORM + "    domains: ['*.acme.org']\n" + REST, 4, "not a host name"),
        (PLATFORM + "    domains: [acme.org:8080]\n" + REST, 4, "not a host name"),
        (PLATFORM + "    domains: [localhost]\n" + REST, 4, "at least one dot"),
        (PLATFORM + "    domains: [192.0.2.1]\n" + REST, 4, "not a host name"),
        (PLATFORM + "    domains: [example.com]\n" + REST, 4, "platform 'example''s"),
        (
            PLATFORM + "    domains: [acme.org]\n    jurisdictions: [eu-dsa, mars]\n" + EMAIL,
            5,
            "mars",
        ),
        (PLATFORM + GOOD + "    channel: {email: abuse}\n", 6, "not an e-mail address"),
        (PLATFORM + GOOD + "    channel: {email: a b@acme.org}\n", 6, "not an e-mail address"),
        (PLATFORM + GOOD + "    channel: {form: http://acme.org/f}\n", 6, "not an https://"),
        (PLATFORM + GOOD + "    channel: {fax: '+33 1'}\n", 6, "channel must be one of"),
        (PLATFORM + GOOD + "    channel: {email: a@b.org, form: https://b.org}\n", 6, "one of"),
        (PLATFORM + GOOD + "    channel: abuse@acme.org\n", 6, "channel must be a mapping"),
        ("version: 1\nplatforms:\n  Acme Inc:\n" + GOOD + EMAIL, 3, "lowercase letters"),
        ("version: 1\nplatforms:\n  example:\n" + GOOD + EMAIL, 3, "example.yaml:7 already"),
        ("version: 1\njurisdictions:\n  eu-dsa:\n    title: x\n", 3, "jurisdictions.yaml:20"),
        (LAW, 4, "lacks hours"),
        (LAW + "    hours: 0\n", 7, "hours must be from 1"),
        (LAW + "    hours: -5\n", 7, "hours (deployment or a number) must be a whole number"),
        (LAW + "    hours: 0x30\n", 7, "must be a whole number"),
        (LAW + "    hours: soon\n", 7, "hours must be one of deployment"),
        (LAW + "    hours: 1\n    starts: received\n", 8, "starts must be one of sent, order"),
        (LAW.replace("[url]", "[url, vibes]") + "    hours: 1\n", 6, "'vibes'"),
        ("version: 1\nplatforms:\n  a: &x {}\n  b: *x\n", 4, "aliases"),
        ("version: 1\nplatforms: {a: [\n", 3, "not valid YAML"),
        ("version: 1\n--- \nversion: 1\n", 2, "not valid YAML"),
        ("version: 1\n" + "x: " + "[" * 100 + "]" * 100 + "\n", 2, "nested more than"),
        (b"version: 1\nplatforms:\n  \xff\n", 3, "not UTF-8"),
        ("version: 1\nplatforms:\n  a\x00\n", 3, "not valid YAML"),
    ],
)
def test_each_error_names_its_file_and_line(
    tmp_path: Path, text: str | bytes, line: int, says: str
) -> None:
    message = refused(tmp_path, text)
    assert message.startswith(f"{tmp_path / 'platforms' / 'acme.yaml'}:{line}: "), message
    assert says in message


def test_the_error_lists_what_is_known(tmp_path: Path) -> None:
    message = refused(
        tmp_path, PLATFORM + "    domains: [a.org]\n    jurisdictions: [mars]\n" + EMAIL
    )
    assert "us-take-it-down, eu-dsa, uk, fr-authority" in message
    message = refused(tmp_path, LAW.replace("[url]", "[vibes]") + "    hours: 1\n")
    assert ", ".join(ELEMENTS) in message


def test_a_domain_two_platforms_claim_is_refused_across_files(tmp_path: Path) -> None:
    other = PICS.replace("pics:", "other:").replace("pics-cdn:", "other-cdn:")
    folder = folder_with(tmp_path, a=PICS, b=other)
    with pytest.raises(PlatformFileError) as caught:
        PlatformBook.load(folder)
    assert str(caught.value) == (
        f"{folder / 'b.yaml'}:5: domain 'pics.example.net' is platform 'pics''s "
        f"({folder / 'a.yaml'}:5)"
    )
    twice = PLATFORM + "    domains: [acme.org, ACME.org.]\n" + REST
    assert "domain 'acme.org' is platform 'acme''s (" in refused(tmp_path, twice)


def test_a_file_too_large_is_refused_unread(tmp_path: Path) -> None:
    message = refused(tmp_path, b"version: 1\n" + b"#" * MAX_FILE_BYTES)
    assert f"larger than {MAX_FILE_BYTES} bytes" in message


def test_a_billion_laughs_is_refused_at_its_first_alias(tmp_path: Path) -> None:
    lines = ["version: 1", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 10)]
    assert ":3: aliases" in refused(tmp_path, "\n".join(lines) + "\n")


# --- hosts and URLs --------------------------------------------------------------------------


def test_a_url_belongs_to_the_platform_of_the_longest_domain_covering_its_host(
    tmp_path: Path,
) -> None:
    book = PlatformBook.load(folder_with(tmp_path, pics=PICS))
    owner = {
        "https://pics.example.net/p/1": "pics",
        "https://WWW.Pics.Example.NET./p/1": "pics",
        "http://user@pics.example.net:8443/p?q=1": "pics",
        "https://cdn.pics.example.net/i.jpg": "pics-cdn",
        "https://a.b.cdn.pics.example.net/i.jpg": "pics-cdn",
        "https://bücher.example/x": "pics",
        "https://BÜCHER.example/x": "pics",
        "https://xn--bcher-kva.example/x": "pics",
        "https://shop.example.com/p/1": "example",
    }
    for url, name in owner.items():
        found = book.for_url(url)
        assert found is not None, url
        assert found.name == name, url
    for url in (
        "https://notpics.example.net/p/1",
        "https://example.net/",
        "https://pics.example.net.evil.org/",
        "https://[::1]/x",
        "https://192.0.2.1/x",
        "not a url",
        "http://[broken/",
        "",
    ):
        assert book.for_url(url) is None, url


def test_covers_reads_hosts_as_for_url_does() -> None:
    example = PlatformBook.load().platform("example")
    assert example.covers("example.com")
    assert example.covers("Img.EXAMPLE.com.")
    assert not example.covers("myexample.com")
    assert not example.covers("com")
    assert not example.covers("")


def test_normalise_host() -> None:
    assert normalise_host(" WWW.Example.ORG. ") == "www.example.org"
    assert normalise_host("bücher.example") == "xn--bcher-kva.example"
    for bad in ("example", "a..b", "-a.org", "a_b.org", "a.org/x", "a" * 64 + ".org", "1.2.3.4"):
        assert normalise_host(bad) is None, bad


def test_an_unknown_name_lists_the_known_ones(tmp_path: Path) -> None:
    book = PlatformBook.load(folder_with(tmp_path, pics=PICS))
    with pytest.raises(PlatformUnknownError) as caught:
        book.platform("pix")
    assert str(caught.value) == "no platform 'pix'; known: example, pics, pics-cdn"
