# Berth: `make up` runs the whole stack on this machine, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= berth.yml
PACKAGES := services/common services/db-migrations services/core services/registry services/jobservice services/log deploy
PYPROJECTS := $(addsuffix /pyproject.toml,$(PACKAGES))
PYTEST_ARGS ?=

.PHONY: up down status logs prepare prepare-compose test test-unit test-integration test-e2e lint bench clean-venv

$(VENV)/.installed: $(PYPROJECTS) tests/requirements.txt
	deploy/scripts/install-system-packages runtime
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(addprefix -e ./,$(PACKAGES)) -r tests/requirements.txt
	touch $@

$(VENV)/.test-packages: deploy/scripts/install-system-packages
	deploy/scripts/install-system-packages test
	touch $@

$(CONFIG):
	cp berth.yml.example $(CONFIG)
	@echo "created $(CONFIG) from berth.yml.example"

up: $(VENV)/.installed $(CONFIG)
	$(BIN)/berthctl --config $(CONFIG) up

down: $(VENV)/.installed
	$(BIN)/berthctl --config $(CONFIG) down

status: $(VENV)/.installed
	$(BIN)/berthctl --config $(CONFIG) status

logs: $(VENV)/.installed
	$(BIN)/berthctl --config $(CONFIG) logs

prepare: $(VENV)/.installed $(CONFIG)
	$(BIN)/berthctl --config $(CONFIG) prepare

prepare-compose: $(VENV)/.installed $(CONFIG)
	$(BIN)/berthctl --config $(CONFIG) prepare --compose deploy/generated

test: $(VENV)/.installed $(VENV)/.test-packages
	$(BIN)/ruff check services deploy tests bench
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-unit test-integration test-e2e: $(VENV)/.installed $(VENV)/.test-packages
	$(BIN)/python -m pytest tests/$(subst test-,,$@) $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check services deploy tests bench

bench: $(VENV)/.installed $(VENV)/.test-packages
	$(BIN)/python -m bench $(BENCH_ARGS)

clean-venv:
	rm -rf $(VENV)
