"""Write a few small LoRA files as trainers write them, for ``rempart audit`` to judge.

What a model hub receives, in miniature: a style LoRA trained on landscapes (allowed), one
whose trigger and tags say it reproduces an unnamed streamer's likeness (sent to review), the
same weights renamed with their metadata stripped (still the same fingerprint), and a file that
only claims to be a model. The tensors are random numbers: nothing here can generate anything.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file


def lora(seed: int, rank: int = 4) -> dict[str, np.ndarray]:
    """A tiny kohya-style LoRA: a few layers' down and up projections, and their alphas."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for layer in range(4):
        key = f"lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q_{layer}"
        tensors[f"{key}.lora_down.weight"] = rng.standard_normal((rank, 320)).astype(np.float16)
        tensors[f"{key}.lora_up.weight"] = rng.standard_normal((320, rank)).astype(np.float16)
        tensors[f"{key}.alpha"] = np.array(rank, dtype=np.float16)
    return tensors


def kohya(name: str, tags: dict[str, int], images: int) -> dict[str, str]:
    """The metadata kohya-ss's trainer writes, its dataset's tags counted per image."""
    folder = f"10_{name}"
    return {
        "ss_output_name": name,
        "ss_num_train_images": str(images),
        "ss_tag_frequency": json.dumps({folder: tags}),
        "ss_dataset_dirs": json.dumps({folder: {"n_repeats": 10, "img_count": images}}),
        "modelspec.title": name.replace("_", " "),
    }


def main(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    landscape = {"watercolour": 30, "harbour": 12, "mountain": 9, "boat": 4}
    style = kohya("watercolour", landscape, 30)
    save_file(lora(1), folder / "watercolour-style.safetensors", style)
    likeness = {"streamer": 24, "portrait": 20, "smile": 11}
    weights = lora(2)
    save_file(weights, folder / "lora-0412.safetensors", kohya("twitch_streamer", likeness, 24))
    save_file(dict(reversed(weights.items())), folder / "copy-renamed.safetensors")
    (folder / "not-a-model.safetensors").write_bytes(b"<html>404 not found</html>")
    print(f"wrote 4 files in {folder}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "demo-output/models"))
