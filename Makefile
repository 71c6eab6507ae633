VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export WHYLOGS_NO_ANALYTICS := True

.PHONY: install demo test dev daemon lint serve clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,openvino]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m cvops_assets.demo

# The UI test drives Debian's Chromium headless (never a browser download).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

# The Label Studio server pins its own Django stack: it gets a venv of its own, used by the tests that start a real
# server on loopback (tests/cvops/labels/label_studio_server.py).
LS_VENV := .venv-label-studio
LS_STAMP := $(LS_VENV)/.installed

$(LS_STAMP):
	test -x $(LS_VENV)/bin/python || python3 -m venv $(LS_VENV)
	$(LS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LS_VENV)/bin/python -m pip install --quiet label-studio==1.23.2
	touch $(LS_STAMP)

test: $(STAMP) $(LS_STAMP) $(CHROMIUM)
	$(PY) -m pytest -q

# DAGSTER_HOME gets deploy/dagster.yaml (the run queue) unless it has a dagster.yaml already.
PREPARE_HOME = $(PY) -c 'import os, pathlib; from cvops_assets.instance import prepare_dagster_home; prepare_dagster_home(pathlib.Path(os.environ["DAGSTER_HOME"]))'

# `make dev DEMO=<folder>` opens the instance a demo left behind; otherwise ./.cvops/dagster_home.
dev: $(STAMP)
	set -a; if [ -n "$(DEMO)" ]; then . "$(DEMO)/demo.env"; fi; set +a; \
	export DAGSTER_HOME=$${DAGSTER_HOME:-$(CURDIR)/.cvops/dagster_home}; $(PREPARE_HOME); \
	$(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1

# `make daemon LANDING=<folder> PRODUCTION=<folder>`: sensors and the run queue without the UI.
daemon: $(STAMP)
	test -n "$(LANDING)" && test -n "$(PRODUCTION)" || { echo "usage: make daemon LANDING=<folder> PRODUCTION=<folder>"; exit 2; }
	export CVOPS_LANDING="$(abspath $(LANDING))" CVOPS_PRODUCTION="$(abspath $(PRODUCTION))"; \
	export DAGSTER_HOME=$${DAGSTER_HOME:-$(CURDIR)/.cvops/dagster_home}; $(PREPARE_HOME); \
	$(VENV)/bin/dagster-daemon run -w workspace.yaml

serve: $(STAMP)
	$(PY) -m cvops.serving

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pip-audit --skip-editable --progress-spinner off

clean:
	rm -rf $(VENV) $(LS_VENV) .cvops
