"""Views of a prompt: each undoes one disguise, says which, keeps the typed spans, and never
turns an ordinary word into a lexicon term."""

from __future__ import annotations

import pytest

from rempart.text import VIEW_NAMES, PromptAnalyser, View, Vocabulary, views
from rempart.text.normalise import words

PERSONS = ["Taylor Swift", "Beyonc\u00e9", "Scarlett Johansson"]


@pytest.fixture(scope="module")
def vocabulary() -> Vocabulary:
    return PromptAnalyser(persons=PERSONS).compiled.vocabulary


def by_name(text: str, vocabulary: Vocabulary) -> dict[str, View]:
    """The views of ``text``, by name."""
    return {view.name: view for view in views(text, vocabulary)}


def texts(view: View) -> list[str]:
    return [token.text for token in view.tokens]


def spans(view: View) -> list[tuple[int, int]]:
    return [(token.start, token.end) for token in view.tokens]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\uff54\uff45\uff45\uff4e", "teen"),  # full-width letters
        ("\U0001d42d\U0001d41e\U0001d41e\U0001d427", "teen"),  # mathematical bold
        ("TEEN", "teen"),  # case folded
        ("te\u200ben", "teen"),  # zero-width space inside the word
        ("nu\u00adde", "nude"),  # soft hyphen
        ("te\u2060en", "teen"),  # word joiner
        ("te\ufe0fen", "teen"),  # variation selector
    ],
)
def test_unicode_view_folds_compatibility_forms_and_invisible_characters(
    vocabulary: Vocabulary, text: str, expected: str
) -> None:
    found = views(text, vocabulary)
    assert [view.name for view in found] == ["unicode"]
    assert texts(found[0]) == [expected]
    assert spans(found[0]) == [(0, len(text))]


def test_control_characters_are_removed_from_a_non_ascii_prompt(vocabulary: Vocabulary) -> None:
    unicode = views("te\x00en \u00e9t\u00e9", vocabulary)[0]
    assert texts(unicode) == ["teen", "\u00e9t\u00e9"]
    assert spans(unicode)[0] == (0, 5)


@pytest.mark.parametrize("text", ["\x1b[31mred\x1b[0m", "a\x00b\x07c\x7fd", "\x01\x02\x03"])
def test_no_token_holds_a_control_character(vocabulary: Vocabulary, text: str) -> None:
    for view in views(text, vocabulary):
        for token in view.tokens:
            assert token.text.isprintable(), token


@pytest.mark.parametrize(
    "text",
    [
        "t\u0435en",  # Cyrillic small ie
        "\u0442een",  # Cyrillic small te
        "\u03c4een",  # Greek small tau
        "n\u03bf\u03bfd",  # Greek omicrons, read as the leet-style "nood"
    ],
)
def test_confusables_view_maps_look_alike_letters_to_latin(
    vocabulary: Vocabulary, text: str
) -> None:
    found = by_name(text, vocabulary)
    assert "confusables" in found
    view = found["confusables"]
    assert texts(view)[0].isascii()
    assert texts(view) in (["teen"], ["nood"])
    assert view.changed == frozenset({0})
    assert spans(view) == [(0, len(text))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\u00e9coli\u00e8re", "ecoliere"),
        ("ni\u00f1a", "nina"),
        ("f\u00fcnf", "funf"),
    ],
)
def test_accents_view_folds_diacritics(vocabulary: Vocabulary, text: str, expected: str) -> None:
    found = by_name(text, vocabulary)
    assert texts(found["unicode"]) == [text]
    assert texts(found["accents"]) == [expected]
    assert spans(found["accents"]) == [(0, len(text))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("t e e n", "teen"),
        ("n.u.d.e", "nude"),
        ("t-e-e-n", "teen"),
    ],
)
def test_spacing_view_joins_single_letters(
    vocabulary: Vocabulary, text: str, expected: str
) -> None:
    found = by_name(text, vocabulary)
    assert len(found["unicode"].tokens) == len(expected)
    assert texts(found["spacing"]) == [expected]
    assert spans(found["spacing"]) == [(0, len(text))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("t33n", "teen"),
        ("n00d", "nood"),
        ("1oli", "loli"),  # 1 read as l
        ("k1d", "kid"),  # 1 read as i
        ("ch1ld", "child"),
        ("$exy", "sexy"),
    ],
)
def test_leet_view_reads_digits_and_symbols_as_letters(
    vocabulary: Vocabulary, text: str, expected: str
) -> None:
    found = by_name(text, vocabulary)
    assert texts(found["leet"]) == [expected]
    assert spans(found["leet"]) == [(0, len(text))]
    assert found["leet"].changed == frozenset({0})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("teeeen", "teen"),
        ("nuuuude", "nude"),
        ("teeeeeeeeen", "teen"),
        ("kiiiids", "kids"),
    ],
)
def test_repeats_view_shortens_runs_of_a_letter(
    vocabulary: Vocabulary, text: str, expected: str
) -> None:
    found = by_name(text, vocabulary)
    assert texts(found["unicode"]) == [text]
    assert texts(found["repeats"]) == [expected]
    assert spans(found["repeats"]) == [(0, len(text))]


