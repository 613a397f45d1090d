# Two commands for a newcomer: `make demo` and `make test`. Both set the machine up first.
SHELL := /bin/sh
VENV := .venv
BIN := $(VENV)/bin
# The tests and the demo start sshd and create a throwaway local user: root, or passwordless sudo.
AS_ROOT := $(shell [ "$$(id -u)" -eq 0 ] || echo "sudo -n --preserve-env=PATH")
PYTEST_ARGS ?=
# Most tests wait on sshd, daemons and timeouts rather than on a core: three workers halve the wall time
# on two cores. PYTEST_WORKERS=0 runs them in this process.
PYTEST_WORKERS ?= 3

.PHONY: setup setup-bench demo test lint typecheck chaos bench clean

setup:
	@sh scripts/setup.sh

setup-bench:
	@sh scripts/setup.sh --with-bench

demo: setup
	$(AS_ROOT) $(BIN)/python scripts/demo.py

lint: setup
	$(BIN)/ruff check src tests scripts bench
	$(BIN)/ruff format --check src tests scripts bench

typecheck: setup
	$(BIN)/mypy src bench

test: setup-bench lint typecheck
	$(AS_ROOT) $(BIN)/pytest -m "not chaos" -n $(PYTEST_WORKERS) --durations=25 $(PYTEST_ARGS)

chaos: setup
	$(AS_ROOT) $(BIN)/pytest -m chaos --durations=25 $(PYTEST_ARGS)

bench: setup-bench
	$(AS_ROOT) bench/.venv/bin/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) bench/.venv build dist src/*.egg-info .mypy_cache .ruff_cache
