# Two commands on a fresh machine: `make serve` (the main job) and `make test`.
# Both create .venv and install the workspace on first use.
PYTHON ?= python3
VENV ?= .venv
# CPU build of PyTorch. Override e.g. `make TORCH=torch` to let pip pick (a CUDA build on x86-64 Linux).
TORCH ?= torch==2.13.0
CONFIG ?= configs/local.yaml
ROUTERS ?= mf random
PORT ?= 6060
PLUGINS := $(sort $(dir $(wildcard plugins/*/pyproject.toml)))
# Each plugin editable, with its [train], [distill] and [torch] extras where it has them (the dev workspace has everything).
empty :=
space := $(empty) $(empty)
comma := ,
extras = $(subst $(space),$(comma),$(strip $(foreach x,train distill torch,$(if $(shell grep -s '^$(x) = ' $(1)/pyproject.toml),$(x)))))
EDITABLE := $(foreach p,$(PLUGINS:/=),-e "$(p)$(if $(call extras,$(p)),[$(call extras,$(p))])")
STAMP := $(VENV)/.installed

.PHONY: install serve test lint lock bench clean

install: $(STAMP)

$(STAMP): pyproject.toml core/pyproject.toml $(addsuffix pyproject.toml,$(PLUGINS))
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade "pip>=25.1"
	$(VENV)/bin/python -m pip install -q "$(TORCH)"
	$(VENV)/bin/python -m pip install -q -e "core[all]" $(EDITABLE) --group dev
	touch $(STAMP)

serve: $(STAMP)
	$(VENV)/bin/routellm serve --config $(CONFIG) --routers $(ROUTERS) --port $(PORT)

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check core plugins tests benchmarks
	$(VENV)/bin/pyright

# Refresh uv.lock (the workspace's resolved dependencies, for `uv sync`); `make install` keeps using pip.
lock: $(STAMP)
	$(VENV)/bin/uv lock

clean:
	rm -rf $(VENV)
