"""``PromptAnalyser``: minors, nudity and undressing requests in six languages, ages in every
written form, negative prompts read in reverse, protected names through disguises, evidence on
the typed text, and hostile input refused or survived."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest

from rempart.errors import PromptError, PromptErrorCode, RempartError
from rempart.signals import Signal
from rempart.text import MAX_PROMPT_CHARS, PromptAnalyser, check_prompt
from rempart.text.analyse import MAX_SIGNALS_PER_NAME, PAIR_WINDOW

PERSONS = ["Taylor Swift", "Beyonc\u00e9", "Scarlett Johansson", "Ariana Grande"]
SEXUALISED = {"text.nudity", "text.revealing", "text.sexual", "text.undress"}


@pytest.fixture(scope="module")
def analyser() -> PromptAnalyser:
    return PromptAnalyser(persons=PERSONS)


@pytest.fixture(scope="module")
def whole() -> PromptAnalyser:
    """Without a deadline: a prompt of the largest size read to its end however long that
    takes on this machine (with one, a prompt cut short is reviewed: test_deadline.py)."""
    return PromptAnalyser(persons=PERSONS, prompt_ms=0)


def names(signals: list[Signal]) -> set[str]:
    return {signal.name for signal in signals}


def named(signals: list[Signal], name: str) -> list[Signal]:
    return [signal for signal in signals if signal.name == name]


def only(signals: list[Signal], name: str) -> Signal:
    """The one signal called ``name``."""
    (found,) = named(signals, name)
    return found


@pytest.mark.parametrize(
    ("prompt", "language"),
    [
        ("nude 15 year old", "en"),
        ("teen topless", "en"),
        ("jeune fille de 13 ans nue", "fr"),
        ("ni\u00f1a desnuda", "es"),
        ("15-j\u00e4hrige nackt", "de"),
        ("f\u00fcnfzehnj\u00e4hrige nackt", "de"),
        ("ragazza di 14 anni nuda", "it"),
        ("menina de 12 anos pelada", "pt"),
        ("crian\u00e7a nua", "pt"),
    ],
)
def test_minor_and_nudity_in_each_language(
    analyser: PromptAnalyser, prompt: str, language: str
) -> None:
    signals = analyser.signals(prompt)
    assert {"text.minor", "text.nudity"} <= names(signals)
    assert only(signals, "text.nudity").evidence["language"] == language


@pytest.mark.parametrize(
    ("prompt", "age"),
    [
        ("15yo", 15),
        ("15 y/o", 15),
        ("15 yo", 15),
        ("15-year-old", 15),
        ("15 year old", 15),
        ("13 yrs old", 13),
        ("12 years of age", 12),
        ("fifteen year old", 15),
        ("sixteen-year-old", 16),
        ("seventeen year old", 17),
        ("15 ans", 15),
        ("quinze ans", 15),
        ("dix-sept ans", 17),
        ("15 a\u00f1os", 15),
        ("diecis\u00e9is a\u00f1os", 16),
        ("15 Jahre", 15),
        ("sechzehn Jahre", 16),
        ("12-j\u00e4hrige", 12),
        ("dreizehnj\u00e4hrige", 13),
        ("15 anni", 15),
        ("quindici anni", 15),
        ("15 anos", 15),
        ("quinze anos", 15),
        ("aged 15", 15),
        ("age 17", 17),
    ],
)
def test_ages_under_eighteen_in_every_written_form(
    analyser: PromptAnalyser, prompt: str, age: int
) -> None:
    minor = only(analyser.signals(prompt), "text.minor")
    assert minor.value == age
    assert minor.evidence["match"] == prompt
    assert minor.evidence["term"] == f"age {age}"


@pytest.mark.parametrize("prompt", ["7th grade", "grade 7", "9th grader"])
def test_school_grades_are_minors(analyser: PromptAnalyser, prompt: str) -> None:
    minor = only(analyser.signals(prompt), "text.minor")
    assert isinstance(minor.value, int)
    assert minor.evidence["match"] == prompt


@pytest.mark.parametrize(
    "prompt",
    [
        "18 year old",
        "30 year old",
        "99 year old",
        "aged 18",
        "aged twenty",
        "dix-huit ans",
        "18 ans",
        "vingt ans",
        "twenty two year old",
        "nineteen year old",
        "18 a\u00f1os",
        "veinte a\u00f1os",
        "18 Jahre",
        "18-j\u00e4hrige",
        "achtzehnj\u00e4hrige",
        "18 anni",
        "18 anos",
        "nude 18 year old",
    ],
)
def test_adult_ages_are_not_minors(analyser: PromptAnalyser, prompt: str) -> None:
    assert "text.minor" not in names(analyser.signals(prompt))


@pytest.mark.parametrize(
    ("prompt", "term", "value"),
    [
        ("15 yrs", "age 15", 15),
        ("14enne", "age 14", 14),
        ("chica de 13", "age 13", 13),
        ("M\u00e4dchen, dreizehn", "age 13", 13),
        ("under 18", "under 18", 18),
        ("moins de 16 ans", "under 16", 16),
        ("u16", "u16", "u16"),
    ],
)
def test_ages_in_other_forms(
    analyser: PromptAnalyser, prompt: str, term: str, value: int | str
) -> None:
    minors = named(analyser.signals(prompt), "text.minor")
    assert (term, value) in {(m.evidence["term"], m.value) for m in minors}


def test_a_recent_birth_year_is_a_minor(analyser: PromptAnalyser) -> None:
    year = datetime.now(UTC).year - 12
    minor = only(analyser.signals(f"born in {year}"), "text.minor")
    assert minor.value == year
    assert minor.evidence["term"] == f"born {year}"
    assert "text.minor" not in names(analyser.signals(f"born in {year - 30}"))
    assert "text.minor" not in names(analyser.signals("born in 3012"))


@pytest.mark.parametrize(
    "prompt", ["less than 3 people", "unter 2 Palmen", "menos de 5 personas", "under 5 minutes"]
)
def test_small_counts_after_under_are_no_age(analyser: PromptAnalyser, prompt: str) -> None:
    assert "text.minor" not in names(analyser.signals(prompt))


@pytest.mark.parametrize("prompt", ["petite woman", "tiny frame", "zierliche Frau", "menue"])
def test_words_adults_share_with_children_are_only_a_hint(
    analyser: PromptAnalyser, prompt: str
) -> None:
    found = names(analyser.signals(prompt))
    assert "text.minor_hint" in found
    assert "text.minor" not in found


@pytest.mark.parametrize(
    "prompt",
    [
        "nude, baby teeth",
        "nude in a crib",
        "topless, training bra",
        "\U0001f467 nsfw",
        "girl with braces and pigtails",  # two hints, one a child's feature
        "erotisches Foto einer Zw\u00f6lfj\u00e4hrigen",  # a number joined to its unit
    ],
)
def test_what_only_a_child_has_is_a_minor(analyser: PromptAnalyser, prompt: str) -> None:
    assert "text.minor" in names(analyser.signals(prompt))


def test_each_age_in_a_prompt_is_read_on_its_own(analyser: PromptAnalyser) -> None:
    minor = only(analyser.signals("a 30 year old and a 15 year old"), "text.minor")
    assert minor.value == 15
    assert minor.evidence["match"] == "15 year old"


class TestNegativePrompt:
    def test_adult_words_in_the_negative_ask_for_a_minor(self, analyser: PromptAnalyser) -> None:
        signals = analyser.signals("sexy girl", "adult, mature")
        minor = only(signals, "text.minor")
        assert (minor.value, minor.evidence["field"], minor.evidence["match"]) == (
            "adult",
            "negative",
            "adult",
        )
        hint = only(signals, "text.minor_hint")
        assert (hint.value, hint.evidence["match"]) == ("mature", "mature")
        assert only(signals, "text.sexual").evidence["field"] == "prompt"

    @pytest.mark.parametrize(
        ("negative", "term"),
        [
            ("adult woman", "adult woman"),
            ("grown-up", "grown up"),
            ("18+", "18 plus"),
            ("nsfw, adult woman", "adult woman"),  # excluded adulthood whatever else is
            ("femme adulte", "femme adulte"),
            ("erwachsene Frau", "erwachsene frau"),
            ("mujer adulta", "mujer adulta"),
            ("donna adulta", "donna adulta"),
            ("mulher adulta", "mulher adulta"),
        ],
    )
    def test_excluding_adulthood_asks_for_a_minor(
        self, analyser: PromptAnalyser, negative: str, term: str
    ) -> None:
        minor = only(analyser.signals("nude", negative), "text.minor")
        assert minor.evidence["term"] == term
        assert minor.evidence["field"] == "negative"

    @pytest.mark.parametrize(
        "negative",
        [
            "adult content",
            "mature content",
            "old, wrinkled, mature content",
            "aged, elderly, wrinkles, old woman",
            "nsfw, adult",  # beside a sexual exclusion, "adult" is a rating
            "nude, adult, mature",
            "explicit, mature",
            "rated R, adult",
            "mature woman",  # an age-look, not adulthood itself
            "milf, older",
            "contenu adulte, vieille",
            "contenido para adultos",
        ],
    )
    def test_ratings_and_age_looks_ask_for_nothing(
        self, analyser: PromptAnalyser, negative: str
    ) -> None:
        signals = analyser.signals("a woman in a swimsuit at the beach", negative)
        assert not names(signals) & {"text.minor", "text.minor_hint"}

    @pytest.mark.parametrize("negative", ["child", "teen", "15 year old", "kids"])
    def test_minor_words_in_the_negative_are_not_a_minor(
        self, analyser: PromptAnalyser, negative: str
    ) -> None:
        assert "text.minor" not in names(analyser.signals("a woman", negative))

    def test_clothes_in_the_negative_ask_for_nudity(self, analyser: PromptAnalyser) -> None:
        nudity = only(analyser.signals("a woman", "clothes"), "text.nudity")
        assert nudity.evidence["field"] == "negative"
        assert nudity.evidence["match"] == "clothes"

    def test_nudity_words_in_the_negative_ask_for_none(self, analyser: PromptAnalyser) -> None:
        assert not analyser.signals("a woman", "nude, nsfw")

    def test_negative_syntax_is_expanded(self, analyser: PromptAnalyser) -> None:
        signals = analyser.signals("a woman", "[blurry|adult]")
        assert only(signals, "text.minor").evidence["field"] == "negative"

    @pytest.mark.parametrize("negative", [None, ""])
    def test_no_negative(self, analyser: PromptAnalyser, negative: str | None) -> None:
        assert not analyser.signals("a woman", negative)


@pytest.mark.parametrize(
    ("prompt", "language"),
    [
        ("remove her clothes", "en"),
        ("take off her dress", "en"),
        ("undress her", "en"),
        ("enl\u00e8ve ses v\u00eatements", "fr"),
        ("d\u00e9shabille-la", "fr"),
        ("qu\u00edtale la ropa", "es"),
        ("zieh sie aus", "de"),
        ("die Kleidung entfernen", "de"),
        ("toglile i vestiti", "it"),
        ("tire a roupa dela", "pt"),
    ],
)
def test_undress_requests_in_each_language(
    analyser: PromptAnalyser, prompt: str, language: str
) -> None:
    undress = only(analyser.signals(prompt), "text.undress")
    assert undress.evidence["language"] == language
    assert undress.evidence["match"] in prompt


def test_removal_pair_is_reported_on_the_words_between(analyser: PromptAnalyser) -> None:
    undress = only(analyser.signals("please remove her clothes now"), "text.undress")
    assert undress.evidence["match"] == "remove her clothes"
    assert undress.evidence["term"] == "remove + clothes"


def test_garment_made_transparent_is_revealing(analyser: PromptAnalyser) -> None:
    signals = analyser.signals("make the shirt transparent")
    revealing = only(signals, "text.revealing")
    assert revealing.evidence["match"] == "shirt transparent"
    assert "text.undress" not in names(signals)


@pytest.mark.parametrize(
    "prompt",
    [
        "remove the background, keep her clothes",
        "remove the background. her clothes stay",
        "take off the hat; the dress stays",
    ],
)
def test_removal_and_garment_in_different_clauses(analyser: PromptAnalyser, prompt: str) -> None:
    assert "text.undress" not in names(analyser.signals(prompt))


@pytest.mark.parametrize(
    "prompt",
    [
        "remove the stain from her shirt",
        "remove the logo on his shirt",
        "enl\u00e8ve la tache sur sa chemise",
        "entferne den Fleck von ihrem Kleid",
        "quita la mancha de su camiseta",
        "add an x-ray of her hand",
    ],
)
def test_a_garment_that_is_not_what_is_removed(analyser: PromptAnalyser, prompt: str) -> None:
    assert not names(analyser.signals(prompt)) & SEXUALISED


@pytest.mark.parametrize(
    "prompt",
    [
        "show what is under her shirt",
        "x-ray her clothes",
        "replace her clothes with body paint",
        "only a towel",
        "lower her neckline",
        "a spicier version",
        "make the fabric transparent",
    ],
)
def test_undressing_in_other_words(analyser: PromptAnalyser, prompt: str) -> None:
    assert names(analyser.signals(prompt)) & SEXUALISED


@pytest.mark.parametrize(
    ("prompt", "asked"),
    [
        ("swap her bikini for a wetsuit", False),
        ("change her swimsuit into a long dress", False),
        ("remplace son bikini par une robe", False),
        ("cambia su bikini por un vestido", False),
        ("replace her dress with a bikini", True),
        ("change her bikini to a smaller bikini", True),
        ("swap the bikini, then add a towel", True),  # another clause: nothing replaces it
    ],
)
def test_a_garment_an_edit_replaces_is_not_asked_for(
    analyser: PromptAnalyser, prompt: str, asked: bool
) -> None:
    assert ("text.revealing" in names(analyser.signals(prompt))) is asked


def test_removal_and_garment_too_far_apart(analyser: PromptAnalyser) -> None:
    filler = ["red", "wool", "winter", "long", "blue", "warm", "old", "thick"]
    near = " ".join(["remove", *filler[: PAIR_WINDOW - 1], "clothes"])
    far = " ".join(["remove", *filler[:PAIR_WINDOW], "clothes"])
    assert "text.undress" in names(analyser.signals(near))
    assert "text.undress" not in names(analyser.signals(far))


class TestPersons:
    @pytest.mark.parametrize(
        ("prompt", "person", "view"),
        [
            ("taylor swift", "Taylor Swift", "unicode"),
            ("TAYLOR SWIFT", "Taylor Swift", "unicode"),
            ("T4YL0R SW1FT", "Taylor Swift", "leet"),
            ("\u0422AYLOR SWIFT", "Taylor Swift", "confusables"),
            ("t a y l o r swift", "Taylor Swift", "spacing"),
            ("beyonce", "Beyonc\u00e9", "unicode"),
            ("Beyonc\u00e9", "Beyonc\u00e9", "unicode"),
            ("scarlettjohansson", "Scarlett Johansson", "unicode"),  # a form run together
            ("\uff41\uff52\uff49\uff41\uff4e\uff41 grande", "Ariana Grande", "unicode"),
        ],
    )
    def test_registry_names_are_read_through_views(
        self, analyser: PromptAnalyser, prompt: str, person: str, view: str
    ) -> None:
        signal = only(analyser.signals(prompt), "text.person")
        assert signal.value == person
        assert signal.evidence["view"] == view
        assert signal.evidence["match"] == prompt
        assert "language" not in signal.evidence

    @pytest.mark.parametrize("prompt", ["taylor", "swift river", "scarlett", "emma watson"])
    def test_part_of_a_name_is_not_the_person(self, analyser: PromptAnalyser, prompt: str) -> None:
        assert "text.person" not in names(analyser.signals(prompt))

    def test_aliases_name_the_person(self) -> None:
        analyser = PromptAnalyser(persons={"Jane Example": ["JX Star"]})
        alias = only(analyser.signals("jx star nude"), "text.person")
        assert alias.value == "Jane Example"
        assert alias.evidence["term"] == "JX Star"
        assert alias.evidence["match"] == "jx star"
        assert only(analyser.signals("Jane Example"), "text.person").value == "Jane Example"

    def test_no_registry_no_person(self) -> None:
        assert "text.person" not in names(PromptAnalyser().signals("taylor swift nude"))

    def test_version_follows_the_registry(self, analyser: PromptAnalyser) -> None:
        bare = PromptAnalyser()
        assert bare.version != analyser.version
        assert bare.version.split("+")[0] == analyser.version.split("+")[0]
        assert PromptAnalyser(persons=list(reversed(PERSONS))).version == analyser.version

    def test_syntax_branch_holds_the_person(self, analyser: PromptAnalyser) -> None:
        signals = analyser.signals("[Ariana Grande|woman], nude")
        assert {"text.person", "text.nudity"} <= names(signals)
        assert only(signals, "text.person").value == "Ariana Grande"


@pytest.mark.parametrize(
    ("prompt", "name", "match"),
    [
        (
            "\uff4e\uff55\uff44\uff45 \uff54\uff45\uff45\uff4e",
            "text.minor",
            "\uff54\uff45\uff45\uff4e",
        ),
        ("t e e n nude", "text.minor", "t e e n"),
        ("te\u200ben nude", "text.minor", "te\u200ben"),
        ("nuuuude teen", "text.nudity", "nuuuude"),
        ("n00d 16 y/o", "text.nudity", "n00d"),
        ("n00d 16 y/o", "text.minor", "16 y/o"),
        ("t33nnude", "text.minor", "t33n"),
        ("teennude", "text.nudity", "nude"),
        ("t\u0435en nude", "text.minor", "t\u0435en"),
        ("\u00c9COLI\u00c8RE nue", "text.minor", "\u00c9COLI\u00c8RE"),
    ],
)
def test_evidence_match_is_the_typed_substring(
    analyser: PromptAnalyser, prompt: str, name: str, match: str
) -> None:
    assert only(analyser.signals(prompt), name).evidence["match"] == match


def test_evidence_fields(analyser: PromptAnalyser) -> None:
    for signal in analyser.signals("T4YL0R SW1FT nude, 15yo", "clothes"):
        evidence = cast(dict[str, Any], signal.evidence)
        assert {"field", "match", "view", "term"} <= set(evidence), signal
        assert evidence["field"] in ("prompt", "negative")
        source = "clothes" if evidence["field"] == "negative" else "T4YL0R SW1FT nude, 15yo"
        assert evidence["match"] in source
        assert signal.detector == "text"
        assert signal.score == 1.0
        assert signal.version == analyser.version
        if signal.name != "text.person":
            assert evidence["language"] == "en"


def test_one_signal_per_name_and_value(analyser: PromptAnalyser) -> None:
    signals = analyser.signals("nude nude, (nude:1.2), [nude|nude]", "clothes, clothes")
    assert len(named(signals, "text.nudity")) == 2  # one from the prompt, one from the negative


def test_signals_per_name_are_capped(analyser: PromptAnalyser) -> None:
    terms = "kid teen child toddler infant newborn tween preteen schoolgirl schoolboy juvenile"
    assert len(terms.split()) > MAX_SIGNALS_PER_NAME
    assert len(named(analyser.signals(terms), "text.minor")) == MAX_SIGNALS_PER_NAME


@pytest.mark.parametrize(
    "prompt",
    [
        "a drake swimming in a pond",
        "an usher at a wedding",
        "anatomy diagram of the human skeleton",
        "un cochon d'Inde dans l'herbe",
        "a kind woman",
        "minor details",
        "a lighthouse at sunset, oil painting",
        "a cocktail bar in Sussex",
        "a canteen at nineteen hundred hours",
        "the titanic at the docks",
        "a therapist's office",
        "data analysis chart",
        "ten apples",
        "a b c",
        "aged cheese on a board",
        "taylor made golf clubs",
        "a strip of land",
        "bare trees in winter",
    ],
)
def test_benign_prompts_give_no_signal(analyser: PromptAnalyser, prompt: str) -> None:
    assert analyser.signals(prompt) == []


class TestHostileInput:
    def test_too_long_prompt_is_refused(self, analyser: PromptAnalyser) -> None:
        with pytest.raises(PromptError) as caught:
            analyser.signals("a" * 100_000)
        assert caught.value.code == PromptErrorCode.TOO_LONG
        assert str(caught.value.code) == "too_long"

    def test_too_long_negative_is_refused(self, analyser: PromptAnalyser) -> None:
        with pytest.raises(PromptError) as caught:
            analyser.signals("a woman", "a" * (MAX_PROMPT_CHARS + 1))
        assert caught.value.code == "too_long"
        assert "negative" in str(caught.value)

    def test_prompt_of_exactly_the_limit_is_read(self, whole: PromptAnalyser) -> None:
        prompt = ("a " * MAX_PROMPT_CHARS)[: MAX_PROMPT_CHARS - 5] + " nude"
        assert len(prompt) == MAX_PROMPT_CHARS
        assert "text.nudity" in names(whole.signals(prompt, prompt))

    def test_one_past_the_limit_is_refused(self, analyser: PromptAnalyser) -> None:
        with pytest.raises(PromptError, match="refused"):
            analyser.signals("a" * (MAX_PROMPT_CHARS + 1))

    @pytest.mark.parametrize(
        "prompt",
        [
            b"nu\xffde".decode("utf-8", "surrogateescape"),
            "\udcff",
            "teen \ud800",
        ],
    )
    def test_lone_surrogate_is_not_text(self, analyser: PromptAnalyser, prompt: str) -> None:
        with pytest.raises(PromptError) as caught:
            analyser.signals(prompt)
        assert caught.value.code == "not_text"

    def test_lone_surrogate_in_the_negative_is_not_text(self, analyser: PromptAnalyser) -> None:
        with pytest.raises(PromptError) as caught:
            analyser.signals("a woman", "\udcff")
        assert caught.value.code == "not_text"

    @pytest.mark.parametrize("value", [b"nude", None, 15, ["nude"]])
    def test_non_strings_are_not_text(self, analyser: PromptAnalyser, value: object) -> None:
        with pytest.raises(PromptError) as caught:
            analyser.signals(cast(str, value))
        assert caught.value.code == PromptErrorCode.NOT_TEXT

    @pytest.mark.parametrize("value", [b"nude", 15, ["nude"]])
    def test_non_string_negative_is_not_text(self, analyser: PromptAnalyser, value: object) -> None:
        with pytest.raises(PromptError) as caught:
            analyser.signals("a woman", cast(str, value))
        assert caught.value.code == "not_text"
        assert "negative" in str(caught.value)

    def test_prompt_error_is_a_rempart_error(self) -> None:
        assert issubclass(PromptError, RempartError)

    def test_control_characters_are_survived(self, analyser: PromptAnalyser) -> None:
        assert analyser.signals("\x1b[31m") == []
        assert "text.nudity" in names(analyser.signals("nu\x00de"))
        assert "text.minor" in names(analyser.signals("\x07teen\x07"))

    def test_control_character_inside_a_word_in_unicode_text(
        self, analyser: PromptAnalyser
    ) -> None:
        minor = only(analyser.signals("te\x00en \u00e9t\u00e9"), "text.minor")
        assert minor.evidence["match"] == "te\x00en"

    @pytest.mark.parametrize("opener", ["(", "[", "{"])
    def test_bracket_bomb(self, whole: PromptAnalyser, opener: str) -> None:
        assert "text.nudity" in names(whole.signals(opener * 10_000 + "nude"))


class TestCheckPrompt:
    def test_accepts_text(self) -> None:
        check_prompt("nude teen")
        check_prompt("")
        check_prompt("x" * MAX_PROMPT_CHARS)

    def test_names_what_it_checked(self) -> None:
        with pytest.raises(PromptError, match="caption"):
            check_prompt("x" * (MAX_PROMPT_CHARS + 1), "caption")


@pytest.mark.parametrize(
    "prompt",
    [
        "a t e e n, nude",
        "nude [teen|park",
        "te\x00en nude",
        "nud3 15 y34r 0ld",
        "15-j\u00e4hr1g3 n4ck7",
        "nude15yearoldgirl",
        "ragazzadi14anninuda",
        "$ch00lg1rl n$fw",
    ],
)
def test_combined_disguises_still_read_a_minor_and_nudity(
    analyser: PromptAnalyser, prompt: str
) -> None:
    found = names(analyser.signals(prompt))
    assert "text.minor" in found
    assert found & {"text.nudity", "text.sexual"}


def test_a_school_grade_is_labelled_a_grade(analyser: PromptAnalyser) -> None:
    minor = only(analyser.signals("7th grade"), "text.minor")
    assert (minor.value, minor.evidence["term"]) == (7, "grade 7")


def test_two_body_words_stay_a_hint(analyser: PromptAnalyser) -> None:
    found = names(analyser.signals("petite woman, small frame"))
    assert "text.minor_hint" in found
    assert "text.minor" not in found


@pytest.mark.parametrize(
    "prompt",
    [
        "un enfant pieds nus dans un champ",
        "child with nude lipstick",
        "ni\u00f1o con los pies desnudos",
        "bambino a piedi nudi",
        "crian\u00e7a de p\u00e9s descal\u00e7os",
        "a girl looking with the naked eye",
    ],
)
def test_phrases_where_a_term_is_none(analyser: PromptAnalyser, prompt: str) -> None:
    assert not names(analyser.signals(prompt)) & SEXUALISED


@pytest.mark.parametrize(
    ("prompt", "kind"),
    [
        ("ni\u00f1a muy molesta", "text.sexual"),  # Spanish "annoyed", not "molest"
        ("un enfant les bras crois\u00e9s", "text.revealing"),  # French "arms", not "bras"
        ("la penisola sorrentina", "text.nudity"),  # Italian "peninsula"
        ("la mujer bebe agua", "text.minor"),  # "drinks": only "beb\u00e9" is a baby
        ("essere umano", "text.minor"),  # "human", not "um ano"
        ("un enfant en dessous de la table", "text.revealing"),
        ("horror movie gore", "text.minor"),  # not German "G\u00f6re"
        ("infantry soldiers", "text.minor"),
        ("a child slips on the ice", "text.revealing"),
        ("kid with a boxer dog", "text.revealing"),
        ("das Kind ist dick angezogen", "text.nudity"),  # German "warmly dressed"
    ],
)
def test_ordinary_words_of_another_language_are_no_term(
    analyser: PromptAnalyser, prompt: str, kind: str
) -> None:
    assert kind not in names(analyser.signals(prompt))
