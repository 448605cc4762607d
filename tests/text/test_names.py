"""Protected persons' names as people write them (``NameMatcher`` and the analyser's
``text.person``): typos, doubled and dropped letters, keyboard neighbours, initials, order,
handles, distinctive parts and aliases; and what must never fire: ordinary words of the six
languages and common first names and surnames."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import wordfreq

from rempart.errors import PersonsError, RempartError
from rempart.persons import read_persons_file
from rempart.text import LANGUAGES, NameMatcher, PersonName, PromptAnalyser
from rempart.text.names import DISTINCTIVE_ZIPF
from rempart.text.normalise import words

HERE = Path(__file__).resolve().parent
DEV_REGISTRY = HERE.parents[2] / "shared" / "prompts" / "dev-registry.json"
REGISTRY = [
    "Taylor Swift",
    "Scarlett Johansson",
    "Emma Watson",
    "Beyonc\u00e9",
    "Ariana Grande",
    "Kim Kardashian",
]
COMMON = json.loads((HERE / "data" / "common_names.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def analyser() -> PromptAnalyser:
    return PromptAnalyser(persons=REGISTRY)


def persons(analyser: PromptAnalyser, prompt: str) -> set[str]:
    return {str(s.value) for s in analyser.signals(prompt) if s.name == "text.person"}


@pytest.mark.parametrize(
    ("prompt", "person"),
    [
        ("Tayllor Swift", "Taylor Swift"),  # a doubled letter
        ("Taylor Swfit", "Taylor Swift"),  # two letters swapped
        ("Taylr Swift", "Taylor Swift"),  # a dropped letter
        ("Taylor Swigt", "Taylor Swift"),  # a keyboard neighbour
        ("Tayllor Swfit", "Taylor Swift"),  # both
        ("Scarlet Johanson", "Scarlett Johansson"),
        ("Scarlett Johannson", "Scarlett Johansson"),
        ("Emma Watsin", "Emma Watson"),
        ("Ema Watson", "Emma Watson"),
        ("Ariana Grnade", "Ariana Grande"),
        ("Arianna Grande", "Ariana Grande"),
        ("Kim Kardashain", "Kim Kardashian"),
        ("Beyonse", "Beyonc\u00e9"),
        ("Byonce", "Beyonc\u00e9"),
        ("Tailor Swift", "Taylor Swift"),  # an ordinary word, beside a word spelled exactly
        ("Ariana Grand", "Ariana Grande"),
    ],
)
def test_typos_name_the_person(analyser: PromptAnalyser, prompt: str, person: str) -> None:
    assert persons(analyser, f"{prompt} nude") == {person}


@pytest.mark.parametrize(
    ("prompt", "person", "term"),
    [
        ("T. Swift", "Taylor Swift", "T-Swift"),  # a known alias
        ("T Swift", "Taylor Swift", "T-Swift"),
        ("TSwift", "Taylor Swift", "T-Swift"),
        ("E. Watson", "Emma Watson", "E Watson"),
        ("Swift Taylor", "Taylor Swift", "Swift Taylor"),
        ("Swift, Taylor", "Taylor Swift", "Swift Taylor"),
        ("Grande Ariana", "Ariana Grande", "Grande Ariana"),
        ("@taylorswift13", "Taylor Swift", "Taylor Swift"),
        ("emma_watson_89", "Emma Watson", "Emma Watson"),
        ("arianagrande.official", "Ariana Grande", "Ariana Grande"),
        ("Kardashian", "Kim Kardashian", "Kardashian"),
        ("Johansson", "Scarlett Johansson", "Johansson"),
    ],
)
def test_initials_order_handles_and_distinctive_parts(
    analyser: PromptAnalyser, prompt: str, person: str, term: str
) -> None:
    (signal,) = [s for s in analyser.signals(f"{prompt} topless") if s.name == "text.person"]
    assert signal.value == person
    assert signal.evidence["term"] == term
    assert signal.evidence["match"] == prompt.removesuffix("_89").removesuffix(".official")


def test_edits_are_in_the_evidence(analyser: PromptAnalyser) -> None:
    (exact,) = [s for s in analyser.signals("Taylor Swift") if s.name == "text.person"]
    (typo,) = [s for s in analyser.signals("Taylor Swfit") if s.name == "text.person"]
    assert "edits" not in exact.evidence
    assert typo.evidence["edits"] == 1


@pytest.mark.parametrize(
    "prompt",
    [
        "taylor",  # a common first name alone
        "swift",  # an ordinary word
        "a tailor sewing a suit",
        "a grand piano",
        "Tailor Swyft",  # an ordinary word only beside words spelled exactly
        "a swift flying over the lake",
        "Emma Stone",
        "Emma",
        "Watson",
        "Grande latte",
        "Ariana",  # a first name is not distinctive unless the registry says so
        "a scarlet dress",
        "Scarlet Johnson",  # "Johnson" is a surname, not a typo of Johansson
        "Kim Lee",
        "kim",
        "Bey",
        "Taylor Smith",
    ],
)
def test_near_names_that_are_not_the_person(analyser: PromptAnalyser, prompt: str) -> None:
    assert persons(analyser, f"{prompt} nude") == set()


def test_distinctive_parts_follow_word_frequencies() -> None:
    for part in ("taylor", "swift", "watson", "grande", "emma"):
        commonness = max(wordfreq.zipf_frequency(part, lang, "small") for lang in LANGUAGES)
        assert commonness >= DISTINCTIVE_ZIPF, part
    analyser = PromptAnalyser(persons=REGISTRY)
    for part in ("swift", "watson", "grande"):
        assert persons(analyser, f"{part} nude") == set()
    assert persons(analyser, "kardashian nude") == {"Kim Kardashian"}


def test_registry_decides_which_parts_are_distinctive() -> None:
    named = PersonName("Ariana Grande", distinctive=("Ariana",))
    analyser = PromptAnalyser(persons=[named, PersonName("Kim Kardashian", distinctive=())])
    assert persons(analyser, "ariana nude") == {"Ariana Grande"}
    assert persons(analyser, "grande nude") == set()
    assert persons(analyser, "kardashian nude") == set()
    assert persons(analyser, "kim kardashian nude") == {"Kim Kardashian"}


def test_aliases_are_read_with_typos_too() -> None:
    analyser = PromptAnalyser(persons=[PersonName("Scarlett Johansson", ("ScarJo",))])
    assert persons(analyser, "scarjo nude") == {"Scarlett Johansson"}
    assert persons(analyser, "scarjoo nude") == {"Scarlett Johansson"}


def test_names_mapped_to_aliases_are_accepted() -> None:
    analyser = PromptAnalyser(persons={"Taylor Swift": ["Tay Tay"]})
    assert persons(analyser, "tay tay in lingerie") == {"Taylor Swift"}


def test_matcher_reports_spans_and_forms() -> None:
    matcher = NameMatcher([PersonName("Taylor Swift")])
    (found,) = matcher.find(["photo", "of", "swift", "taylor"])
    assert (found.person, found.form, found.first, found.last, found.edits) == (
        "Taylor Swift",
        "Swift Taylor",
        2,
        3,
        0,
    )
    assert list(matcher.find([])) == []
    assert list(matcher.find(["x" * 1000])) == []


def ordinary_words(count: int) -> list[str]:
    """The ``count`` most frequent words of each language that are no registry name's own."""
    own = {part for name in REGISTRY for part in words(name)} | {"beyonce"}
    found: dict[str, None] = {}
    for language in LANGUAGES:
        for word in wordfreq.top_n_list(language, count, wordlist="small"):
            if word.isalpha() and word not in own:
                found[word] = None
    return list(found)


