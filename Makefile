# The README's two commands are `make demo` and `make test`; both set everything up first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.cxml-installed

.PHONY: setup demo test lint bench clean

$(STAMP): pyproject.toml
	@# From Debian, when missing: Chromium for the page's browser test, a CJK font so it shows
	@# Japanese, wrk for the HTTP benchmark, Java and the JDBC drivers for --engine spark (no
	@# browser, font, jar or JDK is downloaded at run time)
	command -v chromium >/dev/null && command -v wrk >/dev/null && command -v java >/dev/null \
		&& test -f /usr/share/java/postgresql.jar && test -f /usr/share/java/xerial-sqlite-jdbc.jar \
		&& test -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium wrk \
			openjdk-17-jre-headless libpostgresql-jdbc-java libxerial-sqlite-jdbc-java \
			fonts-noto-cjk >/dev/null; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/cxml demo

test: setup
	@# two workers (pytest-xdist); tests that read one served world share a worker (tests/conftest.py)
	$(BIN)/python -m pytest -n 2 --dist loadgroup

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: setup
	$(BIN)/python -m benchmarks.ingest --rows 1000000
	$(BIN)/python -m benchmarks.metrics --rows 1000000
	$(BIN)/python -m benchmarks.text
	$(BIN)/python -m benchmarks.intents
	$(BIN)/python -m benchmarks.score_speed --rows 1000000
	$(BIN)/python -m benchmarks.serve

clean:
	rm -rf $(VENV) demo cxml.db cxml.db-wal cxml.db-shm mlflow.db bench-data
