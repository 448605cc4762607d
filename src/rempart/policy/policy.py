"""``Policy``: the rules in force, loaded from YAML, and ``Policy.decide(signals) -> Verdict``.

Built-in policies ship with the package (``default``, ``strict``, ``survey``, and ``hub`` for
model files); a deployment names its own file instead, which may ``extends`` a built-in one and
``disable`` some of its rules. Every policy also holds ``MANDATORY_RULES``, and a file that
tries to remove, redefine or loosen them (or the groups they read) is refused with the reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Final

import yaml

from rempart.errors import PolicyError
from rempart.policy.rules import (
    BUILTIN_GROUPS,
    MANDATORY_RULES,
    Rule,
    SignalGroup,
)
from rempart.policy.verdict import CATEGORIES, Action, Category, PolicyRef, Verdict
from rempart.signals import Signal

__all__ = ["BUILTIN_POLICIES", "Policy", "PolicyError", "load_policy", "parse_policy"]

BUILTIN_POLICIES: Final = ("default", "strict", "survey", "hub")
MAX_POLICY_BYTES: Final = 1 << 20
_KEYS: Final = {
    "policy",
    "version",
    "description",
    "extends",
    "disable",
    "groups",
    "rules",
    "bank_categories",
}
_RULE_KEYS: Final = {"id", "when", "action", "category", "reason"}
_GROUP_KEYS: Final = {"signals", "min_score", "description"}
_MANDATORY_IDS: Final = {rule.id for rule in MANDATORY_RULES}
_MAX_FLOW_DEPTH: Final = 50


@dataclass(frozen=True)
class Policy:
    """Rules over signals. ``decide`` is deterministic: the same signals in the same order
    give the same verdict."""

    name: str
    version: str
    description: str
    groups: Mapping[str, SignalGroup]
    rules: tuple[Rule, ...]
    digest: str
    bank_categories: Mapping[str, Category] = field(default_factory=dict)
    ref: PolicyRef = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ref", PolicyRef(self.name, self.version, self.digest))

    def decide(self, signals: Sequence[Signal]) -> Verdict:
        """The verdict on one input's signals."""
        used = {name for rule in self.rules for name in rule.groups()}
        found = {name: self.groups[name].select(signals) for name in used}
        reasons = [reason for rule in self.rules for reason in rule.fire(found)]
        return Verdict.from_reasons(reasons, self.ref)


def load_policy(name_or_path: str | Path) -> Policy:
    """A built-in policy by name, or a policy file by path."""
    return _build(*_read(name_or_path))


def parse_policy(raw: bytes, *, source: str = "<bytes>") -> Policy:
    """A policy from the bytes of a YAML file (``source`` names it in errors).

    Any bytes give a ``Policy`` or a ``PolicyError`` saying what is wrong, never another
    exception: a policy file may come from anyone who can write to a deployment's config.
    """
    if len(raw) > MAX_POLICY_BYTES:
        raise PolicyError(f"policy {source}: larger than {MAX_POLICY_BYTES} bytes")
    return _build(source, _parse(source, raw), raw)


def _read(name_or_path: str | Path) -> tuple[str, dict[str, Any], bytes]:
    """Where the policy comes from, its parsed file and its bytes; a built-in name wins over
    a file of that name."""
    where = str(name_or_path)
    if where in BUILTIN_POLICIES:
        raw = (resources.files("rempart.policy") / "builtin" / f"{where}.yaml").read_bytes()
    else:
        path = Path(where)
        if not path.is_file():
            raise PolicyError(
                f"no policy {where!r}: give one of {', '.join(BUILTIN_POLICIES)} or a YAML file"
            )
        if path.stat().st_size > MAX_POLICY_BYTES:
            raise PolicyError(f"policy file {where}: larger than {MAX_POLICY_BYTES} bytes")
        raw = path.read_bytes()
    return where, _parse(where, raw), raw


