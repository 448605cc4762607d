# Everything a newcomer needs: `make demo` and `make test` create .venv and install into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
JOBS ?=
FUZZ_SECONDS ?= 600

.PHONY: demo test test-fast lint bench bench-system-packages fuzz screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-%: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[$*]'
	touch $@

demo: $(VENV)/.installed-demo
	$(BIN)/python examples/make_demo_images.py demo-output/images
	@rm -rf demo-output/data
	@echo
	@echo "== a demo hash bank holding harbour.jpg"
	@export REMPART_DATA_DIR=demo-output/data; \
	$(BIN)/rempart bank create demo --category demo --description "images we know" && \
	$(BIN)/rempart hash demo-output/images/harbour.jpg | $(BIN)/rempart bank import demo - --format jsonl
	@echo
	@echo "== rempart scan demo-output/images (default policy, every detector installed)"
	@export REMPART_DATA_DIR=demo-output/data; \
	$(BIN)/rempart scan demo-output/images --out demo-output/scan.jsonl \
		--report demo-output/report.html; test $$? -le 1
	@echo
	@echo "Verdicts, one JSON object per image (after a first line naming the run): demo-output/scan.jsonl"
	@echo "The report (one HTML file, opens offline): demo-output/report.html"
	@echo
	@echo "== rempart audit demo-output/models (the hub policy: a style LoRA, a likeness LoRA, a renamed copy, a fake)"
	@$(BIN)/python examples/make_demo_models.py demo-output/models
	@export REMPART_DATA_DIR=demo-output/data; \
	$(BIN)/rempart audit demo-output/models --out demo-output/audit.jsonl \
		--report demo-output/audit.html; test $$? -le 1
	@echo "Model records: demo-output/audit.jsonl; its report: demo-output/audit.html"

test: $(VENV)/.installed-dev,heif,video lint
	$(BIN)/python -m pytest

# The tests a developer runs often (under a minute): no slow, PostgreSQL or server test, and
# no lint; the first failure stops the run.
test-fast: $(VENV)/.installed-dev,heif,video
	$(BIN)/python -m pytest -m "not slow and not postgres and not server" -x -q

lint: $(VENV)/.installed-dev,heif,video
	$(BIN)/ruff check src tests benchmarks examples fuzz
	$(BIN)/ruff format --check src tests benchmarks examples fuzz
	$(BIN)/mypy
	$(BIN)/lint-imports

# Meta's vpdq, the video benchmark's peer in the bench extra, has no wheel: its sdist builds
# against FFmpeg's -dev packages with pkg-config and a C++ compiler, installed here from Debian
# when missing (as .ci/run installs its packages).
bench-system-packages:
	@missing=""; \
	for library in libavcodec libavformat libavutil libswscale libavdevice; do \
		pkg-config --exists $$library 2>/dev/null || missing="$$missing $$library-dev"; \
	done; \
	command -v pkg-config >/dev/null || missing="$$missing pkg-config"; \
	command -v c++ >/dev/null || missing="$$missing g++"; \
	if [ -n "$$missing" ]; then \
		sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing >/dev/null; \
	fi

$(VENV)/.installed-bench,heif: | bench-system-packages

bench: $(VENV)/.installed-bench,heif
	$(BIN)/python benchmarks/pdq_throughput.py $(if $(JOBS),--jobs $(JOBS))
	$(BIN)/python benchmarks/index_bench.py
	$(BIN)/python benchmarks/detectors_bench.py $(if $(JOBS),--jobs $(JOBS))
	$(BIN)/python benchmarks/faces_bench.py
	$(BIN)/python benchmarks/watermark_fpr.py
	$(BIN)/python benchmarks/scan_bench.py $(if $(JOBS),--jobs $(JOBS))
	$(BIN)/python benchmarks/gate_bench.py
	$(BIN)/python benchmarks/gate_eval.py
	$(BIN)/python benchmarks/api_load.py
	$(BIN)/python benchmarks/cli_startup.py
	$(BIN)/python benchmarks/desk_bench.py
	$(BIN)/python benchmarks/notice_bench.py
	$(BIN)/python benchmarks/evidence_bench.py
	$(BIN)/python benchmarks/audit_bench.py $(if $(JOBS),--jobs $(JOBS))
	$(BIN)/python benchmarks/scale_bench.py
	$(BIN)/python benchmarks/video_bench.py $(if $(JOBS),--jobs $(JOBS))
	$(BIN)/python benchmarks/exchange_bench.py

# Every fuzz target (fuzz/targets/) for FUZZ_SECONDS each, coverage-guided with atheris; a
# crash is written to fuzz/crashes/<target>/ and fails the run. `make fuzz FUZZ_SECONDS=60`
# for a quick look; `python fuzz/run.py media` for one target.
fuzz: $(VENV)/.installed-dev,heif,video,fuzz
	$(BIN)/python fuzz/run.py --seconds $(FUZZ_SECONDS)

# The desk's pages in English and French (docs/desk/*.png, shown in docs/desk.md), taken in
# Debian's chromium from a desk served on loopback.
screenshots: $(VENV)/.installed-dev,heif
	$(BIN)/python examples/desk_screenshots.py --out docs/desk

clean:
	rm -rf $(VENV) demo-output .bench-cache fuzz/crashes fuzz/work .pytest_cache .mypy_cache .ruff_cache
