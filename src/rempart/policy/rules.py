"""Rules over signals: named groups of signals, and rules that fire when every clause of theirs
holds. Also the built-in groups and the rules no policy can weaken.

A group names signals by pattern (``nudity.exposed.*``) and a minimum score. A rule's ``when``
is a list of clauses that must all hold; a clause is a list of groups of which at least one
must have a signal: ``[[minor], [nudity, revealing, sexual]]`` reads "a minor signal, and a
nudity, revealing or sexual signal".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import translate
from typing import Final

from rempart.matching.formats import BankCategory
from rempart.policy.verdict import CATEGORIES, Action, Category, Reason
from rempart.signals import Signal

__all__ = [
    "BANK_CATEGORIES",
    "BUILTIN_GROUPS",
    "DEFAULT_BANK_CATEGORY",
    "MANDATORY_RULES",
    "Rule",
    "SignalGroup",
]


@dataclass(frozen=True, slots=True)
class SignalGroup:
    """Signals whose name matches one of ``patterns`` (``*`` matches anything) with a score
    of at least ``min_score``. Error signals never belong to a group."""

    name: str
    patterns: tuple[str, ...]
    min_score: float = 0.0
    description: str = ""

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_score <= 1.0:
            raise ValueError(f"group {self.name}: min_score {self.min_score} is outside [0, 1]")
        if not self.patterns:
            raise ValueError(f"group {self.name} names no signal")

    @property
    def _regex(self) -> re.Pattern[str]:
        return _compiled(self.patterns)

    def select(self, signals: Iterable[Signal]) -> list[Signal]:
        """The signals of ``signals`` that belong to this group."""
        regex = self._regex
        return [
            signal
            for signal in signals
            if signal.score >= self.min_score and not signal.is_error and regex.match(signal.name)
        ]


_PATTERNS: dict[tuple[str, ...], re.Pattern[str]] = {}


def _compiled(patterns: tuple[str, ...]) -> re.Pattern[str]:
    regex = _PATTERNS.get(patterns)
    if regex is None:
        regex = _PATTERNS[patterns] = re.compile("|".join(translate(p) for p in patterns))
    return regex


@dataclass(frozen=True, slots=True)
class Rule:
    """When every clause of ``when`` holds, ``action`` under ``category``, saying ``text``.

    A clause holds when at least one of its groups has a signal. ``by_value``: the category
    depends on the value of the signals that made the rule fire (a bank's name, say), with
    ``category`` for any other value; each value then gives a reason of its own.
    ``by_evidence``: for a value ``by_value`` does not name, the category the signals'
    evidence names under ``category`` (a bank's own), through this mapping.
    """

    id: str
    when: tuple[tuple[str, ...], ...]
    action: Action
    category: Category
    text: str
    by_value: Mapping[str, Category] | None = None
    by_evidence: Mapping[str, Category] | None = None

    def groups(self) -> set[str]:
        """Every group the rule reads."""
        return {group for clause in self.when for group in clause}

    def fire(self, found: Mapping[str, Sequence[Signal]]) -> list[Reason]:
        """The reasons this rule gives, given each group's signals (none when it does not
        fire)."""
        behind: list[Signal] = []
        for clause in self.when:
            clause_signals = [signal for group in clause for signal in found[group]]
            if not clause_signals:
                return []
            behind.extend(clause_signals)
        signals = tuple({id(signal): signal for signal in behind}.values())
        if self.by_value is None:
            return [Reason(self.id, self.action, self.category, self.text, signals)]
        values = dict.fromkeys(str(signal.value) for signal in signals)
        reasons = []
        for value in values:
            of_value = tuple(signal for signal in signals if str(signal.value) == value)
            category = self.by_value.get(value) or self._evidence_category(of_value)
            reasons.append(Reason(self.id, self.action, category, self.text, of_value))
        return reasons

    def _evidence_category(self, signals: Sequence[Signal]) -> Category:
        """The category the first of ``signals`` names in its evidence, else the rule's."""
        known = self.by_evidence or {}
        for signal in signals:
            named = signal.evidence.get("category")
            if isinstance(named, str) and named in known:
                return known[named]
        return self.category


_SEXUAL_PARTS: Final = ("breast_f", "genitalia_f", "genitalia_m", "buttocks", "anus")

BUILTIN_GROUPS: Final = {
    group.name: group
    for group in (
        SignalGroup(
            "minor",
            ("face.minor", "text.minor", "model.minor"),
            0.5,
            "a face that looks under 18, a request about a minor, or a model declared to show one",
        ),
        SignalGroup(
            "nudity",
            (*(f"nudity.exposed.{part}" for part in _SEXUAL_PARTS), "text.nudity"),
            0.5,
            "exposed breasts, genitals, buttocks or anus",
        ),
        SignalGroup(
            "revealing",
            (
                "nudity.covered.genitalia_f",
                "nudity.covered.buttocks",
                "nudity.covered.anus",
                "nudity.covered.breast_f",
                "text.revealing",
            ),
            0.5,
            "underwear or swimwear: covered breasts, genitals or buttocks",
        ),
        SignalGroup(
            "sexual",
            ("text.sexual", "text.undress", "model.nsfw"),
            0.5,
            "a sexual or undressing request, or a model declared not safe for work",
        ),
        SignalGroup("undress", ("text.undress",), 0.5, "a request to undress someone"),
        SignalGroup("upload", ("upload.photo",), 0.0, "a photo uploaded with the request"),
        SignalGroup("bank_match", ("bank.match",), 0.0, "a match in a hash bank"),
        SignalGroup(
            "bank_reported",
            ("bank.reported",),
            0.0,
            "a match in a review bank: a hash a victim reported, not yet confirmed",
        ),
        SignalGroup(
            "real_person",
            ("identity.match", "text.person", "upload.face", "model.poi"),
            0.0,
            "a protected person recognised or named, a face in an uploaded photo, or a model "
            "declared to show a real person",
        ),
        SignalGroup(
            "likeness",
            ("text.likeness",),
            0.0,
            "a word saying a model reproduces a real but unnamed person (influencer, my ex...)",
        ),
        SignalGroup(
            "model_copy",
            ("model.copy",),
            0.0,
            "a model file whose tensors are those of a model blocked before",
        ),
        SignalGroup(
            "model_code",
            ("model.pickle.code",),
            0.0,
            "a pickled model file that imports what a safe load refuses",
        ),
        SignalGroup(
            "unread",
            ("text.unread",),
            0.0,
            "a prompt whose reading stopped at the gate's time limit",
        ),
        SignalGroup(
            "ai_generated",
            (
                "provenance.c2pa.ai_generated",
                "provenance.iptc.ai_generated",
                "provenance.generator",
                "provenance.watermark.sd",
            ),
            0.0,
            "declared or marked as AI-generated",
        ),
    )
}
"""Groups every policy may read and none may redefine: the rules that cannot be weakened
read them, so their thresholds are fixed here."""

DEFAULT_BANK_CATEGORY: Final = CATEGORIES["non_consensual_intimate_imagery"]
"""The category of a bank match that names no bank category (a signal of an older record)."""

BANK_CATEGORIES: Final[Mapping[str, Category]] = {
    BankCategory.NCII: CATEGORIES["non_consensual_intimate_imagery"],
    BankCategory.CHILD_SEXUAL_ABUSE: CATEGORIES["child_sexual_abuse"],
    BankCategory.SEXUAL_DEEPFAKE: CATEGORIES["sexual_deepfake"],
    BankCategory.DEMO: CATEGORIES["demo"],
    BankCategory.OTHER: CATEGORIES["known_image"],
}
"""The policy category of a match in a bank of each category, unless the policy's
``bank_categories`` names the bank's own."""

_SEXUALISED: Final = ("nudity", "revealing", "sexual")

MANDATORY_RULES: Final = (
    Rule(
        "minor-sexualised",
        (("minor",), _SEXUALISED),
        Action.BLOCK,
        CATEGORIES["child_sexual_abuse"],
        "An apparent minor (or a model declared to show minors) together with nudity, revealing "
        "clothing or a sexual request (or a model declared not safe for work).",
    ),
    Rule(
        "known-image",
        (("bank_match",),),
        Action.BLOCK,
        DEFAULT_BANK_CATEGORY,
        "The image matches a hash bank of known images.",
        by_value={},
        by_evidence=BANK_CATEGORIES,
    ),
    # A victim's report matches at once but only sends to review: anyone may report, and a
    # report that blocked would let anyone block any image everywhere. A reviewer who confirms
    # it moves the hash into a bank that is not for review, where known-image blocks it.
    Rule(
        "reported-image",
        (("bank_reported",),),
        Action.REVIEW,
        DEFAULT_BANK_CATEGORY,
        "The image matches a hash a victim reported, which no reviewer has confirmed yet; a "
        "person must look.",
        by_value={},
        by_evidence=BANK_CATEGORIES,
    ),
    Rule(
        "real-person-sexualised",
        (("real_person",), _SEXUALISED),
        Action.BLOCK,
        CATEGORIES["non_consensual_intimate_imagery"],
        "A real person (a protected person recognised or named, a face in an uploaded photo, "
        "or a model declared to show a real person) together with nudity, revealing clothing "
        "or a sexual request (or a model declared not safe for work).",
    ),
    Rule(
        "undress-upload",
        (("upload",), ("undress",)),
        Action.BLOCK,
        CATEGORIES["non_consensual_intimate_imagery"],
        "A request to undress whoever is in an uploaded photo, whether or not a face was found.",
    ),
    Rule(
        "prompt-unread",
        (("unread",),),
        Action.REVIEW,
        CATEGORIES["unread_request"],
        "The prompt could not be read in full within the gate's time limit; a person must look.",
    ),
)
"""Rules in every policy, which no policy file can remove, redefine or loosen."""
