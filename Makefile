# `make demo` and `make test` each build .venv when it is missing (Python 3.12, see .python-version).
PYTHON ?= $(shell command -v python3.12 2>/dev/null || echo python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# PyTensor's compiled-model cache, kept in the tree so CI can cache it and warm runs stay fast.
export PYTENSOR_FLAGS ?= base_compiledir=$(CURDIR)/.cache/pytensor
export MPLBACKEND ?= Agg

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 12), "cxsim needs Python >= 3.12 (found %s)" % sys.version.split()[0]'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/cxsim-simulate hydra.run.dir=outputs/demo

test: $(STAMP)
	$(VENV)/bin/ruff check cxsim tests benchmarks
	$(PY) -m pytest -q --durations=20

lint: $(STAMP)
	$(VENV)/bin/ruff check cxsim tests benchmarks
	$(VENV)/bin/ruff format --check cxsim tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/engine.py

clean:
	rm -rf $(VENV) outputs .cache