def test_joined_view_splits_run_together_terms_with_their_spans(vocabulary: Vocabulary) -> None:
    joined = by_name("teennude", vocabulary)["joined"]
    assert texts(joined) == ["teen", "nude"]
    assert spans(joined) == [(0, 4), (4, 8)]
    assert joined.changed == frozenset({0, 1})


def test_joined_view_reads_a_run_together_registry_name(vocabulary: Vocabulary) -> None:
    joined = by_name("scarlettjohansson", vocabulary)["joined"]
    assert texts(joined) == ["scarlett", "johansson"]
    assert all(token.start == 0 and token.end == 17 for token in joined.tokens)


def test_joined_name_is_not_split_without_the_person_in_the_registry() -> None:
    bare = PromptAnalyser().compiled.vocabulary
    assert [view.name for view in views("scarlettjohansson", bare)] == ["unicode"]


def test_views_stack_in_order(vocabulary: Vocabulary) -> None:
    """Leet then joined: "t33nnude" is first read as "teennude", then split."""
    found = views("t33nnude", vocabulary)
    names = [view.name for view in found]
    assert names == ["unicode", "leet", "joined"]
    assert [VIEW_NAMES.index(name) for name in names] == sorted(
        VIEW_NAMES.index(name) for name in names
    )
    assert texts(found[-1]) == ["teen", "nude"]
    assert spans(found[-1]) == [(0, 4), (4, 8)]


def test_spans_map_back_to_the_typed_text(vocabulary: Vocabulary) -> None:
    text = "photo \uff54\uff45\uff45\uff4e and n u d e"
    found = by_name(text, vocabulary)
    typed = [text[token.start : token.end] for token in found["spacing"].tokens]
    assert typed == ["photo", "\uff54\uff45\uff45\uff4e", "and", "n u d e"]


@pytest.mark.parametrize(
    "text",
    [
        "canteen",
        "nineteen",
        "Sussex",
        "therapist",
        "titanic",
        "cocktail",
        "analysis",
        "ten",
        "a b c",
        "assassin",
        "middlesex",
        "r2d2 robot",
        "covid19 vaccine",
        "h2o molecule",
        "a 1950s car",
    ],
)
def test_ordinary_words_get_no_further_view(vocabulary: Vocabulary, text: str) -> None:
    """The views after ``unicode`` change a word only into a known one, and these hold none."""
    assert [view.name for view in views(text, vocabulary)] == ["unicode"]


def test_numbers_are_split_from_letters_in_the_unicode_view(vocabulary: Vocabulary) -> None:
    unicode = views("15yo", vocabulary)[0]
    assert texts(unicode) == ["15", "yo"]
    assert spans(unicode) == [(0, 2), (2, 4)]
    assert words("15yo") == ["15", "yo"]


def test_view_text_is_the_tokens_between_spaces(vocabulary: Vocabulary) -> None:
    assert views("Teen,  NUDE!", vocabulary)[0].text == " teen nude "


def test_ascii_prompt_gets_no_confusables_or_accents_view(vocabulary: Vocabulary) -> None:
    names = [view.name for view in views("t e e n nuuuude", vocabulary)]
    assert "confusables" not in names
    assert "accents" not in names
    assert names == ["unicode", "spacing", "repeats"]


