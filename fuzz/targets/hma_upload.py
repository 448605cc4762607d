"""Fuzz target ``hma_upload``: the multipart/form-data body of an HMA upload
(``POST /h/hash``, ``/m/lookup``, ``/c/bank/{name}/content`` under ``--hma-compat``), parsed
by ``read_form_file`` (cut at its boundaries, each part's headers through the standard
library's header parser). The first line of the bytes is the Content-Type header sent, the
rest the body. Only ``ValueError`` (the route's 400) may escape, and what comes out is one
named file's bytes, found in the body as sent."""

from __future__ import annotations

from rempart.server.routes.hma import read_form_file


def fuzz_one(data: bytes) -> None:
    """Parse ``data`` as an upload's Content-Type line and body."""
    header, _, body = data.partition(b"\n")
    content_type = header.decode("latin-1").strip()
    try:
        upload = read_form_file(content_type, body)
    except ValueError:
        return
    assert isinstance(upload.field, str)
    assert isinstance(upload.data, bytes)
    assert upload.data in body
