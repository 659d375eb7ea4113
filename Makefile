# The two commands of the README: `make demo` and `make test`.
# Both create (or reuse) .venv and install the workspace into it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The workspace: the core plus each integration's own distribution (one line each).
WORKSPACE_PACKAGES := -e .[test,examples] -e integrations/django[typing] -e integrations/flask[test]
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test install clean bench typecheck

$(STAMP): pyproject.toml Makefile $(wildcard integrations/*/pyproject.toml)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "focus-middleware needs Python 3.11 or newer (set PYTHON=...)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(WORKSPACE_PACKAGES)
	@touch $(STAMP)

install: $(STAMP)

# make demo [FRAMEWORK=fastapi|flask|django]: the emulator and an example app.
FRAMEWORK ?=
demo: $(STAMP)
	$(BIN)/focus demo $(if $(FRAMEWORK),--framework $(FRAMEWORK))

test: $(STAMP)
	$(BIN)/python -m mypy
	cd integrations/django && ../../$(BIN)/python -m mypy
	cd integrations/flask && ../../$(BIN)/python -m mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	# The ASGI suite once more on anyio's other backend (trio).
	FOCUS_TEST_ANYIO_BACKEND=trio $(BIN)/python -m pytest tests/asgi -q $(PYTEST_ARGS)

# make bench [BENCH_ARGS="--quick"]: issue 22's goals; fastapi-clerk-auth (pip install -e .[bench]) and wrk
# (apt-get install wrk) add their rows when present. python -m bench --help lists the options.
BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# make bench-compare [COMPARE_ARGS="--instructions --profile"]: the hot path against 58781e0 (issue 19).
.PHONY: bench-compare
bench-compare: $(STAMP)
	$(BIN)/python -m bench.compare $(COMPARE_ARGS)

clean:
	rm -rf $(VENV)
