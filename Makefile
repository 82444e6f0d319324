# Quick start: `make demo`, `make test`. Everything runs from .venv, which
# the first target that needs it creates from requirements-dev.txt.
SHELL := /bin/bash
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export SACRED_BRAIN_CACHE ?= $(HOME)/.cache/sacred-brain-llm-gateway
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
MODULES := litellm_key litellm_key_info litellm_key_rotate litellm_user litellm_team
SCENARIOS ?= venv compose fleet database timer

.PHONY: demo test venv images lint syntax docs unit integration molecule benchmark clean

demo: venv
	scripts/demo.sh

test: lint syntax docs unit integration molecule

venv: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.txt
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

images: venv
	scripts/ensure-docker.sh
	PYTHON=$(BIN)/python tests/images/build.sh all

lint: venv
	yamllint --strict .
	ansible-lint --offline --profile production

syntax: venv
	for playbook in playbooks/*.yml; do \
	  ansible-playbook --syntax-check -i inventories/demo "$$playbook" || exit 1; \
	done

# Every module's documentation renders, examples included.
docs: venv
	for module in $(MODULES); do \
	  ANSIBLE_NOCOLOR=1 ansible-doc sacred_brain.llm_gateway.$$module | grep -q '^EXAMPLES:' || { echo "ansible-doc $$module: no EXAMPLES"; exit 1; }; \
	done

unit: venv
	pytest -q tests/unit

integration: venv
	pytest -q tests/integration

molecule: images
	for scenario in $(SCENARIOS); do molecule test -s $$scenario || exit 1; done

benchmark: images
	$(BIN)/python benchmarks/site_rerun.py
	$(BIN)/python benchmarks/rotate_keys.py

clean:
	-docker rm -f --volumes litellm-demo litellm-venv litellm-compose
	rm -rf $(VENV)