def _parse(where: str, raw: bytes) -> dict[str, Any]:
    """The YAML mapping in ``raw``. PyYAML raises more than ``YAMLError`` on hostile input:
    ``ValueError`` on an integer of thousands of digits (Python's int conversion limit) and
    ``RecursionError`` on deep nesting, which its scanner reads in quadratic time (seconds for
    a few kilobytes of brackets), hence the depth checked first."""
    try:
        text = raw.decode("utf-8")
        if _flow_depth(text) > _MAX_FLOW_DEPTH:
            raise PolicyError(
                f"policy {where}: brackets nested over {_MAX_FLOW_DEPTH} deep; a policy needs 3"
            )
        spec = yaml.safe_load(text)
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PolicyError(f"policy {where}: not valid UTF-8 YAML: {exc}") from exc
    except ValueError as exc:
        raise PolicyError(f"policy {where}: a value YAML cannot hold: {exc}") from exc
    except RecursionError as exc:
        raise PolicyError(f"policy {where}: nested too deeply to read") from exc
    if not isinstance(spec, dict):
        raise PolicyError(f"policy {where}: expected a mapping with 'policy' and 'rules'")
    return spec


def _flow_depth(text: str) -> int:
    """The deepest nesting of ``[`` and ``{`` (brackets in quoted text count too: a policy
    has no reason to hold dozens of them unclosed)."""
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(0, depth - 1)
    return deepest


def _build(source: str, spec: dict[str, Any], raw: bytes) -> Policy:
    _check_keys(source, "the file", spec, _KEYS, required={"policy", "version"})
    groups = dict(BUILTIN_GROUPS)
    rules: list[Rule] = list(MANDATORY_RULES)
    bank_categories: dict[str, Category] = {}
    base = spec.get("extends")
    inherited = b""
    if base is not None:
        if base not in BUILTIN_POLICIES:
            raise PolicyError(
                f"policy {source}: extends {base!r}; only {', '.join(BUILTIN_POLICIES)} can be "
                "extended"
            )
        parent = _build(*_read(base))
        groups.update(parent.groups)
        rules = list(parent.rules)
        bank_categories.update(parent.bank_categories)
        inherited = parent.digest.encode()
    rules = _without(source, rules, _strings(source, "disable", spec.get("disable", [])))
    groups.update(_groups(source, spec.get("groups") or {}))
    bank_categories.update(_bank_categories(source, spec.get("bank_categories") or {}))
    own = [_rule(source, index, item, groups) for index, item in enumerate(_rules(source, spec))]
    _check_unique(source, [rule.id for rule in rules + own])
    rules = [_with_banks(rule, bank_categories) for rule in rules] + own
    digest = hashlib.sha256(inherited + b"\0" + raw).hexdigest()[:16]
    return Policy(
        name=_string(source, "policy", spec["policy"]),
        version=_string(source, "version", spec["version"]),
        description=str(spec.get("description") or "").strip(),
        groups=groups,
        rules=tuple(rules),
        digest=f"sha256:{digest}",
        bank_categories=bank_categories,
    )


def _without(source: str, rules: list[Rule], disabled: list[str]) -> list[Rule]:
    """``rules`` less the ``disable``d ones; a mandatory or unknown one is an error."""
    for rule_id in disabled:
        if rule_id in _MANDATORY_IDS:
            raise PolicyError(
                f"policy {source}: rule {rule_id!r} cannot be disabled; it is one of the rules "
                "no policy can weaken"
            )
        if rule_id not in {rule.id for rule in rules}:
            raise PolicyError(f"policy {source}: disables {rule_id!r}, which no rule is called")
    return [rule for rule in rules if rule.id not in disabled]


def _groups(source: str, specs: Any) -> dict[str, SignalGroup]:
    if not isinstance(specs, dict):
        raise PolicyError(f"policy {source}: 'groups' must map names to groups")
    groups = {}
    for name, item in specs.items():
        where = f"group {name!r}"
        if name in BUILTIN_GROUPS:
            raise PolicyError(
                f"policy {source}: {where} is built in and cannot be redefined; the rules no "
                "policy can weaken read it. Define a group with another name"
            )
        if not isinstance(name, str) or not name.isidentifier():
            raise PolicyError(f"policy {source}: {where} must be a plain word")
        if not isinstance(item, dict):
            raise PolicyError(f"policy {source}: {where} must be a mapping")
        _check_keys(source, where, item, _GROUP_KEYS, required={"signals"})
        score = item.get("min_score", 0.0)
        if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1:
            raise PolicyError(f"policy {source}: {where}: min_score must be a number in [0, 1]")
        groups[name] = SignalGroup(
            name,
            tuple(_strings(source, f"{where}: signals", item["signals"])),
            float(score),
            str(item.get("description", "")),
        )
        if not groups[name].patterns:
            raise PolicyError(f"policy {source}: {where} names no signal")
    return groups


