# Everything a newcomer needs: `make demo` and `make test` create .venv and install into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
JOBS ?=

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-%: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[$*]'
	touch $@

demo: $(VENV)/.installed-heif
	$(BIN)/python examples/make_demo_images.py demo-output/images
	@echo
	@echo "== rempart hash --format table demo-output/images"
	@$(BIN)/rempart hash --format table demo-output/images; test $$? -le 1
	@$(BIN)/rempart hash --dihedral demo-output/images > demo-output/hashes.jsonl; test $$? -le 1
	@echo
	@echo "JSON Lines (with the 8 rotations and flips of each) written to demo-output/hashes.jsonl."
	@echo "The rotated and resized copies of 'harbour' hash within distance 31 of the original:"
	@$(BIN)/python examples/compare_demo_hashes.py demo-output/hashes.jsonl
	@echo
	@echo "== a hash bank holding harbour.jpg, and every image matched against it"
	@rm -rf demo-output/data
	@export REMPART_DATA_DIR=demo-output/data; \
	$(BIN)/rempart bank create demo --description "images we know" && \
	$(BIN)/rempart hash demo-output/images/harbour.jpg | $(BIN)/rempart bank import demo - --format jsonl && \
	{ $(BIN)/rempart match --dihedral --format table demo-output/images; test $$? -le 1; }

test: $(VENV)/.installed-dev,heif lint
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev,heif
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/mypy

bench: $(VENV)/.installed-bench,heif
	$(BIN)/python benchmarks/pdq_throughput.py $(if $(JOBS),--jobs $(JOBS))
	$(BIN)/python benchmarks/index_bench.py
	$(BIN)/python benchmarks/detectors_bench.py $(if $(JOBS),--jobs $(JOBS))
	$(BIN)/python benchmarks/watermark_fpr.py

clean:
	rm -rf $(VENV) demo-output .bench-cache .pytest_cache .mypy_cache .ruff_cache
