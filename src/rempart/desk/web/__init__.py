"""Where the desk's pages live on disk: their Jinja2 templates, the static files served at
``/desk/static/`` (the style sheet, and the scripts that hash a photo in the browser) and the
gettext catalogues of their French and English. The routes that render them are the server's
(``rempart.server.desk``)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

__all__ = ["LOCALE", "STATIC", "TEMPLATES"]

_HERE: Final = Path(__file__).resolve().parent
TEMPLATES: Final = _HERE / "templates"
STATIC: Final = _HERE / "static"
LOCALE: Final = _HERE / "locale"
