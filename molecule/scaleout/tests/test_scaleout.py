"""Two gateways on one PostgreSQL and one Redis behind HAProxy (issue 16),
all against the real proxies: keys and rate limits hold across the fleet,
Redis going away and coming back, and a gateway host stopped. The rollout
under continuous traffic is in test_scaleout_rollouts.py, which runs after
this file. The tests run in file order; each leaves the fleet healthy."""

import secrets
import subprocess

from scaleout_helpers import BALANCER, GATEWAYS, INFRA, URL, call, chat, generate_key, live, master_key, reply, wait_for

A, B = GATEWAYS


def _master(fleet):
    return master_key(fleet[A])


def test_the_fleet_shares_one_master_key_and_serves_through_the_balancer(fleet):
    assert master_key(fleet[A]) == master_key(fleet[B])
    for base in (URL[A], URL[B], BALANCER):
        status, body = chat(base, _master(fleet))
        assert status == 200, (base, body)
        assert reply(body) == "Rolled out: v1"


def test_a_key_generated_at_one_gateway_works_at_the_other_and_a_key_deleted_there_is_refused(fleet):
    master = _master(fleet)
    key = generate_key(URL[A], master, key_alias=f"scaleout-{secrets.token_hex(4)}")
    # At once: B reads the key from the shared database on its first use.
    status, body = chat(URL[B], key)
    assert status == 200, body
    status, body = call(URL[B], "/key/delete", master, {"keys": [key]})
    assert status == 200, body
    # A served the key before (its in-memory key cache); the delete at B
    # reaches A through the shared database and Redis.
    status, body = chat(URL[A], key)
    assert status == 401, f"A still accepts a key deleted at B: {status} {body}"


def _limited_key(fleet, rpm):
    return generate_key(URL[A], _master(fleet), rpm_limit=rpm, key_alias=f"scaleout-rpm-{secrets.token_hex(4)}")


def test_an_rpm_limit_holds_across_the_gateways(fleet):
    rpm = 4
    key = _limited_key(fleet, rpm)
    for index in range(rpm):
        status, body = chat(URL[GATEWAYS[index % 2]], key)
        assert status == 200, (index, body)
    # The next one is refused whichever gateway it reaches.
    for gateway in GATEWAYS:
        status, body = chat(URL[gateway], key)
        assert status == 429, f"{gateway} let request {rpm + 1} of a key limited to {rpm} rpm through: {body}"


def _limit_shared(fleet, rpm):
    key = _limited_key(fleet, rpm)
    for index in range(rpm):
        status, body = chat(URL[GATEWAYS[index % 2]], key)
        assert status == 200, body
    return all(chat(URL[gateway], key)[0] == 429 for gateway in GATEWAYS)


def _redis(fleet, action):
    result = fleet[INFRA].run(f"systemctl {action} redis-server.service")
    assert result.rc == 0, result.stderr


def _cache_ping(gateway, master):
    return call(URL[gateway], "/cache/ping", master, timeout=60)


def test_with_redis_stopped_the_gateways_keep_serving_and_report_the_cache_down(fleet):
    master = _master(fleet)
    for gateway in GATEWAYS:
        status, body = _cache_ping(gateway, master)
        assert status == 200 and body["status"] == "healthy", (gateway, body)
    key = generate_key(URL[A], master, key_alias=f"scaleout-noredis-{secrets.token_hex(4)}")
    _redis(fleet, "stop")
    try:
        for gateway in GATEWAYS:
            wait_for(lambda g=gateway: _cache_ping(g, master)[0] == 503, f"{gateway} reporting the cache down")
        # Chat completions go on at both, with a key and with the master key.
        for gateway in GATEWAYS:
            for credential in (key, master):
                status, body = chat(URL[gateway], credential)
                assert status == 200 and reply(body), (gateway, body)
        status, body = chat(BALANCER, key)
        assert status == 200, body
        # Nothing lost: a key generated while Redis is down is in the database,
        # and the keys made before still answer at both gateways.
        later = generate_key(URL[B], master, key_alias=f"scaleout-noredis-{secrets.token_hex(4)}")
        for gateway in GATEWAYS:
            status, body = chat(URL[gateway], later)
            assert status == 200, (gateway, body)
    finally:
        _redis(fleet, "start")
    # Redis back, the gateways not restarted: they reach it again, and a
    # limit is shared again.
    pids = {gateway: fleet[gateway].run("systemctl show -p MainPID --value litellm.service").stdout.strip()
            for gateway in GATEWAYS}
    for gateway in GATEWAYS:
        wait_for(lambda g=gateway: _cache_ping(g, master)[0] == 200, f"{gateway} reaching Redis again")
    # LiteLLM's Redis clients come back on their own (its circuit breaker
    # lets a call through again after a while): a fresh limited key each time
    # until one is refused at both gateways after its limit spread across them.
    wait_for(lambda: _limit_shared(fleet, rpm=2), "a limit shared across the gateways again", interval=5)
    assert pids == {gateway: fleet[gateway].run("systemctl show -p MainPID --value litellm.service").stdout.strip()
                    for gateway in GATEWAYS}


def _balancer_state(fleet, gateway):
    out = fleet[INFRA].run(
        "python3 -c \"import socket; s = socket.socket(socket.AF_UNIX); s.connect('/run/haproxy/admin.sock'); "
        "s.sendall(b'show servers state litellm_gateways\\n'); print(s.makefile().read())\"").stdout
    for line in out.splitlines():
        fields = line.split()
        if len(fields) > 5 and fields[3] == gateway:
            return fields[5]  # srv_op_state: 2 is running
    return None


def _docker(action, name):
    subprocess.run(["docker", action, name], check=True, capture_output=True)


def test_with_one_gateway_host_stopped_the_balancer_keeps_serving_and_the_host_comes_back_by_itself(fleet):
    """The whole host stopped (a stronger outage than its proxy alone), then
    started: its proxy comes back by itself and HAProxy takes it back."""
    master = _master(fleet)
    _docker("stop", A)
    try:
        # Every request through the balancer succeeds, from the moment A stops:
        # HAProxy retries a request that could not connect on the other gateway.
        for _ in range(20):
            status, body = chat(BALANCER, master)
            assert status == 200, body
        wait_for(lambda: _balancer_state(fleet, A) == "0", "the stopped gateway marked down by HAProxy")
        for _ in range(10):
            status, body = chat(BALANCER, master)
            assert status == 200, body
    finally:
        _docker("start", A)
    wait_for(lambda: live(URL[A]), "the restarted host's proxy live")
    wait_for(lambda: _balancer_state(fleet, A) == "2", "the gateway back in the balancer")
    status, body = chat(URL[A], master)
    assert status == 200 and reply(body) == "Rolled out: v1", body
