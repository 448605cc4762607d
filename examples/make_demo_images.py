"""Write a few benign demo images and some broken files beside them.

The demo shows what ``rempart scan`` does with a platform's everyday mix: landscapes made here
from numpy, edited copies of one of them, scikit-image's sample photos (an astronaut's
portrait, a cup of coffee, a cat, a rocket: public domain or CC0), and files that are not what
they claim to be.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

SAMPLES = ("astronaut", "coffee", "chelsea", "rocket")


def scene(width: int, height: int, seed: int) -> Image.Image:
    """A synthetic landscape: sky, hills and water with texture, different for each seed."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    horizon = height * (0.45 + 0.1 * np.sin(x / width * rng.uniform(3, 9) + rng.uniform(0, 6)))
    sky = np.stack([90 + 80 * y / height, 140 + 60 * y / height, 230 - 30 * y / height], -1)
    waves = 20 * np.sin(y / rng.uniform(3, 8) + 0.3 * np.sin(x / rng.uniform(15, 40)))
    ground = np.stack([40 + waves, 90 + 0.5 * waves, 60 + 0.2 * waves], -1)
    picture = np.where((y > horizon)[..., None], ground, sky)
    for _ in range(6):  # a few rectangles: buildings, boats
        top, left = int(rng.uniform(0.3, 0.7) * height), int(rng.uniform(0, 0.9) * width)
        size = int(rng.uniform(0.05, 0.15) * width)
        picture[top : top + size // 2, left : left + size] = rng.uniform(0, 255, 3)
    return Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8))


def main(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    harbour = scene(1600, 1000, seed=1)
    harbour.save(folder / "harbour.jpg", quality=90)
    harbour.rotate(90, expand=True).save(folder / "harbour-rotated.jpg", quality=85)
    harbour.resize((400, 250)).save(folder / "harbour-small.png")
    scene(1200, 900, seed=2).save(folder / "valley.webp", quality=85)
    scene(800, 800, seed=3).save(folder / "coast.png")
    for name in SAMPLES:
        Image.fromarray(getattr(skimage.data, name)()).convert("RGB").save(
            folder / f"{name}.jpg", quality=90
        )
    encoded = (folder / "harbour.jpg").read_bytes()
    (folder / "cut-off-upload.jpg").write_bytes(encoded[: len(encoded) // 3])
    (folder / "not-an-image.jpg").write_text("a text file with a photo's name\n")
    print(f"Demo images written to {folder}/")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "demo-output/images"))
