# nlpclf: `make test` and `make train` each install what they need first.
PYTHON ?= python3
VENV ?= .venv
# CPU wheel by default (seconds to install); e.g. TORCH_SPEC="torch==2.13.0 --index-url ..." for CUDA
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
ARGS ?=
# make bench MODEL=resnet (one group; see python -m benchmarks.run --help), QUICK=1 for minutes
MODEL ?=
QUICK ?=

.PHONY: install test train bench lint format tensorboard clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH_SPEC)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

test: install
	$(BIN)/pytest $(ARGS)

train: install
	$(BIN)/python -m nlpclf.train $(ARGS)

# the benchmark suite on the real corpus (NLPCLF_DATA_DIR): results JSON + the README table
bench: install
	$(BIN)/python -m benchmarks.run $(if $(MODEL),--only $(MODEL)) $(if $(QUICK),--quick) $(ARGS)

lint: install
	$(BIN)/ruff check src tests benchmarks notebooks
	$(BIN)/ruff format --check src tests benchmarks notebooks

format: install
	$(BIN)/ruff check --fix src tests benchmarks notebooks
	$(BIN)/ruff format src tests benchmarks notebooks

tensorboard: install
	$(BIN)/tensorboard --logdir $${NLPCLF_LOG_DIR:-logs}

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
