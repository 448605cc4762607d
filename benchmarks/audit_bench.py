"""``rempart audit`` in model files/s on 2 cores, against reading the same files' metadata with
the safetensors library; the full fingerprint in MB/s against SHA-256 of the whole file; a
checkpoint's audit time; and 35,000 LoRAs audited end to end.

The corpus (built once, cached in .bench-cache/audit/):

- LoRAs as four trainers write them, with their real tensor names and shapes, fp16, of 10 to
  300 MB, written by ``safetensors.numpy.save_file``: kohya SD 1.5 (``lora_unet_*``/``lora_te_*``,
  ``lora_down``/``lora_up``/``alpha``, the ``ss_*`` and ``modelspec.*`` metadata), kohya SDXL
  (two text encoders), ai-toolkit Flux (``transformer.*.lora_A``/``lora_B``, its ``name``) and PEFT
  (``base_model.model.*``, a README card beside it). Tags come from one vocabulary.
- Checkpoints of 2 to 7 GB, their headers as SD 1.5 and SDXL checkpoints have them, the rest of
  the file sparse (a hole reads as zeros, so the disk holds only the headers).
- ``--many`` LoRAs (by default the 35,000 public deepfake model variants a 2025 study counted),
  headers as above with varied names and tags, their tensors sparse.

The peer is what a hub's engineer writes first: ``safe_open(path, "np").metadata()`` and
``json.loads`` of its tag frequencies, over the same files, in 2 processes. Both run with the
files in the page cache (each is read once before it is timed). Rempart's side is the command
line, ``rempart audit --jobs 2 --out FILE``, timed end to end: start-up, the walk, every file's
header, sampled fingerprint, texts, verdict and record.

Run: ``make bench`` (or ``python benchmarks/audit_bench.py --many 35000``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import random
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".bench-cache" / "audit"
STUDY_COUNT = 35_000
"""Public deepfake model variants counted in 2025: the audit should take them in 10 minutes."""
TARGET_SECONDS = 600.0
console = Console()

Layout = list[tuple[str, tuple[int, ...]]]


# --- Tensor layouts, as each trainer names and shapes them ---------------------------------


def _sd15_blocks() -> Iterator[tuple[str, int]]:
    """SD 1.5's UNet transformer blocks (diffusers names) and their width."""
    for block, width in ((0, 320), (1, 640), (2, 1280)):
        for attention in range(2):
            yield f"down_blocks.{block}.attentions.{attention}", width
    yield "mid_block.attentions.0", 1280
    for block, width in ((1, 1280), (2, 640), (3, 320)):
        for attention in range(3):
            yield f"up_blocks.{block}.attentions.{attention}", width


def _sdxl_blocks() -> Iterator[tuple[str, int, int]]:
    """SDXL's UNet attentions, their width and transformer depth."""
    for block, width, depth in ((1, 640, 2), (2, 1280, 10)):
        for attention in range(2):
            yield f"down_blocks.{block}.attentions.{attention}", width, depth
    yield "mid_block.attentions.0", 1280, 10
    for block, width, depth in ((0, 1280, 10), (1, 640, 2)):
        for attention in range(3):
            yield f"up_blocks.{block}.attentions.{attention}", width, depth


def _unet_linears(
    prefix: str, width: int, depth: int, context: int
) -> Iterator[tuple[str, int, int]]:
    """Each linear layer of a UNet attention: (diffusers name, in, out)."""
    yield f"{prefix}.proj_in", width, width
    yield f"{prefix}.proj_out", width, width
    for t in range(depth):
        block = f"{prefix}.transformer_blocks.{t}"
        for attn, kv in (("attn1", width), ("attn2", context)):
            yield f"{block}.{attn}.to_q", width, width
            yield f"{block}.{attn}.to_k", kv, width
            yield f"{block}.{attn}.to_v", kv, width
            yield f"{block}.{attn}.to_out.0", width, width
        yield f"{block}.ff.net.0.proj", width, width * 8
        yield f"{block}.ff.net.2", width * 4, width


