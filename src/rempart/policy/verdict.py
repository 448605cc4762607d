"""What a policy decides: the ``Verdict``, its ``Action``, its categories and its reasons.

Categories carry the EU DSA Transparency Database's statement category and keywords (the
July 2025 schema), so a decision can be exported as an Art. 17 statement of reasons as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from rempart.signals import Signal

__all__ = ["CATEGORIES", "Action", "Category", "PolicyRef", "Reason", "Verdict"]


class Action(StrEnum):
    """What to do with an input, from the mildest to the strictest."""

    ALLOW = "allow"
    REVIEW = "review"
    BLOCK = "block"

    @property
    def severity(self) -> int:
        """0 for allow, 1 for review, 2 for block: verdicts take the strictest of their rules."""
        return _SEVERITY[self]


_SEVERITY: Final = {Action.ALLOW: 0, Action.REVIEW: 1, Action.BLOCK: 2}


@dataclass(frozen=True, slots=True)
class Category:
    """A kind of harm (or, without a DSA category, a label for research), with its DSA
    Transparency Database ``category`` and ``category_specification`` keywords."""

    name: str
    title: str
    dsa_category: str | None = None
    dsa_keywords: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """``{"name", "dsa_category", "dsa_keywords"}``."""
        return {
            "name": self.name,
            "dsa_category": self.dsa_category,
            "dsa_keywords": list(self.dsa_keywords),
        }


_MINORS: Final = "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"
_CYBER_VIOLENCE: Final = "STATEMENT_CATEGORY_CYBER_VIOLENCE"
_SCOPE: Final = "STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE"
_DATA_PROTECTION: Final = "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS"

CATEGORIES: Final = {
    category.name: category
    for category in (
        Category(
            "child_sexual_abuse",
            "Sexualised imagery of a minor",
            _MINORS,
            ("KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL",),
        ),
        Category(
            "child_sexual_abuse_deepfake",
            "Sexualised imagery of a minor, generated or altered",
            _MINORS,
            ("KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL_DEEPFAKE",),
        ),
        Category(
            "non_consensual_intimate_imagery",
            "Intimate imagery of a real person shared without consent",
            _CYBER_VIOLENCE,
            ("KEYWORD_NON_CONSENSUAL_IMAGE_SHARING",),
        ),
        Category(
            "sexual_deepfake",
            "Sexual deepfake: generated or altered imagery of a person",
            _CYBER_VIOLENCE,
            ("KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE",),
        ),
        Category("adult_nudity", "Nudity against the service's terms", _SCOPE, ("KEYWORD_NUDITY",)),
        # A model trained on a person's face reproduces their biometric features, and one made
        # without their consent has no ground to process them: of the category's keywords
        # (BIOMETRIC_DATA_BREACH, DATA_FALSIFICATION, MISSING_PROCESSING_GROUND,
        # RIGHT_TO_BE_FORGOTTEN in the Transparency Database's API documentation), these two.
        Category(
            "likeness_model",
            "A model made to reproduce a real person's likeness",
            _DATA_PROTECTION,
            ("KEYWORD_BIOMETRIC_DATA_BREACH", "KEYWORD_MISSING_PROCESSING_GROUND"),
        ),
        Category("known_image", "A known image of a hash bank of another kind", _SCOPE),
        # Labels: what research counts, not harms a platform acts on.
        Category("nudity", "Nudity (label)"),
        Category("revealing", "Revealing clothing (label)"),
        Category("apparent_minor", "A face that looks under 18 (label)"),
        Category("real_person", "A protected person (label)"),
        Category("ai_generated", "Declared or marked as AI-generated (label)"),
        Category("demo", "An image of a demonstration bank (label)"),
        Category("unread_request", "A request not read in full within the time limit (label)"),
        Category("unsafe_model_file", "A model file that may run code when loaded (label)"),
    )
}
"""Every category a rule may name. Those without ``dsa_category`` are labels."""


@dataclass(frozen=True, slots=True)
class PolicyRef:
    """Which policy decided: its name, the version its file declares, and a digest of the
    rules as loaded (so an edit without a new version still shows)."""

    name: str
    version: str
    digest: str

    def to_json(self) -> dict[str, str]:
        """``{"name", "version", "digest"}``."""
        return {"name": self.name, "version": self.version, "digest": self.digest}


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a rule fired: the rule, its action and category, a sentence, the signals behind it."""

    rule: str
    action: Action
    category: Category
    text: str
    signals: tuple[Signal, ...]

    def to_json(self) -> dict[str, Any]:
        """``{"rule", "action", "category", "text", "signals": [{"name", "score", ...}]}``."""
        return {
            "rule": self.rule,
            "action": self.action.value,
            "category": self.category.name,
            "text": self.text,
            "signals": [_signal_ref(signal) for signal in self.signals],
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with one input, under which categories, and every reason why."""

    action: Action
    categories: tuple[Category, ...]
    reasons: tuple[Reason, ...]
    policy: PolicyRef

    @classmethod
    def from_reasons(cls, reasons: Sequence[Reason], policy: PolicyRef) -> Verdict:
        """The strictest action of ``reasons`` (allow when there is none), its categories in
        order of first appearance, strictest reasons first."""
        ordered = sorted(reasons, key=lambda reason: -reason.action.severity)
        action = ordered[0].action if ordered else Action.ALLOW
        categories = tuple(dict.fromkeys(reason.category for reason in ordered))
        return cls(action, categories, tuple(ordered), policy)

    def to_json(self) -> dict[str, Any]:
        """``{"action", "categories", "reasons", "policy"}``."""
        return {
            "action": self.action.value,
            "categories": [category.to_json() for category in self.categories],
            "reasons": [reason.to_json() for reason in self.reasons],
            "policy": self.policy.to_json(),
        }


def _signal_ref(signal: Signal) -> dict[str, Any]:
    """A signal as a reason cites it: what, how sure, what value, where, on what evidence
    (for a prompt: the text matched and the view), which detector."""
    record = signal.to_json()
    record.pop("version", None)
    return record
