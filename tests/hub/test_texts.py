"""Every text a model's metadata, card and sidecar give, by key path: one case per family."""

from __future__ import annotations

from typing import Any

import pytest

from rempart.hub.texts import FULL_SHARE, ModelText, Reading, _cached_terms, as_terms, texts
from rempart.modelfile import ModelCard, ModelFile, ModelFormat


def model(metadata: dict[str, Any]) -> ModelFile:
    return ModelFile(ModelFormat.SAFETENSORS, 1000, metadata=metadata)


def card(front: dict[str, Any], body: str = "") -> ModelCard:
    return ModelCard(front, body)


METADATA_CASES = [
    ({"ss_output_name": "jane_doe-v2"}, "ss_output_name", "jane doe v2"),
    ({"ss_output_name": "jane_doe, v2"}, "ss_output_name[1]", "v2"),
    ({"ss_training_comment": "a comment"}, "ss_training_comment", "a comment"),
    ({"ss_sd_model_name": "base_model.ckpt"}, "ss_sd_model_name", "base model.ckpt"),
    (
        {"ss_tag_frequency": {"5_nurse": {"school_uniform": 2}}},
        "ss_tag_frequency/5_nurse/school_uniform",
        "school uniform",
    ),
    ({"ss_tag_frequency": {"5_nurse": {"hat": 2}}}, "ss_tag_frequency/5_nurse", "nurse"),
    (
        {"ss_dataset_dirs": {"10_jane doe": {"n_repeats": 10, "img_count": 30}}},
        "ss_dataset_dirs/10_jane doe",
        "jane doe",
    ),
    (
        {"ss_datasets": [{"subsets": [{}, {"class_tokens": "ohwx woman"}]}]},
        "ss_datasets[0].subsets[1].class_tokens",
        "ohwx woman",
    ),
    (
        {"ss_datasets": [{"subsets": [{"caption_prefix": "photo_of"}]}]},
        "ss_datasets[0].subsets[0].caption_prefix",
        "photo of",
    ),
    (
        {"ss_datasets": [{"subsets": [{"caption_suffix": "smiling"}]}]},
        "ss_datasets[0].subsets[0].caption_suffix",
        "smiling",
    ),
    ({"modelspec.title": "Jane-Doe"}, "modelspec.title", "Jane Doe"),
    ({"modelspec.description": "Some words."}, "modelspec.description", "Some words."),
    ({"modelspec.trigger_phrase": "ohwx_person"}, "modelspec.trigger_phrase", "ohwx person"),
    ({"modelspec.tags": "lora, nsfw, portrait"}, "modelspec.tags[2]", "portrait"),
    ({"ssmd_display_name": "Jane"}, "ssmd_display_name", "Jane"),
    ({"ssmd_keywords": "a, b_c"}, "ssmd_keywords[1]", "b c"),
    ({"ssmd_description": "Text."}, "ssmd_description", "Text."),
    ({"ssmd_tags": "x, y"}, "ssmd_tags[0]", "x"),
    ({"name": "my_lora"}, "name", "my lora"),
    ({"general.name": "Jane-Doe Flux"}, "general.name", "Jane Doe Flux"),
    ({"general.tags": ["lora", "portrait"]}, "general.tags[1]", "portrait"),
    ({"general.description": "A model."}, "general.description", "A model."),
    (
        {"ss_datasets": [{"subsets": [{"image_dir": "C:\\train\\img\\10_jane_doe"}]}]},
        "ss_datasets[0].subsets[0].image_dir",
        "jane doe",
    ),
    (
        {"ss_datasets": [{"tag_frequency": {"5_nurse": {"school_uniform": 2}}}]},
        "ss_datasets[0].tag_frequency/5_nurse/school_uniform",
        "school uniform",
    ),
]


@pytest.mark.parametrize(("metadata", "field", "text"), METADATA_CASES)
def test_each_metadata_key_gives_its_texts(metadata: dict[str, Any], field: str, text: str) -> None:
    found = {item.field: item.text for item in texts(model(metadata))}
    assert found.get(field) == text, found


CARD_CASES = [
    ({"tags": ["lora", "base", "nsfw"]}, "", "README.md:tags[2]", "nsfw", Reading.TERMS),
    (
        {"instance_prompt": "photo of ohwx"},
        "",
        "README.md:instance_prompt",
        "photo of ohwx",
        Reading.PROMPT,
    ),
    (
        {"widget": [{"text": "a prompt"}]},
        "",
        "README.md:widget[0].text",
        "a prompt",
        Reading.PROMPT,
    ),
    ({"base_model": "org/base_model"}, "", "README.md:base_model", "org/base model", Reading.TERMS),
    ({}, "The body.", "README.md:body", "The body.", Reading.PROSE),
]


@pytest.mark.parametrize(("front", "body", "field", "text", "reading"), CARD_CASES)
def test_each_card_key_gives_its_texts(
    front: dict[str, Any], body: str, field: str, text: str, reading: Reading
) -> None:
    found = {item.field: item for item in texts(model({}), card(front, body))}
    assert found[field].text == text
    assert found[field].reading is reading


