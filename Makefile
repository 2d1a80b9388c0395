# Every target creates .venv and installs what it needs: a fresh machine with Python 3.11+ is enough.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PB_DIR := mindo_grpc/_pb
PROTOS := $(wildcard protos/mindo/v1/*.proto)
PB_STAMP := $(PB_DIR)/.generated
NODE_CLIENT := tests/e2e/node_client
NODE_STAMP := $(NODE_CLIENT)/node_modules/.package-lock.json

.PHONY: run test lint proto bench clean install test-fast

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) $(PB_STAMP)

# Generated gRPC code lives under mindo_grpc/_pb and is never edited by hand. The -I mapping
# makes the generated modules import each other as mindo_grpc._pb.mindo.v1.* .
$(PB_STAMP): $(STAMP) $(PROTOS)
	rm -rf $(PB_DIR)
	mkdir -p $(PB_DIR)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m grpc_tools.protoc -I$(PB_DIR)=protos \
	  --python_out=. --grpc_python_out=. --mypy_out=. --mypy_grpc_out=. \
	  $(patsubst protos/%,$(PB_DIR)/%,$(PROTOS))
	find $(PB_DIR) -type d -exec touch {}/__init__.py \;
	touch $(PB_STAMP)

proto: $(PB_STAMP)

run: install
	$(BIN)/mindo dev

# The cross-language check: a Node gRPC client (tests only), installed from its lock file.
$(NODE_STAMP): $(NODE_CLIENT)/package-lock.json
	cd $(NODE_CLIENT) && npm ci --silent --no-audit --no-fund

test: install lint $(NODE_STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: install
	$(BIN)/python -m pytest -q -x -p no:cacheprovider

# mypy --strict over every package and bench/ ([tool.mypy] files); the generated code under
# mindo_grpc/_pb is not checked, but its .pyi stubs type the code that calls it.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(PB_DIR) .mindo .pytest_cache .mypy_cache .ruff_cache $(NODE_CLIENT)/node_modules
