"""Type aliases the public API shares, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeAlias

__all__ = ["ImageInput", "JSONObject"]

ImageInput: TypeAlias = str | Path | bytes
"""An image as a path or as its bytes."""
JSONObject: TypeAlias = dict[str, Any]
"""A JSON object as ``json.loads`` gives it: what records, requests and results are written as."""
