"""Show how far each demo image's PDQ hash is from the original harbour photo's 8 variants."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rempart.hashing import DIHEDRAL_NAMES, MATCH_THRESHOLD, hamming, pack


def main(jsonl: Path) -> None:
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    hashed = {Path(r["path"]).name: r for r in records if "pdq" in r}
    variants = pack(hashed["harbour.jpg"]["dihedral"])
    for name, record in hashed.items():
        distances = hamming(pack([record["pdq"]]), variants)
        best = int(distances.argmin())
        verdict = "match" if distances[best] <= MATCH_THRESHOLD else "different picture"
        print(f"  {name:22} distance {int(distances[best]):3} ({DIHEDRAL_NAMES[best]}): {verdict}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
