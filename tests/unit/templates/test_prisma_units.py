"""The Prisma wiring of a native gateway, rendered by Ansible itself on the
controller from the roles' own defaults and vars: the proxy's unit, the
migration unit and the venv's requirements, with Prisma on (online and
offline) and off. Fast, without a host."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars_files:
    - {root}/roles/litellm/defaults/main.yml
    - {root}/roles/litellm/vars/main.yml
    - {root}/roles/litellm_database/defaults/main.yml
    - {root}/roles/litellm_venv/defaults/main.yml
    - {root}/roles/litellm_venv/vars/main.yml
    - {root}/roles/litellm_service/defaults/main.yml
    - {root}/roles/litellm_service/vars/main.yml
  tasks:
    - ansible.builtin.template:
        src: {root}/roles/litellm_service/templates/litellm.service.j2
        dest: "{{{{ out }}}}/litellm.service"
        mode: "0644"
    - ansible.builtin.template:
        src: {root}/roles/litellm_service/templates/litellm-migrate.service.j2
        dest: "{{{{ out }}}}/litellm-migrate.service"
        mode: "0644"
    - ansible.builtin.copy:
        content: "{{{{ {{'requirements': _litellm_venv_requirements, 'enabled': _litellm_prisma_enabled | bool}} | to_json }}}}"
        dest: "{{{{ out }}}}/facts.json"
        mode: "0644"
"""
NATIVE_DB = {"litellm_deploy_mode": "venv", "litellm_database_mode": "native", "litellm_database_connect_proxy": True}


