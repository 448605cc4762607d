"""Rempart: find, stop and take down sexual deepfakes, NCII and sexualised imagery of minors."""

from rempart.errors import ConfigError, MediaError, MediaErrorCode, RempartError

__version__ = "0.1.0"

__all__ = ["ConfigError", "MediaError", "MediaErrorCode", "RempartError", "__version__"]
