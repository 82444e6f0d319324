"""F10: roles/litellm_database/tasks/image_archive_checksum.yml refuses a
database image archive whose sha256 is not litellm_database_image_archive_sha256
(compose.yml runs it before docker_image loads the archive). Run with
ansible-playbook against localhost on a file in a temporary directory."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
TASKS = ROOT / "roles" / "litellm_database" / "tasks" / "image_archive_checksum.yml"


def _run(tmp_path, archive, checksum):
    play = tmp_path / "play.yml"
    play.write_text(f"""
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    _litellm_database_compose_archive_on_host: {archive}
    litellm_database_image_archive_sha256: "{checksum}"
  tasks:
    - name: Check
      ansible.builtin.include_tasks: {TASKS}
""")
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(play),
                             "-e", f"ansible_python_interpreter={sys.executable}"],
                            capture_output=True, text=True, env={**os.environ, "ANSIBLE_NOCOLOR": "1"},
                            cwd=tmp_path, timeout=300, check=False)
    return result, " ".join((result.stdout + result.stderr).split())


def test_an_archive_with_another_sha256_is_refused_and_the_right_one_passes(tmp_path):
    archive = tmp_path / "postgres-15.tar"
    archive.write_bytes(b"docker save output")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    result, output = _run(tmp_path, archive, "0" * 64)
    assert result.returncode != 0
    assert f"litellm_database_image_archive_sha256: the image archive {archive} on the host has sha256 {digest}" in output
    assert "the image was not loaded" in output
    result, output = _run(tmp_path, archive, digest.upper())
    assert result.returncode == 0, output[-3000:]
