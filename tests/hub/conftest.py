"""The hub's fixtures: one prompt reader for the session (it takes a second to build), the
built-in hub policy, and model files written with the safetensors library."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import save_file

from rempart.hub.signals import TextReader
from rempart.policy import Policy, load_policy
from rempart.text import PromptAnalyser


@pytest.fixture(scope="session")
def analyser() -> PromptAnalyser:
    return PromptAnalyser(persons=["Jane Roe"], prompt_ms=0)


@pytest.fixture
def reader(analyser: PromptAnalyser) -> TextReader:
    return TextReader(analyser, version="test")


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy("hub")


WriteModel = Callable[..., Path]


@pytest.fixture
def write_model(tmp_path: Path) -> WriteModel:
    """Write a kohya-style LoRA with the safetensors library: ``metadata`` values that are
    not strings are written as JSON, as kohya writes them; ``seed`` changes the weights."""

    def write(
        name: str = "model.safetensors",
        metadata: Mapping[str, Any] | None = None,
        *,
        seed: int = 0,
        folder: Path | None = None,
    ) -> Path:
        where = (folder or tmp_path) / name
        where.parent.mkdir(parents=True, exist_ok=True)
        weights = np.random.default_rng(seed).standard_normal((64, 16)).astype(np.float32)
        tensors = {
            "lora_unet_down.lora_down.weight": weights,
            "lora_unet_down.lora_up.weight": weights.T.copy(),
            "lora_unet_down.alpha": np.array(8.0, dtype=np.float32),
        }
        values = {
            key: value if isinstance(value, str) else json.dumps(value)
            for key, value in (metadata or {}).items()
        }
        save_file(tensors, str(where), metadata=values or None)
        return where

    return write
