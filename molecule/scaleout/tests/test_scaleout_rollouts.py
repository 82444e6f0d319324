"""Rolling updates across the two gateways behind HAProxy: a preflight that
fails everywhere before any change, a change that breaks the first host is
rolled back there and stops the rollout, then one rollout that changes the
config and rotates the master key under continuous traffic through the
balancer (issue 16: no failed request), check mode, recovery after a killed
proxy, and an idempotent rollout. They run after test_scaleout.py (whose
last test restarted a whole gateway host), in file order; each leaves the
fleet healthy. Each rollout restarts DB-backed proxies, the scenario's
costliest step: one rollout tells both the traffic and the rotation stories."""

import json
import secrets
import threading

from scaleout_helpers import (BALANCER, CONFIG, GATEWAYS, HOSTS, KEPT, URL, chat, extra, generate_key, host_recaps,
                              inventory_dir, live, master_key, playbook, recap, reply, wait_for)

FIRST, SECOND = GATEWAYS


def _reply(fleet, gateway):
    status, body = chat(URL[gateway], master_key(fleet[gateway]))
    assert status == 200, (gateway, body)
    return reply(body)


def test_preflight_fails_on_every_host_before_any_change(fleet):
    before = {name: fleet[name].file(CONFIG).sha256sum for name in GATEWAYS}
    rc, out = playbook("rollout", "-e", json.dumps({"litellm_port": "not-a-port"}))
    assert rc != 0
    assert "litellm_port" in out
    counters = host_recaps(out)
    assert set(counters) == set(GATEWAYS), out[-3000:]
    assert all(c["changed"] == 0 and c["failed"] == 1 for c in counters.values()), counters
    assert {name: fleet[name].file(CONFIG).sha256sum for name in GATEWAYS} == before


def test_breaking_change_is_rolled_back_on_the_first_host_and_stops_the_rollout(fleet):
    second_before = fleet[SECOND].file(CONFIG).sha256sum
    # Only the first host gets a proxy argument that makes it fail to start,
    # in the host_vars file Molecule writes for it (Ansible reads the file
    # without an extension and then no FIRST.yml beside it).
    breaker = inventory_dir() / "host_vars" / FIRST
    breaker.parent.mkdir(exist_ok=True)
    kept = breaker.read_text() if breaker.exists() else None
    breaker.write_text((kept or "---\n").rstrip("\n") + "\nlitellm_service_extra_args: ['--no-such-option']\n")
    try:
        rc, out = playbook("rollout", *extra("Rolled out: v2"))
    finally:
        if kept is None:
            breaker.unlink()
        else:
            breaker.write_text(kept)
    assert rc != 0
    assert f"Rollout stopped at {FIRST}" in out, out[-4000:]
    assert "was rolled back to its previous version and config and is healthy" in out
    counters = host_recaps(out)
    assert counters.get(SECOND, {}).get("changed", 0) == 0, "the second host must not be changed"
    assert _reply(fleet, FIRST) == "Rolled out: v1"
    assert "--no-such-option" not in fleet[FIRST].file("/etc/systemd/system/litellm.service").content_string
    assert fleet[FIRST].service("litellm.service").is_running
    assert _reply(fleet, SECOND) == "Rolled out: v1"
    assert fleet[SECOND].file(CONFIG).sha256sum == second_before


class Client(threading.Thread):
    """Sends chat completions through the balancer, one after another, until stopped."""

    def __init__(self, key):
        super().__init__(daemon=True)
        self.key, self.results, self.stopping = key, [], threading.Event()

    def run(self):
        while not self.stopping.is_set():
            status, body = chat(BALANCER, self.key)
            self.results.append((status, reply(body) if status == 200 else body))


def _salt_key(host):
    return [line for line in host.file("/etc/litellm/keys.env").content_string.splitlines()
            if line.startswith("LITELLM_SALT_KEY=")]


