# The two commands of the README work on a fresh machine: each sets up .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup lint test test-fast test-real demo bench clean

setup: $(VENV)/.installed

# torch through constraints-cpu.txt: the CPU build (an unconstrained "torch" would pull a multi-GB CUDA build).
$(VENV)/.installed: pyproject.toml constraints-cpu.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints-cpu.txt -e '.[dev]'
	touch $@

# Debian's chromium for the report's browser tests (they skip when it is missing).
$(VENV)/.browser: | $(VENV)/.installed
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "note: chromium not installed; the browser tests will skip"
	touch $@

# ruff: the rules and line length are in pyproject.toml ([tool.ruff]).
lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

test: setup $(VENV)/.browser
	$(BIN)/pytest -q

test-fast: setup $(VENV)/.browser
	$(BIN)/pytest -q -m "not slow"

# The real-server tier (tests/real): leancot against llama.cpp's server with the built-in SmolLM2 GGUF on loopback.
# llama-cpp-python builds from its sdist the first time (~14 min on 2 cores), then installs from pip's wheel cache.
# GGML_NATIVE=OFF: a -march=native build turns on AMX kernels that segfault on hosts that do not grant AMX state.
# A failed install is not fatal: the tests then skip, saying why.
LLAMA_CPP ?= llama-cpp-python[server]==0.3.36

test-real: setup
	@$(BIN)/python -c "import llama_cpp.server" 2>/dev/null || CMAKE_ARGS="$${CMAKE_ARGS:--DGGML_NATIVE=OFF}" \
		$(BIN)/pip install --quiet --disable-pip-version-check --prefer-binary -c constraints-cpu.txt '$(LLAMA_CPP)' \
		|| echo "note: $(LLAMA_CPP) could not be installed; the real-server tests will skip"
	$(BIN)/pytest -q tests/real -m real

demo: setup
	$(BIN)/leancot demo --out runs/demo

bench: setup
	$(BIN)/python benchmarks/prune_quality.py
	$(BIN)/python benchmarks/segmentation_agreement.py
	$(BIN)/python benchmarks/grade_gold_solutions.py

clean:
	rm -rf $(VENV) runs build *.egg-info src/*.egg-info .pytest_cache
