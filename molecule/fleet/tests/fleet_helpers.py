"""Helpers of the fleet tests: playbooks run from the controller, calls made on each host."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources" / "tests"))
from gateway_helpers import PROJECT_DIR, recap  # noqa: E402  (shared helpers of the gateway scenarios)

HOSTS = ["litellm-fleet-1", "litellm-fleet-2", "litellm-fleet-3"]


def inventory_dir():
    return Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent


def playbook(name, *args):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=f"{PROJECT_DIR}/.collections",
               ANSIBLE_ROLES_PATH=str(PROJECT_DIR / "roles"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_CONFIG=str(PROJECT_DIR / "ansible.cfg"))
    result = subprocess.run(
        ["ansible-playbook", "-i", str(inventory_dir()), str(PROJECT_DIR / "playbooks" / f"{name}.yml"), *args],
        capture_output=True, text=True, env=env, cwd=PROJECT_DIR, timeout=1200, check=False)
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


def call(host, path, key, body=None, timeout=30):
    cmd = f"curl -sS -m {timeout} -o /tmp/fleet-body -w '%{{http_code}}' -H 'Authorization: Bearer {key}'"
    if body is not None:
        cmd += f" -H 'Content-Type: application/json' -d '{json.dumps(body)}'"
    status = host.run(cmd + f" http://127.0.0.1:4000{path}").stdout.strip()
    text = host.file("/tmp/fleet-body").content_string
    try:
        return int(status or 0), json.loads(text)
    except ValueError:
        return int(status or 0), text


def chat(host, key=None, model="gpt-4o-mini"):
    return call(host, "/v1/chat/completions", key or master_key(host),
                {"model": model, "messages": [{"role": "user", "content": "hi"}]})


def models_with_reply(text):
    return json.dumps({"litellm_config_model_list": [
        {"model_name": "gpt-4o-mini", "litellm_params": {
            "model": "openai/gpt-4o-mini", "api_key": "os.environ/OPENAI_API_KEY", "mock_response": text}},
        {"model_name": "llama-3.1-8b", "litellm_params": {
            "model": "groq/llama-3.1-8b-instant", "api_key": "os.environ/GROQ_API_KEY",
            "mock_response": "Hello from the groq route"}},
    ]})


__all__ = ["HOSTS", "recap", "playbook", "host_recaps", "master_key", "call", "chat", "models_with_reply",
           "inventory_dir", "subprocess"]
