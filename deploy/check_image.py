"""Run while the image is built, with no network (``RUN --network=none``): every detector the
image is meant to carry is installed, finds its model files inside installed packages, and
they have their recorded SHA-256; then a scan of a synthetic image runs every detector, models
loaded. A missing extra or a model that would need a download fails the build, not the first
request. Also runnable from a checkout: ``python deploy/check_image.py``."""

from __future__ import annotations

import io
import os
import sys
import tempfile

EXPECTED = ("nudity", "faces", "identity", "provenance")


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        os.environ["REMPART_DATA_DIR"] = folder  # an SQLite database for the scan, thrown away
        from PIL import Image

        from rempart.config import load_settings
        from rempart.detectors import default_registry
        from rempart.policy import load_policy
        from rempart.scan import Scanner

        settings = load_settings(os.environ)
        registry = default_registry(settings)
        installed = registry.installed()
        missing = [name for name in EXPECTED if name not in installed]
        if missing:
            for name in missing:
                print(f"missing detector {name}: {registry.missing(name)}", file=sys.stderr)
            return 1
        detectors = registry.create_all(installed)
        for detector in detectors:
            # The detector's model, and its face finder's (RetinaFace's, shipped as bytes).
            for owner in (detector, getattr(detector, "finder", None)):
                file = getattr(getattr(owner, "model", None), "file", None)
                if file is not None:
                    file.check()  # exists, with its recorded SHA-256
            print(f"{detector.name}: {detector.version}")
        # dlib's landmarks and face-recognition network, loaded as the face detectors load
        # them (a scan of an image without a face would not).
        import dlib
        import face_recognition_models as models

        dlib.shape_predictor(models.pose_predictor_five_point_model_location())
        dlib.face_recognition_model_v1(models.face_recognition_model_location())
        image = io.BytesIO()
        Image.linear_gradient("L").convert("RGB").resize((640, 480)).save(image, "PNG")
        scanner = Scanner.from_registry(registry, load_policy(settings.policy))
        result = scanner.scan_bytes(image.getvalue(), name="synthetic.png")
        print(f"scanned a synthetic image: {result.verdict.action.value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