def _text_encoder(prefix: str, layers: int, width: int) -> Iterator[tuple[str, int, int]]:
    for layer in range(layers):
        base = f"{prefix}_text_model_encoder_layers_{layer}"
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            yield f"{base}_self_attn_{proj}", width, width
        yield f"{base}_mlp_fc1", width, width * 4
        yield f"{base}_mlp_fc2", width * 4, width


def _kohya(linears: Sequence[tuple[str, int, int]], rank: int) -> Layout:
    """kohya-ss names: ``lora_unet_<dotted name with underscores>.lora_down.weight``..."""
    layout: Layout = []
    for name, fan_in, fan_out in linears:
        key = name if name.startswith("lora_te") else "lora_unet_" + name.replace(".", "_")
        layout += [
            (f"{key}.lora_down.weight", (rank, fan_in)),
            (f"{key}.lora_up.weight", (fan_out, rank)),
            (f"{key}.alpha", ()),
        ]
    return layout


def sd15_lora(rank: int) -> Layout:
    unet = [x for prefix, w in _sd15_blocks() for x in _unet_linears(prefix, w, 1, 768)]
    return _kohya([*_text_encoder("lora_te", 12, 768), *unet], rank)


def sdxl_lora(rank: int) -> Layout:
    unet = [x for p, w, d in _sdxl_blocks() for x in _unet_linears(p, w, d, 2048)]
    te = [*_text_encoder("lora_te1", 12, 768), *_text_encoder("lora_te2", 32, 1280)]
    return _kohya([*te, *unet], rank)


def flux_lora(rank: int) -> Layout:
    """ai-toolkit's Flux LoRA: ``transformer.*`` with ``lora_A``/``lora_B``, no alpha."""
    width = 3072
    linears = []
    for block in range(19):
        base = f"transformer.transformer_blocks.{block}"
        for name in ("attn.to_q", "attn.to_k", "attn.to_v", "attn.to_out.0"):
            linears.append((f"{base}.{name}", width, width))
        for name in ("attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj", "attn.to_add_out"):
            linears.append((f"{base}.{name}", width, width))
        linears += [
            (f"{base}.ff.net.0.proj", width, width * 4),
            (f"{base}.ff.net.2", width * 4, width),
        ]
    for block in range(38):
        base = f"transformer.single_transformer_blocks.{block}"
        for name in ("attn.to_q", "attn.to_k", "attn.to_v"):
            linears.append((f"{base}.{name}", width, width))
        linears += [(f"{base}.proj_mlp", width, width * 4), (f"{base}.proj_out", width * 5, width)]
    return _peft_names(linears, rank)


def peft_lora(rank: int) -> Layout:
    """PEFT (diffusers) names: ``base_model.model.<name>.lora_A.weight``."""
    unet = [x for prefix, w in _sd15_blocks() for x in _unet_linears(prefix, w, 1, 768)]
    renamed = [(f"base_model.model.{name}", i, o) for name, i, o in unet]
    return _peft_names(renamed, rank)


def _peft_names(linears: Sequence[tuple[str, int, int]], rank: int) -> Layout:
    layout: Layout = []
    for name, fan_in, fan_out in linears:
        layout += [
            (f"{name}.lora_A.weight", (rank, fan_in)),
            (f"{name}.lora_B.weight", (fan_out, rank)),
        ]
    return layout


