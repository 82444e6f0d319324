"""Helpers shared by the gateway scenarios' testinfra tests."""

import json
import os
import re
import subprocess
import time
from pathlib import Path


PROJECT_DIR = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
CONVERGE = PROJECT_DIR / "molecule" / "resources" / "converge.yml"


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


def run_playbook(*args, playbook=CONVERGE, limit=None, timeout=900):
    """Run a playbook (the converge playbook by default) against the scenario's instances from the controller."""
    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    env = dict(os.environ)
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", f"{PROJECT_DIR}/.collections")
    env["ANSIBLE_ROLES_PATH"] = str(PROJECT_DIR / "roles")
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["ANSIBLE_CONFIG"] = str(PROJECT_DIR / "ansible.cfg")
    command = ["ansible-playbook", "-i", str(inventory)] + (["--limit", limit] if limit else [])
    return subprocess.run(
        command + [str(playbook), *args],
        capture_output=True, text=True, env=env, cwd=PROJECT_DIR, timeout=timeout, check=False,
        stdin=subprocess.DEVNULL,
    )


def wait_for(condition, what, timeout=300, interval=1.0):
    """Poll until condition() returns something true, and return it; fail
    naming what after a generous deadline (loaded 2-core machines), never a timing."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} not within {timeout} s"
        time.sleep(interval)


def assert_stopped_in_preflight(result, expected, secrets=()):
    """A run with bad input: failed naming the problem, with changed=0 and no secret in its output."""
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert expected in output, output[-3000:]
    assert recap(output)["changed"] == 0, output[-3000:]
    for secret in secrets:
        assert secret not in output


def recap(output):
    """Parse the PLAY RECAP line into a dict of counters."""
    match = re.search(r"ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", output)
    assert match, f"no PLAY RECAP in output:\n{output[-3000:]}"
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups())))
