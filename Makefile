# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
# Both bootstrap .venv from requirements.lock (the full pinned closure) on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/.dagster_home

.PHONY: run test lint ui bench sample clean-data

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-virtualenv --no-compile -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	# Bytecode for every package and the project, on both cores, once: Python cannot be relied on to write it
	# on import (PYTHONDONTWRITEBYTECODE is set on some machines, this one included), and without it every
	# process, each test worker and `contacts run` included, compiles Dagster from source again. pip's own
	# compile step is one core. A file that does not compile (test templates in some packages) is not ours
	# to fix, hence `|| true`; an error in the project shows at import, in the tests.
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib assets pipelines bench > /dev/null || true
	touch $(STAMP)

# Exit status 3 means a file failed while the run went through (the bundled samples include one on
# purpose); the summary names it, so `make run` does not call it an error.
run: $(STAMP)
	$(BIN)/contacts run --samples-if-empty || [ $$? -eq 3 ]

# Three workers on two cores: the tests are independent (each has its own tmp_path, DAGSTER_HOME and port), and
# part of the suite waits (processes starting and being killed, servers, locks), which the third worker fills:
# 240 s against 286 s with two, same hour. Lint first: it takes seconds.
test: lint
	$(BIN)/python -m pytest -q -n 3 --dist worksteal

# ruff: pyflakes, pycodestyle, isort, pyupgrade, bugbear, and the formatter (pyproject.toml, [tool.ruff]).
# sqlfluff: the SQL in sql/, DuckDB dialect, lower case, placeholders rendered as the renderer does
# (pipelines/warehouse/render.py; pyproject.toml, [tool.sqlfluff]). About 4 s in one process; two gain nothing.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint sql/

ui: $(STAMP)
	$(BIN)/contacts prepare-home
	# Started from inside DAGSTER_HOME so that dagster dev does not warn about the dagster.yaml beside workspace.yaml.
	# The report server beside it serves data/reports, where the list_health_report asset's links point; it stops
	# with the UI.
	$(BIN)/contacts serve-reports & trap 'kill $$! 2>/dev/null' EXIT; \
	cd $(DAGSTER_HOME) && $(CURDIR)/$(BIN)/dagster dev -w $(CURDIR)/workspace.yaml -h 127.0.0.1 -p 3000

# The peer of `make bench BENCH_MODE=compare` (bench/peer.py) runs in an environment of its own: pandas stays out
# of the pipeline's, where pandera would import it in every process.
PEER_VENV := .venv-peer
PEER_STAMP := $(PEER_VENV)/.installed

$(PEER_STAMP): bench/requirements-peer.lock
	$(PYTHON) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PEER_VENV)/bin/python -m pip install --quiet --require-virtualenv -r bench/requirements-peer.lock
	touch $(PEER_STAMP)

# make bench [BENCH_MODE=contacts|pipeline|incremental|daily|emails|compare] [BENCH_CONTACTS=N] [BENCH_EVENTS=M] [BENCH_FILES=K]
# [BENCH_MIX=ascii|international|SHARE] [BENCH_ARGS=...], or from the environment; see bench/README.md.
# BENCH_MIX: the share of new contact addresses that are not ASCII; ascii is 0.01 (the default), international 1/3.
bench: $(STAMP) $(PEER_STAMP)
	$(BIN)/python -m bench.run --mode $(or $(BENCH_MODE),contacts) $(if $(BENCH_CONTACTS),--contacts $(BENCH_CONTACTS)) $(if $(BENCH_EVENTS),--events $(BENCH_EVENTS)) $(if $(BENCH_FILES),--files $(BENCH_FILES)) $(if $(BENCH_MIX),--international $(BENCH_MIX)) $(BENCH_ARGS)

sample: $(STAMP)
	$(BIN)/contacts sample

# Removes the warehouse, exports and the Dagster run history; never the inbox.
# Refuses while `make ui` (or a daemon) uses the instance: deleting it under them breaks them.
clean-data:
	$(PYTHON) pipelines/instance_guard.py $(DAGSTER_HOME)
	rm -rf data/warehouse.duckdb data/warehouse.duckdb.wal data/exports data/reports .dagster_home
