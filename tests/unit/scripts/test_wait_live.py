"""litellm-wait-live (role litellm, after every start and restart): waits for
the liveliness answer and gives up early on a crash-looping unit. Time is the
test's (an injected clock); the end-to-end cases use a real HTTP server and a
fake systemctl on PATH. Fast, no host."""

import http.server
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "roles" / "litellm" / "files" / "litellm-wait-live"
_loader = importlib.machinery.SourceFileLoader("wait_live", str(SCRIPT))
_spec = importlib.util.spec_from_loader("wait_live", _loader)
wait_live = importlib.util.module_from_spec(_spec)
_loader.exec_module(wait_live)


class Clock:
    """Time that moves only when the script sleeps."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def run(probe_answers, states=None, timeout=180, unit="litellm.service"):
    clock = Clock()
    probes = iter(probe_answers)
    state_seq = iter(states or [])
    last = [(0, "active")]

    def state(_unit):
        last[0] = next(state_seq, last[0])
        return last[0]

    return wait_live.wait("http://x/health/liveliness", timeout, unit if states is not None else None,
                          clock=clock, sleep=clock.sleep, probe=lambda _url: next(probes, False), state=state)


def test_live_after_a_slow_start_reports_the_seconds_waited():
    result = run([False] * 40 + [True])
    assert result == {"live": True, "seconds": 40.0}


def test_a_proxy_that_never_answers_fails_at_the_timeout_naming_the_url():
    result = run([], timeout=30)
    assert result["live"] is False
    assert result["reason"] == "http://x/health/liveliness did not answer 200 within 30 s"


def test_a_restart_counter_that_moves_twice_ends_the_wait_long_before_the_timeout():
    # Already restarted once before the wait began (history is not counted),
    # then two crashes while waiting.
    states = [(1, "activating")] + [(1, "activating")] * 5 + [(2, "activating")] * 5 + [(3, "activating")]
    result = run([], states=states, timeout=600)
    assert result["live"] is False
    assert "litellm.service is activating after 2 automatic restarts while starting" in result["reason"]
    assert "journalctl -u litellm.service" in result["reason"]


def test_one_crash_then_live_is_live():
    result = run([False] * 10 + [True], states=[(0, "active")] * 3 + [(1, "activating")] * 20)
    assert result["live"] is True


def test_a_failed_unit_ends_the_wait_at_once():
    result = run([], states=[(0, "activating"), (0, "failed")], timeout=600)
    assert result["live"] is False
    assert "litellm.service is failed after 0 automatic restarts" in result["reason"]


def test_a_healthy_unit_with_old_restarts_is_live():
    result = run([True], states=[(7, "active")])
    assert result == {"live": True, "seconds": 0.0}


@pytest.fixture
def server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200 if self.path == "/health/liveliness" else 503)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def fake_systemctl(tmp_path):
    """A systemctl that reports a unit restarting on every call."""
    counter = tmp_path / "n"
    counter.write_text("0")
    tool = tmp_path / "systemctl"
    tool.write_text(f"""#!/bin/sh
n=$(cat {counter}); n=$((n + 1)); echo $n > {counter}
printf 'NRestarts=%s\\nActiveState=activating\\n' "$n"
""")
    tool.chmod(0o755)
    return {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}


def test_the_script_exits_0_with_json_when_live(server):
    done = subprocess.run([sys.executable, str(SCRIPT), server + "/health/liveliness", "60"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["live"] is True


def test_the_script_exits_1_on_a_crash_loop_reading_systemctl(server, fake_systemctl):
    done = subprocess.run([sys.executable, str(SCRIPT), server + "/nothing-here", "600", "litellm.service"],
                          capture_output=True, text=True, check=False, env=fake_systemctl)
    assert done.returncode == 1
    assert "automatic restarts while starting" in json.loads(done.stdout)["reason"]


def test_the_script_refuses_wrong_arguments():
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "Usage: litellm-wait-live URL TIMEOUT [UNIT]" in done.stderr


# --models: once live, GET /v1/models with the master key read from the env
# file the proxy reads. The key goes to the server only.
KEY = "sk-wait-live-test-key-0123456789"


@pytest.fixture
def models_server():
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen.append((self.path, self.headers.get("Authorization")))
            if self.path == "/health/liveliness":
                self.send_response(200)
                self.end_headers()
                return
            if self.path != "/v1/models":
                self.send_response(404)
                self.end_headers()
                return
            if self.headers.get("Authorization") != f"Bearer {KEY}":
                body = json.dumps({"error": {"message": f"Invalid key {self.headers.get('Authorization')}"}})
                self.send_response(401)
            else:
                body = json.dumps({"object": "list", "data": [{"id": "fake-model"}, {"id": "gpt-4o-mini"}]})
                self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    httpd.shutdown()


def env_file(tmp_path, key=KEY):
    path = tmp_path / "litellm.env"
    path.write_text("# Ansible managed\nLITELLM_SALT_KEY=sk-salt\n"
                    + (f"LITELLM_MASTER_KEY={key}\n" if key is not None else "") + "OPENAI_API_KEY=x\n")
    path.chmod(0o600)
    return path


def run_script(base, *extra):
    return subprocess.run([sys.executable, str(SCRIPT), base + "/health/liveliness", "60", *extra],
                          capture_output=True, text=True, check=False)


def test_models_lists_the_ids_with_the_key_of_the_env_file_never_printing_it(models_server, tmp_path):
    base, seen = models_server
    done = run_script(base, "--models", base + "/v1/models", str(env_file(tmp_path)))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["live"] is True
    assert result["models"] == {"status": 200, "ids": ["fake-model", "gpt-4o-mini"]}
    assert ("/v1/models", f"Bearer {KEY}") in seen
    assert KEY not in done.stdout + done.stderr
    assert KEY not in " ".join(done.args)


def test_models_with_a_wrong_key_reports_the_status_and_blanks_the_key_in_the_answer(models_server, tmp_path):
    base, _seen = models_server
    done = run_script(base, "--models", base + "/v1/models", str(env_file(tmp_path, key="sk-wrong-key-42")))
    assert done.returncode == 0, done.stderr
    models = json.loads(done.stdout)["models"]
    assert models["status"] == 401
    assert models["ids"] == []
    assert "Invalid key Bearer ***" in models["answer"]
    assert "sk-wrong-key-42" not in done.stdout


def test_models_without_a_readable_key_leaves_the_gate_live_with_only_an_error(models_server, tmp_path):
    base, seen = models_server
    for path in (env_file(tmp_path, key=None), tmp_path / "missing.env"):
        done = run_script(base, "--models", base + "/v1/models", str(path))
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["live"] is True
        assert result["models"] == {"error": f"no readable LITELLM_MASTER_KEY in {path}"}
    assert not [path for path, _auth in seen if path == "/v1/models"]


def test_models_that_do_not_answer_give_status_minus_one(tmp_path):
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    models = wait_live.list_models(f"http://127.0.0.1:{port}/v1/models", str(env_file(tmp_path)))
    assert models["status"] == -1
    assert KEY not in json.dumps(models)


def test_models_is_not_requested_when_the_proxy_is_not_live(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "http://127.0.0.1:9/health/liveliness", "0",
                           "--models", "http://127.0.0.1:9/v1/models", str(env_file(tmp_path))],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert "models" not in json.loads(done.stdout)


def test_models_needs_both_its_arguments():
    done = subprocess.run([sys.executable, str(SCRIPT), "http://x/health/liveliness", "60", "--models", "http://x"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "--models MODELS_URL ENV_FILE" in done.stderr
