"""playbooks/rotate_keys.yml on the gateway whose proxy really runs on its database,
with a client chatting throughout.

keys.yml creates a managed key (litellm_key) on the real admin API and delivers it to
an env file on the gateway; a client on the gateway chats without pause, reading its
key from that file before every request, as a client restarted on delivery would.
rotate_keys.yml rotates the key (community method: a successor, the old key retiring)
and delivers the successor; once the client has switched to it, the grace period is
made to end (the retiring key's retire_at is moved into the past through the admin
API: time is moved, never waited for) and rotate_keys.yml purges the old key. The
period is bounded by those events, not by seconds. Checked: not one failed request
from the start of the client to after the purge, the client used both values, the
old value is refused after the purge and the successor chats, and no run prints a
key value or the master key.
Native gateway only: the compose gateway's proxy is on its database too, but the
rotation drives the same admin API there through the same modules, and its three
playbook runs and chatting client would add minutes to the scenario for that.
"""

import base64
import hashlib
import json

from database_helpers import CHAT, PLAYBOOKS, api, db_ready, recap, run_playbook, wait_for

ONLY_HOSTS = ("litellm-db-native",)
ALIAS = "db-scenario-rotated"
ENV_FILE = "/etc/db-scenario-client/litellm.env"
CLIENT_UNIT = "db-scenario-client"
CLIENT_LOG = "/var/lib/db-scenario-client/answers"
CLIENT_STOP = "/var/lib/db-scenario-client/stop"
# The client: one chat completion after another with the key the env file holds
# now; one line per answer (status, the key's token id: never the key itself).
CLIENT = """
import hashlib, json, os, sys, urllib.error, urllib.request
env_file, log, stop = sys.argv[1:4]
body = json.dumps(%r).encode()
while not os.path.exists(stop):
    with open(env_file) as f:
        key = [l.split("=", 1)[1] for l in f.read().splitlines() if l.startswith("OPENAI_API_KEY=")][0]
    request = urllib.request.Request("http://127.0.0.1:4000/v1/chat/completions", data=body, headers={
        "Authorization": "Bearer " + key, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=300) as answer:
            status = answer.status if json.load(answer)["choices"][0]["message"]["content"] else 0
    except urllib.error.HTTPError as exc:
        status = exc.code
    except Exception as exc:
        status = type(exc).__name__
    with open(log, "a") as f:
        f.write("%%s %%s\\n" %% (status, hashlib.sha256(key.encode()).hexdigest()))
""" % (CHAT,)


def token(value):
    return hashlib.sha256(value.encode()).hexdigest()


def delivered(host):
    lines = [line for line in host.file(ENV_FILE).content_string.splitlines() if line.startswith("OPENAI_API_KEY=")]
    assert len(lines) == 1, "OPENAI_API_KEY is not delivered once"
    return lines[0].split("=", 1)[1]


def answers(host):
    """The client's answers so far: [(status, token)]."""
    return [tuple(line.split()) for line in host.run(f"cat {CLIENT_LOG}").stdout.splitlines() if line.strip()]


def wait_for_answers_with(host, value, count=3):
    """Wait until the client has had `count` more answers with this value than now (the event, not a time)."""
    before = sum(1 for _, used in answers(host) if used == token(value))
    wait_for(lambda: sum(1 for _, used in answers(host) if used == token(value)) >= before + count,
             f"{count} more chat answers with the key of token {token(value)[:12]}", timeout=600)


def run_keys(playbook, **extra):
    variables = {
        "litellm_keys_hosts": "litellm-db-native",
        "litellm_keys_virtual_keys": [{
            "key_alias": ALIAS, "models": ["gpt-4o-mini"], "metadata": {"client": "db-scenario"},
            "deliver": [{"host": "litellm-db-native", "path": ENV_FILE, "variable": "OPENAI_API_KEY"}]}],
        **extra,
    }
    result = run_playbook("-v", "-e", json.dumps(variables), playbook=PLAYBOOKS / playbook)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return result