def checkpoint(kind: str) -> Layout:
    """A full model's tensors (their names matter less than their number and sizes)."""
    blocks = list(_sd15_blocks()) if kind == "sd15" else [(p, w) for p, w, _ in _sdxl_blocks()]
    depth = 1 if kind == "sd15" else 4
    layout: Layout = []
    for prefix, width in blocks:
        for name, fan_in, fan_out in _unet_linears(prefix, width, depth, 768):
            layout += [(f"model.diffusion_model.{name}.weight", (fan_out, fan_in))]
            layout += [(f"model.diffusion_model.{name}.bias", (fan_out,))]
        for conv in range(4):
            layout += [
                (f"model.diffusion_model.{prefix}.resnets.{conv}.conv.weight", (width, width, 3, 3))
            ]
    encoders = [("cond_stage_model", 12, 768)] if kind == "sd15" else []
    encoders += [("conditioner.embedders.0", 12, 768), ("conditioner.embedders.1", 32, 1280)] * (
        kind != "sd15"
    )
    for prefix, layers, width in encoders:
        for name, fan_in, fan_out in _text_encoder(prefix, layers, width):
            layout += [(f"{name}.weight", (fan_out, fan_in)), (f"{name}.bias", (fan_out,))]
        for layer in range(layers):
            for norm in ("layer_norm1", "layer_norm2"):
                base = f"{prefix}_text_model_encoder_layers_{layer}_{norm}"
                layout += [(f"{base}.weight", (width,)), (f"{base}.bias", (width,))]
    return layout


KINDS = {"sd15": sd15_lora, "sdxl": sdxl_lora, "flux": flux_lora, "peft": peft_lora}
RANKS = (4, 8, 16, 32, 64, 128)
MAX_LORA_BYTES = 300 * 1024 * 1024
MIN_LORA_BYTES = 10 * 1024 * 1024


def layout_bytes(layout: Layout) -> int:
    return sum(2 * int(np.prod(shape)) for _, shape in layout)


def lora_layout(kind: str, rng: random.Random) -> Layout:
    """A layout of ``kind`` whose size lies in 10-300 MB, its rank drawn."""
    fits = [r for r in RANKS if MIN_LORA_BYTES <= layout_bytes(KINDS[kind](r)) <= MAX_LORA_BYTES]
    return KINDS[kind](rng.choice(fits or [min(RANKS)]))


# --- Metadata, as kohya-ss and ai-toolkit write it ------------------------------------------

_ADJECTIVES = (
    "red", "blue", "green", "black", "white", "brown", "grey", "golden", "silver", "dark",
    "light", "bright", "pale", "striped", "checked", "wooden", "stone", "glass", "metal",
    "vintage", "modern", "rustic", "snowy", "sunny", "cloudy", "rainy", "misty", "calm", "busy",
    "quiet", "empty", "crowded", "tall", "short", "wide", "narrow", "old", "new", "round",
    "square",
)  # fmt: skip
_NOUNS = (
    "jacket", "scarf", "hat", "coat", "boots", "umbrella", "bicycle", "car", "train", "bridge",
    "river", "lake", "mountain", "forest", "street", "market", "cafe", "kitchen", "library",
    "garden", "window", "door", "chair", "table", "lamp", "book", "cup", "bottle", "flower",
    "tree", "sky", "cloud", "beach", "harbour", "boat", "castle", "tower", "road", "field",
    "fence", "wall", "painting", "clock",
)  # fmt: skip
VOCABULARY = sorted({f"{a} {n}" for a in _ADJECTIVES for n in _NOUNS} | set(_NOUNS))
"""Benign tags, about 2,000: what a captioner writes of landscapes and things."""


def kohya_metadata(index: int, rng: random.Random, *, sdxl: bool) -> dict[str, str]:
    """``ss_*`` and ``modelspec.*`` keys as kohya-ss's trainer writes them (values are strings;
    the dataset's are JSON)."""
    images = rng.randint(15, 120)
    folder = f"{rng.choice((5, 10, 20))}_subject{index}"
    tags = rng.sample(VOCABULARY, rng.randint(50, 400))
    frequency = {tag: rng.randint(1, images) for tag in tags}
    architecture = "stable-diffusion-xl-v1-base/lora" if sdxl else "stable-diffusion-v1/lora"
    return {
        "ss_output_name": f"style_{index}",
        "ss_sd_model_name": "sd_xl_base_1.0.safetensors" if sdxl else "v1-5-pruned.safetensors",
        "ss_network_module": "networks.lora",
        "ss_network_dim": "32",
        "ss_network_alpha": "16",
        "ss_num_train_images": str(images),
        "ss_training_comment": "trained on landscapes",
        "ss_tag_frequency": json.dumps({folder: frequency}),
        "ss_dataset_dirs": json.dumps({folder: {"n_repeats": 10, "img_count": images}}),
        "ss_learning_rate": "0.0001",
        "ss_epoch": "10",
        "modelspec.sai_model_spec": "1.0.0",
        "modelspec.architecture": architecture,
        "modelspec.title": f"Style {index}",
        "modelspec.implementation": "https://github.com/Stability-AI/generative-models",
    }


