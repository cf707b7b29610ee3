# Two entry points (README quick start): `make demo` and `make test`.
VENV ?= .venv

.PHONY: setup demo test lint bench

setup:
	@bash scripts/setup.sh $(VENV)

demo: setup
	$(VENV)/bin/avcap demo

lint: setup
	$(VENV)/bin/ruff check avcap tests benchmarks

test: lint
	$(VENV)/bin/python -m pytest -q

bench: setup
	@for b in benchmarks/*.py; do echo "== $$b"; $(VENV)/bin/python $$b || exit 1; done
