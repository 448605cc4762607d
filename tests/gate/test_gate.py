"""``Gate.check``: the image rules with detector outputs made in the test, the uploaded-face
rules, identity between the uploaded photo and the output, the fixed rules under every
policy, and bad images."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from rempart.detectors import FakeDetector, Picture
from rempart.detectors.faces import FaceDetector
from rempart.detectors.identity import IdentityDetector
from rempart.errors import MediaError, MediaErrorCode, PromptError, RequestError, VideoError
from rempart.gallery import Gallery
from rempart.gate import Gate, GateDetectors, ImageEncoding, parse_gate_request
from rempart.policy import BUILTIN_POLICIES, Action, Verdict, load_policy
from rempart.signals import Signal
from tests.colour import RedDetector, red_scenes
from tests.images import encode, gradient


def sig(name: str, score: float = 0.9, value: str | float | None = None) -> Signal:
    return Signal(name, score, "fake", "1", value=value)


NUDE = sig("nudity.exposed.breast_f")
MINOR_FACE = sig("face.minor", 0.8, 12.0)
FACE = sig("face.detected", 0.95)


def gate_with(*, inputs: Sequence[Signal] = (), output: Sequence[Signal] = ()) -> Gate:
    """A gate whose detectors give ``inputs`` for every uploaded photo and ``output`` for the
    generated image."""
    uploads = {f"input {n}": list(inputs) for n in range(1, 4)}
    detectors = GateDetectors(
        inputs=(FakeDetector(uploads),), output=(FakeDetector({"output": list(output)}),)
    )
    return Gate(detectors=lambda: detectors)


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "image.png"
    path.write_bytes(encode(gradient(120, 90), "PNG"))
    return path


def rules(verdict: Verdict) -> set[str]:
    return {reason.rule for reason in verdict.reasons}


def test_text_only_requests_build_no_image_detector() -> None:
    def no_models() -> GateDetectors:
        raise AssertionError("a text-only check must not load image models")

    gate = Gate(detectors=no_models)
    assert gate.check("a lighthouse at sunset").action is Action.ALLOW
    assert gate.check("nude 15 year old").action is Action.BLOCK


def test_output_nudity_with_an_apparent_minor_blocks_whatever_the_prompt(image: Path) -> None:
    verdict = gate_with(output=[NUDE, MINOR_FACE]).check("a portrait", output=image)
    assert verdict.action is Action.BLOCK
    assert [c.name for c in verdict.categories] == ["child_sexual_abuse"]
    (reason,) = [r for r in verdict.reasons if r.rule == "minor-sexualised"]
    assert {s.name for s in reason.signals} == {"face.minor", "nudity.exposed.breast_f"}
    assert all(s.evidence["source"] == "output" for s in reason.signals)


def test_output_nudity_of_an_adult_with_no_person_is_left_to_the_policy(image: Path) -> None:
    assert gate_with(output=[NUDE]).check("a painting", output=image).action is Action.ALLOW
    strict = Gate(load_policy("strict"), detectors=lambda: gate_with(output=[NUDE]).detectors)
    assert strict.check("a painting", output=image).action is not Action.ALLOW


def test_a_minor_in_the_prompt_and_nudity_in_the_output_block(image: Path) -> None:
    verdict = gate_with(output=[NUDE]).check("a 12 year old at the beach", output=image)
    assert verdict.action is Action.BLOCK
    (reason,) = [r for r in verdict.reasons if r.rule == "minor-sexualised"]
    fields = {s.evidence.get("field") or s.evidence.get("source") for s in reason.signals}
    assert fields == {"prompt", "output"}


@pytest.mark.parametrize(
    "prompt", ["put her in a bikini", "make her naked", "sexy pose", "remove her clothes"]
)
def test_an_uploaded_face_makes_a_sexualising_edit_block(image: Path, prompt: str) -> None:
    verdict = gate_with(inputs=[FACE]).check(prompt, inputs=[image])
    assert verdict.action is Action.BLOCK
    assert "real-person-sexualised" in rules(verdict)
    faces = [s for r in verdict.reasons for s in r.signals if s.name == "upload.face"]
    assert faces
    assert faces[0].evidence["source"] == "input 1"


@pytest.mark.parametrize(
    "prompt", ["make her smile", "change the background to a beach", "add a red scarf"]
)
def test_an_uploaded_face_with_a_benign_edit_is_allowed(image: Path, prompt: str) -> None:
    assert gate_with(inputs=[FACE]).check(prompt, inputs=[image]).action is Action.ALLOW


def test_undressing_an_upload_blocks_even_when_no_face_is_found(image: Path) -> None:
    gate = gate_with(inputs=[])
    verdict = gate.check("undress", inputs=[image])
    assert verdict.action is Action.BLOCK
    assert rules(verdict) == {"undress-upload"}
    # Without a face, revealing clothing alone is not about a real person.
    assert gate.check("put her in a bikini", inputs=[image]).action is Action.ALLOW


def test_an_uploaded_face_and_output_nudity_block(image: Path) -> None:
    gate = gate_with(inputs=[FACE], output=[NUDE])
    verdict = gate.check("make her smile", inputs=[image], output=image)
    assert verdict.action is Action.BLOCK
    assert "real-person-sexualised" in rules(verdict)


def test_a_declared_photo_of_a_person_counts_as_an_uploaded_face() -> None:
    gate = Gate(detectors=lambda: pytest.fail("no image was given"))
    assert gate.check("put her in a bikini", person_photo=True).action is Action.BLOCK
    assert gate.check("make her smile", person_photo=True).action is Action.ALLOW


@pytest.mark.parametrize("policy", BUILTIN_POLICIES)
def test_no_policy_switches_off_the_minor_and_real_person_rules(policy: str) -> None:
    gate = Gate(load_policy(policy), persons=["Taylor Swift"])
    assert gate.check("nude 15 year old").action is Action.BLOCK
    assert gate.check("Taylor Swift nude").action is Action.BLOCK
    assert gate.check("Taylor Swift on stage").action is not Action.BLOCK


def test_every_block_explains_itself_with_rule_text_view_and_signal() -> None:
    verdict = Gate(persons=["Taylor Swift"]).check("t4ylor sw1ft topless")
    (reason,) = verdict.reasons
    assert reason.rule == "real-person-sexualised"
    person = next(s for s in reason.signals if s.name == "text.person")
    assert person.value == "Taylor Swift"
    assert person.evidence["match"] == "t4ylor sw1ft"
    assert person.evidence["view"] == "leet"
    json = verdict.to_json()["reasons"][0]["signals"]
    assert any(s["evidence"]["view"] == "leet" for s in json)


def test_a_bad_image_is_refused_with_its_name_and_nothing_is_judged(tmp_path: Path) -> None:
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(encode(gradient(300, 200), "JPEG")[:400])
    gate = gate_with(output=[NUDE])
    with pytest.raises(MediaError, match=r"^output: ") as caught:
        gate.check("a portrait", output=truncated)
    assert caught.value.code is MediaErrorCode.TRUNCATED
    with pytest.raises(MediaError, match=r"^input 2: ") as caught:
        gate.check("a portrait", inputs=[encode(gradient(64, 64), "PNG"), b"not an image"])
    assert caught.value.code is MediaErrorCode.UNSUPPORTED_FORMAT


def test_a_hostile_prompt_is_refused_before_any_image_is_read(image: Path) -> None:
    def no_models() -> GateDetectors:
        raise AssertionError("the prompt is refused first")

    with pytest.raises(PromptError):
        Gate(detectors=no_models).check("x" * 200_000, output=image)


def test_images_may_be_given_as_bytes(image: Path) -> None:
    verdict = gate_with(output=[NUDE, MINOR_FACE]).check("a portrait", output=image.read_bytes())
    assert verdict.action is Action.BLOCK


def test_the_output_face_is_compared_with_the_uploaded_face(testdata: Path) -> None:
    """The real face models: the output face matches the uploaded photo's person, not
    another's. With no face signal from the uploads' detectors, only this match makes the
    request about a real person."""
    faces = testdata / "faces"
    identity = IdentityDetector()
    detectors = GateDetectors(
        inputs=(), output=(FakeDetector({"output": [NUDE]}),), identity=identity
    )
    gate = Gate(detectors=lambda: detectors)
    same = gate.signals("a portrait", inputs=[faces / "obama.jpg"], output=faces / "obama2.jpg")
    matches = [s for s in same if s.name == "identity.match"]
    assert [s.value for s in matches] == ["input 1"]
    assert matches[0].evidence["source"] == "output"
    verdict = gate.check("a portrait", inputs=[faces / "obama.jpg"], output=faces / "obama2.jpg")
    assert verdict.action is Action.BLOCK
    other = gate.signals("a portrait", inputs=[faces / "obama.jpg"], output=faces / "biden.jpg")
    assert not [s for s in other if s.name == "identity.match"]


def test_the_default_detectors_find_the_uploaded_face(testdata: Path) -> None:
    gate = Gate()
    photo = testdata / "faces" / "biden.jpg"
    verdict = gate.check("remove her clothes", inputs=[photo])
    assert verdict.action is Action.BLOCK
    assert {"real-person-sexualised", "undress-upload"} <= rules(verdict)
    assert isinstance(gate.detectors.inputs[1], FaceDetector)
    assert gate.check("add a red scarf", inputs=[photo]).action is Action.ALLOW
    gate.close()


def test_a_request_is_read_from_json_as_every_interface_sends_it() -> None:
    photo = base64.b64encode(b"\x89PNG not really").decode()
    wrapped = "\n".join(photo[i : i + 8] for i in range(0, len(photo), 8))
    request = parse_gate_request(
        {"prompt": "a cat", "inputs": [wrapped], "lang": "en", "expect": "allow"},
        images=ImageEncoding.BASE64,
    )
    assert request.inputs == (b"\x89PNG not really",)  # labels ignored, line breaks too
    old = parse_gate_request(
        {"text": "undress", "negative": "blur", "has_input_photo": True},
        images=ImageEncoding.PATH,
    )
    assert (old.prompt, old.negative_prompt, old.person_photo) == ("undress", "blur", True)
    with pytest.raises(RequestError, match='"prompt" or its old name "text"'):
        parse_gate_request({"prompt": "a", "text": "b"}, images=ImageEncoding.PATH)
    with pytest.raises(RequestError, match=r"inputs\.0"):
        parse_gate_request({"prompt": "a", "inputs": ["no!"]}, images=ImageEncoding.BASE64)


def test_a_generated_video_is_checked_frame_by_frame_and_a_block_names_its_seconds(
    testdata: Path, tmp_path: Path
) -> None:
    from tests.videos import encode as encode_video

    detectors = GateDetectors(inputs=(), output=(RedDetector([NUDE, MINOR_FACE]),))
    gate = Gate(detectors=lambda: detectors)
    flagged = tmp_path / "generated.mp4"
    flagged.write_bytes(encode_video(red_scenes(testdata, red=(2, 3))))
    verdict = gate.check("a drone shot of a bridge", output=flagged)
    assert verdict.action is Action.BLOCK
    (reason,) = [r for r in verdict.reasons if r.rule == "minor-sexualised"]
    for signal in reason.signals:
        assert signal.evidence["source"] == "output"
        assert signal.evidence["timestamps"] == [2.0, 3.0]
    benign = encode_video(red_scenes(testdata, red=()))
    assert gate.check("a drone shot of a bridge", output=benign).action is Action.ALLOW
    with pytest.raises(VideoError, match=r"^output: "):  # told to an API client as video-*
        gate.check("a drone shot of a bridge", output=benign[:700])


class RedFaces:
    """A stand-in for the identity detector: an uploaded picture holds one face, and a red
    frame of a video shows the face of each picture of the gallery (no face model, no person)."""

    name = "identity"
    version = "red-faces"
    max_side = 64

    def embed(self, pictures: Sequence[Picture]) -> list[list[SimpleNamespace]]:
        return [[SimpleNamespace(vector=np.ones(128, dtype=np.float32))] for _ in pictures]

    def detect_in(self, gallery: Gallery, pictures: Sequence[Picture]) -> list[list[Signal]]:
        red = RedDetector().detect(pictures)
        return [
            [Signal("identity.match", 0.9, self.name, self.version, value=n) for n in gallery.names]
            if found
            else []
            for found in red
        ]


def test_an_uploaded_face_found_in_a_generated_videos_frames_names_their_seconds(
    image: Path, testdata: Path
) -> None:
    from tests.videos import encode as encode_video

    detectors = GateDetectors(
        inputs=(),
        output=(RedDetector([NUDE]),),
        identity=RedFaces(),  # type: ignore[arg-type]
    )
    gate = Gate(detectors=lambda: detectors)
    video = encode_video(red_scenes(testdata, red=(1,)))
    signals = gate.signals("a portrait", inputs=[image], output=video)
    (match,) = [s for s in signals if s.name == "identity.match"]
    assert (match.value, match.evidence["source"]) == ("input 1", "output")
    assert match.evidence["timestamps"] == [1.0]
    assert gate.check("a portrait", inputs=[image], output=video).action is Action.BLOCK
