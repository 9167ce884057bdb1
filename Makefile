# The two set-up commands of the README: `make demo` and `make test`.
# Both create .venv (once), install the project into it, then run.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_OUT ?= demo-out

.PHONY: demo test bench venv clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/twitchwatch analyze recordings/example-night.csv.gz --out $(DEMO_OUT) --force --tz Europe/London
	$(VENV)/bin/twitchwatch evaluate $(DEMO_OUT) recordings/example-night.truth.csv
	@echo "events: $(DEMO_OUT)/events.csv   summary: $(DEMO_OUT)/summary.json"

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
