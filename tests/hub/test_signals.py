"""Texts become weighted ``text.*`` signals; prompts are read as the gate reads them; a
card's sentence that forbids a use does not count its minor terms."""

from __future__ import annotations

import pytest

from rempart.hub.signals import MAX_SIGNALS_PER_NAME, TextReader, _chunks, strongest
from rempart.hub.texts import ModelText, Reading
from rempart.signals import Signal
from rempart.text import MAX_PROMPT_CHARS, PromptAnalyser


def by_name(signals: list[Signal]) -> dict[str, Signal]:
    return {signal.name: signal for signal in signals}


def test_a_tag_signal_weighs_its_share_and_says_where(reader: TextReader) -> None:
    (signal,) = reader.signals([ModelText("ss_tag_frequency/1_a/nude", "nude", 0.5, share=0.1)])
    assert (signal.name, signal.score, signal.value) == ("text.nudity", 0.5, "nude")
    assert signal.evidence["field"] == "ss_tag_frequency/1_a/nude"
    assert signal.evidence["share"] == 0.1
    assert signal.evidence["match"] == "nude"
    assert (signal.detector, signal.version) == ("hub", "test")


def test_a_tag_too_rare_in_its_images_gives_nothing(reader: TextReader) -> None:
    assert (
        reader.signals([ModelText("ss_tag_frequency/1_a/nude", "nude", 0.0001, share=0.00002)])
        == []
    )


def test_a_protected_persons_name_is_a_person_signal(reader: TextReader) -> None:
    found = by_name(reader.signals([ModelText("ss_output_name", "jane roe v2")]))
    assert found["text.person"].value == "Jane Roe"


def test_the_strongest_of_one_value_is_kept(reader: TextReader) -> None:
    found = reader.signals(
        [
            ModelText("ss_tag_frequency/1_a/nude", "nude", 0.3, share=0.06),
            ModelText("modelspec.title", "nude"),
        ]
    )
    (signal,) = found
    assert (signal.score, signal.evidence["field"]) == (1.0, "modelspec.title")


def test_at_most_ten_signals_per_name_the_strongest() -> None:
    signals = [Signal("text.minor", (i + 1) / 20, "hub", "1", value=str(i)) for i in range(15)]
    kept = strongest(signals)
    assert len(kept) == MAX_SIGNALS_PER_NAME
    assert {s.value for s in kept} == {str(i) for i in range(5, 15)}


def test_a_prompt_is_read_with_its_negative_as_the_gate_reads_it(reader: TextReader) -> None:
    prompt = ModelText(
        "x.civitai.info:images[0].meta.prompt",
        "portrait",
        reading=Reading.PROMPT,
        negative="adult woman",
        negative_field="x.civitai.info:images[0].meta.negativePrompt",
    )
    (signal,) = reader.signals([prompt])
    assert signal.name == "text.minor"  # excluding adulthood asks for a minor
    assert signal.evidence["field"] == "x.civitai.info:images[0].meta.negativePrompt"
    assert signal.detector == "hub"


def test_a_prompt_too_long_for_the_gate_is_read_in_pieces(reader: TextReader) -> None:
    padded = "portrait, " * (MAX_PROMPT_CHARS // 10 + 100) + "nude"
    found = by_name(
        reader.signals([ModelText("README.md:instance_prompt", padded, reading=Reading.PROMPT)])
    )
    assert found["text.nudity"].evidence["field"] == "README.md:instance_prompt"


@pytest.mark.parametrize(
    "sentence",
    [
        "Do not use this model to depict minors.",
        "You must never generate children with it.",
        "Interdit de représenter des enfants.",
        "Es verboten, Kinder darzustellen.",
        "Prohibido generar niños.",
        "Vietato generare bambini.",
        "É proibido gerar crianças.",
        "Images of minors are prohibited.",
        "Children are not ever allowed.",
        "Les enfants sont interdits.",
    ],
)
def test_a_minor_term_in_a_sentence_that_forbids_does_not_count(
    reader: TextReader, sentence: str
) -> None:
    body = f"A portrait model.\n\n{sentence} Nude images are allowed."
    found = by_name(reader.signals([ModelText("README.md:body", body, reading=Reading.PROSE)]))
    assert "text.minor" not in found
    assert "text.nudity" in found


@pytest.mark.parametrize(
    "body",
    [
        "A portrait model. Trained on a teen. Do not share it.",
        "A portrait model: teen, no watermark, no blur.",
        "Teen portraits are allowed, no signature needed.",
    ],
)
def test_a_minor_term_in_a_sentence_that_does_not_forbid_it_counts(
    reader: TextReader, body: str
) -> None:
    found = by_name(reader.signals([ModelText("README.md:body", body, reading=Reading.PROSE)]))
    assert found["text.minor"].evidence["field"] == "README.md:body"
    assert found["text.minor"].evidence["match"].lower() == "teen"


def test_a_body_of_thousands_of_forbidding_sentences_counts_only_the_others(
    reader: TextReader,
) -> None:
    body = "Do not use a teen. " * 800 + "Trained on a teen. " + "No teen. " * 800
    found = reader.signals([ModelText("README.md:body", body, reading=Reading.PROSE)])
    (minor,) = [signal for signal in found if signal.name == "text.minor"]
    assert minor.evidence["match"] == "teen"


def test_a_long_text_is_cut_in_pieces_of_a_prompt_at_word_ends() -> None:
    text = "nude teen, " * 5000 + "x" * 40_000
    pieces = _chunks(text)
    assert "".join(pieces) == text
    assert all(len(piece) <= MAX_PROMPT_CHARS for piece in pieces)
    assert all(piece.endswith(" ") for piece in pieces[:3])
    assert pieces[-1] == "x" * len(pieces[-1])  # a run without a word end: cut where it must


def test_hits_are_read_once_per_text(reader: TextReader) -> None:
    texts = [ModelText(f"ss_tag_frequency/1_a/{i}", "nude") for i in range(50)]
    reader.signals(texts)
    reader.signals(texts)
    info = reader._hits.cache_info()
    assert (info.misses, info.hits) == (1, 99)


def test_a_prompt_that_takes_too_long_to_read_is_unread(analyser: PromptAnalyser) -> None:
    reader = TextReader(analyser, version="test", prompt_ms=0.001)
    prompt = ", ".join(f"[word{i}|other{i}]" for i in range(400))
    found = by_name(
        reader.signals([ModelText("README.md:widget[0].text", prompt, reading=Reading.PROMPT)])
    )
    assert found["text.unread"].evidence["field"] == "README.md:widget[0].text"


def test_a_tag_longer_than_a_prompt_is_read_whole_in_pieces(reader: TextReader) -> None:
    tag = "portrait " * (MAX_PROMPT_CHARS // 9 + 10) + "nude"
    found = by_name(reader.signals([ModelText("ss_output_name", tag)]))
    assert found["text.nudity"].evidence["match"] == "nude"


def test_a_long_prose_is_cut_at_sentence_ends(reader: TextReader) -> None:
    # cut at the last space, a piece would begin "teen." without the "No" that forbids it
    body = "No teen. " * 4000
    assert all(piece.endswith(". ") for piece in _chunks(body)[:-1])
    found = reader.signals([ModelText("README.md:body", body, reading=Reading.PROSE)])
    assert "text.minor" not in by_name(found)