def test_a_rollout_that_rotates_the_master_key_under_continuous_traffic_fails_no_request(fleet):
    """With the broken input gone, rollout.yml brings both gateways to v2 and a
    new master key, one at a time, each drained in HAProxy first; a client
    sending requests through the balancer all along (with a virtual key, which
    the rotation leaves valid) sees no failure."""
    old_keys = {name: master_key(fleet[name]) for name in GATEWAYS}
    salts = {name: _salt_key(fleet[name]) for name in GATEWAYS}
    new_key = "sk-rotated-" + secrets.token_hex(20)
    KEPT["litellm_env_master_key"] = new_key
    client = Client(generate_key(URL[FIRST], old_keys[FIRST], key_alias=f"scaleout-client-{secrets.token_hex(4)}"))
    client.start()
    try:
        wait_for(lambda: len(client.results) >= 5, "the client under way")
        rc, out = playbook("rollout", *extra("Rolled out: v2"))
    finally:
        client.stopping.set()
        client.join(timeout=300)
    assert rc == 0, out[-4000:]
    # serial: 1, one host at a time, each drained and enabled again.
    assert out.count("TASK [Keep what is deployed now]") == len(GATEWAYS)
    assert out.count("TASK [sacred_brain.llm_gateway.litellm_balancer : Drain the gateway") >= len(GATEWAYS), out[-3000:]
    failed = [result for result in client.results if result[0] != 200]
    assert not failed, f"{len(failed)} of {len(client.results)} requests failed during the rollout: {failed[:5]}"
    replies = [text for _, text in client.results]
    assert replies[0] == "Rolled out: v1" and "Rolled out: v2" in replies, sorted(set(replies))
    # The master key: never in the output, the new one at both gateways, the
    # old one refused, and no copy of it left on any host (F23); the salt key
    # never changes with it.
    assert new_key not in out and all(key not in out for key in old_keys.values())
    for name in GATEWAYS:
        host = fleet[name]
        assert master_key(host) == new_key
        assert _salt_key(host) == salts[name] and salts[name]
        status, body = chat(URL[name], old_keys[name])
        assert status in (400, 401), f"{name} still accepts the old master key: {status} {body}"
        status, body = chat(URL[name], new_key)
        assert status == 200 and reply(body) == "Rolled out: v2", (name, body)
        assert not host.file("/var/lib/sacred-brain/rollout").exists
        found = host.run(f"grep -rlF -- {old_keys[name]} /var/lib/sacred-brain /var/tmp /tmp")
        assert found.stdout.strip() == "", f"{name} keeps the old master key in {found.stdout.split()}"


def test_check_diff_on_the_converged_fleet_changes_nothing(fleet):
    files = "/etc/litellm/* /etc/haproxy/haproxy.cfg /etc/redis/redis.conf /opt/sacred-brain/ops/litellm/config.yaml"
    before = {name: fleet[name].run(f"sha256sum {files} 2>/dev/null").stdout for name in HOSTS}
    rc, out = playbook("site", "--check", "--diff", *extra("Rolled out: v2"))
    assert rc == 0, out[-4000:]
    counters = host_recaps(out)
    assert set(counters) == set(HOSTS), out[-3000:]
    assert all(c["changed"] == 0 and c["failed"] == 0 for c in counters.values()), counters
    assert {name: fleet[name].run(f"sha256sum {files} 2>/dev/null").stdout for name in HOSTS} == before


def _main_pid(host):
    return host.run("systemctl show -p MainPID --value litellm.service").stdout.strip()


def test_killed_proxy_comes_back_by_itself(fleet):
    """systemd restarts a killed proxy (how fast is a benchmark's business, not a test's)."""
    host = fleet[FIRST]
    pid = _main_pid(host)
    assert host.run(f"kill -9 {pid}").rc == 0
    wait_for(lambda: _main_pid(host) not in ("", "0", pid), "a new proxy process")
    wait_for(lambda: live(URL[FIRST]), "the restarted proxy live")
    assert _reply(fleet, FIRST) == "Rolled out: v2"


def test_versioned_venv_is_active_through_a_link(fleet):
    for name in GATEWAYS:
        link = fleet[name].file("/opt/sacred-brain/.venv")
        assert link.is_symlink
        assert link.linked_to == "/opt/sacred-brain/venvs/litellm-1.108.7"


def test_idempotent_rollout_reports_no_change(fleet):
    # Both gateways in one batch: changed=0 on a host does not depend on the
    # batch size (the rollouts above ran one at a time), and each batch costs
    # its whole round of tasks (minutes on a loaded machine).
    rc, out = playbook("rollout", "-e", "litellm_rollout_serial=2", *extra("Rolled out: v2"))
    assert rc == 0, out[-4000:]
    assert recap(out)["changed"] == 0
    assert all(c["changed"] == 0 for c in host_recaps(out).values()), host_recaps(out)
