"""The public surface is declared once and is exactly what it says: the Python API that
``rempart`` exports, name by name, and each module's ``__all__``."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "rempart",
    "rempart.errors",
    "rempart.media",
    "rempart.video",
    "rempart.hashing",
    "rempart.hashing.vpdq",
    "rempart.config",
    "rempart.signals",
    "rempart.detectors",
    "rempart.detectors.picture",
    "rempart.detectors.protocol",
    "rempart.detectors.registry",
    "rempart.detectors.builtin",
    "rempart.detectors.nudity",
    "rempart.detectors.faces",
    "rempart.detectors.identity",
    "rempart.detectors.provenance",
    "rempart.detectors.pipeline",
    "rempart.detectors.frames",
    "rempart.provenance.c2pa",
    "rempart.provenance.generators",
    "rempart.provenance.iptc",
    "rempart.provenance.watermark",
    "rempart.persons",
    "rempart.persons.enrol",
    "rempart.persons.protected",
    "rempart.persons.match",
    "rempart.gallery",
    "rempart.types",
    "rempart.files",
    "rempart.runtime",
    "rempart.gate",
    "rempart.gate.request",
    "rempart.matching.banks",
    "rempart.matching.banks.snapshot",
    "rempart.store.notify",
    "rempart.scan.pixelate",
    "rempart.scan.job",
    "rempart.detectors.banks",
    "rempart.policy",
    "rempart.policy.policy",
    "rempart.policy.rules",
    "rempart.policy.verdict",
    "rempart.scan",
    "rempart.scan.output",
    "rempart.scan.report",
    "rempart.scan.scanner",
    "rempart.scan.summary",
    "rempart.desk",
    "rempart.desk.access",
    "rempart.desk.cases",
    "rempart.desk.clock",
    "rempart.desk.model",
    "rempart.desk.sealed",
    "rempart.desk.states",
    "rempart.desk.watch",
    "rempart.desk.notices",
    "rempart.desk.notice_model",
    "rempart.desk.platforms",
    "rempart.desk.clocks",
    "rempart.desk.render",
    "rempart.desk.channels",
    "rempart.desk.news",
    "rempart.desk.rows",
    "rempart.desk.i18n",
    "rempart.desk.sor",
    "rempart.desk.yearly",
    "rempart.desk.fetch",
    "rempart.desk.recheck",
    "rempart.desk.evidence",
    "rempart.desk.evidence_model",
    "rempart.desk.warc",
    "rempart.desk.tsa",
    "rempart.desk.dossier",
    "rempart.desk.tasks",
    "rempart.exchanges.sync",
    "rempart.exchanges.schedule",
    "rempart.exchanges.reader",
    "rempart.exchanges.stopncii",
    "rempart.hub",
    "rempart.hub.auditor",
    "rempart.hub.declared",
    "rempart.hub.known",
    "rempart.hub.pickles",
    "rempart.hub.result",
    "rempart.hub.signals",
    "rempart.hub.texts",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_exact(name: str) -> None:
    module = importlib.import_module(name)
    exported = set(module.__all__)
    assert len(exported) == len(module.__all__), "duplicates in __all__"
    for symbol in exported:
        assert hasattr(module, symbol), f"{name}.__all__ names missing {symbol}"
    defined_here = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_") and callable(v) and getattr(v, "__module__", None) == name
    }
    assert defined_here <= exported, f"public but not in __all__: {defined_here - exported}"


PUBLIC_API = {
    # the jobs
    "Gate", "GateRequest", "parse_gate_request", "Scanner", "ScanJob", "ScanResult",
    "Desk", "DeskKeys", "Auditor", "AuditResult",
    # decisions and signals
    "Action", "Policy", "Verdict", "load_policy", "Signal", "Region",
    "Detector", "DetectorRegistry", "Picture", "default_registry", "PromptAnalyser",
    "ProtectedPersons",
    # hashing and matching
    "FileHashes", "hash_path", "hash_files", "Banks", "BankMatcher", "match_images",
    # foundation
    "Settings", "load_settings", "Media", "MediaLimits", "load_path", "load_bytes", "Store",
    "Runtime", "ImageInput", "JSONObject",
    # errors
    "RempartError", "ConfigError", "MediaError", "MediaErrorCode", "PromptError",
    "DetectorError", "MissingExtraError", "ExitCode",
    "__version__",
}  # fmt: skip


def test_the_python_api_is_exactly_this() -> None:
    import rempart

    assert set(rempart.__all__) == PUBLIC_API
    for name in PUBLIC_API:
        assert getattr(rempart, name) is not None, name
    assert set(dir(rempart)) == PUBLIC_API
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = rempart.Nope


def test_importing_rempart_loads_no_app() -> None:
    import subprocess
    import sys

    code = "import rempart, sys; print(sorted(m for m in sys.modules if m.startswith('rempart')))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "['rempart']"
