# One-command set-up: `make repro` (environment + whole pipeline) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
STAMP  := $(VENV)/.installed
TEST_WORKERS ?= auto
export PATH := $(BIN):$(PATH)

.PHONY: setup repro test lab serve lock clean

# The environment: locked, hash-checked dependencies, the package itself, the project's kernel.
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/python -c "from mining.runner import ensure_kernel; ensure_kernel()"
	touch $(STAMP)

setup: $(STAMP)

repro: setup  ## run the whole pipeline (only the stages whose inputs changed)
	dvc repro

test: setup  ## unit tests and end-to-end pipeline runs on tiny demo data, a worker per core (TEST_WORKERS=0: one process)
	python -m pytest -n $(TEST_WORKERS) --dist worksteal

lab: setup  ## JupyterLab on the project's kernel
	jupyter lab --notebook-dir=$(CURDIR)

serve: setup  ## the scoring API over models/serving (after `make repro`): workers, TLS, keys from params/deploy.yaml
	mining serve

lock:  ## re-resolve requirements.lock from pyproject.toml (needs uv)
	uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock

clean:
	rm -rf data models metrics reports build
