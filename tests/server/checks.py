"""Checks the server tests share: a problem document's shape, and waiting for a change."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import pytest

from rempart.server.problems import MEDIA_TYPE, TYPE_PREFIX

T = TypeVar("T")


def problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    """The problem document of ``response``, checked to be of type ``slug`` with ``status``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(MEDIA_TYPE)
    body: dict[str, Any] = response.json()
    assert body["type"] == TYPE_PREFIX + slug
    assert body["status"] == status
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


def poll(check: Callable[[], T | None], what: str, deadline: float) -> T:
    """``check()``'s first truthy answer, asked until ``deadline`` seconds have passed."""
    end = time.monotonic() + deadline
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > end:
            pytest.fail(f"not within {deadline} s: {what}")
        time.sleep(0.1)
