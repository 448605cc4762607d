"""Rempart's HTTP service: API v1, probes and metrics (``rempart serve``)."""

from rempart.server.app import app_from_environment, create_app

__all__ = ["app_from_environment", "create_app"]