def test_no_ordinary_word_names_a_person() -> None:
    """The 20,000 most frequent words of each language, 40 to a prompt and alone, name no one
    of the shared development registry."""
    analyser = PromptAnalyser(persons=REGISTRY)
    found = ordinary_words(20_000)
    assert len(found) > 60_000
    fired = set()
    for start in range(0, len(found), 40):
        chunk = found[start : start + 40]
        for signal in analyser.signals(", ".join(chunk)):
            if signal.name == "text.person":
                fired.add(signal.evidence["match"])
    assert not fired


def test_no_common_name_names_a_person() -> None:
    """Every common first name with every common surname of its language, and each alone,
    names no one of the shared development registry."""
    analyser = PromptAnalyser(persons=REGISTRY)
    fired = set()
    count = 0
    for language in LANGUAGES:
        names = COMMON[language]
        pairs = [f"{f} {s}" for f in names["first"] for s in names["last"]]
        pairs += names["first"] + names["last"]
        count += len(pairs)
        for start in range(0, len(pairs), 30):
            prompt = ", ".join(pairs[start : start + 30])
            for signal in analyser.signals(prompt):
                if signal.name == "text.person":
                    fired.add(signal.evidence["match"])
    assert count > 9_000
    assert not fired


@pytest.mark.skipif(not DEV_REGISTRY.is_file(), reason="the shared prompt set is not beside")
def test_the_shared_registry_is_the_one_tested() -> None:
    names = [person.name for person in read_persons_file(DEV_REGISTRY)]
    assert sorted(names) == sorted(REGISTRY)