def aitoolkit_metadata(index: int, rng: random.Random) -> dict[str, str]:
    return {
        "name": f"flux_style_{index}",
        "version": "1.0",
        "software": json.dumps({"name": "ai-toolkit", "version": "0.1.0"}),
        "training_info": json.dumps({"step": rng.randint(500, 4000), "epoch": 1}),
    }


def metadata_for(kind: str, index: int, rng: random.Random) -> dict[str, str]:
    if kind == "flux":
        return aitoolkit_metadata(index, rng)
    if kind == "peft":
        return {"format": "pt"}
    return kohya_metadata(index, rng, sdxl=kind == "sdxl")


CARD = """---
license: openrail
base_model: runwayml/stable-diffusion-v1-5
tags:
- lora
- {tag}
instance_prompt: a photo in the style of sks
---
# Style {index}

A LoRA trained on photos of {tag}s.
"""


# --- Writing the corpus -----------------------------------------------------------------------


def write_real(path: Path, layout: Layout, metadata: dict[str, str], seed: int) -> None:
    """A LoRA with real bytes (random fp16), written by the safetensors library."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    tensors = {
        name: rng.integers(0, 1 << 14, size=shape or (1,), dtype=np.uint16)
        .view(np.float16)
        .reshape(shape)
        for name, shape in layout
    }
    save_file(tensors, str(path), metadata=metadata)


def header_bytes(layout: Layout, metadata: dict[str, str]) -> tuple[bytes, int]:
    """A safetensors header (length, then JSON padded with spaces to 8 bytes) for fp16 tensors
    laid end to end, and the data's size: the format's own rules, for sparse files."""
    entries: dict[str, Any] = {"__metadata__": metadata}
    offset = 0
    for name, shape in layout:
        size = 2 * int(np.prod(shape))
        entries[name] = {
            "dtype": "F16",
            "shape": list(shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    text = json.dumps(entries, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text, offset


def write_sparse(path: Path, layout: Layout, metadata: dict[str, str]) -> int:
    """A safetensors file whose tensors are a hole: the header on disk, the rest sparse."""
    header, data = header_bytes(layout, metadata)
    with path.open("wb") as out:
        out.write(header)
        out.truncate(len(header) + data)
    return len(header) + data


def build_loras(per_kind: int) -> list[Path]:
    """``per_kind`` LoRAs of each trainer, with real bytes."""
    folder = CACHE / "loras"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, kind in enumerate(KINDS):
        for i in range(per_kind):
            index = k * 1000 + i
            path = folder / kind / f"{kind}_{i:02d}.safetensors"
            paths.append(path)
            if path.exists():
                continue
            path.parent.mkdir(exist_ok=True)
            rng = random.Random(index)
            layout = lora_layout(kind, rng)
            partial = path.with_suffix(".partial")
            write_real(partial, layout, metadata_for(kind, index, rng), index)
            partial.replace(path)
            if kind == "peft":
                card = CARD.format(tag=rng.choice(_NOUNS), index=index)
                (path.parent / "README.md").write_text(card, encoding="utf-8")
    return paths


CHECKPOINT_SIZES = (("sd15", 2.1), ("sd15", 4.2), ("sdxl", 6.9))


def build_checkpoints() -> list[Path]:
    """Sparse checkpoints of about the sizes of ``CHECKPOINT_SIZES``: a full model's tensors,
    then one that fills the file."""
    folder = CACHE / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind, gigabytes in CHECKPOINT_SIZES:
        path = folder / f"{kind}_{gigabytes:.1f}gb.safetensors"
        paths.append(path)
        if not path.exists():
            layout = checkpoint(kind)
            filler = (int(gigabytes * 1e9) - layout_bytes(layout)) // 2
            partial = path.with_suffix(".partial")
            write_sparse(partial, [*layout, ("model.filler", (filler,))], {"format": "pt"})
            partial.replace(path)
    return paths


def build_many(count: int) -> Path:
    """``count`` sparse LoRAs in folders of 1,000, built once (the layouts of the four kinds,
    each file with its own name and tags)."""
    folder = CACHE / f"many-{count}"
    done = folder / ".complete"
    if done.exists():
        return folder
    rng = random.Random(0)
    layouts = {kind: KINDS[kind](16) for kind in KINDS}
    started = time.perf_counter()
    with console.status(f"writing {count:,} sparse LoRAs in {folder}") as status:
        for index in range(count):
            kind = list(KINDS)[index % len(KINDS)]
            sub = folder / f"{index // 1000:03d}"
            sub.mkdir(parents=True, exist_ok=True)
            write_sparse(
                sub / f"{kind}_{index:05d}.safetensors",
                layouts[kind],
                metadata_for(kind, index, rng),
            )
            if index % 1000 == 0:
                status.update(f"writing sparse LoRAs: {index:,}/{count:,}")
    done.touch()
    console.print(f"wrote {count:,} sparse LoRAs in {time.perf_counter() - started:.0f} s")
    return folder


# --- The peer and Rempart ---------------------------------------------------------------------


def _peer_one(path: str) -> int:
    """What a hub's engineer writes first: the safetensors library's metadata, and the tags."""
    from safetensors import safe_open

    with safe_open(path, framework="np") as model:
        metadata = model.metadata() or {}
    return len(json.loads(metadata.get("ss_tag_frequency", "{}")))


def peer_rate(paths: Sequence[Path], jobs: int) -> float:
    """Files/s of the peer over ``paths`` in ``jobs`` processes (after one untimed pass)."""
    files = [str(path) for path in paths]
    with multiprocessing.get_context("spawn").Pool(jobs) as pool:
        pool.map(_peer_one, files[: 4 * jobs])  # start the workers, import safetensors
        started = time.perf_counter()
        pool.map(_peer_one, files, chunksize=max(1, len(files) // (jobs * 64)))
        return len(files) / (time.perf_counter() - started)


def warm(paths: Sequence[Path]) -> None:
    """Read each file's first megabyte, so both sides find the headers in the page cache."""
    for path in paths:
        with path.open("rb") as stream:
            stream.read(1 << 20)


