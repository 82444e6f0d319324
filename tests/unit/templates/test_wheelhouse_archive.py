"""F26: roles/litellm_venv/tasks/wheelhouse.yml refuses a wheelhouse archive
whose sha256 is not litellm_venv_wheelhouse_archive_checksum before anything
is unpacked, unpacks a matching one, and unpacks again when the checksum
changes (no `creates:` marker that hides a replaced archive). Run with
ansible-playbook against localhost in a temporary directory."""

import hashlib
import os
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
TASKS = ROOT / "roles" / "litellm_venv" / "tasks" / "wheelhouse.yml"


def _archive(tmp_path, name, content):
    wheel = tmp_path / "src" / "demo-1.0-py3-none-any.whl"
    wheel.parent.mkdir(exist_ok=True)
    wheel.write_text(content)
    archive = tmp_path / name
    with tarfile.open(archive, "w") as tar:
        tar.add(wheel, arcname=wheel.name)
    return archive


def _run(tmp_path, archive, checksum):
    play = tmp_path / "play.yml"
    play.write_text(f"""
- hosts: localhost
  connection: local
  gather_facts: false
  vars_files: [{ROOT / "roles" / "litellm_venv" / "vars" / "main.yml"}]
  vars:
    litellm_venv_version: "1.108.7"
    litellm_venv_wheelhouse: {tmp_path / "wheelhouse"}
    litellm_venv_wheelhouse_archive: {archive}
    litellm_venv_wheelhouse_archive_checksum: "{checksum}"
  tasks:
    - name: Wheelhouse
      ansible.builtin.include_tasks: {TASKS}
""")
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1"}
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(play),
                             "-e", f"ansible_python_interpreter={sys.executable}"],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False)
    return result, " ".join((result.stdout + result.stderr).split())


def test_an_archive_with_another_checksum_is_refused_before_anything_is_unpacked(tmp_path):
    archive = _archive(tmp_path, "wheelhouse-1.108.7.tar", "tampered")
    result, output = _run(tmp_path, archive, "0" * 64)
    assert result.returncode != 0
    assert f"litellm_venv_wheelhouse_archive_checksum: {archive} has sha256" in output
    assert "nothing was unpacked" in output
    assert sorted(p.name for p in (tmp_path / "wheelhouse").iterdir()) == []


def test_a_matching_archive_is_unpacked_and_a_new_checksum_unpacks_again(tmp_path):
    first = _archive(tmp_path, "wheelhouse-1.108.7.tar", "good")
    digest = hashlib.sha256(first.read_bytes()).hexdigest()
    result, output = _run(tmp_path, first, digest.upper())
    assert result.returncode == 0, output[-3000:]
    wheel = tmp_path / "wheelhouse" / "demo-1.0-py3-none-any.whl"
    assert wheel.read_text() == "good"
    assert (tmp_path / "wheelhouse" / ".complete").read_text() == f"wheelhouse-1.108.7.tar {digest}\n"
    # Same archive and checksum: nothing to do.
    result, output = _run(tmp_path, first, digest)
    assert result.returncode == 0 and "changed=0" in output, output[-3000:]
    # A replaced archive under the old checksum is refused, not skipped.
    replaced = _archive(tmp_path, "wheelhouse-1.108.7.tar", "replaced")
    new_digest = hashlib.sha256(replaced.read_bytes()).hexdigest()
    result, output = _run(tmp_path, replaced, "f" * 64)
    assert result.returncode != 0 and "nothing was unpacked" in output
    assert wheel.read_text() == "good"
    result, output = _run(tmp_path, replaced, new_digest)
    assert result.returncode == 0, output[-3000:]
    assert wheel.read_text() == "replaced"