SIDECAR_CASES = [
    ({"name": "v1_final"}, "x.civitai.info:name", "v1 final"),
    ({"trainedWords": ["ohwx", "jane_doe"]}, "x.civitai.info:trainedWords[1]", "jane doe"),
    ({"trainedWords": ["ohwx, smiling"]}, "x.civitai.info:trainedWords[0][1]", "smiling"),
    ({"model": {"name": "Jane Doe"}}, "x.civitai.info:model.name", "Jane Doe"),
    ({"model": {"tags": ["celebrity", "woman"]}}, "x.civitai.info:model.tags[0]", "celebrity"),
    (
        {"images": [{"meta": {"prompt": "a portrait"}}]},
        "x.civitai.info:images[0].meta.prompt",
        "a portrait",
    ),
]


@pytest.mark.parametrize(("sidecar", "field", "text"), SIDECAR_CASES)
def test_each_sidecar_key_gives_its_texts(sidecar: dict[str, Any], field: str, text: str) -> None:
    found = {
        item.field: item.text
        for item in texts(model({}), None, sidecar, sidecar_name="x.civitai.info")
    }
    assert found.get(field) == text, found


def test_a_sample_image_prompt_keeps_its_negative_prompt() -> None:
    sidecar = {"images": [{"meta": {"prompt": "a portrait", "negativePrompt": "blurry"}}]}
    (prompt,) = texts(model({}), None, sidecar)
    assert prompt.reading is Reading.PROMPT
    assert (prompt.negative, prompt.negative_field) == (
        "blurry",
        ".civitai.info:images[0].meta.negativePrompt",
    )


def test_a_tag_weighs_by_its_share_of_its_folders_images() -> None:
    metadata = {
        "ss_tag_frequency": {"10_a": {"x": 3, "y": 30}, "1_b": {"z": 2}},
        "ss_dataset_dirs": {"10_a": {"n_repeats": 10, "img_count": 60}},
        "ss_num_train_images": 100,
    }
    found = {item.field: item for item in texts(model(metadata))}
    assert found["ss_tag_frequency/10_a/x"].share == 0.05  # 3 of img_count 60
    assert found["ss_tag_frequency/10_a/x"].weight == pytest.approx(0.05 / FULL_SHARE)
    assert found["ss_tag_frequency/10_a/y"].weight == 1.0  # half of them: weighs fully
    assert found["ss_tag_frequency/1_b/z"].share == 1.0  # no img_count: its largest tag count


def test_a_datasets_tag_weighs_by_its_share_of_its_subsets_images() -> None:
    subset = {"image_dir": "/data/10_a", "img_count": 40, "num_repeats": 10}
    metadata = {"ss_datasets": [{"subsets": [subset], "tag_frequency": {"10_a": {"x": 4}}}]}
    found = {item.field: item for item in texts(model(metadata))}
    assert found["ss_datasets[0].tag_frequency/10_a/x"].share == 0.1  # 4 of img_count 40
    assert "ss_datasets[0].tag_frequency/10_a" not in found  # named by its subset already
    assert found["ss_datasets[0].subsets[0].image_dir"].text == "a"


def test_the_files_own_name_is_a_text_without_its_suffix() -> None:
    found = texts(model({}), file_name="jane-doe_v2.safetensors")
    assert found == [ModelText("file name", "jane doe v2")]


def test_a_tag_whose_count_is_not_a_number_weighs_fully() -> None:
    """A count written as text (or anything else) must not hide its tag from the audit."""
    frequencies = {"1_a": {"x": "30", "y": None, "z": 2.5, "w": -1, "v": True, "u": 4}}
    found = {item.field: item for item in texts(model({"ss_tag_frequency": frequencies}))}
    for tag in "xyzwv":
        assert found[f"ss_tag_frequency/1_a/{tag}"].weight == 1.0
        assert found[f"ss_tag_frequency/1_a/{tag}"].share is None
    assert found["ss_tag_frequency/1_a/u"].share == 1.0


def test_a_long_tag_is_read_but_not_kept_for_the_run() -> None:
    """A hostile header's one tag of megabytes, cached, would stay in memory the whole run."""
    long = "x_" * (1 << 19)
    before = _cached_terms.cache_info().currsize
    assert as_terms(long) == "x " * ((1 << 19) - 1) + "x"
    assert as_terms("school_uniform") == "school uniform"
    assert _cached_terms.cache_info().currsize <= before + 1


def test_names_and_triggers_weigh_fully_and_texts_are_never_joined() -> None:
    metadata = {"ss_tag_frequency": {"1_a": {"school": 1, "girl": 1}}, "modelspec.title": "t"}
    found = texts(model(metadata))
    assert all(item.weight == 1.0 for item in found)
    assert {item.text for item in found} == {"a", "school", "girl", "t"}


def test_damaged_values_give_no_text_and_no_error() -> None:
    metadata = {
        "ss_tag_frequency": "{not json",
        "ss_dataset_dirs": [1, 2],
        "ss_datasets": {"subsets": 3},
        "modelspec.tags": 7,
        "ss_output_name": None,
    }
    assert texts(model(metadata)) == []


def test_an_lfs_pointer_has_only_its_cards_texts() -> None:
    pointer = ModelFile(ModelFormat.LFS_POINTER, 10**9)
    assert texts(pointer, card({"tags": ["x"]})) == [ModelText("README.md:tags[0]", "x")]