def rempart_audit(
    targets: Sequence[Path], jobs: int, *extra: str
) -> tuple[float, list[dict[str, Any]]]:
    """Seconds of ``rempart audit`` over ``targets`` as a user runs it, and its records."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "audit.jsonl"
        command = [sys.executable, "-m", "rempart", "audit", *map(str, targets), "-r"]
        command += ["--jobs", str(jobs), "--out", str(out), *extra]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
        if done.returncode not in (0, 1):
            raise SystemExit(f"rempart audit failed ({done.returncode}): {done.stderr[-2000:]}")
        lines = out.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if not line.startswith('{"rempart_scan"')]
    return elapsed, records


def full_rate(paths: Sequence[Path]) -> tuple[float, float]:
    """MB/s of the full fingerprint (in one process) and of hashlib's SHA-256 of each file."""
    from rempart.modelfile import FingerprintMode, read_model

    total = sum(path.stat().st_size for path in paths) / 1e6
    started = time.perf_counter()
    for path in paths:
        read_model(path, fingerprint=FingerprintMode.FULL)
    ours = total / (time.perf_counter() - started)
    started = time.perf_counter()
    for path in paths:
        with path.open("rb") as stream:
            hashlib.file_digest(stream, "sha256")
    return ours, total / (time.perf_counter() - started)


