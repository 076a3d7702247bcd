# The README's two commands: `make demo` and `make test`. Both install what they need first (once).
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install test test-fast demo bench clean system-deps

# Reinstalls only when the dependency files change.
$(STAMP): pyproject.toml constraints.txt scripts/install.sh
	bash scripts/install.sh test,eval,serve
	touch $(STAMP)

system-deps:
	@bash scripts/system_deps.sh

install: system-deps $(STAMP)

# The whole suite, slow end-to-end tests included (that is what CI runs).
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Skip the slow end-to-end tests while iterating.
test-fast: install
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

demo: install
	$(BIN)/valle demo

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
