"""``text.likeness``: words saying a model reproduces a real but unnamed person, in each of the
six languages and as tags write them, never style words; and no policy of the gate reads them,
so a prompt's verdict under ``default``, ``strict`` or ``survey`` is the same with them."""

from __future__ import annotations

import pytest

from rempart.policy import load_policy
from rempart.signals import Signal
from rempart.text import LANGUAGES, PromptAnalyser, load_lexicon

LIKENESS = "text.likeness"
TERMS = sorted(
    {(entry.language, entry.term) for entry in load_lexicon().entries if entry.kind == "likeness"}
)

# A few of each language as people type them in a model's tags, name or card: the lexicon's
# entries are checked above; these check the reading (case, accents, separators, joined words).
TYPED = {
    "en": [
        "Instagram Model",
        "instagram_model",
        "InstagramModel",
        "twitch streamer",
        "YouTuber",
        "tiktoker",
        "onlyfans model",
        "celebrity",
        "actress",
        "news anchor",
        "real girl lora",
        "look-alike",
        "my ex-girlfriend",
        "ex_gf",
        "my crush",
        "coworker",
        "classmate",
        "c3lebrity",
    ],
    "fr": [
        "influenceuse",
        "streameuse",
        "Célébrité",
        "celebrite",
        "actrice",
        "sosie",
        "ma copine",
        "mon ex",
        "collègue",
        "présentatrice télé",
    ],
    "de": [
        "Influencerin",
        "Promi",
        "Schauspielerin",
        "Doppelgänger",
        "doppelganger",
        "meine Freundin",
        "Kollegin",
        "Mitschülerin",
        "Berühmtheit",
    ],
    "es": [
        "influencer",
        "modelo de instagram",
        "celebridad",
        "actriz",
        "famosa",
        "mi novia",
        "mi ex",
        "compañera de trabajo",
        "compañera de clase",
    ],
    "it": [
        "modella di instagram",
        "celebrità",
        "celebrita",
        "attrice",
        "sosia",
        "la mia ragazza",
        "mia ex",
        "mia collega",
        "compagna di classe",
    ],
    "pt": [
        "influenciadora",
        "modelo do instagram",
        "celebridade",
        "atriz",
        "sósia",
        "minha namorada",
        "minha ex",
        "colega de trabalho",
        "colega de turma",
    ],
}

# Words that describe a style, a pose or a scene, not who a person is.
STYLE = [
    "portrait of a woman",
    "fashion model pose",
    "a photo of a model, studio light",
    "cosplay, anime girl",
    "balloons and streamers",
    "an actor on stage",
    "a singer with a microphone",
    "athletic woman running",
    "realistic photo, real skin texture",
    "a famous landmark at night",
    "e-girl makeup",
    "vtuber avatar",
    "face of a woman",
]


@pytest.fixture(scope="module")
def analyser() -> PromptAnalyser:
    return PromptAnalyser(prompt_ms=0)


def test_every_language_has_likeness_terms() -> None:
    assert {language for language, _ in TERMS} == set(LANGUAGES)
    for language in LANGUAGES:
        assert sum(1 for lang, _ in TERMS if lang == language) >= 30, language


@pytest.mark.parametrize(("language", "term"), TERMS)
def test_each_term_gives_text_likeness(analyser: PromptAnalyser, language: str, term: str) -> None:
    written = term.rstrip("*")
    hits = [hit for hit in analyser.hits(f"lora of a {written}, photo") if hit.kind == "likeness"]
    assert hits, (language, term)
    signals = [s for s in analyser.signals(written) if s.name == LIKENESS]
    assert signals, (language, term)
    assert signals[0].evidence["match"].lower() == written.lower()
    assert "language" in signals[0].evidence


@pytest.mark.parametrize(
    ("language", "text"), [(lang, text) for lang, texts in TYPED.items() for text in texts]
)
def test_typed_words_give_text_likeness(analyser: PromptAnalyser, language: str, text: str) -> None:
    hits = [hit for hit in analyser.hits(text) if hit.kind == "likeness"]
    assert hits, text
    assert LIKENESS in {signal.name for signal in analyser.signals(text)}


@pytest.mark.parametrize("text", STYLE)
def test_style_words_give_no_likeness(analyser: PromptAnalyser, text: str) -> None:
    assert not [hit for hit in analyser.hits(text) if hit.kind == "likeness"], text
    assert LIKENESS not in {signal.name for signal in analyser.signals(text)}


def test_a_censored_word_is_not_read_as_a_likeness_word(analyser: PromptAnalyser) -> None:
    """Nobody censors "celebrity" to pass a filter; a censored nudity word keeps its reading."""
    assert LIKENESS not in {s.name for s in analyser.signals("c*lebrity")}
    assert "text.nudity" in {s.name for s in analyser.signals("n*de")}


@pytest.mark.parametrize("policy", ["default", "strict", "survey"])
@pytest.mark.parametrize(
    "prompt",
    [
        "instagram model, nude",
        "my ex, bikini",
        "influenceuse en lingerie",
        "Schauspielerin nackt",
        "celebrity portrait",
        "famosa, nsfw",
    ],
)
def test_the_gate_policies_do_not_read_likeness(
    analyser: PromptAnalyser, policy: str, prompt: str
) -> None:
    signals = analyser.signals(prompt)
    assert LIKENESS in {signal.name for signal in signals}
    without: list[Signal] = [signal for signal in signals if signal.name != LIKENESS]
    judged = load_policy(policy)
    assert judged.decide(signals).to_json() == judged.decide(without).to_json()
