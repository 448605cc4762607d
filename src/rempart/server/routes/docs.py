"""``/docs``: Swagger UI served from the ``swagger-ui-bundle`` package installed beside
Rempart, so that reading the API's documentation fetches nothing from a CDN. Its page holds no
inline script (the Content-Security-Policy forbids it): ``/docs/init.js`` starts it."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter
from starlette.responses import FileResponse, HTMLResponse, Response
from swagger_ui_bundle import swagger_ui_path

from rempart import __version__
from rempart.server.problems import Problem

router = APIRouter(include_in_schema=False)

# The bundle's files the page loads, and no other (its index.html loads a petstore example).
_FILES: Final = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "favicon-32x32.png": "image/png",
}
_PAGE: Final = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Rempart {__version__}: API v1</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/static/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-url="/openapi.json"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""
# validatorUrl null: Swagger UI would otherwise send the document to validator.swagger.io.
_INIT: Final = """window.ui = SwaggerUIBundle({
  url: document.getElementById("swagger-ui").dataset.url,
  dom_id: "#swagger-ui",
  validatorUrl: null,
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
"""


@router.get("/docs")
async def docs_page() -> HTMLResponse:
    """Swagger UI for ``/openapi.json``."""
    return HTMLResponse(_PAGE)


@router.get("/docs/init.js")
async def docs_init() -> Response:
    """The script that starts Swagger UI on the page."""
    return Response(_INIT, media_type="text/javascript")


@router.get("/docs/static/{name}")
async def docs_file(name: str) -> FileResponse:
    """One of the bundle's files the page loads."""
    if name not in _FILES:
        raise Problem("not-found", f"no documentation file {name!r}")
    return FileResponse(Path(str(swagger_ui_path)) / name, media_type=_FILES[name])
