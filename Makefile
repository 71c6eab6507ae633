VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export WHYLOGS_NO_ANALYTICS := True

.PHONY: install demo test dev lint serve clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,openvino]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m cvops.demo

test: $(STAMP)
	$(PY) -m pytest -q

dev: $(STAMP)
	mkdir -p .cvops/dagster_home
	DAGSTER_HOME=$${DAGSTER_HOME:-$(CURDIR)/.cvops/dagster_home} $(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pip-audit --skip-editable --progress-spinner off

clean:
	rm -rf $(VENV) .cvops
