"""F26: roles/litellm_compose/tasks/docker_repo_key.yml installs Docker's
signing key for apt only when its fingerprint is the pinned one. Run with
ansible-playbook against localhost, with a throwaway OpenPGP key served
from a file:// URL instead of download.docker.com."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
TASKS = ROOT / "roles" / "litellm_compose" / "tasks" / "docker_repo_key.yml"


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    """An armored public key and its fingerprint."""
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(["gpg", "--batch", "--quick-gen-key", "--passphrase", "", "Repo <repo@example.org>", "ed25519",
                    "sign", "never"], env=env, check=True, capture_output=True)
    public = subprocess.run(["gpg", "--armor", "--export"], env=env, check=True, capture_output=True).stdout
    listing = subprocess.run(["gpg", "--with-colons", "--list-keys"], env=env, check=True, capture_output=True,
                             text=True).stdout
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, check=False)
    path = home / "repo.asc"
    path.write_bytes(public)
    return path, fingerprint


def _run(tmp_path, key_path, fingerprint):
    keyring = tmp_path / "keyrings" / "docker.asc"
    play = tmp_path / "play.yml"
    play.write_text(f"""
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    litellm_compose_docker_repo_url: https://download.docker.com/linux/debian
    litellm_compose_docker_repo_key_url: "file://{key_path}"
    litellm_compose_docker_repo_key_fingerprint: "{fingerprint}"
    _litellm_compose_docker_keyring: {keyring}
  tasks:
    - name: Key
      ansible.builtin.include_tasks: {TASKS}
""")
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(play),
                             "-e", f"ansible_python_interpreter={sys.executable}"],
                            capture_output=True, text=True, env={**os.environ, "ANSIBLE_NOCOLOR": "1"},
                            cwd=tmp_path, timeout=300, check=False)
    return result, " ".join((result.stdout + result.stderr).split()), keyring


def test_a_key_with_another_fingerprint_is_never_installed(tmp_path, key):
    path, fingerprint = key
    pinned = "9DC8 5822 9FC7 DD38 854A E2D8 8D81 803C 0EBF CD88"
    result, output, keyring = _run(tmp_path, path, pinned)
    assert result.returncode != 0
    # The callback may print the message YAML-quoted (Docker''s on ansible-core 2.16): no quote in what is matched.
    assert f"has fingerprint {fingerprint}, not {pinned}; Docker" in output, output[-2500:]
    assert "repository was not added" in output, output[-2500:]
    assert not keyring.exists()


def test_the_pinned_key_is_installed_and_a_second_run_changes_nothing(tmp_path, key):
    path, fingerprint = key
    spaced = " ".join(fingerprint[i:i + 4] for i in range(0, 40, 4)).lower()
    result, output, keyring = _run(tmp_path, path, spaced)
    assert result.returncode == 0, output[-3000:]
    assert keyring.read_bytes() == path.read_bytes()
    result, output, keyring = _run(tmp_path, path, spaced)
    assert result.returncode == 0 and "changed=0" in output, output[-3000:]
