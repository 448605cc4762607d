"""Prompt analysis: normalise a prompt into views that undo its disguises, expand its editing
syntax, and match multilingual lexicons in linear time and protected persons' names as people
write them."""

from rempart.errors import LexiconError
from rempart.text.analyse import MAX_PROMPT_CHARS, Hit, PromptAnalyser, check_prompt
from rempart.text.lexicon import CATEGORIES, LANGUAGES, Lexicon, load_lexicon
from rempart.text.names import NameMatch, NameMatcher, PersonName
from rempart.text.normalise import VIEW_NAMES, View, Vocabulary, views
from rempart.text.syntax import MAX_BRANCHES, expand_prompt

__all__ = [
    "CATEGORIES",
    "LANGUAGES",
    "MAX_BRANCHES",
    "MAX_PROMPT_CHARS",
    "VIEW_NAMES",
    "Hit",
    "Lexicon",
    "LexiconError",
    "NameMatch",
    "NameMatcher",
    "PersonName",
    "PromptAnalyser",
    "View",
    "Vocabulary",
    "check_prompt",
    "expand_prompt",
    "load_lexicon",
    "views",
]