class TestVocabulary:
    def test_split_gives_the_fewest_known_words(self) -> None:
        vocabulary = Vocabulary({"teen": "teen", "nude": "nude", "teennude": "teen nude"})
        assert vocabulary.split("teennude") is None  # one known word is not a split
        assert vocabulary.split("nudeteen") == ["nude", "teen"]
        assert vocabulary.reading("teennude") == ["teen", "nude"]

    def test_split_needs_every_character_covered(self) -> None:
        vocabulary = Vocabulary({"teen": "teen", "nude": "nude"})
        assert vocabulary.split("canteen") is None
        assert vocabulary.split("teennudes") is None
        assert vocabulary.split("teenxnude") is None

    def test_short_pieces_are_never_split_off(self) -> None:
        vocabulary = Vocabulary({"tit": "tit", "an": "an", "ic": "ic"})
        assert vocabulary.split("titanic") is None

    def test_knows_words_parts_and_splits(self) -> None:
        vocabulary = Vocabulary({"taylorswift": "taylor swift"}, parts=["taylor", "swift"])
        assert vocabulary.knows("taylorswift")
        assert vocabulary.knows("swift")
        assert not vocabulary.knows("taylors")
        assert vocabulary.reading("taylorswift") == ["taylor", "swift"]
        assert vocabulary.reading("other") == ["other"]

    def test_empty_vocabulary_splits_nothing(self) -> None:
        assert Vocabulary({}).split("teennude") is None
        assert not Vocabulary({}).knows("teen")


def test_control_characters_are_removed_from_an_ascii_prompt_too(vocabulary: Vocabulary) -> None:
    """The same word reads the same whether or not the prompt holds other non-ASCII text."""
    for text in ("te\x00en nude", "te\x00en nude \u00e9"):
        unicode = views(text, vocabulary)[0]
        assert texts(unicode)[:2] == ["teen", "nude"]
        assert spans(unicode)[0] == (0, 5)
    assert texts(views("a\tb\nc", vocabulary)[0]) == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("text", "joined"),
    [("a t e e n", "teen"), ("photo of a t e e n", "teen"), ("t e e n a", "teen")],
)
def test_spaced_letters_are_joined_next_to_a_one_letter_word(
    vocabulary: Vocabulary, text: str, joined: str
) -> None:
    spacing = by_name(text, vocabulary)["spacing"]
    assert joined in texts(spacing)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("nude15yearoldgirl", ["nude", "15", "year", "old", "girl"]),
        ("ragazzadi14anninuda", ["ragazza", "di", "14", "anni", "nuda"]),
        ("14yoinlingerie", ["14", "yo", "in", "lingerie"]),
    ],
)
def test_joined_words_split_around_numbers(
    vocabulary: Vocabulary, text: str, words: list[str]
) -> None:
    assert texts(by_name(text, vocabulary)["joined"]) == words


def test_leet_leaves_a_number_that_joined_words_explain(vocabulary: Vocabulary) -> None:
    """ "14" between known words is an age, not the letters "la"."""
    found = by_name("ragazzadi14anninuda", vocabulary)
    assert "leet" not in found


@pytest.mark.parametrize(("text", "word"), [("y34r", "year"), ("l0l1", "loli"), ("n$fw", "nsfw")])
def test_leet_reads_digits_and_symbols_that_single_letters_would_explain(
    vocabulary: Vocabulary, text: str, word: str
) -> None:
    assert texts(by_name(text, vocabulary)["leet"]) == [word]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n*de", "nude"),  # each symbol a hidden letter
        ("t**n", "teen"),
        ("p.rn", "porn"),
        ("*ude", "nude"),
        ("nak*d", "naked"),
        ("s*x", "sex"),  # "six" is no term
        ("n\u2022de", "nude"),  # a bullet
    ],
)
def test_masked_view_reads_a_censored_word_as_the_one_term_it_can_be(
    vocabulary: Vocabulary, text: str, expected: str
) -> None:
    found = by_name(text, vocabulary)
    assert texts(found["masked"]) == [expected]
    assert spans(found["masked"]) == [(0, len(text))]


