"""Web-sized photos for the scan benchmarks: random crops of the shared test images (the
photos of adults, the PDQ references, the C2PA fixtures) resized to 0.5-6 megapixels and saved
as JPEG at quality 80-95, the sizes photos are shared at. Made once, cached in
.bench-cache/web-corpus/ (the same files on every machine: the seed is fixed)."""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "testdata"
CACHE = ROOT / ".bench-cache" / "web-corpus"


def web_corpus(count: int) -> list[Path]:
    """``count`` web-sized JPEGs (0.5-6 MP) cropped and resized from the shared images."""
    CACHE.mkdir(parents=True, exist_ok=True)
    wanted = [CACHE / f"{number:04d}.jpg" for number in range(count)]
    if any(not path.exists() for path in wanted):
        rng = random.Random(20261202)
        sources = [
            Image.open(path).convert("RGB")
            for path in sorted(SHARED.rglob("*"))
            if path.suffix.lower() in {".jpg", ".png"}
        ]
        for path in wanted:
            image = rng.choice(sources)
            share = rng.uniform(0.6, 1.0)  # a crop of 60 to 100% of each side
            width, height = int(image.width * share), int(image.height * share)
            left = rng.randint(0, image.width - width)
            top = rng.randint(0, image.height - height)
            crop = image.crop((left, top, left + width, top + height))
            pixels = rng.uniform(0.5e6, 6e6)
            side = (pixels / (crop.width * crop.height)) ** 0.5
            size = (max(1, int(crop.width * side)), max(1, int(crop.height * side)))
            if not path.exists():
                resized = crop.resize(size, Image.Resampling.BICUBIC)
                resized.save(path, quality=rng.choice((80, 85, 90, 95)))
    return wanted
