"""Settings: declared once, read from the environment, validated with hints."""

from __future__ import annotations

from pathlib import Path

import pytest

from rempart.config import SETTINGS, load_settings
from rempart.errors import ConfigError
from rempart.media import DEFAULT_LIMITS
from rempart.video import DEFAULT_LIMITS as VIDEO_DEFAULT_LIMITS
from rempart.video import VideoLimits


def test_defaults() -> None:
    assert load_settings({}).media == DEFAULT_LIMITS
    assert load_settings({}).video == VIDEO_DEFAULT_LIMITS


def test_video_limits_from_the_environment() -> None:
    settings = load_settings({"REMPART_VIDEO_MAX_DURATION": "60", "REMPART_VIDEO_MAX_STREAMS": "4"})
    assert settings.video == VideoLimits(max_duration=60.0, max_streams=4)
    with pytest.raises(ConfigError, match="must be above 0"):
        load_settings({"REMPART_VIDEO_MAX_DECODE_SECONDS": "0"})


def test_environment_overrides() -> None:
    settings = load_settings({"REMPART_MEDIA_MAX_BYTES": "1_000", "PATH": "/bin"})
    assert settings.media.max_bytes == 1000


@pytest.mark.parametrize(("value", "message"), [("ten", "whole number"), ("0", "at least 1")])
def test_bad_values(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings({"REMPART_MEDIA_MAX_FRAMES": value})


@pytest.mark.parametrize(
    ("name", "value"),
    [("REMPART_SMTP_PORT", "65536"), ("REMPART_DESK_DSA_HOURS", "100000000")],
)
def test_a_number_past_its_most_is_refused(name: str, value: str) -> None:
    """A port no socket takes; hours whose due time would fall past the calendar's end (the
    mail sent, the notice then stuck)."""
    with pytest.raises(ConfigError, match=f"{name}='{value}' must be at most"):
        load_settings({name: value})
    assert load_settings({"REMPART_SMTP_PORT": "65535", "REMPART_DESK_DSA_HOURS": "8784"})


def test_typo_gets_a_suggestion() -> None:
    with pytest.raises(ConfigError, match="did you mean REMPART_MEDIA_MAX_PIXELS"):
        load_settings({"REMPART_MEDIA_MAX_PIXEL": "5"})


def test_every_setting_is_documented() -> None:
    page = (Path(__file__).parents[1] / "docs" / "settings.md").read_text()
    for setting in SETTINGS:
        assert setting.env in page, f"{setting.env} missing from docs/settings.md"


@pytest.mark.parametrize(
    "value",
    [
        "notices at example.org",
        "a@example.org, b@example.org",
        "Desk <desk@example.org>",
        "desk@example.org\r\nBcc: other@example.org",
        "desk@localhost",
    ],
)
def test_the_notifiers_address_is_one_plain_address(value: str) -> None:
    with pytest.raises(ConfigError, match="REMPART_DESK_NOTIFIER_EMAIL"):
        load_settings({"REMPART_DESK_NOTIFIER_EMAIL": value})
    kept = load_settings({"REMPART_DESK_NOTIFIER_EMAIL": " notices+desk@assoc.example.org "})
    assert kept.desk_notifier_email == "notices+desk@assoc.example.org"
    assert load_settings({}).desk_notifier_email == ""
