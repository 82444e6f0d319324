"""The rotation timer's preflight refuses settings that would expose a secret
or let another user stop the rotation (F17, F24): run by ansible-playbook on
localhost, it fails before anything is written, naming the variable."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: sacred_brain.llm_gateway.litellm_key_rotation_timer
        tasks_from: preflight
"""


def run_preflight(tmp_path, **extra_vars):
    playbook = tmp_path / "preflight.yml"
    playbook.write_text(PLAYBOOK)
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    variables = {"ansible_python_interpreter": sys.executable, "litellm_key_rotation_timer_inventory": "/etc/inventory",
                 **extra_vars}
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(playbook),
         "-e", json.dumps(variables)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False)


@pytest.mark.parametrize("extra_vars,expected", [
    ({"litellm_key_rotation_timer_environment": {"LITELLM_MASTER_KEY": "sk-secret-in-unit"}},
     "litellm_key_rotation_timer_environment: LITELLM_MASTER_KEY looks like a secret"),
    ({"litellm_key_rotation_timer_environment": {"ANSIBLE_VAULT_PASSWORD": "hunter2-in-unit"}},
     "litellm_key_rotation_timer_environment: ANSIBLE_VAULT_PASSWORD looks like a secret"),
    ({"litellm_key_rotation_timer_lock_file": "/run/lock/litellm-key-rotation.lock"},
     "litellm_key_rotation_timer_lock_file must not be directly in /run/lock"),
], ids=["master key", "vault password", "lock in /run/lock"])
def test_preflight_refuses(tmp_path, extra_vars, expected):
    result = run_preflight(tmp_path, **extra_vars)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert expected in output, output[-3000:]
    assert "sk-secret-in-unit" not in output and "hunter2-in-unit" not in output
