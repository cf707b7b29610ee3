# Two entry points (README quick start): `make demo` and `make test`.
VENV ?= .venv

.PHONY: setup demo test test-deepspeed lint bench

setup:
	@bash scripts/setup.sh $(VENV)

demo: setup
	$(VENV)/bin/avcap demo

lint: setup
	$(VENV)/bin/ruff check avcap tests benchmarks

test: lint
	$(VENV)/bin/python -m pytest -q

# DeepSpeed ZeRO-2/3 on 2 CPU processes (tests/train/test_deepspeed_cpu.py): a source package whose
# first run compiles a small C++ op (about a minute), so CI runs it after the default suite
# (.ci/run) rather than inside `make test`.
test-deepspeed: setup
	$(VENV)/bin/python -m pip install -q -e ".[deepspeed]"
	$(VENV)/bin/python -m pytest -q -m slow tests/train/test_deepspeed_cpu.py

bench: setup
	@for b in benchmarks/*.py; do echo "== $$b"; $(VENV)/bin/python $$b || exit 1; done
