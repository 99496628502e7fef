# Two commands a new user needs: `make quickstart` (main job) and `make test` (whole suite).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# --no-cache-dir: the registry's torch bundles CUDA (a 6 GB venv), so no second copy of the wheels is kept in
# ~/.cache/pip, where a small CI disk would fill. A CPU torch alone would not shrink it: the registry's torchvision
# is built against the CUDA torch and its ops fail to load beside a +cpu one (measured).

.PHONY: quickstart test lint bench install clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --no-cache-dir --upgrade pip
	$(BIN)/pip install --quiet --no-cache-dir -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

quickstart: $(STAMP)
	$(BIN)/harness quickstart

test: $(STAMP)
	$(BIN)/python -m pytest tests

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) runs
