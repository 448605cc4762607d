"""The model header limit: REMPART_MODEL_MAX_HEADER_BYTES, the safetensors library's own
limit by default, a positive whole number."""

from __future__ import annotations

import pytest

from rempart.config import load_settings
from rempart.errors import ConfigError
from rempart.modelfile import DEFAULT_MAX_HEADER_BYTES


def test_the_default_is_the_safetensors_library_s_limit() -> None:
    assert load_settings({}).model_max_header_bytes == DEFAULT_MAX_HEADER_BYTES == 100_000_000


def test_the_environment_sets_it() -> None:
    settings = load_settings({"REMPART_MODEL_MAX_HEADER_BYTES": "1_000_000"})
    assert settings.model_max_header_bytes == 1_000_000


@pytest.mark.parametrize("value", ["0", "-5", "many"])
def test_it_is_a_positive_whole_number(value: str) -> None:
    with pytest.raises(ConfigError, match="REMPART_MODEL_MAX_HEADER_BYTES"):
        load_settings({"REMPART_MODEL_MAX_HEADER_BYTES": value})
