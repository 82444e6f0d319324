"""litellm_port held by another process: LiteLLM, asked for port 4000 while it
is taken, quietly listens on a random port. The play must refuse a port held
by something other than this gateway before changing anything, its health
gate must notice when the answer comes from another process, and a switch of
deploy mode must stop the other mode's unit first. Native (venv) gateway only:
each case stops and starts the proxy once."""

import time

import pytest
from gateway_helpers import assert_stopped_in_preflight, recap, run_playbook
from test_playbook_runs import STATE_CMD

FOREIGN = "foreign-4000"
# A stranger on the port that even answers the health gate's URL with 200.
FOREIGN_CMD = (
    "mkdir -p /srv/foreign/health && echo ok > /srv/foreign/health/liveliness && "
    f"systemd-run --unit {FOREIGN} --working-directory /srv/foreign python3 -m http.server 4000 --bind 127.0.0.1"
)
FAKE_COMPOSE_UNIT = """[Unit]
Description=stand-in for the compose stack of an earlier compose-mode deploy
[Service]
ExecStart=/usr/bin/python3 -m http.server 4000 --bind 127.0.0.1
[Install]
WantedBy=multi-user.target
"""


@pytest.fixture(scope="module", autouse=True)
def _native_only(gateway):
    # Module scope: set up before (and so skips before) the module-scoped fixture below.
    if gateway["mode"] != "venv":
        pytest.skip("kept to the venv scenario (time budget); the check itself is mode-independent")


def _wait(host, command, what, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if host.run(command).rc == 0:
            return
        time.sleep(1)
    pytest.fail(f"timed out waiting for {what}:\n" + host.run("journalctl -n 60 --no-pager").stdout)


def _listening(host):
    return "ss -Hltn 'sport = :4000' | grep -q ."


def _live(host):
    return "curl -fsS -o /dev/null http://127.0.0.1:4000/health/liveliness"


def _holder_unit(host):
    """The unit of the process listening on 127.0.0.1:4000 ('' if none)."""
    return host.run("pid=$(ss -Hltnp 'sport = :4000' | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2); "
                    "[ -n \"$pid\" ] && grep -o '[^/]*\\.service$' /proc/$pid/cgroup | tail -1").stdout.strip()


# Past the preflight, only the unit and its start matter: cheaper than a whole run.
SERVICE_RUN = ("--tags", "litellm_service_unit,litellm_service_run")


@pytest.fixture(scope="module")
def foreign_on_the_port(host):
    """The proxy stopped and a foreign process holding 127.0.0.1:4000 (for this
    module's first two tests; the third starts the proxy again)."""
    host.run_test("systemctl stop litellm.service")
    host.run_test(FOREIGN_CMD)
    _wait(host, _live(host), "the foreign listener")
    yield
    _stop_foreign(host)
    # Normally the third test has already put the proxy back.
    if host.run(_live(host)).rc != 0 or _holder_unit(host) != "litellm.service":
        host.run_test("systemctl restart litellm.service")
        _wait(host, _live(host), "the proxy to come back")


def _stop_foreign(host):
    host.run(f"systemctl stop {FOREIGN}.service; rm -rf /srv/foreign")


def test_a_port_held_by_another_process_stops_the_play_in_preflight(host, foreign_on_the_port):
    before = host.run(STATE_CMD).stdout
    result = run_playbook()
    assert_stopped_in_preflight(result, "litellm_port 4000 on 127.0.0.1 is already held by pid")
    output = result.stdout + result.stderr
    assert "http.server 4000 --bind 127.0.0.1, unit foreign-4000.service" in output, output[-3000:]
    assert "not by this gateway (litellm-compose.service or litellm.service)" in output, output[-3000:]
    assert host.run(STATE_CMD).stdout == before
    assert host.run("systemctl is-active litellm.service").stdout.strip() == "inactive"


def test_the_health_gate_notices_an_answer_from_another_process(host, foreign_on_the_port):
    # Past the preflight, LiteLLM starts beside the stranger on a random port
    # and the stranger answers /health/liveliness: the gate must not pass.
    result = run_playbook(*SERVICE_RUN, "--skip-tags", "litellm_preflight")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert recap(output)["failed"] == 1, output[-3000:]
    assert ("/health/liveliness answered, but litellm_port 4000 is held by pid" in output
            and "unit foreign-4000.service), not by litellm.service" in output), output[-3000:]


def test_switching_to_venv_stops_and_disables_the_compose_unit(host):
    """A host deployed in compose mode before: its litellm-compose.service (here
    a stand-in holding the port) must be stopped and disabled before the proxy
    starts, and the port then be the proxy's."""
    _stop_foreign(host)
    host.run_test("systemctl stop litellm.service")
    host.run_test(f"printf '%s' '{FAKE_COMPOSE_UNIT}' > /etc/systemd/system/litellm-compose.service")
    host.run_test("systemctl daemon-reload && systemctl enable --now litellm-compose.service")
    try:
        _wait(host, _listening(host), "the compose stand-in")
        # The preflight takes the other mode's unit for this gateway's.
        result = run_playbook(*SERVICE_RUN)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-4000:]
        assert host.run("systemctl is-active litellm-compose.service").stdout.strip() == "inactive"
        assert host.run("systemctl is-enabled litellm-compose.service").stdout.strip() == "disabled"
        assert host.run("systemctl is-active litellm.service").stdout.strip() == "active"
        assert _holder_unit(host) == "litellm.service"
    finally:
        host.run("systemctl disable --now litellm-compose.service; rm -f /etc/systemd/system/litellm-compose.service; "
                 "systemctl daemon-reload")
        host.run("systemctl start litellm.service")
        _wait(host, _live(host), "the proxy")
        assert _holder_unit(host) == "litellm.service"
