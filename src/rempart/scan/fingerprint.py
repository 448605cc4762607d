"""What made a scan's records: the run fingerprint, the first line of a scan's output.

Verdicts from two runs are comparable only when the same policy, detectors (and their model
versions), banks (and their contents) and Rempart judged them, so ``--resume`` compares the
fingerprint of the output with its own and names what differs. An audit's fingerprint has
fields of its own (``Auditor.fingerprint_of_run``): every field is compared. The line is
``{"rempart_scan": {...}}`` for either; readers of the records skip it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from rempart import __version__

if TYPE_CHECKING:
    from rempart.matching.banks import BankMatcher
    from rempart.scan.scanner import Scanner

__all__ = ["HEADER_KEY", "fingerprint_differences", "header_record", "run_fingerprint"]

HEADER_KEY: Final = "rempart_scan"


def run_fingerprint(scanner: Scanner, banks: Sequence[str] | None = None) -> dict[str, Any]:
    """The fingerprint of a run of ``scanner``: Rempart's version, the policy, each detector
    with its version, and each bank its matcher reads (``banks``; None: every bank) with its
    threshold and how many entries it holds and has withdrawn."""
    return {
        "rempart": __version__,
        "policy": scanner.policy.ref.to_json(),
        "detectors": {detector.name: str(detector.version) for detector in scanner.detectors},
        "banks": _banks(scanner.matcher, banks),
    }


def header_record(fingerprint: Mapping[str, Any]) -> dict[str, Any]:
    """The first line of an output: ``{"rempart_scan": fingerprint}``."""
    return {HEADER_KEY: dict(fingerprint)}


def fingerprint_differences(earlier: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """What differs between the fingerprint of an earlier run and this one's, in words (none
    when they are the same)."""
    differences = []
    if earlier.get("policy") != now.get("policy"):
        differences.append(f"policy {_policy(earlier)} then, {_policy(now)} now")
    for part in ("detectors", "banks"):
        differences += _named_differences(part, earlier.get(part) or {}, now.get(part) or {})
    # Any other field (an audit's fingerprint mode, lexicon, known models...), by its name.
    for part in sorted((set(earlier) | set(now)) - {"policy", "detectors", "banks", "rempart"}):
        before, after = earlier.get(part), now.get(part)
        if before == after:
            continue
        if isinstance(before, Mapping) and isinstance(after, Mapping):
            differences += _named_differences(part, before, after)
        else:
            differences.append(f"{part} {_brief(before)} then, {_brief(after)} now")
    if earlier.get("rempart") != now.get("rempart"):
        differences.append(f"Rempart {earlier.get('rempart')} then, {now.get('rempart')} now")
    return differences


def _banks(matcher: BankMatcher | None, names: Sequence[str] | None) -> dict[str, Any]:
    if matcher is None:
        return {}
    from rempart.matching.banks import Banks

    every = Banks(matcher.store)
    chosen = sorted(names) if names is not None else [bank.name for bank in every.list()]
    stats = [every.stats(name) for name in chosen]
    return {
        item.bank.name: {
            "threshold": item.bank.threshold,
            "enabled": item.bank.enabled,
            "active": item.active,
            "withdrawn": item.withdrawn,
        }
        for item in stats
    }


def _policy(fingerprint: Mapping[str, Any]) -> str:
    policy = fingerprint.get("policy") or {}
    return f"{policy.get('name')} {policy.get('version')} ({policy.get('digest')})"


def _named_differences(part: str, earlier: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """``detectors: nudity 2 then, 3 now``, ``banks: known absent then``, ..."""
    found = []
    for name in sorted(set(earlier) | set(now)):
        if name not in earlier:
            found.append(f"{part}: {name} absent then")
        elif name not in now:
            found.append(f"{part}: {name} absent now")
        elif earlier[name] != now[name]:
            found.append(f"{part}: {name} {_brief(earlier[name])} then, {_brief(now[name])} now")
    return found


def _brief(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, Mapping):
        return ", ".join(f"{key} {item}" for key, item in value.items())
    return str(value)
