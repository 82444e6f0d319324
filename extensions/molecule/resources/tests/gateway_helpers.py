"""Helpers shared by the gateway scenarios' testinfra tests."""

import json
import os
import re
import subprocess
from pathlib import Path


PROJECT_DIR = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[4]))
CONVERGE = PROJECT_DIR / "extensions" / "molecule" / "resources" / "converge.yml"


def api(host, gateway, method, path, body=None, key=None, timeout=60):
    """Call the gateway from inside the host with curl; return (status, json)."""
    key = gateway["master_key"] if key is None else key
    cmd = ["curl", "-sS", "-o", "/tmp/litellm-test-body", "-w", "%{http_code}", "-m", str(timeout), "-X", method]
    if key:
        cmd += ["-H", f"Authorization: Bearer {key}"]
    if body is not None:
        cmd += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    cmd.append(f"http://127.0.0.1:4000{path}")
    result = host.run(" ".join(_quote(c) for c in cmd))
    status = int(result.stdout.strip() or 0)
    text = host.file("/tmp/litellm-test-body").content_string
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def _quote(arg):
    return "'" + str(arg).replace("'", "'\"'\"'") + "'"


def run_playbook(*args):
    """Run the converge playbook against the scenario's instance from the controller."""
    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    env = dict(os.environ)
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", f"{PROJECT_DIR}/.collections")
    env["ANSIBLE_ROLES_PATH"] = str(PROJECT_DIR / "roles")
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["ANSIBLE_CONFIG"] = str(PROJECT_DIR / "ansible.cfg")
    return subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(CONVERGE), *args],
        capture_output=True, text=True, env=env, cwd=PROJECT_DIR, timeout=900, check=False,
    )


def recap(output):
    """Parse the PLAY RECAP line into a dict of counters."""
    match = re.search(r"ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", output)
    assert match, f"no PLAY RECAP in output:\n{output[-3000:]}"
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups())))