@pytest.mark.parametrize("text", ["nud*", "t-shirt", "e.g.", "x-ray", "3.5 stars", "50*50"])
def test_masked_view_invents_nothing(vocabulary: Vocabulary, text: str) -> None:
    """An ambiguous mask ("nud*": "nude" or Italian "nudi") and the hyphens and dots of
    ordinary text give no sensitive word."""
    found = by_name(text, vocabulary)
    masked = texts(found["masked"]) if "masked" in found else []
    assert not {"sex", "porn", "nude"} & set(masked)


def test_masked_view_joins_a_word_cut_by_symbols(vocabulary: Vocabulary) -> None:
    found = by_name("tay-lor swi.ft", vocabulary)
    assert texts(found["masked"]) == ["taylor", "swift"]
    assert spans(found["masked"]) == [(0, 7), (8, 14)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\U0001f467 nude", ["little", "girl", "nude"]),
        ("\U0001f467\U0001f3fd nude", ["little", "girl", "nude"]),  # with a skin tone
        ("\U0001f9d2\U0001f3ff", ["child"]),
        ("\U0001f476", ["infant"]),
    ],
)
def test_child_emoji_are_read_as_words(
    vocabulary: Vocabulary, text: str, expected: list[str]
) -> None:
    unicode = by_name(text, vocabulary)["unicode"]
    assert texts(unicode) == expected
    assert unicode.tokens[0].start == 0


def test_letters_drawn_in_symbols_are_letters() -> None:
    assert words("n|_|de |<id") == ["nude", "kid"]
    assert words("\\/\\/oman") == ["woman"]


def test_a_plus_after_a_number_is_a_word() -> None:
    assert words("18+") == ["18", "plus"]
    assert words("c++ and a+b") == ["c", "and", "a", "b"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tay lor swi ft", ["taylorswift"]),
        ("ch ild", ["child"]),
        ("a t e e n", ["a", "teen"]),
    ],
)
def test_spacing_view_joins_fragments_of_a_word(
    vocabulary: Vocabulary, text: str, expected: list[str]
) -> None:
    assert texts(by_name(text, vocabulary)["spacing"]) == expected


@pytest.mark.parametrize("text", ["a pen is here", "put a scarf on", "mi nor", "the rap ist"])
def test_ordinary_short_words_are_not_joined(vocabulary: Vocabulary, text: str) -> None:
    assert "spacing" not in by_name(text, vocabulary)


@pytest.mark.parametrize("text", ["violin", "cumin", "violon", "bassiste", "sextant", "therapist"])
def test_an_ordinary_word_is_never_split_into_terms(vocabulary: Vocabulary, text: str) -> None:
    """A re-joined form is no hit when the word as typed is an ordinary word of one of the six
    languages: "violin" is not "viol" + "in", nor "cumin" "cum" + "in"."""
    assert vocabulary.split(text) is None
    assert [view.name for view in views(text, vocabulary)] == ["unicode"]


def test_run_together_terms_that_are_no_ordinary_word_are_still_split(
    vocabulary: Vocabulary,
) -> None:
    assert vocabulary.split("teennude") == ["teen", "nude"]
    assert vocabulary.split("hotteen") == ["hot", "teen"]


def test_leet_keeps_a_leading_number_and_reads_the_rest(vocabulary: Vocabulary) -> None:
    assert texts(by_name("15y0", vocabulary)["leet"]) == ["15", "yo"]


def test_leet_reads_a_word_that_starts_with_a_term(vocabulary: Vocabulary) -> None:
    """A prefix term ("collégien*") is a word the leet view may read: "c0llégienne"."""
    assert texts(by_name("c0llegienne", vocabulary)["leet"]) == ["collegienne"]


def test_reversed_view_reads_words_spelled_backwards(vocabulary: Vocabulary) -> None:
    found = by_name("ecnoyeb edun", vocabulary)
    assert texts(found["reversed"]) == ["beyonce", "nude"]
    assert spans(found["reversed"]) == [(0, 7), (8, 12)]


@pytest.mark.parametrize("text", ["stressed desserts", "a red drawer", "live evil"])
def test_reversed_view_leaves_ordinary_words(vocabulary: Vocabulary, text: str) -> None:
    assert "reversed" not in by_name(text, vocabulary)


def test_masked_view_reads_a_censored_name(vocabulary: Vocabulary) -> None:
    assert texts(by_name("t*ylor sw*ft", vocabulary)["masked"]) == ["taylor", "swift"]
