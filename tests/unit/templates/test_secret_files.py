"""Secret files are never world-readable, not even for a moment (F22): a file
Ansible's template module creates is chmod-ed only after the rename, so each
secret file is first created empty with its final mode."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]


def test_env_file_is_created_with_its_mode_before_the_secrets_are_written():
    tasks = yaml.safe_load((ROOT / "roles" / "litellm_env" / "tasks" / "files.yml").read_text())
    touch = next(i for i, t in enumerate(tasks) if t.get("ansible.builtin.file", {}).get("state") == "touch")
    write = next(i for i, t in enumerate(tasks) if "ansible.builtin.template" in t)
    assert touch < write
    created, written = tasks[touch]["ansible.builtin.file"], tasks[write]["ansible.builtin.template"]
    assert created["path"] == written["dest"]
    assert created["mode"] == written["mode"] and created["owner"] == written["owner"]
    assert created["group"] == written["group"]
    assert created["modification_time"] == "preserve"  # idempotent
    assert tasks[write].get("no_log") is True
