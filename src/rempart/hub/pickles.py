"""Which imports of a pickled model run code: as data, read from two sources.

``WEIGHTS_ONLY`` is what ``torch.load(weights_only=True)`` accepts (PyTorch's
``torch/_weights_only_unpickler.py``, ``_get_allowed_globals`` and
``_tensor_rebuild_functions``): an import outside it is one a careful loader refuses, so a
model that needs it is suspect (``REFUSED_SCORE``). ``CODE_RUNNERS`` are the modules and names
known to run commands, code or file and network operations when unpickled (PyTorch's
``_blocklisted_modules`` and picklescan's dangerous globals, which the tests use as an
oracle): such an import is a model file that attacks whoever loads it (score 1.0).
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Final

from rempart.modelfile.pickles import UNKNOWN

__all__ = ["CODE_RUNNERS", "REFUSED_SCORE", "WEIGHTS_ONLY", "refused", "runs_code", "score"]

REFUSED_SCORE: Final = 0.3
"""The score of an import ``torch.load(weights_only=True)`` refuses that is not known to run
code: suspect, not proven."""

_DTYPES: Final = (
    *("float", "double", "half", "bfloat16", "float16", "float32", "float64"),
    *("cfloat", "cdouble", "chalf", "complex32", "complex64", "complex128"),
    *("bool", "uint8", "int8", "int16", "short", "int32", "int", "int64", "long"),
    *("uint16", "uint32", "uint64", "qint8", "quint8", "qint32", "quint4x2", "quint2x4"),
    *("float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu"),
    *(f"uint{bits}" for bits in range(1, 8)),
    *(f"int{bits}" for bits in range(1, 8)),
    *("bits1x8", "bits2x4", "bits4x2", "bits8", "bits16", "float4_e2m1fn_x2"),
)
_QSCHEMES: Final = (
    "per_tensor_affine",
    "per_tensor_symmetric",
    "per_channel_affine",
    "per_channel_symmetric",
    "per_channel_affine_float_qparams",
)

WEIGHTS_ONLY: Final = frozenset(
    {
        "collections.OrderedDict",
        "collections.Counter",
        "torch.nn.parameter.Parameter",
        "torch.serialization._get_layout",
        "torch.Size",
        "torch.Tensor",
        "torch.device",
        "_codecs.encode",
        "builtins.bytearray",
        "builtins.set",
        "builtins.complex",
        "torch._tensor._rebuild_from_type_v2",
        "torch.storage.TypedStorage",
        "torch.storage.UntypedStorage",
        *(f"torch.{dtype}" for dtype in _DTYPES),
        *(f"torch.{scheme}" for scheme in _QSCHEMES),
        *(
            f"torch._utils._rebuild_{kind}"
            for kind in (
                "parameter",
                "parameter_with_state",
                "qtensor",
                "tensor",
                "tensor_v2",
                "tensor_v3",
                "sparse_tensor",
                "meta_tensor_no_storage",
                "wrapper_subclass",
                "device_tensor_from_numpy",
                "device_tensor_from_cpu_tensor",
            )
        ),
    }
)
"""The globals PyTorch's weights-only unpickler allows, less its storage and tensor classes
(``_WEIGHTS_ONLY_PATTERNS``: ``torch.FloatStorage``, ``torch.cuda.HalfTensor``, ...)."""
_WEIGHTS_ONLY_PATTERNS: Final = ("torch.*Storage", "torch.*Tensor")

CODE_RUNNERS: Final = (
    # whole modules: PyTorch refuses these even when allowlisted
    *("os.*", "posix.*", "nt.*", "sys.*"),
    # processes, code, the interpreter, files and the network
    *("subprocess.*", "commands.*", "pty.*", "runpy.*", "code.*", "codeop.*", "pdb.*", "bdb.*"),
    *("importlib.*", "pkgutil.*", "pydoc.*", "ctypes.*", "_ctypes.*", "cffi.*"),
    *("pickle.*", "_pickle.*", "cloudpickle.*", "dill.*", "marshal.*", "shelve.*", "joblib.*"),
    *("socket.*", "ssl.*", "http.*", "httplib.*", "urllib.*", "urllib2.*", "requests.*"),
    *("aiohttp.*", "asyncio.*", "ftplib.*", "smtplib.*", "telnetlib.*", "imaplib.*"),
    *("webbrowser.*", "shutil.*", "tempfile.*", "multiprocessing.*", "threading.*"),
    *("cProfile.*", "profile.*", "timeit.*", "trace.*", "doctest.*", "venv.*", "ensurepip.*"),
    *("pip.*", "distutils.*", "setuptools.*", "uuid.*", "test.*", "idlelib.*", "lib2to3.*"),
    *("_osx_support.*", "_aix_support.*", "_pyrepl.*", "_posixsubprocess.*", "signal.*"),
    *("numpy.f2py.*", "numpy.testing.*", "numpy.load", "torch.load", "torch.serialization.load"),
    *("torch._inductor.*", "torch._dynamo.*", "torch.jit.*", "torch.utils.*", "torch.hub.*"),
    *("torch.fx.*", "logging.FileHandler", "_io.FileIO", "io.FileIO", "io.open", "types.*"),
    # builtins that run, import, open or reach any attribute
    *(
        f"{module}.{name}"
        for module in ("builtins", "__builtin__")
        for name in (
            *("eval", "exec", "execfile", "compile", "__import__", "getattr", "setattr"),
            *("delattr", "globals", "locals", "vars", "open", "file", "input", "breakpoint"),
            *("apply", "exit", "quit", "reload"),
        )
    ),
    # callables that call another: partial(os.system, ...), attrgetter("system")(os)
    *("functools.partial", "functools.reduce", "operator.*", "_operator.*"),
    # a name the pickle builds as it runs (rempart.modelfile reads it as "unknown"), or an
    # import past the reader's bound: only a pickle that hides what it imports does that
    *(f"{UNKNOWN}.*", f"*.{UNKNOWN}"),
)
"""Patterns (``*``: anything, dots too) of the imports known to run code when unpickled."""


def refused(name: str) -> bool:
    """Whether ``torch.load(weights_only=True)`` refuses the global ``module.name``."""
    if name in WEIGHTS_ONLY:
        return False
    return not any(fnmatchcase(name, pattern) for pattern in _WEIGHTS_ONLY_PATTERNS)


def runs_code(name: str) -> bool:
    """Whether the global ``module.name`` is known to run code (or reach what does)."""
    return any(fnmatchcase(name, pattern) for pattern in CODE_RUNNERS)


def score(name: str) -> float | None:
    """``model.pickle.code``'s score for an import: 1.0 when it runs code, ``REFUSED_SCORE``
    when only refused, None when ``torch.load(weights_only=True)`` accepts it."""
    if runs_code(name):
        return 1.0
    return REFUSED_SCORE if refused(name) else None
