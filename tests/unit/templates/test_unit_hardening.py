"""The sandboxing of every systemd unit the collection installs (issue 14):
each unit rendered by Ansible itself from the roles' defaults, scored offline
by `systemd-analyze security` against its threshold, and its ExecStart= quoted
so that no inventory value expands or injects a directive. Fast, without a
host; the Molecule scenarios score the live units."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
VARS_FILES = [
    "litellm/defaults/main.yml", "litellm/vars/main.yml", "litellm_database/defaults/main.yml",
    "litellm_database/vars/main.yml", "litellm_venv/defaults/main.yml", "litellm_venv/vars/main.yml",
    "litellm_service/defaults/main.yml", "litellm_service/vars/main.yml", "litellm_env/defaults/main.yml",
    "litellm_compose/defaults/main.yml", "litellm_key_rotation_timer/defaults/main.yml",
    "litellm_key_rotation_timer/vars/main.yml",
]
TEMPLATES = {
    "litellm.service": "litellm_service/templates/litellm.service.j2",
    "litellm-migrate.service": "litellm_service/templates/litellm-migrate.service.j2",
    "litellm-database-backup.service": "litellm_database/templates/litellm-database-backup.service.j2",
    "litellm-key-rotation.service": "litellm_key_rotation_timer/templates/litellm-key-rotation.service.j2",
}
NATIVE_DB = {"litellm_deploy_mode": "venv", "litellm_database_mode": "native", "litellm_database_connect_proxy": True,
             "litellm_key_rotation_timer_inventory": "/etc/litellm-key-rotation/inventory"}


# Every variant the tests read, rendered in one ansible-playbook run.
VARIANTS = {
    "litellm": ("litellm.service", {}),
    "litellm-no-db": ("litellm.service", {"litellm_database_mode": "none"}),
    "litellm-args": ("litellm.service", {"litellm_service_extra_args": ["--x=$LITELLM_MASTER_KEY", "--y=%h", "two words"]}),
    "litellm-tls": ("litellm.service", {"litellm_tls_certfile": "/etc/litellm/tls.crt",
                                        "litellm_tls_keyfile": "/etc/litellm/tls.key"}),
    "migrate": ("litellm-migrate.service", {}),
    "backup-native": ("litellm-database-backup.service", {"litellm_database_mode": "native"}),
    "backup-compose": ("litellm-database-backup.service", {"litellm_database_mode": "compose"}),
    "backup-external": ("litellm-database-backup.service", {"litellm_database_mode": "external"}),
    "rotation": ("litellm-key-rotation.service", {}),
    "rotation-root": ("litellm-key-rotation.service", {"litellm_key_rotation_timer_user": "root",
                                                       "litellm_key_rotation_timer_group": "root"}),
    "rotation-vault": ("litellm-key-rotation.service",
                       {"litellm_key_rotation_timer_vault_password_file": "/etc/litellm-key-rotation/vault-pass"}),
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """name -> path of the rendered unit (a directory per variant, the file named as the unit)."""
    out = tmp_path_factory.mktemp("units")
    tasks, paths = [], {}
    for name, (unit, overrides) in VARIANTS.items():
        (out / name).mkdir()
        paths[name] = out / name / unit
        tasks.append({"name": name, "vars": overrides, "ansible.builtin.template": {
            "src": str(ROOT / "roles" / TEMPLATES[unit]), "dest": str(paths[name]), "mode": "0644"}})
    playbook = out / "render.yml"
    playbook.write_text(json.dumps([{
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars_files": [str(ROOT / "roles" / path) for path in VARS_FILES], "vars": NATIVE_DB, "tasks": tasks,
    }]))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(playbook),
         "-e", json.dumps({"ansible_python_interpreter": sys.executable})],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return paths


def exposure(path):
    result = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(path)],
                            capture_output=True, text=True, cwd=path.parent, check=False)
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert match, result.stdout[-2000:] + result.stderr
    return float(match.group(1))


needs_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")


@needs_analyze
@pytest.mark.parametrize("name,threshold", [
    ("litellm", 2.0), ("litellm-no-db", 2.0), ("migrate", 2.0),
    ("backup-native", 2.0), ("backup-compose", 2.0), ("backup-external", 2.0),
    ("rotation", 2.0), ("rotation-root", 2.5),
])
def test_unit_exposure_is_within_its_threshold(rendered, name, threshold):
    score = exposure(rendered[name])
    print(f"{name}: {score}")
    assert score <= threshold


@pytest.mark.parametrize("unit", ["litellm.service", "litellm-migrate.service"])
def test_proxy_units_drop_every_privilege(rendered, unit):
    text = rendered["litellm" if unit == "litellm.service" else "migrate"].read_text()
    for directive in ("CapabilityBoundingSet=\n", "AmbientCapabilities=\n", "PrivateUsers=yes\n", "UMask=0077\n",
                      "SystemCallFilter=@system-service\n", "ProtectProc=invisible\n", "RestrictNamespaces=yes\n",
                      "NoNewPrivileges=yes\n", "ProtectSystem=strict\n"):
        assert directive in text, directive
    # Node (the Prisma CLI) and libffi need writable-executable memory.
    assert "MemoryDenyWriteExecute=" not in text


def test_extra_args_reach_the_proxy_literally(rendered):
    """A `$` or `%` in an argument is neither a variable nor a specifier; a space does not split it."""
    text = rendered["litellm-args"].read_text()
    line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    assert ' "--x=$$LITELLM_MASTER_KEY" "--y=%%h" "two words"' in line


def test_tls_files_are_passed_to_the_proxy(rendered):
    text = rendered["litellm-tls"].read_text()
    assert '--ssl_certfile_path "/etc/litellm/tls.crt" --ssl_keyfile_path "/etc/litellm/tls.key"' in text


def test_backup_unit_writes_only_the_backup_directory(rendered):
    text = rendered["backup-native"].read_text()
    assert "ProtectSystem=strict\n" in text and "ReadWritePaths=/var/backups/litellm\n" in text
    assert "CapabilityBoundingSet=CAP_SETUID CAP_SETGID\n" in text  # runuser -u postgres
    compose = rendered["backup-compose"].read_text()
    assert "CapabilityBoundingSet=\n" in compose and "PrivateNetwork=yes\n" in compose


def test_rotation_runs_as_its_own_user_with_the_vault_password_as_a_credential(rendered):
    text = rendered["rotation-vault"].read_text()
    assert "User=litellm-rotate\n" in text and "Group=litellm-rotate\n" in text
    assert "LoadCredential=vault-pass:/etc/litellm-key-rotation/vault-pass\n" in text
    line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    assert '"--vault-password-file" "%d/vault-pass"' in line
    assert "/etc/litellm-key-rotation/vault-pass" not in line
    assert '"/run/litellm-key-rotation/lock"' in line
    assert "CapabilityBoundingSet=\n" in text and "ProtectSystem=strict\n" in text
    assert "ProtectHome=read-only\n" in text
    assert "ReadWritePaths=/run/litellm-key-rotation -%h/.ansible\n" in text
