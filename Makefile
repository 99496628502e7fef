# Two commands a new user needs: `make quickstart` (main job) and `make test` (whole suite).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# --no-cache-dir: the registry's torch bundles CUDA (a 6.1 GB venv); no second copy of what pip downloads is left
# in ~/.cache/pip (stop 31's CI ran out of disk in this install). A CPU torch wheel alone does not shrink it: the
# registry's torchvision is built against CUDA torch and its ops fail to load beside a +cpu torch (measured).

.PHONY: quickstart test bench install clean

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

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) runs
