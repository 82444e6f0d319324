"""Rolling updates across the two gateways (the stories the fleet scenario
told on three): a preflight that fails everywhere before any change, a change
that breaks the first host is rolled back there and stops the rollout, a
master-key rotation across the fleet, check mode, recovery after a killed
proxy and a restarted host, and an idempotent rollout. They run after
test_scaleout.py (v2 rolled out), in file order; each leaves the fleet
healthy."""

import json
import secrets
import subprocess

from scaleout_helpers import (CONFIG, GATEWAYS, HOSTS, URL, chat, host_recaps, inventory_dir, live, master_key,
                              models_with_reply, playbook, recap, reply, wait_for)

FIRST, SECOND = GATEWAYS
# What every later run must pass to keep the fleet as the tests left it (the
# rotated master key).
KEPT = {}


def _extra(text):
    return ["-e", models_with_reply(text), *(["-e", json.dumps(KEPT)] if KEPT else [])]


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
        rc, out = playbook("rollout", *_extra("Rolled out: v3"))
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
    assert _reply(fleet, FIRST) == "Rolled out: v2"
    assert "--no-such-option" not in fleet[FIRST].file("/etc/systemd/system/litellm.service").content_string
    assert fleet[FIRST].service("litellm.service").is_running
    assert _reply(fleet, SECOND) == "Rolled out: v2"
    assert fleet[SECOND].file(CONFIG).sha256sum == second_before


def test_master_key_rotation_across_the_fleet(fleet):
    """With the broken input gone, one rollout brings both hosts to v3 and a new master key."""
    old_keys = {name: master_key(fleet[name]) for name in GATEWAYS}
    new_key = "sk-rotated-" + secrets.token_hex(20)
    KEPT["litellm_env_master_key"] = new_key
    rc, out = playbook("rollout", *_extra("Rolled out: v3"))
    assert rc == 0, out[-4000:]
    assert new_key not in out and all(key not in out for key in old_keys.values())
    for name in GATEWAYS:
        assert master_key(fleet[name]) == new_key
        status, body = chat(URL[name], old_keys[name])
        assert status in (400, 401), f"{name} still accepts the old master key: {status} {body}"
        status, body = chat(URL[name], new_key)
        assert status == 200 and reply(body) == "Rolled out: v3", (name, body)
    # No copy of the old master key is left on any host (F23).
    for name in GATEWAYS:
        host = fleet[name]
        assert not host.file("/var/lib/sacred-brain/rollout").exists
        found = host.run(f"grep -rlF -- {old_keys[name]} /var/lib/sacred-brain /var/tmp /tmp")
        assert found.stdout.strip() == "", f"{name} keeps the old master key in {found.stdout.split()}"


def test_check_diff_on_the_converged_fleet_changes_nothing(fleet):
    files = "/etc/litellm/* /etc/haproxy/haproxy.cfg /etc/redis/redis.conf /opt/sacred-brain/ops/litellm/config.yaml"
    before = {name: fleet[name].run(f"sha256sum {files} 2>/dev/null").stdout for name in HOSTS}
    rc, out = playbook("site", "--check", "--diff", *_extra("Rolled out: v3"))
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
    assert _reply(fleet, FIRST) == "Rolled out: v3"


def test_restarted_gateway_host_comes_back_by_itself(fleet):
    subprocess.run(["docker", "restart", SECOND], check=True, capture_output=True)
    wait_for(lambda: live(URL[SECOND]), "the restarted host's proxy live")
    assert _reply(fleet, SECOND) == "Rolled out: v3"


def test_versioned_venv_is_active_through_a_link(fleet):
    for name in GATEWAYS:
        link = fleet[name].file("/opt/sacred-brain/.venv")
        assert link.is_symlink
        assert link.linked_to == "/opt/sacred-brain/venvs/litellm-1.108.7"


def test_idempotent_rollout_reports_no_change(fleet):
    rc, out = playbook("rollout", *_extra("Rolled out: v3"))
    assert rc == 0, out[-4000:]
    assert recap(out)["changed"] == 0
    assert all(c["changed"] == 0 for c in host_recaps(out).values()), host_recaps(out)