def render(tmp_path, **extra_vars):
    playbook = tmp_path / "render.yml"
    playbook.write_text(PLAYBOOK.format(root=ROOT))
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    result = subprocess.run(
        ["ansible-playbook", "-i", "localhost,", str(playbook),
         "-e", json.dumps({"out": str(out), "ansible_python_interpreter": sys.executable, **extra_vars})],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    facts = json.loads((out / "facts.json").read_text())
    return (out / "litellm.service").read_text(), (out / "litellm-migrate.service").read_text(), facts


def directives(unit):
    return [line for line in unit.splitlines() if line and not line.startswith("#")]


def test_native_proxy_with_database_migrates_first(tmp_path):
    proxy, migrate, facts = render(tmp_path, **NATIVE_DB)
    assert facts["enabled"] is True
    # F18: with a database the proxy refuses to start without prisma.
    assert facts["requirements"] == ["litellm[proxy]==1.108.7", "prisma==0.11.0"]

    lines = directives(proxy)
    assert "After=network-online.target litellm-migrate.service" in lines
    assert "Wants=network-online.target litellm-migrate.service" in lines
    assert "Environment=DISABLE_SCHEMA_UPDATE=true" in lines
    assert "Environment=PRISMA_BINARY_CACHE_DIR=/opt/sacred-brain/prisma" in lines
    assert not any("PRISMA_OFFLINE_MODE" in line for line in lines)

    lines = directives(migrate)
    assert "Type=oneshot" in lines and "RemainAfterExit=yes" in lines
    assert "After=network-online.target postgresql.service" in lines
    assert "User=litellm" in lines
    assert "EnvironmentFile=/etc/default/litellm" in lines
    assert "Environment=HOME=/var/lib/litellm PYTHONUNBUFFERED=1 DISABLE_SCHEMA_UPDATE=false" in lines
    assert ('ExecStart=/opt/sacred-brain/.venv/bin/litellm --config "/opt/sacred-brain/ops/litellm/config.yaml" '
            "--skip_server_startup") in lines
    assert "TimeoutStartSec=900" in lines
    assert "ProtectSystem=strict" in lines


def test_offline_prisma_uses_the_supplied_cache(tmp_path):
    proxy, migrate, _unused = render(tmp_path, **{**NATIVE_DB, "litellm_database_mode": "external"},
                                     litellm_prisma_engines_archive="/srv/prisma-cache.tar.gz")
    for unit in (proxy, migrate):
        lines = directives(unit)
        assert "Environment=PRISMA_OFFLINE_MODE=true" in lines
        assert "Environment=PRISMA_CLI_PATH=/opt/sacred-brain/prisma/node_modules/.bin/prisma" in lines
        assert "Environment=PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING=1" in lines
    # An external database has no local postgresql.service to wait for.
    assert "After=network-online.target" in directives(migrate)


def test_the_sql_method_and_the_archives_engines(tmp_path):
    proxy, migrate, _marker = render(tmp_path, **NATIVE_DB, litellm_database_migrate_method="sql",
                                     litellm_prisma_engines_archive="/srv/prisma/prisma-engines-wasm.tar.gz",
                                     litellm_prisma_query_engine_binary="/opt/sacred-brain/prisma/wasm-engine/query-engine",
                                     litellm_prisma_schema_engine_binary="/opt/sacred-brain/prisma/wasm-engine/schema-engine-stub")
    for unit in (proxy, migrate):
        lines = directives(unit)
        assert "Environment=PRISMA_QUERY_ENGINE_BINARY=/opt/sacred-brain/prisma/wasm-engine/query-engine" in lines
        assert "Environment=PRISMA_SCHEMA_ENGINE_BINARY=/opt/sacred-brain/prisma/wasm-engine/schema-engine-stub" in lines
    exec_start = [line for line in directives(migrate) if line.startswith("ExecStart=")]
    assert exec_start == ["ExecStart=/opt/sacred-brain/.venv/bin/python \"/usr/local/sbin/litellm-migrate-sql\""]
    assert "Environment=DISABLE_SCHEMA_UPDATE=true" in directives(proxy)
    # Prisma's own engines when none is named.
    (tmp_path / "default").mkdir()
    proxy, migrate, _marker = render(tmp_path / "default", **NATIVE_DB)
    assert "PRISMA_QUERY_ENGINE_BINARY" not in proxy + migrate and "PRISMA_SCHEMA_ENGINE_BINARY" not in proxy + migrate


def test_the_serving_proxy_may_migrate_at_start_when_asked(tmp_path):
    proxy, _unused, _unused = render(tmp_path, **NATIVE_DB, litellm_service_schema_update_at_start=True)
    assert "Environment=DISABLE_SCHEMA_UPDATE=false" in directives(proxy)


@pytest.mark.parametrize("overrides", [
    {"litellm_database_connect_proxy": False},
    {"litellm_database_mode": "none"},
    {"litellm_deploy_mode": "compose", "litellm_database_mode": "compose"},
], ids=["not-connected", "no-database", "compose"])
def test_no_prisma_setup_without_a_native_proxy_on_a_database(tmp_path, overrides):
    proxy, _unused, facts = render(tmp_path, **{**NATIVE_DB, **overrides})
    assert facts["enabled"] is False
    # The package still goes into the venv (LiteLLM's auth error handlers import
    # it: without it a missing key gets 500 text/plain, not 401), ungenerated.
    assert facts["requirements"] == ["litellm[proxy]==1.108.7", "prisma==0.11.0"]
    if overrides.get("litellm_deploy_mode") != "compose":
        assert "litellm-migrate" not in proxy
        assert "PRISMA" not in proxy and "DISABLE_SCHEMA_UPDATE" not in proxy


def test_prisma_is_pinned_to_what_litellm_pins():
    """F14: LiteLLM 1.108.7's Prisma wrapper is written against prisma-client-py
    0.11.0 (LiteLLM's own requirements pin prisma==0.11.0)."""
    defaults = yaml.safe_load((ROOT / "roles" / "litellm_venv" / "defaults" / "main.yml").read_text())
    assert defaults["litellm_venv_version"] == "1.108.7"
    assert defaults["litellm_venv_prisma_requirement"] == "prisma==0.11.0"
    spec = yaml.safe_load((ROOT / "roles" / "litellm_venv" / "meta" / "argument_specs.yml").read_text())
    description = " ".join(spec["argument_specs"]["main"]["options"]["litellm_venv_prisma_requirement"]["description"])
    # The CLI and engine build that prisma 0.11.0 runs (its prisma/_config.py).
    assert "CLI 5.4.2" in description and "ac9d7041ed77bcc8a8dbd2ab6616b39013829574" in description


def test_the_test_wheelhouse_holds_the_pinned_prisma():
    """The scenarios install offline from tests/images/build.sh's wheelhouse."""
    defaults = yaml.safe_load((ROOT / "roles" / "litellm_venv" / "defaults" / "main.yml").read_text())
    build = (ROOT / "tests" / "images" / "build.sh").read_text()
    assert f'PRISMA_REQUIREMENT="{defaults["litellm_venv_prisma_requirement"]}"' in build


def test_the_wheelhouse_playbook_defaults_to_the_pinned_prisma():
    """hostvars do not hold role defaults: the playbook's fallback must be the role's pin."""
    defaults = yaml.safe_load((ROOT / "roles" / "litellm_venv" / "defaults" / "main.yml").read_text())
    playbook = (ROOT / "playbooks" / "wheelhouse.yml").read_text()
    assert f"default('{defaults['litellm_venv_prisma_requirement']}')" in playbook