def _rule(source: str, index: int, item: Any, groups: Mapping[str, SignalGroup]) -> Rule:
    where = f"rules[{index}]"
    if not isinstance(item, dict):
        raise PolicyError(f"policy {source}: {where} must be a mapping")
    _check_keys(source, where, item, _RULE_KEYS, required=_RULE_KEYS)
    rule_id = _string(source, f"{where}.id", item["id"])
    if rule_id in _MANDATORY_IDS:
        raise PolicyError(
            f"policy {source}: rule {rule_id!r} is one of the rules no policy can weaken; it "
            "cannot be redefined. Give your rule another id"
        )
    when = _clauses(source, f"{where}.when", item["when"])
    unknown = sorted({group for clause in when for group in clause} - set(groups))
    if unknown:
        raise PolicyError(
            f"policy {source}: {where}.when names unknown groups {', '.join(unknown)}; known: "
            f"{', '.join(sorted(groups))}"
        )
    try:
        action = Action(item["action"])
    except ValueError:
        raise PolicyError(
            f"policy {source}: {where}.action {item['action']!r} is not one of "
            f"{', '.join(a.value for a in Action)}"
        ) from None
    return Rule(
        rule_id,
        when,
        action,
        _category(source, f"{where}.category", item["category"]),
        _string(source, f"{where}.reason", item["reason"]),
    )


def _rules(source: str, spec: Mapping[str, Any]) -> list[Any]:
    rules = spec.get("rules") or []
    if not isinstance(rules, list):
        raise PolicyError(f"policy {source}: 'rules' must be a list of rules")
    return rules


def _clauses(source: str, where: str, value: Any) -> tuple[tuple[str, ...], ...]:
    """``when``: a list whose items are a group name or a list of group names (any of)."""
    if not isinstance(value, list) or not value:
        raise PolicyError(f"policy {source}: {where} must be a non-empty list of groups")
    clauses = []
    for item in value:
        names = [item] if isinstance(item, str) else item
        clauses.append(tuple(_strings(source, where, names)))
        if not clauses[-1]:
            raise PolicyError(f"policy {source}: {where} has an empty clause")
    return tuple(clauses)


def _bank_categories(source: str, value: Any) -> dict[str, Category]:
    if not isinstance(value, dict):
        raise PolicyError(f"policy {source}: 'bank_categories' must map bank names to categories")
    return {
        str(bank): _category(source, f"bank_categories.{bank}", category)
        for bank, category in value.items()
    }


def _with_banks(rule: Rule, bank_categories: Mapping[str, Category]) -> Rule:
    """A rule that reads bank matches (``known-image``, ``reported-image``: those categorised
    by bank) with the policy's ``bank_categories``."""
    if rule.by_value is None:
        return rule
    return replace(rule, by_value=dict(bank_categories))


def _category(source: str, where: str, value: Any) -> Category:
    if not isinstance(value, str) or value not in CATEGORIES:
        raise PolicyError(
            f"policy {source}: {where} {value!r} is not a category; known: {', '.join(CATEGORIES)}"
        )
    return CATEGORIES[value]


def _check_keys(
    source: str, where: str, item: Mapping[str, Any], allowed: set[str], *, required: set[str]
) -> None:
    unknown = sorted(set(map(str, item)) - allowed)
    if unknown:
        raise PolicyError(
            f"policy {source}: {where} has unknown keys {', '.join(unknown)}; allowed: "
            f"{', '.join(sorted(allowed))}"
        )
    missing = sorted(required - set(item))
    if missing:
        raise PolicyError(f"policy {source}: {where} lacks {', '.join(missing)}")


def _check_unique(source: str, ids: Iterable[str]) -> None:
    seen: set[str] = set()
    for rule_id in ids:
        if rule_id in seen:
            raise PolicyError(f"policy {source}: two rules are called {rule_id!r}")
        seen.add(rule_id)


def _string(source: str, where: str, value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)  # a version such as 2 or 1.5
    if not isinstance(value, str) or not value.strip():
        raise PolicyError(f"policy {source}: {where} must be a non-empty string")
    return value.strip()


def _strings(source: str, where: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise PolicyError(f"policy {source}: {where} must be a list of names")
    return list(value)
