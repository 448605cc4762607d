"""Provenance signals: C2PA on the shared test files, IPTC in XMP, generator metadata written
by the tests into benign images, and corrupt metadata giving error signals, never a crash."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from rempart.detectors import Picture
from rempart.detectors.provenance import ProvenanceDetector
from rempart.media import load_bytes, load_file
from rempart.provenance.c2pa import _SETTINGS, read_c2pa
from rempart.provenance.iptc import digital_source_types
from rempart.signals import Signal
from tests.images import encode, gradient, jpeg_with_app1

DETECTOR = ProvenanceDetector()


def signals_of(data: bytes) -> list[Signal]:
    return DETECTOR.detect([Picture(load_bytes(data))])[0]


def named(signals: list[Signal], name: str) -> list[Signal]:
    return [s for s in signals if s.name == name]


def png_with_text(chunks: dict[str, str], image: Image.Image | None = None) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in chunks.items():
        info.add_itxt(key, value) if not value.isascii() else info.add_text(key, value)
    return encode(image or gradient(), "PNG", pnginfo=info)


def test_c2pa_ai_declared(testdata: Path) -> None:
    signals = DETECTOR.detect([Picture(load_file(testdata / "provenance" / "C.jpg"))])[0]
    (manifest,) = named(signals, "provenance.c2pa.manifest")
    assert manifest.value == "Valid"
    assert manifest.evidence["claim_generator"].startswith("make_test_images")
    (declared,) = named(signals, "provenance.c2pa.ai_generated")
    assert declared.value == "algorithmicMedia"
    assert named(signals, "provenance.c2pa.tampered") == []


def test_c2pa_tampered(testdata: Path) -> None:
    signals = DETECTOR.detect([Picture(load_file(testdata / "provenance" / "XCA.jpg"))])[0]
    assert named(signals, "provenance.c2pa.manifest")[0].value == "Invalid"
    (tampered,) = named(signals, "provenance.c2pa.tampered")
    assert tampered.value == "assertion.dataHash.mismatch"


def test_a_damaged_manifest_is_an_error_signal(testdata: Path) -> None:
    data = bytearray((testdata / "provenance" / "C.jpg").read_bytes())
    start = data.index(b"jumb")
    data[start + 40 : start + 400] = b"\xff" * 360  # scribble over the manifest store
    signals = signals_of(bytes(data))
    errors = [s for s in signals if s.is_error]
    assert [s.name for s in errors] == ["provenance.c2pa.error"]
    assert errors[0].value == "c2pa_unreadable"
    assert errors[0].score == 0.0


def test_no_manifest_no_signal(testdata: Path) -> None:
    assert read_c2pa((testdata / "faces" / "obama.jpg").read_bytes(), "jpeg") is None
    assert signals_of(encode(gradient(), "BMP")) == []


def test_remote_manifests_are_never_fetched() -> None:
    assert _SETTINGS["verify"] == {"remote_manifest_fetch": False, "ocsp_fetch": False}


XMP_ATTRIBUTE = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
    b'syntax-ns#"><rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"'
    b' Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/'
    b'trainedAlgorithmicMedia"/></rdf:RDF></x:xmpmeta>'
)


@pytest.mark.parametrize(
    ("packet", "terms"),
    [
        (XMP_ATTRIBUTE, ["trainedAlgorithmicMedia"]),
        (
            b"<Iptc4xmpExt:DigitalSourceType>http://cv.iptc.org/newscodes/digitalsourcetype/"
            b"compositeWithTrainedAlgorithmicMedia</Iptc4xmpExt:DigitalSourceType> after",
            ["compositeWithTrainedAlgorithmicMedia"],
        ),
        (
            b'<Iptc4xmpExt:DigitalSourceType rdf:resource="http://cv.iptc.org/newscodes/'
            b'digitalsourcetype/digitalCapture"/>',
            ["digitalCapture"],
        ),
        (b"<x>no declaration</x>", []),
        (b"<!DOCTYPE x [<!ENTITY a 'aaaa'>]><x>&a;&a;&a;</x>", []),
    ],
)
def test_iptc_digital_source_type_forms(packet: bytes, terms: list[str]) -> None:
    assert digital_source_types(packet) == terms


def test_iptc_in_a_jpeg() -> None:
    data = jpeg_with_app1(b"http://ns.adobe.com/xap/1.0/\0" + XMP_ATTRIBUTE)
    signals = signals_of(data)
    assert named(signals, "provenance.iptc.source_type")[0].value == "trainedAlgorithmicMedia"
    assert named(signals, "provenance.iptc.ai_generated")[0].value == "trainedAlgorithmicMedia"


A1111 = (
    "a lighthouse at dusk\nNegative prompt: blurry\n"
    "Steps: 20, Sampler: Euler a, CFG scale: 7, Model: sd_xl_base_1.0, Version: v1.10.1"
)
COMFY_PROMPT = {
    "3": {"class_type": "KSampler", "inputs": {"positive": ["6", 0], "negative": ["7", 0]}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "model.safetensors"}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red bicycle", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "text, watermark"}},
}
COMFY_WORKFLOW = {
    "nodes": [
        {"id": 6, "type": "CLIPTextEncode", "widgets_values": ["a red bicycle"]},
        {"id": 7, "type": "CLIPTextEncode", "widgets_values": ["text, watermark"]},
        {"id": 3, "type": "KSampler", "inputs": [{"name": "negative", "link": 9}]},
    ],
    "links": [[9, 7, 0, 3, 2, "CONDITIONING"]],
}
INVOKEAI = {"positive_prompt": "a barn", "negative_prompt": "x", "model": {"name": "sdxl"}}
FOOOCUS = {"Prompt": "a mountain lake", "Negative Prompt": "", "Version": "Fooocus v2.5.5"}


@pytest.mark.parametrize(
    ("chunks", "generator", "prompt", "negative"),
    [
        ({"parameters": A1111}, "a1111", "a lighthouse at dusk", "blurry"),
        ({"parameters": A1111.replace("v1.10.1", "f2.0.1v1.10.1")}, "forge", None, "blurry"),
        ({"prompt": json.dumps(COMFY_PROMPT)}, "comfyui", "a red bicycle", "text, watermark"),
        ({"workflow": json.dumps(COMFY_WORKFLOW)}, "comfyui", "a red bicycle", "text, watermark"),
        (
            {
                "invokeai_metadata": json.dumps(
                    {"positive_prompt": "a barn", "negative_prompt": "x"}
                )
            },
            "invokeai",
            "a barn",
            "x",
        ),
        ({"Dream": '"an orchard in spring" -s 50 -S 42'}, "invokeai", "an orchard in spring", None),
        (
            {"parameters": json.dumps(FOOOCUS), "fooocus_scheme": "fooocus"},
            "fooocus",
            "a mountain lake",
            None,
        ),
        (
            {
                "Software": "NovelAI",
                "Description": "a harbour",
                "Source": "NovelAI Diffusion V3",
                "Comment": json.dumps({"prompt": "a harbour", "uc": "lowres"}),
            },
            "novelai",
            "a harbour",
            "lowres",
        ),
    ],
)
def test_generator_metadata_is_found_with_its_prompt(
    chunks: dict[str, str], generator: str, prompt: str | None, negative: str | None
) -> None:
    (found,) = named(signals_of(png_with_text(chunks)), "provenance.generator")
    assert found.value == generator
    if prompt:
        assert found.evidence["prompt"] == prompt
    assert found.evidence.get("negative_prompt") == negative


def test_a1111_in_jpeg_exif_user_comment() -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\0" + A1111.encode("utf-16-be")
    data = encode(gradient(), "JPEG", exif=exif.tobytes())
    (found,) = named(signals_of(data), "provenance.generator")
    assert (found.value, found.evidence["source"]) == ("a1111", "exif:UserComment")
    assert found.evidence["model"] == "sd_xl_base_1.0"


def test_metadata_survives_a_lossless_copy_and_not_a_re_encode() -> None:
    data = png_with_text({"parameters": A1111})
    copied = Image.open(io.BytesIO(data))
    kept = encode(copied, "PNG", pnginfo=_pnginfo_of(copied))
    assert named(signals_of(kept), "provenance.generator")
    assert named(signals_of(encode(copied.convert("RGB"), "JPEG")), "provenance.generator") == []


def _pnginfo_of(image: Image.Image) -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    for key, value in image.text.items():  # type: ignore[attr-defined]
        info.add_text(key, value)
    return info


def test_a_long_prompt_is_kept_in_part_and_marked() -> None:
    long = "word " * 5000
    (found,) = named(signals_of(png_with_text({"Dream": f'"{long}"'})), "provenance.generator")
    assert len(found.evidence["prompt"]) == 10_000
    assert found.evidence["prompt_truncated"] is True


@pytest.mark.parametrize(
    "chunks",
    [
        {"prompt": '{"3": {"class_type": "KSampler", "inputs": '},  # cut off
        {"workflow": "[1, 2"},
        {"invokeai_metadata": "not json"},
        {"Software": "NovelAI", "Comment": "{bad"},
        {"prompt": "[" * 100_000 + "]" * 100_000},  # nested past any recursion limit
    ],
)
def test_malformed_generator_metadata_is_an_error_signal(chunks: dict[str, str]) -> None:
    signals = signals_of(png_with_text(chunks))
    errors = [s for s in signals if s.is_error]
    assert [s.name for s in errors] == ["provenance.generator.error"]
    assert errors[0].value == "generator_metadata_unreadable"


@pytest.mark.parametrize(
    "block",
    [
        b"Exif\0\0MM\0*\0\0\0\x08" + struct.pack(">H", 0x7FFF) + b"\x01\x0f\0\x02" * 4,
        b"Exif\0\0garbage, not a TIFF structure",
    ],
    ids=["ifd-runs-out", "not-tiff"],
)
def test_corrupt_exif_is_an_error_signal_not_a_crash(block: bytes) -> None:
    signals = signals_of(jpeg_with_app1(block))
    (error,) = signals
    assert (error.name, error.value, error.score) == ("provenance.exif.error", "exif_unreadable", 0)
