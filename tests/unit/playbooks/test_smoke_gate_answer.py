"""litellm_smoke's on_change check of an unchanged run takes the health
gate's GET /v1/models answer (litellm-wait-live --models) instead of a request
of its own, through the same assert: run by ansible-playbook on localhost
against a real local HTTP server that counts the requests it gets."""

import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
KEY = "sk-smoke-gate-unit-key"
SHORT_SMOKE = "(the only smoke check: the proxy was not restarted and litellm_smoke is on_change)"
# The role's tasks with its defaults, without its dependency's preflight.
PLAYBOOK = f"""
- hosts: localhost
  connection: local
  gather_facts: false
  vars_files: [{ROOT}/roles/litellm_smoke/defaults/main.yml]
  tasks:
    - ansible.builtin.include_tasks: {ROOT}/roles/litellm_smoke/tasks/checks.yml
"""


@pytest.fixture
def proxy():
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self, body):
            self.send_response(200 if self.headers.get("Authorization") == f"Bearer {KEY}" else 401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(body).encode())

        def do_GET(self):  # noqa: N802
            seen.append(self.path)
            self.answer({"data": [{"id": "fake-model"}]} if self.path == "/v1/models"
                        else {"healthy_count": 1, "unhealthy_count": 0})

        def do_POST(self):  # noqa: N802
            seen.append(self.path)
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.answer({"model": "fake-model", "choices": [{"message": {"content": "hi"}}]})

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    httpd.shutdown()


def smoke(tmp_path, url, gate_models, **extra_vars):
    playbook = tmp_path / "smoke.yml"
    playbook.write_text(PLAYBOOK)
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    gate = {"live": True, "seconds": 0.0}
    if gate_models is not None:
        gate["models"] = gate_models
    variables = {"ansible_python_interpreter": sys.executable, "litellm_local_api_url": url,
                 "litellm_env_effective_master_key": KEY, "litellm_smoke_check_health": True,
                 "litellm_config_model_list": [{"model_name": "fake-model"}],
                 "__litellm_service_started": {"changed": False},
                 "__litellm_wait_live": {"rc": 0, "stdout": json.dumps(gate)}, **extra_vars}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(playbook),
         "-e", json.dumps(variables)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300, check=False)
    # ansible-core before 2.19 prints a message in a single-quoted YAML scalar, its quotes doubled.
    return done.returncode, " ".join((done.stdout + done.stderr).split()).replace("''", "'")


def test_an_unchanged_run_checks_the_gate_answer_and_sends_nothing(tmp_path, proxy):
    url, seen = proxy
    rc, output = smoke(tmp_path, url, {"status": 200, "ids": ["fake-model", "other"]})
    assert rc == 0, output[-3000:]
    assert "GET /v1/models: fake-model, other " + SHORT_SMOKE in output
    assert seen == []


@pytest.mark.parametrize("gate_models,expected", [
    ({"status": 401, "ids": [], "answer": "Authentication Error ***"},
     "Smoke check GET /v1/models failed: HTTP 401; expected models ['fake-model'], listed [];"
     " answer: Authentication Error ***"),
    ({"status": 200, "ids": ["other"]}, "HTTP 200; expected models ['fake-model'], listed ['other']"),
    ({"status": 200, "ids": [], "answer": "{}"}, "HTTP 200; expected models ['fake-model'], listed []"),
    ({"status": -1, "ids": [], "error": "Connection refused"}, "HTTP -1;"),
], ids=["401", "model missing", "empty list", "no answer"])
def test_a_bad_gate_answer_fails_the_smoke_check_without_a_request(tmp_path, proxy, gate_models, expected):
    url, seen = proxy
    rc, output = smoke(tmp_path, url, gate_models)
    assert rc != 0, output[-3000:]
    assert expected in output, output[-3000:]
    assert seen == []
    assert KEY not in output


@pytest.mark.parametrize("gate_models", [None, {"error": "no readable LITELLM_MASTER_KEY in /etc/default/litellm"}],
                         ids=["gate without --models", "no key at the gate"])
def test_without_a_gate_answer_the_role_makes_its_own_request(tmp_path, proxy, gate_models):
    url, seen = proxy
    rc, output = smoke(tmp_path, url, gate_models)
    assert rc == 0, output[-3000:]
    assert "GET /v1/models: fake-model " + SHORT_SMOKE in output
    assert seen == ["/v1/models"]


def test_a_full_run_makes_every_request_of_its_own_despite_a_gate_answer(tmp_path, proxy):
    url, seen = proxy
    rc, output = smoke(tmp_path, url, {"status": 401, "ids": []}, litellm_smoke="always")
    assert rc == 0, output[-3000:]
    assert seen == ["/v1/models", "/health", "/v1/chat/completions"]
    assert SHORT_SMOKE not in output
