"""Helpers of the scaleout tests: HTTP calls from the controller to the
gateways and the balancer on the scenario's network, playbooks run from the
controller, and waits on conditions (generous deadlines, never a timing)."""

import functools
import json
import os
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources" / "tests"))
import gateway_helpers  # noqa: E402  (shared helpers of the gateway scenarios)
from gateway_helpers import PROJECT_DIR, recap  # noqa: E402,F401  (recap: for the tests)

INFRA = "scaleout-infra"
GATEWAYS = ["scaleout-gw-1", "scaleout-gw-2"]
HOSTS = [INFRA, *GATEWAYS]
# molecule.yml's addresses on the scenario's network.
URL = {"scaleout-gw-1": "http://10.216.0.11:4000", "scaleout-gw-2": "http://10.216.0.12:4000"}
BALANCER = "http://10.216.0.10:4000"
CONFIG = "/opt/sacred-brain/ops/litellm/config.yaml"
# A cold start on the shared database took minutes on a loaded 2-core machine.
DEADLINE = 900
wait_for = functools.partial(gateway_helpers.wait_for, timeout=DEADLINE)
# What every run after the master-key rotation must pass to keep the fleet as
# the tests left it (test_scaleout_rollouts.py fills it).
KEPT = {}


def inventory_dir():
    return Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent


def playbook(name, *args):
    """(rc, output) of playbooks/<name>.yml on the scenario's hosts."""
    result = gateway_helpers.run_playbook(*args, playbook=PROJECT_DIR / "playbooks" / f"{name}.yml", timeout=2400)
    return result.returncode, result.stdout + result.stderr


def extra(text):
    """-e arguments: the models answering text, and what the tests keep (KEPT)."""
    return ["-e", models_with_reply(text), *(["-e", json.dumps(KEPT)] if KEPT else [])]


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


def chat(base, key, model="gpt-4o-mini", **params):
    return call(base, "/v1/chat/completions", key,
                {"model": model, "messages": [{"role": "user", "content": "hi"}], **params})


def reply(body):
    return body["choices"][0]["message"]["content"]


def generate_key(base, master, **params):
    status, body = call(base, "/key/generate", master, params)
    assert status == 200, body
    return body["key"]


def live(base):
    return call(base, "/health/liveliness", "", timeout=10)[0] == 200


def models_with_reply(text):
    return json.dumps({"litellm_config_model_list": [
        {"model_name": "gpt-4o-mini", "litellm_params": {
            "model": "openai/gpt-4o-mini", "api_key": "os.environ/OPENAI_API_KEY", "mock_response": text}},
    ]})
