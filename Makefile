# The two commands: `make demo` and `make test`. Each builds .venv when missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lowdim run all --profile quick

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/lowrank.py --quick
	$(BIN)/python bench/isac.py --quick
	$(BIN)/python bench/mri.py --quick
	$(BIN)/python bench/ecog.py --quick
	$(BIN)/python bench/geo.py --quick

clean:
	rm -rf $(VENV) runs .pytest_cache
