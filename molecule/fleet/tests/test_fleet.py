"""Rolling updates across three gateways: a change reaches every host, a
change that breaks the second host is rolled back there and stops the
rollout, a master-key rotation, check mode, and recovery after restarts.
The tests run in file order; each leaves the fleet healthy."""

import json
import secrets
import time

from fleet_helpers import HOSTS, chat, host_recaps, inventory_dir, master_key, models_with_reply, playbook, recap


def replies(fleet):
    return {name: chat(fleet[name]) for name in HOSTS}


def test_preflight_fails_on_every_host_before_any_change(fleet):
    before = {name: fleet[name].file("/opt/sacred-brain/ops/litellm/config.yaml").sha256sum for name in HOSTS}
    rc, out = playbook("rollout", "-e", json.dumps({"litellm_port": "not-a-port"}))
    assert rc != 0
    assert "litellm_port" in out
    counters = host_recaps(out)
    assert set(counters) == set(HOSTS), out[-3000:]
    assert all(c["changed"] == 0 and c["failed"] == 1 for c in counters.values()), counters
    assert {name: fleet[name].file("/opt/sacred-brain/ops/litellm/config.yaml").sha256sum for name in HOSTS} == before


def test_config_change_reaches_every_host_one_at_a_time(fleet):
    rc, out = playbook("rollout", "-e", models_with_reply("Rolled out: v2"))
    assert rc == 0, out[-4000:]
    # serial: 1 means one play section, and one recap line per host, per host in turn.
    assert out.count("TASK [Keep what is deployed now]") == len(HOSTS)
    for name, (status, body) in replies(fleet).items():
        assert status == 200, (name, body)
        assert body["choices"][0]["message"]["content"] == "Rolled out: v2", name


def test_breaking_change_is_rolled_back_on_the_second_host_and_stops_the_rollout(fleet):
    config = "/opt/sacred-brain/ops/litellm/config.yaml"
    third_before = fleet["litellm-fleet-3"].file(config).sha256sum
    # Only the second host gets a proxy argument that makes it fail to start.
    breaker = inventory_dir() / "host_vars" / "litellm-fleet-2.yml"
    breaker.parent.mkdir(exist_ok=True)
    breaker.write_text("---\nlitellm_service_extra_args: ['--no-such-option']\n")
    try:
        rc, out = playbook("rollout", "-e", models_with_reply("Rolled out: v3"))
    finally:
        breaker.unlink()
    assert rc != 0
    assert "Rollout stopped at litellm-fleet-2" in out, out[-4000:]
    assert "was rolled back to its previous version and config and is healthy" in out
    counters = host_recaps(out)
    assert counters["litellm-fleet-1"]["changed"] > 0
    assert counters["litellm-fleet-3"]["changed"] == 0, "the third host must not be changed"

    status, body = chat(fleet["litellm-fleet-1"])
    assert status == 200 and body["choices"][0]["message"]["content"] == "Rolled out: v3"
    status, body = chat(fleet["litellm-fleet-2"])
    assert status == 200 and body["choices"][0]["message"]["content"] == "Rolled out: v2", body
    assert "--no-such-option" not in fleet["litellm-fleet-2"].file("/etc/systemd/system/litellm.service").content_string
    assert fleet["litellm-fleet-2"].service("litellm.service").is_running
    status, body = chat(fleet["litellm-fleet-3"])
    assert status == 200 and body["choices"][0]["message"]["content"] == "Rolled out: v2"
    assert fleet["litellm-fleet-3"].file(config).sha256sum == third_before



