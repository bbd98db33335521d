# yikatong — the two commands: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install run test test-fast bench lint demo-reset

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

## make run: embedded SQLite under var/, demo data on first start, web server + task worker on 127.0.0.1:8000
run: install
	$(BIN)/yikatong migrate --noinput
	$(BIN)/yikatong load-demo --if-empty
	$(BIN)/yikatong serve --host $(HOST) --port $(PORT)

## make test: the whole suite on SQLite, then on PostgreSQL when reachable (DATABASE_URL)
test: install
	bash scripts/run-tests.sh

## make test-fast: SQLite only, no browser
test-fast: install
	$(BIN)/pytest -q -m "not e2e"

## make bench: benchmarks under bench/ (BENCH_ROWS, BENCH_DB, BENCH_ONLY)
bench: install
	$(BIN)/python bench/run.py

lint: install
	$(BIN)/ruff check src tests bench

demo-reset:
	rm -f var/yikatong.sqlite3 var/yikatong.sqlite3-wal var/yikatong.sqlite3-shm
