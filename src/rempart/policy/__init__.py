"""Policy: rules over signals give a ``Verdict`` (allow, review or block), its categories with
their EU DSA Transparency Database mapping, and every reason.

``load_policy("default")`` gives a built-in policy (``default``, ``strict``, ``survey``,
``hub`` for model files); ``load_policy("my-policy.yaml")`` a deployment's own. Rules hold in
every policy that no file can weaken: an apparent or declared minor with any nudity, revealing
or sexual signal blocks, and so does a bank match (as does a protected, named or declared real
person with such a signal).
"""

from rempart.errors import PolicyError
from rempart.policy.policy import BUILTIN_POLICIES, Policy, load_policy, parse_policy
from rempart.policy.rules import BUILTIN_GROUPS, MANDATORY_RULES, Rule, SignalGroup
from rempart.policy.verdict import CATEGORIES, Action, Category, PolicyRef, Reason, Verdict

__all__ = [
    "BUILTIN_GROUPS",
    "BUILTIN_POLICIES",
    "CATEGORIES",
    "MANDATORY_RULES",
    "Action",
    "Category",
    "Policy",
    "PolicyError",
    "PolicyRef",
    "Reason",
    "Rule",
    "SignalGroup",
    "Verdict",
    "load_policy",
    "parse_policy",
]
