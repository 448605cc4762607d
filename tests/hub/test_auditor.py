"""The auditor on model files written with the safetensors library: weights by share, cards,
sidecars, copies, LFS pointers, images, the endpoint's bytes and the process pool."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Generator, Sequence
from pathlib import Path

import pytest
from PIL import Image

from rempart.detectors.picture import Picture
from rempart.detectors.protocol import FakeDetector
from rempart.errors import MediaErrorCode
from rempart.hub import Auditor, AuditorSpec, AuditResult, KnownModels
from rempart.hub import auditor as auditor_module
from rempart.hub.auditor import MAX_COVER_IMAGES
from rempart.media import MediaFailure
from rempart.modelfile import FingerprintMode, ModelCard, read_card
from rempart.policy import Action, Policy
from rempart.scan import Scanner
from rempart.scan.fingerprint import header_record
from rempart.signals import Signal
from rempart.text import PersonName, PromptAnalyser
from tests.hub.conftest import WriteModel


@pytest.fixture
def auditor(policy: Policy, analyser: PromptAnalyser) -> Auditor:
    return Auditor(policy, analyser=analyser)


def names(result: AuditResult) -> set[str]:
    return {signal.name for signal in result.signals}


def test_a_general_model_with_a_huge_tag_list_does_not_block(
    auditor: Auditor, write_model: WriteModel
) -> None:
    tags = {f"tag{i}": 10 for i in range(10_000)}
    tags.update({"teen": 1, "nude": 1, "landscape": 100_000})
    path = write_model(
        metadata={
            "ss_tag_frequency": {"1_general": tags},
            "ss_dataset_dirs": {"1_general": {"n_repeats": 1, "img_count": 100_000}},
            "ss_num_train_images": 100_000,
        }
    )
    result = auditor.audit(str(path))
    assert result.verdict.action is Action.ALLOW
    assert not names(result) & {"text.minor", "text.nudity"}


def test_a_lora_trained_on_a_minor_word_and_nudity_blocks(
    auditor: Auditor, write_model: WriteModel
) -> None:
    path = write_model(
        metadata={
            "ss_tag_frequency": {"10_subject": {"nude": 20, "teen": 20, "portrait": 30}},
            "ss_dataset_dirs": {"10_subject": {"n_repeats": 10, "img_count": 30}},
            "ss_num_train_images": 300,
        }
    )
    result = auditor.audit(str(path))
    assert result.verdict.action is Action.BLOCK
    assert "minor-sexualised" in {reason.rule for reason in result.verdict.reasons}
    minor = next(s for s in result.signals if s.name == "text.minor")
    assert minor.evidence["field"] == "ss_tag_frequency/10_subject/teen"
    assert minor.evidence["share"] == pytest.approx(20 / 30, abs=1e-4)


def test_a_card_that_forbids_minors_with_an_nsfw_tag_does_not_block(
    auditor: Auditor, write_model: WriteModel, tmp_path: Path
) -> None:
    path = write_model()
    (tmp_path / "README.md").write_text(
        "---\ntags: [lora, nsfw, not-for-all-audiences]\n---\n# A style\n\n"
        "Do not use this model to depict minors or children.\n"
    )
    result = auditor.audit(str(path))
    assert result.verdict.action is not Action.BLOCK
    assert {"text.sexual", "model.nsfw"} <= names(result)
    assert "text.minor" not in names(result)


def test_a_named_protected_person_with_nudity_blocks(
    auditor: Auditor, write_model: WriteModel
) -> None:
    path = write_model(metadata={"ss_output_name": "jane_roe", "modelspec.tags": "nude, portrait"})
    result = auditor.audit(str(path))
    assert result.verdict.action is Action.BLOCK
    person = next(s for s in result.signals if s.name == "text.person")
    assert person.evidence["field"] == "ss_output_name"


def test_a_sidecar_declaring_a_real_person_and_nsfw_blocks(
    auditor: Auditor, write_model: WriteModel, tmp_path: Path
) -> None:
    path = write_model("jane.safetensors")
    sidecar = {
        "name": "v1",
        "model": {"name": "Someone", "poi": True},
        "images": [{"nsfwLevel": 8}],
    }
    (tmp_path / "jane.civitai.info").write_text(json.dumps(sidecar))
    result = auditor.audit(str(path))
    assert result.verdict.action is Action.BLOCK
    fields = {s.name: s.evidence["field"] for s in result.signals}
    assert fields["model.poi"] == "jane.civitai.info:model.poi"
    assert fields["model.nsfw"] == "jane.civitai.info:images[0].nsfwLevel"


def test_a_card_or_sidecar_that_cannot_be_read_is_a_warning(
    auditor: Auditor, write_model: WriteModel, tmp_path: Path
) -> None:
    path = write_model("m.safetensors")
    (tmp_path / "m.civitai.info").write_text("[not an object")
    result = auditor.audit(str(path))
    assert result.verdict.action is Action.ALLOW
    assert any(w.startswith("m.civitai.info: ") for w in result.to_json()["warnings"])


def test_a_card_shared_by_models_is_read_once_while_unchanged(
    auditor: Auditor, write_model: WriteModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[bytes] = []

    def counted(data: bytes) -> ModelCard:
        read.append(data)
        return read_card(data)

    monkeypatch.setattr(auditor_module, "read_card", counted)
    card = tmp_path / "README.md"
    card.write_text("---\ntags: [lora]\n---\nA LoRA.\n")
    paths = [str(write_model(f"m{i}.safetensors", seed=i)) for i in range(3)]
    for path in paths:
        assert auditor.audit(path).verdict.action is Action.ALLOW
    assert len(read) == 1
    card.write_text("---\ntags: [lora, not-for-all-audiences]\n---\nA LoRA.\n")
    assert "model.nsfw" in names(auditor.audit(paths[0]))
    assert len(read) == 2


def test_the_nearest_card_is_found_up_to_the_folder_named(
    auditor: Auditor, write_model: WriteModel, tmp_path: Path
) -> None:
    path = write_model("jane.safetensors", folder=tmp_path / "repo" / "loras")
    (tmp_path / "repo" / "README.md").write_text(
        "---\ninstance_prompt: photo of jane roe, nude\n---\n"
    )
    alone, under_root = auditor.scan([str(path), str(path)], roots=[])
    assert alone.verdict.action is Action.ALLOW  # type: ignore[union-attr]
    (under_root,) = auditor.scan([str(path)], roots=[str(tmp_path / "repo")])
    assert isinstance(under_root, AuditResult)
    assert under_root.verdict.action is Action.BLOCK
    fields = {s.evidence["field"] for s in under_root.signals}
    assert fields == {"README.md:instance_prompt"}


def test_an_lfs_pointer_is_judged_on_its_card(auditor: Auditor, tmp_path: Path) -> None:
    pointer = tmp_path / "model.safetensors"
    pointer.write_text(
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{'ab' * 32}\nsize 151000000\n"
    )
    (tmp_path / "README.md").write_text(
        "---\ntags: [nsfw]\nwidget:\n  - text: photo of jane roe\n---\nA model.\n"
    )
    result = auditor.audit(str(pointer))
    assert result.to_json()["format"] == "lfs_pointer"
    assert result.verdict.action is Action.BLOCK
    assert {s.evidence["field"] for s in result.signals} == {
        "README.md:tags[0]",
        "README.md:widget[0].text",
    }


def test_a_renamed_stripped_copy_of_a_blocked_model_blocks(
    policy: Policy, analyser: PromptAnalyser, write_model: WriteModel, tmp_path: Path
) -> None:
    first = Auditor(policy, analyser=analyser)
    blocked = write_model(
        "jane.safetensors",
        metadata={"ss_output_name": "jane roe", "modelspec.tags": "nude"},
        seed=7,
    )
    record = first.audit(str(blocked))
    assert record.verdict.action is Action.BLOCK
    output = tmp_path / "earlier.jsonl"
    lines = [header_record(first.fingerprint_of_run()), record.to_json()]
    output.write_text("".join(json.dumps(line) + "\n" for line in lines))
    known = KnownModels.read(output)
    copy = write_model("generic_style_v3.safetensors", folder=tmp_path / "re-upload", seed=7)
    other = write_model("other.safetensors", folder=tmp_path / "re-upload", seed=8)
    auditor = Auditor(policy, analyser=analyser, known=known)
    result = auditor.audit(str(copy))
    assert result.verdict.action is Action.BLOCK
    assert [reason.rule for reason in result.verdict.reasons] == ["copy-of-blocked-model"]
    (signal,) = result.signals
    assert signal.evidence["known"] == str(blocked)
    assert auditor.audit(str(other)).verdict.action is Action.ALLOW
    assert auditor.fingerprint_of_run()["known"] == known.digest
    full = Auditor(policy, analyser=analyser, known=known, fingerprint=FingerprintMode.FULL)
    assert full.audit(str(copy)).signals == []  # f1: never compares with s1:


def test_a_pickle_that_runs_code_goes_to_review(auditor: Auditor, tmp_path: Path) -> None:
    path = tmp_path / "model.ckpt"
    path.write_bytes(b"\x80\x02cposix\nsystem\nX\x04\x00\x00\x00echo\x85R.")
    result = auditor.audit(str(path))
    assert result.verdict.action is Action.REVIEW
    (signal,) = result.signals
    assert (signal.name, signal.value, signal.score) == ("model.pickle.code", "posix.system", 1.0)


def test_audit_bytes_reads_a_header_card_and_sidecar(
    auditor: Auditor, write_model: WriteModel
) -> None:
    data = write_model(metadata={"modelspec.title": "portrait"}).read_bytes()
    result = auditor.audit_bytes(
        data[:4096],
        card=b"---\ntags: [nude]\n---\n",
        sidecar=json.dumps({"model": {"poi": True}}).encode(),
    )
    assert result.verdict.action is Action.BLOCK
    record = result.to_api_json()
    assert "path" not in record
    assert "fingerprint" not in record
    bad = auditor.audit_bytes(data[:4096], sidecar=b"nope")
    assert bad.to_json()["warnings"][0].startswith(".civitai.info: ")


def png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(out, format="PNG")
    return out.getvalue()


def test_images_beside_the_model_and_in_its_metadata_join_its_signals(
    policy: Policy, analyser: PromptAnalyser, write_model: WriteModel, tmp_path: Path
) -> None:
    (tmp_path / "sample.png").write_bytes(png((10, 20, 30)))
    (tmp_path / "notes.txt").write_text("not an image")
    thumbnail = "data:image/png;base64," + base64.b64encode(png((1, 2, 3))).decode()
    path = write_model(metadata={"modelspec.thumbnail": thumbnail, "modelspec.tags": "teen"})
    minor = Signal("face.minor", 0.9, "fake", "1")
    nude = Signal("nudity.exposed.breast_f", 0.9, "fake", "1")
    fake = FakeDetector({str(tmp_path / "sample.png"): [nude], "modelspec.thumbnail": [minor]})
    images = Scanner([fake], policy)
    auditor = Auditor(policy, analyser=analyser, images=images)
    result = auditor.audit(str(path))
    assert result.verdict.action is Action.BLOCK
    sources = {s.name: s.evidence.get("image") for s in result.signals}
    assert sources["nudity.exposed.breast_f"] == "sample.png"
    assert sources["face.minor"] == "modelspec.thumbnail"
    assert auditor.fingerprint_of_run()["detectors"]["fake"] == "1"


class CountingDetector(FakeDetector):
    """A fake detector that counts the pictures it is given."""

    def __init__(self, signals: dict[str, list[Signal]]) -> None:
        super().__init__(signals)
        self.seen: list[str] = []

    def detect(self, pictures: Sequence[Picture]) -> list[list[Signal]]:
        self.seen += [picture.path for picture in pictures]
        return super().detect(pictures)


def test_a_folder_s_pictures_are_scanned_once_for_all_its_models(
    policy: Policy, analyser: PromptAnalyser, write_model: WriteModel, tmp_path: Path
) -> None:
    sample = str(tmp_path / "sample.png")
    (tmp_path / "sample.png").write_bytes(png((10, 20, 30)))
    detector = CountingDetector({sample: [Signal("face.minor", 0.9, "fake", "1")]})
    auditor = Auditor(policy, analyser=analyser, images=Scanner([detector], policy))
    paths = [str(write_model(f"m{i}.safetensors", seed=i)) for i in range(3)]
    for path in paths:
        result = auditor.audit(path)
        assert {s.evidence.get("image") for s in result.signals} >= {"sample.png"}
    assert detector.seen == [sample]


def test_only_the_first_cover_images_are_read(
    policy: Policy, analyser: PromptAnalyser, write_model: WriteModel
) -> None:
    cover = base64.b64encode(png((1, 2, 3))).decode()
    path = write_model(metadata={"ssmd_cover_images": json.dumps([cover] * 40)})
    seen = {f"ssmd_cover_images[{i}]": [Signal("face.minor", 0.9, "fake", "1")] for i in range(40)}
    auditor = Auditor(policy, analyser=analyser, images=Scanner([FakeDetector(seen)], policy))
    result = auditor.audit(str(path))
    read = {s.evidence.get("image") for s in result.signals}
    assert read == {f"ssmd_cover_images[{i}]" for i in range(MAX_COVER_IMAGES)}
    assert "ssmd_cover_images: 40 images, the first 16 read" in result.model.warnings


def test_scan_passes_failures_on_and_keeps_the_order(
    auditor: Auditor, write_model: WriteModel, tmp_path: Path
) -> None:
    good = write_model()
    text = tmp_path / "notes.bin"
    text.write_text("hello")
    walked = MediaFailure(
        str(tmp_path / "gone"),
        pytest.importorskip("rempart.errors").MediaError(MediaErrorCode.NOT_FOUND, "gone"),
    )
    results = list(auditor.scan([str(text), walked, str(good), str(tmp_path / "missing.pt")]))
    assert [type(r).__name__ for r in results] == [
        "MediaFailure",
        "MediaFailure",
        "AuditResult",
        "MediaFailure",
    ]
    assert results[0].to_json()["error"]["code"] == "unsupported_format"
    assert results[1] is walked
    assert results[3].to_json()["error"]["code"] == "not_found"


def test_jobs_2_gives_the_records_of_jobs_1_in_order(
    write_model: WriteModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("rempart.hub.auditor.FILES_PER_PROCESS", 1)  # a pool for 21 files
    paths: list[str] = []
    for index in range(20):
        metadata = {"ss_output_name": "jane roe" if index % 3 == 0 else f"style {index}"}
        if index % 2:
            metadata["modelspec.tags"] = "nude"
        paths.append(str(write_model(f"m{index:02}.safetensors", metadata, seed=index)))
    paths.insert(5, str(tmp_path / "missing.safetensors"))
    spec = AuditorSpec(policy="hub", persons=(PersonName("Jane Roe"),))
    auditor = spec.build()
    one = [r.to_json() for r in auditor.scan(paths)]
    two = [r.to_json() for r in auditor.scan(paths, jobs=2)]
    assert two == one
    assert [r["path"] for r in two] == paths
    assert {r["verdict"]["action"] for r in one if "verdict" in r} >= {"allow", "block"}
    stopped = auditor.scan(paths, jobs=2)
    assert next(stopped).to_json() == one[0]
    assert isinstance(stopped, Generator)
    stopped.close()  # as Ctrl-C leaves it: the pool is shut down, its work cancelled


def test_scan_on_processes_needs_a_spec(auditor: Auditor, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rempart.hub.auditor.FILES_PER_PROCESS", 1)
    with pytest.raises(ValueError, match="AuditorSpec"):
        list(auditor.scan(["x", "y"], jobs=2))


FILE_KEYS = [
    ("ss_output_name", "nude_v2", "ss_output_name"),
    ("ss_training_comment", "Trained on nude photos.", "ss_training_comment"),
    ("ss_sd_model_name", "nude-base.ckpt", "ss_sd_model_name"),
    ("ss_tag_frequency", {"3_style": {"nude": 3}}, "ss_tag_frequency/3_style/nude"),
    ("ss_dataset_dirs", {"3_nude": {"n_repeats": 3, "img_count": 3}}, "ss_dataset_dirs/3_nude"),
    (
        "ss_datasets",
        [{"subsets": [{"class_tokens": "nude"}]}],
        "ss_datasets[0].subsets[0].class_tokens",
    ),
    (
        "ss_datasets",
        [{"subsets": [{"caption_prefix": "nude,"}]}],
        "ss_datasets[0].subsets[0].caption_prefix",
    ),
    (
        "ss_datasets",
        [{"subsets": [{"caption_suffix": "nude"}]}],
        "ss_datasets[0].subsets[0].caption_suffix",
    ),
    ("modelspec.title", "Nude", "modelspec.title"),
    ("modelspec.description", "A nude style.", "modelspec.description"),
    ("modelspec.trigger_phrase", "nude", "modelspec.trigger_phrase"),
    ("modelspec.tags", "lora, nude", "modelspec.tags[1]"),
    ("ssmd_display_name", "Nude", "ssmd_display_name"),
    ("ssmd_keywords", "nude", "ssmd_keywords"),
    ("ssmd_description", "nude", "ssmd_description"),
    ("ssmd_tags", "x, nude", "ssmd_tags[1]"),
    ("name", "nude_lora", "name"),
]


@pytest.mark.parametrize(("key", "value", "field"), FILE_KEYS)
def test_each_key_of_a_file_is_read_at_its_key_path(
    auditor: Auditor, write_model: WriteModel, key: str, value: object, field: str
) -> None:
    path = write_model(metadata={key: value})
    found = {s.name: s for s in auditor.audit(str(path)).signals}
    assert found["text.nudity"].evidence["field"] == field


def test_a_likeness_model_goes_to_review_and_sexualised_stays_there(
    auditor: Auditor, write_model: WriteModel
) -> None:
    plain = auditor.audit(str(write_model("a.safetensors", {"modelspec.tags": "influencer"})))
    assert plain.verdict.action is Action.REVIEW
    assert {reason.rule for reason in plain.verdict.reasons} == {"person-model"}
    tags = {"5_x": {"influencer": 5, "nude": 5}}
    sexualised = auditor.audit(str(write_model("b.safetensors", {"ss_tag_frequency": tags})))
    assert "likeness-model-sexualised" in {r.rule for r in sexualised.verdict.reasons}


def test_a_few_files_are_audited_in_this_process(write_model: WriteModel) -> None:
    paths = [str(write_model(f"m{index}.safetensors", {}, seed=index)) for index in range(3)]
    auditor = AuditorSpec(policy="hub").build()
    # jobs=2 for three files: no pool is started (_pooled, gone, would fail if called)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("rempart.hub.auditor._pooled", None)
        assert [r.path for r in auditor.scan(paths, jobs=2)] == paths
