"""The generation gate: a generator calls it on each request (prompt, negative prompt, uploaded
photos) and on the image it made, and gets a ``Verdict`` that explains itself."""

from rempart.gate.gate import Gate, GateDetectors, ImageInput

__all__ = ["Gate", "GateDetectors", "ImageInput"]
