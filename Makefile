# Two commands do all set-up: `make demo` and `make test`. Both create .venv when missing, installing
# the core and every first-party plugin (editable) with the pinned torch/torchvision pair in
# constraints.txt (users of the library bring their own torch; pyproject.toml only holds ranges).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.tryon-installed
PLUGIN_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))
EXTRAS ?= onnx,serve,ray,openvino,dev
PYTEST_ARGS ?=
DEMO_ARGS ?=

.PHONY: demo test lint install clean-venv bench

$(STAMP): pyproject.toml constraints.txt $(wildcard plugins/*/pyproject.toml)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt \
		-e ".[$(EXTRAS)]" $(addprefix -e ,$(PLUGIN_DIRS))
	@touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

demo: $(STAMP)
	$(BIN)/tryon demo wuton $(DEMO_ARGS)

bench: $(STAMP)
	$(BIN)/tryon bench $(BENCH_ARGS)

clean-venv:
	rm -rf $(VENV)
