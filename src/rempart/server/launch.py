"""Start the HTTP service: refuse to listen beyond loopback while no API key exists, then run
``workers`` processes of the app under uvicorn."""

from __future__ import annotations

import ipaddress
import logging
import os
import tempfile
from contextlib import closing

from rempart.access.keys import ApiKeys
from rempart.config import Settings
from rempart.errors import ConfigError
from rempart.server.app import WORKERS_ENV
from rempart.server.metrics import MULTIPROCESS_ENV
from rempart.store import Store

__all__ = ["NO_KEY_WARNING", "check_exposure", "is_loopback", "serve"]

_LOG = logging.getLogger(__name__)
NO_KEY_WARNING = (
    "No API key exists yet: every /v1 request will get 401. "
    "Create one with: rempart key create --role admin"
)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``), reachable from this machine
    only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve to anything


def check_exposure(settings: Settings, host: str) -> bool:
    """Whether an API key exists (the database migrated on the way); ``ConfigError`` when none
    does and ``host`` is beyond loopback, where anyone who can reach the port would meet a
    server nobody can use safely."""
    with closing(Store.open(settings.database_url)) as store:
        has_key = ApiKeys(store).has_active()
    if not has_key and not is_loopback(host):
        raise ConfigError(
            f"refusing to listen on {host}: no API key exists, so anyone who can reach "
            "the port would meet a server nobody can use safely. Create one first: "
            "rempart key create --role admin"
        )
    return has_key


def serve(host: str, port: int, *, workers: int = 1) -> None:
    """Run the service until interrupted; each worker reads its settings from the
    environment (``REMPART_*``), as ``app_from_environment`` does."""
    import uvicorn

    os.environ[WORKERS_ENV] = str(workers)
    with tempfile.TemporaryDirectory(prefix="rempart-metrics-") as shared:
        if workers > 1:  # each worker records its metrics here; /metrics sums them
            os.environ[MULTIPROCESS_ENV] = shared
        uvicorn.run(
            "rempart.server:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=False,  # the audit log records every request, with who made it
            server_header=False,
            log_level="info",
        )
