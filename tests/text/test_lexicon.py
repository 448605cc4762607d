"""Lexicons: the built-in languages load with terms in every category, a malformed file is
refused with its name in the message, and the digest follows the files."""

from __future__ import annotations

from pathlib import Path

import pytest

from rempart.errors import LexiconError, RempartError
from rempart.text import CATEGORIES, LANGUAGES, Lexicon, PromptAnalyser, load_lexicon
from rempart.text.lexicon import Entry


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return load_lexicon()


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_languages_are_the_six_built_in_ones() -> None:
    assert LANGUAGES == ("en", "fr", "es", "de", "it", "pt")
    assert CATEGORIES == ("minor", "nudity", "revealing", "sexual", "undress", "likeness")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_has_terms_in_every_category(lexicon: Lexicon, language: str) -> None:
    kinds = {entry.kind for entry in lexicon.entries if entry.language == language}
    assert set(CATEGORIES) <= kinds
    assert "removal" in kinds
    assert "clothing" in kinds
    assert "age_units" in kinds
    assert "number" in kinds


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_writes_numbers_one_to_ten(lexicon: Lexicon, language: str) -> None:
    """Ages written as words ("quinze ans") need the numbers as words in each language."""
    values = {
        entry.value
        for entry in lexicon.entries
        if entry.language == language and entry.kind == "number"
    }
    assert set(range(1, 11)) <= values


def test_entries_are_well_formed(lexicon: Lexicon) -> None:
    for entry in lexicon.entries:
        assert entry.words >= 1, entry
        assert entry.term.strip(), entry
        assert entry.prefix == entry.term.endswith("*"), entry
        if entry.kind == "number":
            assert isinstance(entry.value, int)


def test_digit_numbers_are_built_in(lexicon: Lexicon) -> None:
    digits = {
        entry.value for entry in lexicon.entries if entry.kind == "number" and entry.term.isdigit()
    }
    assert set(range(100)) <= digits


def test_loading_is_deterministic(lexicon: Lexicon) -> None:
    again = load_lexicon()
    assert again.digest == lexicon.digest
    assert again.entries == lexicon.entries
    assert len(lexicon.digest) == 64


def test_extra_file_adds_terms_and_changes_the_digest(lexicon: Lexicon, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "xx.yaml",
        "language: xx\ncategories:\n  nudity:\n    - zorblax\n    - quux*\n",
    )
    extended = load_lexicon([path])
    assert extended.digest != lexicon.digest
    added = [entry for entry in extended.entries if entry.language == "xx"]
    assert added == [
        Entry("nudity", "zorblax", "xx", 1),
        Entry("nudity", "quux*", "xx", 1, prefix=True),
    ]


def test_digest_depends_on_the_extra_file_content(tmp_path: Path) -> None:
    one = load_lexicon([write(tmp_path, "a.yaml", "language: xx\n")])
    two = load_lexicon([write(tmp_path, "b.yaml", "language: yy\n")])
    assert one.digest != two.digest


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("- nude\n- teen\n", "must be a mapping"),
        ("just words\n", "must be a mapping"),
        ("", "must be a mapping"),
        ("language: xx\nterms:\n  - a\n", "unknown keys"),
        ("categories:\n  nudity:\n    - zorblax\n", "'language'"),
        ("language: xx\ncategories:\n  nudity:\n    - no\n", "quote a term"),
        ("language: xx\ncategories:\n  nudity:\n    - yes\n", "quote a term"),
        ("language: xx\ncategories:\n  nudity:\n    - 12\n", "list of terms"),
        ("language: xx\ncategories:\n  nudity: zorblax\n", "list of terms"),
        ("language: xx\ncategories:\n  nudity:\n    - '--'\n", "no letters"),
        ("language: xx\ncategories:\n  nudity:\n    - '*'\n", "no letters"),
        ("language: xx\ncategories:\n  violence:\n    - a\n", "unknown categories"),
        ("language: xx\nsets:\n  verbs:\n    - a\n", "unknown sets"),
        ("language: xx\ncategories:\n  - nudity\n", "must be a mapping"),
        ("language: xx\nnumbers:\n  dozen: twelve\n", "not a word and a number"),
        ("language: xx\nnumbers:\n  dozen: true\n", "not a word and a number"),
        ("language: xx\nnumbers:\n  - 12\n", "'numbers'"),
        ("language: [\n", "not valid YAML"),
    ],
)
def test_malformed_lexicon_is_refused_naming_the_file(
    tmp_path: Path, content: str, message: str
) -> None:
    path = write(tmp_path, "broken.yaml", content)
    with pytest.raises(LexiconError) as caught:
        load_lexicon([path])
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_missing_lexicon_file_is_a_lexicon_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(LexiconError) as caught:
        load_lexicon([path])
    assert str(path) in str(caught.value)


def test_lexicon_error_is_a_rempart_error() -> None:
    assert issubclass(LexiconError, RempartError)


def test_compile_adds_persons_and_aliases(lexicon: Lexicon) -> None:
    compiled = lexicon.compile({"Jane Example": ["JX Star"], "John Sample": []})
    assert compiled.persons == ("Jane Example", "John Sample")
    assert compiled.vocabulary.reading("jxstar") == ["jx", "star"]
    assert compiled.vocabulary.reading("janeexample") == ["jane", "example"]


def test_compile_skips_names_without_letters(lexicon: Lexicon) -> None:
    compiled = lexicon.compile(["---", "Jane Example"])
    assert compiled.persons == ("Jane Example",)


def test_compile_without_persons_has_none(lexicon: Lexicon) -> None:
    assert lexicon.compile().persons == ()


def test_negative_only_words_are_not_in_the_vocabulary(lexicon: Lexicon) -> None:
    """Words read only in a negative prompt ("adult") must not be views' targets, or a view
    could turn a disguised word into one."""
    compiled = lexicon.compile()
    assert "adult" not in compiled.vocabulary.words
    assert "teen" in compiled.vocabulary.words


def test_a_term_marked_exact_matches_only_with_its_accents(tmp_path: Path) -> None:
    path = write(
        tmp_path, "xx.yaml", "language: xx\ncategories:\n  minor:\n    - =b\u00e9b\u00e9x\n"
    )
    analyser = PromptAnalyser(load_lexicon([path]))
    assert [hit.term for hit in analyser.hits("b\u00e9b\u00e9x") if hit.kind == "minor"] == [
        "b\u00e9b\u00e9x"
    ]
    assert not [hit for hit in analyser.hits("bebex") if hit.kind == "minor"]
