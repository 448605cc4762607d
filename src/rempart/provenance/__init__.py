"""Provenance: what an image says about where it came from.

C2PA manifests (``c2pa``), IPTC ``DigitalSourceType`` in XMP (``iptc``), the metadata image
generators write (``generators``) and Stable Diffusion's invisible watermarks (``watermark``).
Each reads the input as it is and reports what it finds; the absence of every mark never means
an image is real.
"""
