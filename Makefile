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
MODULES := litellm_key litellm_key_info litellm_key_rotate litellm_user litellm_team litellm_host_state
# scaleout: PostgreSQL, Redis and HAProxy on one instance, two gateways on
# them (shared keys and limits, outages, rolling updates behind the balancer).
SCENARIOS ?= venv compose scaleout database timer
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
CHECK_JOBS ?= 2

# The support matrix (README.md): ansible-core 2.16 to 2.21 on the controller.
# The stages of make check and make test run on the ansible-core that
# requirements-dev.txt pins (2.19.14, the newest for .venv's Python 3.11);
# make test adds the fast tier on the oldest and on the newest, each in a venv
# of its own, built once and cached under $SACRED_BRAIN_CACHE
# (scripts/core-venv.sh):
#   matrix-oldest  ansible-core 2.16.0 on .venv's Python: syntax check of every
#                  playbook, the unit tests that depend on ansible-core, the
#                  module integration tests against the stand-in, and
#                  site.yml --check --diff against a fresh Debian 13 container
#                  (scripts/matrix-site-check.sh)
#   matrix-newest  ansible-core 2.21.5 on Python 3.13 (2.20 and later need 3.12
#                  or newer; pyenv's on the build machines): syntax check, the
#                  unit tests of the modules, module_utils and filters (LiteLLM,
#                  which the stand-in needs, is not installed for that Python),
#                  site.yml --check --diff as above
ANSIBLE_CORE_OLDEST := 2.16.0
ANSIBLE_CORE_NEWEST := 2.21.5
ANSIBLE_CORE_NEWEST_PYTHON := 3.13
# The tests whose verdict depends on ansible-core (modules, module_utils,
# filters, templates and playbooks rendered by it); the stand-in's and the
# scripts' tests run on .venv's ansible-core only.
MATRIX_OLDEST_TESTS := tests/unit/plugins tests/unit/filter tests/unit/templates tests/unit/playbooks \
                       tests/integration/test_modules.py
MATRIX_NEWEST_TESTS := tests/unit/plugins tests/unit/filter

CHECK_STAGES := lint syntax docs unit integration-standin tarball-check
# make test runs the integration tests against the real admin API only: the
# stand-in run of make check proves nothing more (the differential test keeps
# the stand-in honest against the real API).
TEST_STAGES := $(filter-out integration-standin,$(CHECK_STAGES)) matrix-oldest matrix-newest sanity units ee runner \
  integration images $(addprefix molecule-,$(SCENARIOS))
# The order in which the lanes pick stages up: the longest first.
TEST_LONGEST := images $(filter molecule-scaleout molecule-database,$(addprefix molecule-,$(SCENARIOS))) integration
TEST_ORDER := $(TEST_LONGEST) $(filter-out $(TEST_LONGEST),$(TEST_STAGES))

.PHONY: deps demo check test venv images lint syntax docs unit integration-standin integration molecule \
        benchmark clean stages-check stages-test stages-test-lanes matrix tarball-check sanity units ee runner

# The system packages (scripts/deps.sh holds the list); run as root.
deps:
	scripts/deps.sh

demo:
	@scripts/preflight.sh demo
	@$(MAKE) --no-print-directory venv
	scripts/demo.sh

# $(1): the tier (check or test), $(2): its stages, $(3): how make runs them.
# Stages go on after a failed one (make -k) so that the table at the end
# shows every stage's time; the exit status is still a failure.
define run_tier
	@scripts/preflight.sh $(1)
	@$(MAKE) --no-print-directory venv
	@scripts/stage.sh reset
	@$(MAKE) --no-print-directory -k $(3) stages-$(1); rc=$$?; \
	  scripts/stage.sh summary $(2) || rc=1; exit $$rc
endef

# The fast tier: no Docker, no Molecule, no real proxy. Two lanes: lint and
# the syntax and docs checks beside the tests.
check:
	$(call run_tier,check,$(CHECK_STAGES),-j$(CHECK_JOBS) --output-sync=target)

# Everything CI runs, in TEST_JOBS parallel lanes; each stage's output is
# printed in one piece when it ends (--output-sync).
test:
	$(call run_tier,test,$(TEST_STAGES),-j$(TEST_JOBS) --output-sync=target)

stages-check: $(addprefix stage-,$(CHECK_STAGES))
# The images first, on their own (0.2 s when they are there): the scenarios and
# the matrix's site.yml --check start containers of them. Make's lanes would not
# wait for them (an order-only prerequisite left the longest stages to the end);
# the rest then runs in the lanes of make test's -j, longest first.
stages-test:
	@rc=0; $(MAKE) --no-print-directory stage-images || rc=1; \
	  $(MAKE) --no-print-directory -k stages-test-lanes || rc=1; exit $$rc
stages-test-lanes: $(addprefix stage-,$(filter-out images,$(TEST_ORDER)))
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
	antsibull-changelog lint

# Every playbook, in one ansible-playbook run.
syntax: venv
	ansible-playbook --syntax-check -i inventories/demo site.yml playbooks/*.yml

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

# The fast tier on the oldest and the newest ansible-core (see the top).
matrix: matrix-oldest matrix-newest
matrix-oldest: venv
	@core=$$(scripts/core-venv.sh $(ANSIBLE_CORE_OLDEST)) && \
	  export PATH=$$core/bin:$$PATH SACRED_BRAIN_TOOLS_SITE=$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') && \
	  python -c 'import ansible, sys; print("ansible-core", ansible.__version__, "on Python", sys.version.split()[0]); sys.exit(ansible.__version__ != "$(ANSIBLE_CORE_OLDEST)")' && \
	  ansible-playbook --syntax-check -i inventories/demo site.yml playbooks/*.yml >/dev/null && echo "syntax check: ok" && \
	  env -u LITELLM_TEST_URL -u LITELLM_TEST_MASTER_KEY LITELLM_REAL_API=0 \
	    python -m pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) $(MATRIX_OLDEST_TESTS) && \
	  scripts/matrix-site-check.sh
matrix-newest: venv
	@core=$$(scripts/core-venv.sh $(ANSIBLE_CORE_NEWEST) $(ANSIBLE_CORE_NEWEST_PYTHON)) && \
	  export PATH=$$core/bin:$$PATH && \
	  python -c 'import ansible, sys; print("ansible-core", ansible.__version__, "on Python", sys.version.split()[0]); sys.exit(ansible.__version__ != "$(ANSIBLE_CORE_NEWEST)")' && \
	  ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/.collections:$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
	    ansible-playbook --syntax-check -i inventories/demo site.yml playbooks/*.yml >/dev/null && echo "syntax check: ok" && \
	  python -m pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) $(MATRIX_NEWEST_TESTS) && \
	  ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/.collections:$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
	    scripts/matrix-site-check.sh

# The built tarball holds what ships and nothing development-only.
tarball-check: venv
	$(BIN)/python scripts/tarball_check.py

# ansible-test on the collection as it ships (scripts/ansible-test.sh).
sanity: venv
	scripts/ansible-test.sh sanity
units: venv
	scripts/ansible-test.sh units

# The execution environment's build context (building the image needs a base
# image from a registry: docs/awx.md).
ee: venv
	rm -rf .cache/ee
	ansible-builder create -f meta/execution-environment.yml -c .cache/ee --output-filename Containerfile -v 1
	@test -s .cache/ee/Containerfile && ls .cache/ee/_build

# rotate_keys.yml through ansible-runner against the stand-in; the runner's
# artifacts must not hold a key (scripts/runner_check.py).
runner: venv
	$(BIN)/python scripts/runner_check.py

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
