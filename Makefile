# Quick start: `make demo`, `make test` (`make deps` first on a fresh machine,
# `make check` for the fast tier). Everything runs from .venv, which the first
# target that needs it creates from requirements-dev.txt. docs/development.md
# describes the tiers and what each stage costs.
SHELL := /bin/bash
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export SACRED_BRAIN_CACHE ?= $(HOME)/.cache/sacred-brain-llm-gateway
# The database scenario verifies the Prisma archive it installs (tests/images/build.sh prisma).
export SACRED_BRAIN_PRISMA_ARCHIVE_SHA256 ?= $(shell cat $(SACRED_BRAIN_CACHE)/prisma-engines-wasm.tar.gz.sha256 2>/dev/null)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export STAGE_TIMES ?= $(CURDIR)/.cache/stage-times
MODULES := litellm_key litellm_key_info litellm_key_rotate litellm_user litellm_team
SCENARIOS ?= venv compose fleet database timer
# pytest-xdist workers for the tests that are safe in parallel (each test has
# its own tmp_path and its own stand-in on a free port).
PYTEST_WORKERS ?= auto
# When set, every Molecule run (and the image build) holds this lock: scenarios
# share container names, so two checkouts on one machine must take turns. A
# scenario takes the lock shared and its own $(MOLECULE_LOCK).<scenario>
# exclusively: different scenarios (no container name in common) run side by
# side, the same scenario of two checkouts does not.
MOLECULE_LOCK ?=
LOCKED := $(if $(MOLECULE_LOCK),flock $(MOLECULE_LOCK))
SCENARIO_LOCKED = $(if $(MOLECULE_LOCK),flock -s $(MOLECULE_LOCK) flock $(MOLECULE_LOCK).$(1))
# make test runs its stages in this many lanes (make -j). The machine's CPUs
# are the limit, not the lanes: Molecule's verify steps wait on containers
# half of the time, which another lane's work fills.
TEST_JOBS ?= 3

CHECK_STAGES := lint syntax docs unit integration-standin
# make test runs the integration tests against the real admin API only: the
# stand-in run of make check proves nothing more (the differential test keeps
# the stand-in honest against the real API).
TEST_STAGES := $(filter-out integration-standin,$(CHECK_STAGES)) integration images $(addprefix molecule-,$(SCENARIOS))
# The order in which the lanes pick stages up: the longest first.
TEST_ORDER := images $(filter molecule-fleet molecule-database,$(addprefix molecule-,$(SCENARIOS))) \
              $(filter-out images molecule-fleet molecule-database,$(TEST_STAGES))

.PHONY: deps demo check test venv images lint syntax docs unit integration-standin integration molecule \
        benchmark clean stages-check stages-test

# The system packages (scripts/deps.sh holds the list); run as root.
deps:
	scripts/deps.sh

demo:
	@scripts/preflight.sh demo
	@$(MAKE) --no-print-directory venv
	scripts/demo.sh

# The fast tier: no Docker, no Molecule, no real proxy.
check:
	@scripts/preflight.sh check
	@$(MAKE) --no-print-directory venv
	@scripts/stage.sh reset
	@$(MAKE) --no-print-directory -k stages-check; rc=$$?; \
	  scripts/stage.sh summary $(CHECK_STAGES) || rc=1; exit $$rc

# Everything CI runs, in TEST_JOBS parallel lanes; each stage's output is
# printed in one piece when it ends (--output-sync). Stages go on after a
# failed one (make -k) so that the table at the end shows every stage's time;
# the exit status is still a failure.
test:
	@scripts/preflight.sh test
	@$(MAKE) --no-print-directory venv
	@scripts/stage.sh reset
	@$(MAKE) --no-print-directory -k -j$(TEST_JOBS) --output-sync=target stages-test; rc=$$?; \
	  scripts/stage.sh summary $(TEST_STAGES) || rc=1; exit $$rc

stages-check: $(addprefix stage-,$(CHECK_STAGES))
stages-test: $(addprefix stage-,$(TEST_ORDER))
# Every scenario runs on the images; the rest of make test does not need them.
$(addprefix stage-molecule-,$(SCENARIOS)): | stage-images
stage-%:
	@scripts/stage.sh run $* $(MAKE) --no-print-directory $*

venv: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.txt
	@scripts/preflight.sh venv
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

images: venv
	@scripts/preflight.sh images
	scripts/ensure-docker.sh
	PYTHON=$(BIN)/python $(LOCKED) tests/images/build.sh all

lint: venv
	yamllint --strict .
	ansible-lint --offline --profile production

# Every playbook, in one ansible-playbook run.
syntax: venv
	ansible-playbook --syntax-check -i inventories/demo playbooks/*.yml

# Every module's documentation renders, examples included (one ansible-doc run).
docs: venv
	@echo "ansible-doc $(MODULES)"; \
	  out=$$(ANSIBLE_NOCOLOR=1 ansible-doc $(addprefix sacred_brain.llm_gateway.,$(MODULES))) || exit 1; \
	  found=$$(grep -c '^EXAMPLES:' <<<"$$out"); \
	  [ "$$found" = $(words $(MODULES)) ] || { echo "ansible-doc: $$found of $(words $(MODULES)) modules have EXAMPLES"; exit 1; }

unit: venv
	pytest -q -n $(PYTEST_WORKERS) tests/unit

# The integration tests against the admin-API stand-in (a fresh one per test).
# loadscope: a module's tests stay on one worker, so module-scoped fixtures
# (the playbook stories of test_playbooks.py) are built once, not per worker.
integration-standin: venv
	env -u LITELLM_TEST_URL -u LITELLM_TEST_MASTER_KEY LITELLM_REAL_API=0 \
	  pytest -q -n $(PYTEST_WORKERS) --dist loadscope tests/integration

# The same tests against LiteLLM's real admin API on PostgreSQL, with a second
# real proxy whose config sets key policies and a third without a database
# (tests/realapi/README.md).
integration: venv
	LITELLM_POLICY_CONFIG=tests/realapi/policy-config.yaml LITELLM_NODB=1 \
	  scripts/real-admin-api.sh exec -- pytest -q tests/integration

molecule: images
	for scenario in $(SCENARIOS); do $(call SCENARIO_LOCKED,$$scenario) molecule test -s $$scenario || exit 1; done

# One scenario (make molecule-venv); make test runs each as its own stage.
molecule-%: venv
	$(call SCENARIO_LOCKED,$*) molecule test -s $*

benchmark: images
	$(BIN)/python benchmarks/site_rerun.py
	$(BIN)/python benchmarks/rotate_keys.py

clean:
	-docker rm -f --volumes litellm-demo litellm-venv litellm-compose
	rm -rf $(VENV)
