# Landlord: `make run` starts the main job, `make test` sets everything up and runs every check.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 6443
KUBECONFIG_PATH ?= .landlord/kubeconfig

.PHONY: setup tools lint typecheck unit conformance test run devcluster bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -m venv --help >/dev/null 2>&1 && $(PYTHON) -c 'import ensurepip' 2>/dev/null || \
		(apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

tools: setup
	$(BIN)/python tests/tools.py

lint: setup
	$(BIN)/ruff check operator tests bench
	$(BIN)/ruff format --check operator tests bench

typecheck: setup
	$(BIN)/mypy

test: setup tools lint typecheck
	$(BIN)/python -m pytest -ra

run: setup
	$(BIN)/landlord dev --port $(PORT) --kubeconfig $(KUBECONFIG_PATH)

devcluster: setup
	$(BIN)/landlord devcluster --port $(PORT) --kubeconfig $(KUBECONFIG_PATH)

bench: setup
	$(BIN)/python bench/apiserver.py

clean:
	rm -rf $(VENV) .tools .landlord .pytest_cache .mypy_cache .ruff_cache
