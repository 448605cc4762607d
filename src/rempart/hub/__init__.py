"""Hub: audit model files for the models made to sexualise a real person or a child.

``Auditor`` reads each file's metadata, card and sidecar (``rempart.modelfile``), turns what
they say into signals (``text.*`` from the prompt analyser, ``model.*`` for declared flags,
pickled code and copies of known models) and judges them by a policy (by default ``hub``).
"""

from rempart.hub.auditor import MAX_FOLDER_IMAGES, Auditor, AuditorSpec
from rempart.hub.known import KnownModel, KnownModels
from rempart.hub.result import AuditResult
from rempart.hub.texts import FULL_SHARE, ModelText, Reading, texts

__all__ = [
    "FULL_SHARE",
    "MAX_FOLDER_IMAGES",
    "AuditResult",
    "Auditor",
    "AuditorSpec",
    "KnownModel",
    "KnownModels",
    "ModelText",
    "Reading",
    "texts",
]
