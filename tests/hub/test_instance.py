"""DreamBooth's instance token before a class of person: a model trained on one person."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rempart.hub import Auditor
from rempart.hub.instance import INSTANCE_TERM
from rempart.hub.signals import TextReader
from rempart.hub.texts import ModelText, Reading
from rempart.policy import Policy
from tests.hub.conftest import WriteModel


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("ss_datasets[0].subsets[0].class_tokens", "ohwx woman"),
        ("README.md:instance_prompt", "a photo of sks man"),
        ("modelspec.trigger_phrase", "zwx femme"),
        ("x.civitai.info:trainedWords[0]", "TOK Frau"),
        ("x.civitai.info:trainedWords[1][0]", "qrst mujer"),
        ("README.md:instance_prompt", "foto di xyzk ragazza"),
        ("ss_datasets[0].subsets[1].class_tokens", "vbn pessoa"),
    ],
)
def test_an_instance_token_before_a_person_is_a_likeness(
    reader: TextReader, field: str, text: str
) -> None:
    reading = Reading.PROMPT if field.endswith("instance_prompt") else Reading.TERMS
    found = reader.signals([ModelText(field, text, reading=reading)])
    likeness = [s for s in found if s.name == "text.likeness"]
    assert [s.value for s in likeness] == [INSTANCE_TERM]
    assert likeness[0].evidence["field"] == field
    assert likeness[0].evidence["match"].lower() in text.lower()


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("ss_datasets[0].subsets[0].class_tokens", "the woman"),  # an ordinary word
        ("ss_datasets[0].subsets[0].class_tokens", "a woman"),  # too short
        ("ss_datasets[0].subsets[0].class_tokens", "nsfw woman"),  # a lexicon word
        ("ss_datasets[0].subsets[0].class_tokens", "ohwx dog"),  # no person
        ("ss_datasets[0].subsets[0].class_tokens", "1990 woman"),  # a number
        ("ss_datasets[0].subsets[0].class_tokens", "jane woman"),  # a name: the registry's
        ("modelspec.title", "ohwx woman"),  # not where trainers write their token
    ],
)
def test_what_is_no_instance_token(reader: TextReader, field: str, text: str) -> None:
    found = reader.signals([ModelText(field, text)])
    assert [s for s in found if s.value == INSTANCE_TERM] == []


def test_a_dreambooth_lora_of_a_person_with_sexual_tags_is_reviewed(
    write_model: WriteModel, policy: Policy, tmp_path: Path
) -> None:
    datasets = [{"subsets": [{"class_tokens": "ohwx woman", "image_dir": "10_ohwx woman"}]}]
    path = write_model(
        "lora.safetensors",
        {
            "ss_datasets": json.dumps(datasets),
            "ss_tag_frequency": json.dumps({"10_ohwx woman": {"nude": 20}}),
            "ss_num_train_images": "20",
        },
    )
    result = Auditor(policy).audit(str(path))
    assert result.verdict.action == "review"
    assert {reason.rule for reason in result.verdict.reasons} == {
        "person-model",
        "likeness-model-sexualised",
    }
