# Landlord: `make run` starts the main job, `make test` sets everything up and runs every check.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 6443
KUBECONFIG_PATH ?= .landlord/kubeconfig
OPERATOR_LOG ?= .landlord/operator.log

.PHONY: setup tools lint typecheck unit conformance test run devcluster bench golden clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -m venv --help >/dev/null 2>&1 && $(PYTHON) -c 'import ensurepip' 2>/dev/null || \
		(echo "landlord setup: installing python3-venv with apt-get..." && \
		apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null)
	@echo "landlord setup: creating $(VENV) and installing Landlord with its dependencies" \
		"(first run only; a few minutes on a slow network)..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --progress-bar on -e '.[test]'
	@echo "landlord setup: done"
	@touch $@

tools: setup
	@command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		(echo "landlord tools: installing PostgreSQL (Debian package postgresql, server binaries only) with apt-get," \
			"for the database tests and the playground..." && \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null)
	@command -v promtool >/dev/null 2>&1 || \
		(echo "landlord tools: installing Prometheus and promtool (Debian package prometheus, server binaries only)" \
			"with apt-get, for the alert rule tests..." && \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null)
	$(BIN)/python tests/tools.py

lint: setup
	$(BIN)/ruff check operator tests bench
	$(BIN)/ruff format --check operator tests bench
	PYTHONPATH=operator $(BIN)/lint-imports --no-cache

typecheck: setup
	$(BIN)/mypy

test: setup tools lint typecheck
	$(BIN)/python -m pytest -ra
	# Again over HTTPS; test_faults.py starts its own plain-HTTP emulator, so it runs once.
	LANDLORD_TEST_TLS=1 $(BIN)/python -m pytest -q tests/integration --deselect tests/integration/test_faults.py

# PORT=6444 make run when 6443 is taken; warnings and errors go to $(OPERATOR_LOG).
run: setup
	$(BIN)/landlord dev --port $(PORT) --kubeconfig $(KUBECONFIG_PATH) --log $(OPERATOR_LOG)

devcluster: setup
	$(BIN)/landlord devcluster --port $(PORT) --kubeconfig $(KUBECONFIG_PATH)

# Regenerates tests/golden/ (expected `landlord render` and `landlord validate` output); review with git diff.
golden: setup
	$(BIN)/python -m tests.golden --update

bench: setup
	$(BIN)/python bench/apiserver.py

clean:
	rm -rf $(VENV) .tools .landlord .pytest_cache .mypy_cache .ruff_cache