def test_rotate_keys_with_a_client_chatting_throughout(host, gateway):
    db_ready(host, gateway)
    host.run_test(f"rm -rf {ENV_FILE} /var/lib/db-scenario-client && mkdir -p /var/lib/db-scenario-client")
    runs = {}
    old = new = None
    try:
        runs["keys"] = run_keys("keys.yml")
        old = delivered(host)
        assert host.file(ENV_FILE).mode == 0o600

        encoded = base64.b64encode(CLIENT.encode()).decode()
        host.run_test(f"echo {encoded} | base64 -d > /var/lib/db-scenario-client/client.py")
        started = host.run(f"systemd-run --unit {CLIENT_UNIT} --property=Restart=no /usr/bin/python3 "
                           f"/var/lib/db-scenario-client/client.py {ENV_FILE} {CLIENT_LOG} {CLIENT_STOP}")
        assert started.rc == 0, started.stderr
        wait_for_answers_with(host, old)

        runs["rotate"] = run_keys("rotate_keys.yml", litellm_keys_rotation_aliases=[ALIAS],
                                  litellm_keys_rotation_older_than_days=0)
        assert f"rotated {ALIAS}" in runs["rotate"].stdout, runs["rotate"].stdout[-3000:]
        new = delivered(host)
        assert new != old and host.file(ENV_FILE).mode == 0o600
        # The client switched to the successor; the old value still works in its grace period.
        wait_for_answers_with(host, new)
        status, _ = api(host, gateway, "POST", "/v1/chat/completions", CHAT, key=old)
        assert status == 200

        # The grace period ends now: the retiring key's retire_at, as the rotation recorded it, moved into the past.
        status, info = api(host, gateway, "GET", f"/key/info?key={token(old)}")
        assert status == 200 and info["info"]["key_alias"].startswith(f"{ALIAS}.retiring."), info
        metadata = info["info"]["metadata"]
        assert metadata["retire_at"] > host.check_output("date -u +%Y-%m-%dT%H:%M:%SZ"), metadata
        metadata["retire_at"] = host.check_output("date -u -d '-1 second' +%Y-%m-%dT%H:%M:%SZ")
        status, body = api(host, gateway, "POST", "/key/update", {"key": token(old), "metadata": metadata})
        assert status == 200, body

        runs["purge"] = run_keys("rotate_keys.yml")
        assert f"purged (block) {ALIAS}.retiring." in runs["purge"].stdout, runs["purge"].stdout[-3000:]
        assert recap(runs["purge"].stdout)["failed"] == 0
        assert delivered(host) == new
        wait_for(lambda: api(host, gateway, "POST", "/v1/chat/completions", CHAT, key=old)[0] == 401,
                 "the purged key refused")
        # The client goes on after the purge, with the successor.
        wait_for_answers_with(host, new)
    finally:
        host.run(f"touch {CLIENT_STOP}")
        wait_for(lambda: host.run(f"systemctl is-active {CLIENT_UNIT}").stdout.strip() != "active",
                 "the client's end", timeout=600)
        host.run(f"systemctl reset-failed {CLIENT_UNIT}")
        seen = answers(host)
        for value in (old, new):
            if value:
                api(host, gateway, "POST", "/key/delete", {"keys": [token(value)]})
        host.run(f"rm -rf {ENV_FILE} /var/lib/db-scenario-client")

    failed = [status for status, _ in seen if status != "200"]
    assert not failed, f"{len(failed)} of {len(seen)} requests failed: {sorted(set(failed))}"
    used = [used for _, used in seen]
    assert used[0] == token(old) and used[-1] == token(new), "the client did not go from the old key to the new"
    # Once switched, never back: the file was replaced once, atomically.
    switch = used.index(token(new))
    assert set(used[:switch]) == {token(old)} and set(used[switch:]) == {token(new)}
    print(f"{len(seen)} chat completions, none failed: {switch} with the old key, {len(seen) - switch} with the new")

    secrets = [old, new, gateway["master_key"]]
    for label, run in runs.items():
        for secret in secrets:
            assert secret not in run.stdout + run.stderr, f"a key value is in the output of the {label} run"
