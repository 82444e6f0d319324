"""Helpers of the scaleout tests: HTTP calls from the controller to the
gateways and the balancer on the scenario's network, playbooks run from the
controller, and waits on conditions (generous deadlines, never a timing)."""

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources" / "tests"))
from gateway_helpers import PROJECT_DIR, recap  # noqa: E402  (shared helpers of the gateway scenarios)

INFRA = "scaleout-infra"
GATEWAYS = ["scaleout-gw-1", "scaleout-gw-2"]
HOSTS = [INFRA, *GATEWAYS]
# molecule.yml's addresses on the scenario's network.
URL = {"scaleout-gw-1": "http://10.216.0.11:4000", "scaleout-gw-2": "http://10.216.0.12:4000"}
BALANCER = "http://10.216.0.10:4000"
CONFIG = "/opt/sacred-brain/ops/litellm/config.yaml"
# A cold start on the shared database took minutes on a loaded 2-core machine.
DEADLINE = 900


def inventory_dir():
    return Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent


def playbook(name, *args, timeout=2400):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=f"{PROJECT_DIR}/.collections",
               ANSIBLE_ROLES_PATH=str(PROJECT_DIR / "roles"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_CONFIG=str(PROJECT_DIR / "ansible.cfg"))
    result = subprocess.run(
        ["ansible-playbook", "-i", str(inventory_dir()), str(PROJECT_DIR / "playbooks" / f"{name}.yml"), *args],
        capture_output=True, text=True, env=env, cwd=PROJECT_DIR, timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    return result.returncode, result.stdout + result.stderr


def host_recaps(output):
    """Counters of the last PLAY RECAP, per host."""
    section = output.rsplit("PLAY RECAP", 1)[-1]
    return {
        m.group(1): {"ok": int(m.group(2)), "changed": int(m.group(3)), "failed": int(m.group(4))}
        for m in re.finditer(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", section, re.M)
    }


def master_key(host):
    for line in host.file("/etc/litellm/keys.env").content_string.splitlines():
        if line.startswith("LITELLM_MASTER_KEY="):
            return line.split("=", 1)[1]
    raise AssertionError("no master key kept on the host")


def call(base, path, key, body=None, method=None, timeout=120):
    """(status, json or text) of one request; status 0 when no HTTP answer came."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method or ("POST" if data else "GET"),
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as error:
        return 0, str(error)
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def chat(base, key, model="gpt-4o-mini", **extra):
    return call(base, "/v1/chat/completions", key,
                {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra})


def reply(body):
    return body["choices"][0]["message"]["content"]


def generate_key(base, master, **params):
    status, body = call(base, "/key/generate", master, params)
    assert status == 200, body
    return body["key"]


def wait_for(condition, what, deadline=DEADLINE, interval=1.0):
    """Wait until condition() returns something true; fail naming what after the deadline."""
    end = time.monotonic() + deadline
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < end, f"not {what} within {deadline} s"
        time.sleep(interval)


def live(base):
    return call(base, "/health/liveliness", "", timeout=10)[0] == 200


def models_with_reply(text):
    return json.dumps({"litellm_config_model_list": [
        {"model_name": "gpt-4o-mini", "litellm_params": {
            "model": "openai/gpt-4o-mini", "api_key": "os.environ/OPENAI_API_KEY", "mock_response": text}},
    ]})
