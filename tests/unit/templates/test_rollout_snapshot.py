"""F23: the rollout snapshot (roles/litellm_rollout/tasks/snapshot.yml) keeps
no copy of keys.env or the env file on the host, removes the copies earlier
versions left there, and put_back.yml (rollback) still restores content,
owner and mode. The task files run with ansible-playbook against localhost,
on files in a temporary directory; no service is touched."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
TASKS = ROOT / "roles" / "litellm_rollout" / "tasks"
OLD_KEY = "sk-old-master-0123456789abcdefghijklmnopqrstuv"


def _playbook(tmp_path, files, state_dir, between=""):
    play = f"""
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    litellm_deploy_mode: compose
    litellm_proxy_venv_dir: {tmp_path}/venv
    litellm_rollout_state_dir: {state_dir}
    _litellm_rollout_files: {json.dumps([str(f) for f in files])}
  tasks:
    - name: Snapshot
      ansible.builtin.include_tasks: {TASKS / "snapshot.yml"}
    - name: Look at the state directory after the snapshot
      ansible.builtin.stat:
        path: {state_dir}
      register: state_after
    - name: Report it
      ansible.builtin.debug:
        msg: "STATE-DIR-EXISTS={{{{ state_after.stat.exists }}}}"
{between}
"""
    path = tmp_path / "play.yml"
    path.write_text(play)
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"}
    return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(path), "-v",
                           "-e", f"ansible_python_interpreter={sys.executable}"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300, check=False)


def _deployed(tmp_path):
    keys = tmp_path / "etc" / "keys.env"
    env = tmp_path / "etc" / "litellm.env"
    keys.parent.mkdir()
    keys.write_text(f"LITELLM_MASTER_KEY={OLD_KEY}\nLITELLM_SALT_KEY=salt-0123456789\n")
    env.write_text("OPENAI_API_KEY=sk-provider-old-0123456789\n")
    keys.chmod(0o600)
    env.chmod(0o640)
    return keys, env


def test_the_snapshot_leaves_no_copy_of_a_secret_on_the_host(tmp_path):
    keys, env = _deployed(tmp_path)
    state_dir = tmp_path / "state"
    # What an earlier version left behind after its last rollout.
    state_dir.mkdir(mode=0o700)
    (state_dir / str(keys).replace("/", "%")).write_text(f"LITELLM_MASTER_KEY={OLD_KEY}\n")
    result = _playbook(tmp_path, [keys, env, tmp_path / "etc" / "missing.yaml"], state_dir)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "STATE-DIR-EXISTS=False" in output
    assert not state_dir.exists()
    # The only files holding the key are the deployed ones; none in the output.
    holders = [p for p in tmp_path.rglob("*") if p.is_file() and OLD_KEY in p.read_text(errors="ignore")]
    assert holders == [keys]
    assert OLD_KEY not in output and "sk-provider-old" not in output


def test_put_back_restores_content_owner_and_mode(tmp_path):
    keys, env = _deployed(tmp_path)
    before = {p: (p.read_text(), stat.S_IMODE(p.stat().st_mode)) for p in (keys, env)}
    between = f"""
    - name: A rollout changes the files
      ansible.builtin.copy:
        content: "NEW=1\\n"
        dest: "{{{{ item }}}}"
        mode: "0644"
      loop: {json.dumps([str(keys), str(env)])}
    - name: Put back
      ansible.builtin.include_tasks: {TASKS / "put_back.yml"}
"""
    result = _playbook(tmp_path, [keys, env], tmp_path / "state", between)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert {p: (p.read_text(), stat.S_IMODE(p.stat().st_mode)) for p in (keys, env)} == before
    assert OLD_KEY not in output