class TestRegistryFile:
    def write(self, tmp_path: Path, entries: object) -> Path:
        path = tmp_path / "registry.json"
        path.write_text(json.dumps({"protected_persons": entries}), encoding="utf-8")
        return path

    def test_entries_with_aliases_and_distinctive_parts(self, tmp_path: Path) -> None:
        path = self.write(
            tmp_path,
            [
                "Taylor Swift",
                {"name": "Kim Kardashian", "aliases": ["Kim K"], "distinctive": ["Kardashian"]},
                {"name": "Taylor Swift", "aliases": ["T-Swift"]},
            ],
        )
        assert read_persons_file(path) == [
            PersonName("Taylor Swift", ("T-Swift",)),
            PersonName("Kim Kardashian", ("Kim K",), ("Kardashian",)),
        ]

    def test_a_file_without_end_is_refused_as_too_large(self) -> None:
        with pytest.raises(PersonsError, match="is over"):
            read_persons_file("/dev/zero")

    @pytest.mark.parametrize(
        ("entry", "message"),
        [
            ({"name": "A B", "distinctive": "B"}, '"distinctive" must be a list'),
            ({"name": "A B", "aliases": [1]}, '"aliases" must be a list'),
            ({"name": "A B", "nickname": "C"}, "unknown keys ['nickname']"),
            ({"aliases": ["C"]}, "must be a name or"),
            (12, "must be a name or"),
            ({"name": ""}, "cannot be empty"),
        ],
    )
    def test_malformed_entries_say_which_and_why(
        self, tmp_path: Path, entry: object, message: str
    ) -> None:
        path = self.write(tmp_path, ["Taylor Swift", entry])
        with pytest.raises(PersonsError) as caught:
            read_persons_file(path)
        assert "entry 1" in str(caught.value)
        assert message in str(caught.value)
        assert isinstance(caught.value, RempartError)


@pytest.mark.parametrize("surname", ["Staycey", "Celiawv", "Sqnnnfn", "Xyrella", "Tswobar"])
def test_a_surname_alone_is_not_the_initial_and_surname(surname: str) -> None:
    """``Z Staycey`` run together is "zstaycey", which sounds like the surname alone: with no
    part allowed to stand alone, the surname alone names no one."""
    person = PersonName(f"Zorbin {surname}", (), ())
    matcher = NameMatcher([person])
    assert list(matcher.find(words(f"{surname} nude"))) == []
    found = [match.form for match in matcher.find(words(f"z{surname.lower()} nude"))]
    assert found == [f"Z {surname}"]  # run together as typed, it is still found
