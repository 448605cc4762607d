"""Platforms and jurisdictions as data: the built-in jurisdictions and example platform
(``*.yaml`` beside this file) and the deployment's own profiles (``REMPART_DESK_PLATFORMS``),
checked like policies, each error naming its file and line.

A platform profile says where its content lives (``domains``: an item's host is equal to or
under one), which laws bind it (``jurisdictions``), how it takes notices (``channel``), in
which language, whether it is a DSA online platform, and whether it is the deployment's own
service (``own``). A jurisdiction says how many hours a platform has, counted from what
(the notice sent, or an authority's order), whether that figure is provisional, and which
elements a notice under it must carry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from rempart.desk.notice_model import ChannelKind

__all__ = [
    "DEPLOYMENT_HOURS",
    "Channel",
    "Jurisdiction",
    "Platform",
    "PlatformBook",
]

DEPLOYMENT_HOURS: Final = "deployment"
"""A jurisdiction's ``hours`` when the deployment sets them (the DSA's "without undue
delay": ``Settings.dsa_hours``)."""


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    """A law a platform answers to: its deadline in hours (None: the deployment's own,
    ``DEPLOYMENT_HOURS`` in the file), counted from ``starts`` (``sent``: the notice's
    sending; ``order``: an authority's removal order), whether the figure is provisional, and
    the elements a notice under it must carry."""

    name: str
    title: str
    law: str
    hours: int | None
    starts: Literal["sent", "order"]
    provisional: bool
    elements: tuple[str, ...]
    source: str
    """``file:line`` it was read from."""


@dataclass(frozen=True, slots=True)
class Channel:
    """How a platform takes notices: ``email`` (``address`` an e-mail address), ``form``
    (``address`` the form's https URL, filled by hand) or ``manual`` (``address`` says how)."""

    kind: ChannelKind
    address: str


@dataclass(frozen=True, slots=True)
class Platform:
    """A platform's profile."""

    name: str
    title: str
    domains: tuple[str, ...]
    jurisdictions: tuple[str, ...]
    dsa_online_platform: bool
    channel: Channel
    language: str
    own: bool
    example: bool
    """The shipped example: listed, matched, but never sent to by SMTP."""
    source: str
    """``file:line`` it was read from."""

    def covers(self, host: str) -> bool:
        """Whether ``host`` (lowercase, IDNA) is one of its domains or under one."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class PlatformBook:
    """Every jurisdiction and platform the desk knows: the built-in ones and the
    deployment's."""

    jurisdictions: Mapping[str, Jurisdiction]
    platforms: Mapping[str, Platform]

    @classmethod
    def load(cls, folder: Path | None = None) -> PlatformBook:
        """The built-in files and, when given, every ``*.yaml`` of ``folder`` (sorted);
        ``PlatformFileError`` naming the file and line of the first error."""
        raise NotImplementedError

    def platform(self, name: str) -> Platform:
        """The platform of this name; ``PlatformUnknownError`` naming the known ones."""
        raise NotImplementedError

    def for_url(self, url: str) -> Platform | None:
        """The platform whose domains cover the URL's host (the longest matching domain
        wins); None when no profile names it."""
        raise NotImplementedError
