"""Look for prompts that are slow to read: a mutation loop over the prompt fuzzer's corpus
(``fuzz/corpus/prompt``) that keeps the inputs costing the most CPU time per character.

Each round takes an input from the pool (the corpus, then what the loop found slowest), mutates
it (bytes changed, inserted, deleted or repeated, pieces of another input spliced in, a run
repeated), repeats it up to 4,096 characters, and times the fuzz target on it (the gate's
prompt analysis, names' caches emptied so that no word has been seen). The slowest inputs per
character are printed, and with ``--save`` written to ``fuzz/corpus/prompt/slow-N`` (at most
2 KB each), where ``gate_bench.py`` repeats them to the longest accepted prompt and times them.

Run from the repository root (the fuzz target is imported from ``fuzz/``):
``PYTHONPATH=.:src python benchmarks/prompt_slowest.py --seconds 300 [--save 3]``.
"""

from __future__ import annotations

import argparse
import heapq
import random
import time
from pathlib import Path

from fuzz.targets import prompt as target

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "fuzz" / "corpus" / "prompt"
SIZE = 4_096  # characters each input is repeated to before it is timed
SAVED = 2_048  # bytes of an input saved to the corpus


def mutate(data: bytes, pool: list[bytes], rng: random.Random) -> bytes:
    """``data`` with one to four random changes."""
    mutated = bytearray(data or b" ")
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(mutated))
        change = rng.randrange(6)
        if change == 0:
            mutated[at] = rng.randrange(256)
        elif change == 1:
            mutated[at:at] = bytes([rng.choice(b"{}[]()|:*.-+ 0123456789aet")])
        elif change == 2 and len(mutated) > 1:
            del mutated[at : at + rng.randint(1, 8)]
        elif change == 3:
            piece = mutated[at : at + rng.randint(1, 16)]
            mutated[at:at] = piece * rng.randint(2, 8)
        elif change == 4:
            other = rng.choice(pool)
            start = rng.randrange(len(other) or 1)
            mutated[at:at] = other[start : start + rng.randint(1, 64)]
        else:
            mutated[at:at] = rng.choice(["\u0435", "\u200b", "\U0001f467", "\u00e9", "\\"]).encode()
    return bytes(mutated[:SAVED])


def cost(data: bytes) -> float:
    """CPU seconds per character to read ``data`` repeated to ``SIZE`` characters."""
    text = data.decode("utf-8", "replace")
    if not text:
        return 0.0
    repeated = (text * (SIZE // len(text) + 1))[:SIZE]
    target.analyser().compiled.names.forget()
    started = time.process_time()
    target.fuzz_one(repeated.encode("utf-8", "surrogatepass"))
    return (time.process_time() - started) / len(repeated)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--keep", type=int, default=10, help="slowest inputs printed")
    parser.add_argument("--save", type=int, default=0, help="slowest inputs saved to the corpus")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    pool = [path.read_bytes() for path in sorted(CORPUS.iterdir()) if path.is_file()]
    target.fuzz_one(b"warm up")
    slowest: list[tuple[float, bytes]] = []  # a heap of the slowest, cheapest first
    deadline = time.monotonic() + args.seconds
    tried = 0
    while time.monotonic() < deadline:
        data = mutate(rng.choice(pool), pool, rng)
        spent = cost(data)
        tried += 1
        if len(slowest) < args.keep or spent > slowest[0][0]:
            heapq.heappush(slowest, (spent, data))
            if len(slowest) > args.keep:
                heapq.heappop(slowest)
            pool.append(data)  # slow inputs are mutated further
    ranked = sorted(slowest, reverse=True)
    print(f"{tried} inputs tried; slowest, in microseconds of CPU per character:")
    for spent, data in ranked:
        print(f"{spent * 1e6:8.2f}  {data[:100]!r}")
    for index, (_, data) in enumerate(ranked[: args.save], start=1):
        (CORPUS / f"slow-{index}").write_bytes(data)


if __name__ == "__main__":
    main()
