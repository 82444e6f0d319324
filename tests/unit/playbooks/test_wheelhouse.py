"""playbooks/wheelhouse.yml: where it writes, check mode, and the missing-group error (no download)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PLAYBOOK = ROOT / "playbooks" / "wheelhouse.yml"
# A checkout links itself as the collection in .collections; an installed tree
# (ansible-test) is already ansible_collections/sacred_brain/llm_gateway.
COLLECTIONS = ROOT / ".collections" if (ROOT / ".collections").is_dir() else ROOT.parents[2]


def run(inventory, *args):
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS)}
    return subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(PLAYBOOK), "-e", f"ansible_python_interpreter={sys.executable}",
         *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300, check=False,
    )


def gateways_inventory(tmp_path):
    inventory = tmp_path / "site"
    inventory.mkdir()
    # The hash-locked requirements the wheelhouse downloads (litellm_venv_requirements_lock).
    lock = tmp_path / "requirements-9.9.9.txt"
    lock.write_text(f"litellm==9.9.9 --hash=sha256:{'0' * 64}\nprisma==0.11.0 --hash=sha256:{'1' * 64}\n")
    (inventory / "hosts.yml").write_text(
        f"gateways:\n  hosts:\n    gw1:\n      litellm_venv_version: '9.9.9'\n      litellm_venv_requirements_lock: {lock}\n")
    return inventory


def test_check_mode_downloads_nothing_and_names_the_archive_beside_the_inventory(tmp_path):
    inventory = gateways_inventory(tmp_path)
    result = run(inventory, "--check")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"Would set litellm_venv_wheelhouse_archive: {inventory}/wheelhouse/wheelhouse-9.9.9.tar" in result.stdout
    assert not (inventory / "wheelhouse").exists()


def test_the_output_directory_can_be_given(tmp_path):
    out = tmp_path / "elsewhere"
    result = run(gateways_inventory(tmp_path), "--check", "-e", f"litellm_wheelhouse_output_dir={out}")
    assert result.returncode == 0, result.stdout[-3000:]
    assert f"{out}/wheelhouse-9.9.9.tar" in result.stdout
    assert not out.exists()


def test_an_inventory_without_gateways_is_refused_by_name(tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    other: {}\n")
    result = run(inventory, "--check")
    assert result.returncode != 0
    assert "The inventory has no host in the group 'gateways'" in " ".join(result.stdout.split())


def test_a_lock_that_does_not_pin_the_version_is_refused(tmp_path):
    inventory = gateways_inventory(tmp_path)
    (tmp_path / "requirements-9.9.9.txt").write_text(f"litellm==1.0.0 --hash=sha256:{'0' * 64}\n")
    result = run(inventory, "--check")
    assert result.returncode == 2, result.stdout
    assert "must be a hash-locked requirements file pinning litellm==9.9.9" in " ".join(result.stdout.split())