def per_file_ms(paths: Sequence[Path]) -> tuple[float, float]:
    """Milliseconds a file of ``paths`` takes in one warm process: Rempart's whole audit
    (``Auditor.audit``), and the peer's metadata read."""
    from rempart.hub import Auditor
    from rempart.policy import load_policy

    auditor = Auditor(load_policy("hub"))
    files = [str(path) for path in paths]
    for path in files:  # the analyser's cache, as a long run has it
        auditor.audit(path)
        _peer_one(path)
    started = time.perf_counter()
    for path in files:
        auditor.audit(path)
    ours = (time.perf_counter() - started) / len(files) * 1000
    started = time.perf_counter()
    for path in files:
        _peer_one(path)
    return ours, (time.perf_counter() - started) / len(files) * 1000


def checkpoint_seconds(paths: Sequence[Path]) -> list[tuple[Path, float]]:
    """Each checkpoint's audit (header, sampled fingerprint, verdict), in one process."""
    from rempart.hub import Auditor
    from rempart.policy import load_policy

    auditor = Auditor(load_policy("hub"))
    auditor.audit(str(paths[0]))  # the analyser's first use
    timings = []
    for path in paths:
        started = time.perf_counter()
        auditor.audit(str(path))
        timings.append((path, time.perf_counter() - started))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=6, help="real LoRAs of each trainer")
    parser.add_argument("--many", type=int, default=STUDY_COUNT, help="sparse LoRAs (0: none)")
    parser.add_argument("--jobs", type=int, default=2, help="processes on each side")
    args = parser.parse_args()

    loras = build_loras(args.per_kind)
    checkpoints = build_checkpoints()
    megabytes = [path.stat().st_size / 1e6 for path in loras]
    console.print(
        f"{len(loras)} LoRAs ({min(megabytes):.0f}-{max(megabytes):.0f} MB, "
        f"{sum(megabytes) / 1e3:.1f} GB), {len(checkpoints)} sparse checkpoints "
        f"({', '.join(f'{p.stat().st_size / 1e9:.1f}' for p in checkpoints)} GB), "
        f"{args.jobs} processes"
    )
    table = Table("work", "rempart", "peer", "ratio", "target")
    corpus = [*loras, *checkpoints]
    warm(corpus)
    theirs = peer_rate(corpus, args.jobs)
    seconds, records = rempart_audit([CACHE / "loras", CACHE / "checkpoints"], args.jobs)
    ours = len(records) / seconds
    assert len(records) == len(corpus), f"{len(records)} records for {len(corpus)} files"
    table.add_row(
        f"audit {len(corpus)} files, start-up included (files/s)",
        f"{ours:.1f}",
        f"{theirs:.1f}",
        f"{ours / theirs:.2f}",
        ">= 0.5",
    )
    mine, peer = per_file_ms(loras)
    table.add_row(
        "one LoRA, warm, one process (ms)", f"{mine:.2f}", f"{peer:.2f}", f"{peer / mine:.2f}", "-"
    )
    for path, elapsed in checkpoint_seconds(checkpoints):
        size = path.stat().st_size / 1e9
        table.add_row(
            f"one {size:.1f} GB checkpoint (s, in process)", f"{elapsed:.3f}", "-", "-", "< 1"
        )
    full, sha = full_rate(loras)
    table.add_row(
        "full fingerprint (MB/s, 1 process)", f"{full:.0f}", f"{sha:.0f}", f"{full / sha:.2f}", "-"
    )
    if args.many:
        folder = build_many(args.many)
        files = sorted(folder.rglob("*.safetensors"))
        warm(files)
        theirs = peer_rate(files, args.jobs)
        seconds, records = rempart_audit([folder], args.jobs)
        assert len(records) == len(files), f"{len(records)} records for {len(files)} files"
        table.add_row(
            f"audit {len(files):,} sparse LoRAs (files/s)",
            f"{len(files) / seconds:.1f}",
            f"{theirs:.1f}",
            f"{len(files) / seconds / theirs:.2f}",
            ">= 0.5",
        )
        table.add_row(
            f"audit {len(files):,} sparse LoRAs (s)",
            f"{seconds:.0f}",
            f"{len(files) / theirs:.0f}",
            "-",
            f"< {TARGET_SECONDS:.0f}",
        )
    console.print(table)


if __name__ == "__main__":
    main()