def test_master_key_rotation_across_the_fleet(fleet):
    """With the broken input gone, one rollout brings every host to v3 and a new master key."""
    old_keys = {name: master_key(fleet[name]) for name in HOSTS}
    new_key = "sk-rotated-" + secrets.token_hex(20)
    rc, out = playbook("rollout", "-e", models_with_reply("Rolled out: v3"),
                       "-e", json.dumps({"litellm_env_master_key": new_key}))
    assert rc == 0, out[-4000:]
    assert new_key not in out and all(key not in out for key in old_keys.values())
    for name in HOSTS:
        host = fleet[name]
        assert master_key(host) == new_key
        status, body = chat(host, key=old_keys[name])
        # 401 with a database; without one LiteLLM answers 400 "No connected db".
        assert status in (400, 401), f"{name} still accepts the old master key: {status} {body}"
        status, body = chat(host, key=new_key)
        assert status == 200, (name, body)
        assert body["choices"][0]["message"]["content"] == "Rolled out: v3"
    # No copy of the old master key is left on any host: the rollout kept its
    # snapshot in memory, and removed the directory earlier versions wrote (F23).
    for name in HOSTS:
        host = fleet[name]
        assert not host.file("/var/lib/sacred-brain/rollout").exists
        found = host.run(f"grep -rlF -- {old_keys[name]} /var/lib/sacred-brain /var/tmp /tmp")
        assert found.stdout.strip() == "", f"{name} keeps the old master key in {found.stdout.split()}"
    # The salt key never changes with the master key.
    for name in HOSTS:
        salt = [line for line in fleet[name].file("/etc/litellm/keys.env").content_string.splitlines()
                if line.startswith("LITELLM_SALT_KEY=")]
        assert salt and len(salt[0]) > len("LITELLM_SALT_KEY=") + 30


def test_check_diff_on_the_converged_fleet_changes_nothing(fleet):
    before = {name: fleet[name].run("sha256sum /etc/litellm/* /opt/sacred-brain/ops/litellm/config.yaml").stdout
              for name in HOSTS}
    # rollout.yml only: site.yml --check --diff on a converged host is the
    # venv scenario's (the same roles, one host).
    rc, out = playbook("rollout", "--check", "--diff", "-e", models_with_reply("Rolled out: v3"))
    assert rc == 0, out[-4000:]
    counters = host_recaps(out)
    assert set(counters) == set(HOSTS)
    assert all(c["changed"] == 0 and c["failed"] == 0 for c in counters.values()), counters
    after = {name: fleet[name].run("sha256sum /etc/litellm/* /opt/sacred-brain/ops/litellm/config.yaml").stdout
             for name in HOSTS}
    assert after == before


def _wait_healthy(host, deadline_s):
    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        if host.run("curl -sf -m 2 -o /dev/null http://127.0.0.1:4000/health/liveliness").rc == 0:
            return time.monotonic() - start
        time.sleep(0.5)
    return None


def _main_pid(host):
    return host.run("systemctl show -p MainPID --value litellm.service").stdout.strip()


def test_killed_proxy_comes_back_by_itself(fleet):
    """systemd restarts a killed proxy (how fast is a benchmark's business, not a test's)."""
    host = fleet["litellm-fleet-1"]
    pid = _main_pid(host)
    assert host.run(f"kill -9 {pid}").rc == 0
    # Healthy again only counts once a new process serves.
    deadline = time.monotonic() + 300
    while _main_pid(host) in ("", "0", pid):
        assert time.monotonic() < deadline, host.run("journalctl -u litellm.service -n 40 --no-pager").stdout
        time.sleep(0.5)
    elapsed = _wait_healthy(host, 300)
    assert elapsed is not None, host.run("journalctl -u litellm.service -n 40 --no-pager").stdout


def test_restarted_gateway_host_comes_back_by_itself(fleet):
    import subprocess
    subprocess.run(["docker", "restart", "litellm-fleet-3"], check=True, capture_output=True)
    host = fleet["litellm-fleet-3"]
    assert _wait_healthy(host, 300) is not None
    status, body = chat(host)
    assert status == 200 and body["choices"], body


def test_versioned_venv_is_active_through_a_link(fleet):
    for name in HOSTS:
        link = fleet[name].file("/opt/sacred-brain/.venv")
        assert link.is_symlink
        assert link.linked_to == "/opt/sacred-brain/venvs/litellm-1.108.7"


def test_idempotent_rollout_reports_no_change(fleet):
    rc, out = playbook("rollout", "-e", models_with_reply("Rolled out: v3"))
    assert rc == 0, out[-4000:]
    assert recap(out)["changed"] == 0
    assert all(c["changed"] == 0 for c in host_recaps(out).values()), host_recaps(out)
