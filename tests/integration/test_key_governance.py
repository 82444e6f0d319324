"""Key governance (issue 15) against LiteLLM 1.108.7's real admin API (``make test``) or the stand-in.

The second real proxy (LITELLM_TEST_POLICY_URL) runs with tests/realapi/policy-config.yaml:
``default_key_generate_params`` (duration 90d, max_budget 5 per 30d), ``upperbound_key_generate_params``
(tpm_limit 100000, max_budget 50, duration 180d) and budget alerts to a webhook (WEBHOOK_URL, set by
scripts/real-admin-api.sh). LiteLLM applies those parameters to master-key requests too, which is
what these tests hold the modules against: a key lives exactly as declared, whatever the proxy fills in.
Time is moved on the clock the modules read (the fault proxy's Date header), never waited for.
"""

from __future__ import annotations

import datetime
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from litellm_it import Ansible, assert_no_secret, keys_of

DAY = 86400


def parse(value: str) -> datetime.datetime:
    dt = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=datetime.timezone.utc)


def info(proxy: Any, token: str) -> dict:
    status, body = proxy.call("GET", "/key/info", params={"key": token})
    assert status == 200, body
    return body["info"]


def holder(proxy: Any, alias: str) -> dict:
    [key] = [k for k in keys_of(proxy, alias) if k["key_alias"] == alias]
    return dict(info(proxy, key["token"]), token=key["token"])


@pytest.fixture
def policy(tmp_path: Path) -> Any:
    """(proxy, ansible) of an admin API whose config sets the key policies of policy-config.yaml."""
    from test_differential import policy_settings
    from tests.realapi import RealApi, real_api_configured
    from tests.realapi.faultproxy import fault_proxy
    from tests.standin.fixture import remote_proxy_from_env, run_standin

    work = tmp_path / "policy"
    work.mkdir()
    if real_api_configured():
        url = os.environ.get("LITELLM_TEST_POLICY_URL")
        if not url:
            pytest.fail("LITELLM_TEST_POLICY_URL is not set: start the real API with "
                        "LITELLM_POLICY_CONFIG=tests/realapi/policy-config.yaml scripts/real-admin-api.sh start")
        master_key = remote_proxy_from_env().master_key
        with fault_proxy(url, master_key) as faulty:
            proxy = RealApi(faulty.url, master_key, upstream=url)
            yield proxy, Ansible(work, proxy)
        return
    with run_standin(db_path=tmp_path / "policy.db", **policy_settings()) as proxy:
        yield proxy, Ansible(work, proxy)


# -- keys live exactly as declared ---------------------------------------------------------------------------

def test_keys_live_as_declared_and_are_renewed_by_the_scheduled_job(policy, name):
    """On a proxy whose defaults give every key 90 days and a budget of 5 per 30 days (and whose upper bound
    fills tpm_limit), keys.yml makes a key declared without duration that never expires and carries no
    budget, and a key declared with 10 days that lives 10 days. Eight days later (on the modules' clock)
    rotate_keys.yml rotates the first by age, and renews the second because it expires within 3 days: each
    successor lives as declared (no expiry; a fresh 10 days), the new values are delivered."""
    from litellm_it import PLAYBOOKS

    proxy, ansible = policy
    forever, tenday = name("forever"), name("tenday")
    keys_env = ansible.dir / "keys.env"
    keys_env.write_text(f"LITELLM_MASTER_KEY={proxy.master_key}\n")
    keys_env.chmod(0o600)
    files = {alias: ansible.dir / "client" / alias for alias in (forever, tenday)}
    files[forever].parent.mkdir()
    ansible.write_inventory(
        litellm_keys_api_url=proxy.url, litellm_keys_master_key_file=str(keys_env), litellm_keys_retries=0,
        litellm_keys_rotation_older_than_days=5, litellm_keys_rotation_renew_within_days=3,
        litellm_keys_rotation_grace_period="1h",
        litellm_keys_virtual_keys=[
            {"key_alias": forever, "models": ["fake-model"], "rpm_limit": 7,
             "deliver": [{"host": "client1", "path": str(files[forever])}]},
            {"key_alias": tenday, "duration": "10d", "max_budget": 3,
             "deliver": [{"host": "client1", "path": str(files[tenday])}]},
        ],
    )
    made = ansible.playbook(PLAYBOOKS / "keys.yml")
    assert made.rc == 0, made
    first = {alias: path.read_text().strip() for alias, path in files.items()}
    row = holder(proxy, forever)
    assert row["expires"] is None, row  # was: 90 days out (contract review F3)
    assert row["max_budget"] is None and row["budget_duration"] is None and row["tpm_limit"] is None, row
    assert row["rpm_limit"] == 7 and row["metadata"]["lifetime"] == "never", row
    row = holder(proxy, tenday)
    lifetime = parse(row["expires"]) - parse(row["created_at"])
    assert abs(lifetime.total_seconds() - 10 * DAY) < 600, row  # 10 days, not the default 90
    assert row["max_budget"] == 3 and row["budget_duration"] is None and row["tpm_limit"] is None, row

    proxy.advance_clock(8 * DAY)
    renewed = ansible.playbook(PLAYBOOKS / "rotate_keys.yml", verbosity=1)
    assert renewed.rc == 0, renewed
    assert f"rotated {tenday}: token" in renewed.output and "(renewed: it would have expired" in renewed.output, renewed
    assert f"rotated {forever}: token" in renewed.output, renewed
    second = {alias: path.read_text().strip() for alias, path in files.items()}
    for alias in files:
        assert second[alias] != first[alias] and proxy.chat(second[alias]).status == 200
    successor = holder(proxy, forever)
    assert successor["expires"] is None, successor  # was: the predecessor's remaining 90 days
    assert successor["max_budget"] is None and successor["tpm_limit"] is None and successor["rpm_limit"] == 7
    successor = holder(proxy, tenday)
    lifetime = parse(successor["expires"]) - parse(successor["created_at"])
    # A fresh 10 days from its creation; before, the successor got what the modules' clock said was left
    # (2 days). LiteLLM's own clock did not move, so its expiry is compared with its created_at.
    assert abs(lifetime.total_seconds() - 10 * DAY) < 600, successor
    assert successor["max_budget"] == 3 and successor["budget_duration"] is None
    assert_no_secret(made.output + renewed.output, *first.values(), *second.values(), proxy.master_key)


# -- budget alerts to a webhook --------------------------------------------------------------------------------

class Receiver(BaseHTTPRequestHandler):
    """A local webhook receiver: keeps every JSON body posted to it."""

    received: list[tuple[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace")
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        type(self).received.append((raw, body))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def webhook() -> Any:
    """The receiver at LITELLM_TEST_WEBHOOK_URL, where the policy proxy sends its alerts (WEBHOOK_URL)."""
    from tests.realapi import real_api_configured

    url = os.environ.get("LITELLM_TEST_WEBHOOK_URL")
    if not real_api_configured():
        pytest.skip("budget alerts are LiteLLM's own (its SlackAlerting webhook): the real API only")
    if not url:
        pytest.fail("LITELLM_TEST_WEBHOOK_URL is not set: scripts/real-admin-api.sh start prints it")
    parts = urlsplit(url)
    HTTPServer.allow_reuse_address = True
    server = HTTPServer((parts.hostname, parts.port), type("Hook", (Receiver,), {"received": []}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.RequestHandlerClass.received
    server.shutdown()
    server.server_close()


def test_soft_budget_alert_reaches_the_webhook_naming_the_alias_not_the_key(policy, webhook, name):
    """A key with a tiny soft budget, chat requests until LiteLLM's auth sees its spend over it: the
    receiver gets a soft_budget_crossed alert with the key's alias and token id, never its value."""
    import time

    proxy, ansible = policy
    alias = name("soft")
    # gpt-4o-mini has a price in LiteLLM's cost map (fake-model costs nothing): each mock chat adds spend.
    created = ansible.module("litellm_key", {"key_alias": alias, "models": ["gpt-4o-mini"],
                                             "soft_budget": 0.0000001, "max_budget": 10})
    assert not created.get("failed") and created["changed"] is True, created
    value = created["key"]

    def alerts() -> list[dict]:
        return [body for _path, body in webhook if isinstance(body, dict) and body.get("key_alias") == alias
                and body.get("event") == "soft_budget_crossed"]

    # A condition with a deadline of minutes, not a sleep: the spend of each chat reaches the key in
    # LiteLLM's cache after the answer, and the alert is sent in the background.
    deadline = time.monotonic() + 300
    while not alerts():
        assert time.monotonic() < deadline, f"no soft-budget alert for {alias} after 5 minutes: {webhook}"
        assert proxy.chat(value, model="gpt-4o-mini").status == 200
        time.sleep(1)
    alert = alerts()[0]
    assert "Soft Budget" in alert["event_message"], alert
    assert alert["soft_budget"] == pytest.approx(0.0000001) and alert["spend"] >= alert["soft_budget"], alert
    assert alert["max_budget"] == 10, alert
    assert alert["event_group"] == "key" and alert["token"] == created["token"], alert
    assert holder(proxy, alias)["blocked"] in (None, False)  # a soft budget alerts, it does not block
    assert proxy.chat(value, model="gpt-4o-mini").status == 200
    for raw, _body in webhook:
        assert_no_secret(raw, value, proxy.master_key)


# -- preflight: a budget without a database, a key over an upper bound ---------------------------------------

def test_preflight_refuses_a_budget_without_database_and_a_key_over_an_upper_bound(ansible, proxy, name):
    """With the gateway's settings in the inventory (no database, a global budget, an upper bound), keys.yml
    stops in its preflight: it names the budget variable and the database modes, and the declared key and the
    limit it is over; nothing on the proxy changes. (site.yml's preflight runs the same rules,
    plugins/filter/litellm_key_governance.py, tested in tests/unit/filter/test_key_governance.py.)"""
    from litellm_it import PLAYBOOKS, snapshot

    alias = name("over")
    keys_env = ansible.dir / "keys.env"
    keys_env.write_text(f"LITELLM_MASTER_KEY={proxy.master_key}\n")
    keys_env.chmod(0o600)
    ansible.write_inventory(
        litellm_database_mode="none",
        litellm_config_litellm_settings={"max_budget": 50,
                                         "upperbound_key_generate_params": {"tpm_limit": 100000}},
        litellm_keys_api_url=proxy.url, litellm_keys_master_key_file=str(keys_env), litellm_keys_retries=0,
        litellm_keys_virtual_keys=[{"key_alias": alias, "tpm_limit": 200000}],
    )
    before = snapshot(proxy)
    keys = ansible.playbook(PLAYBOOKS / "keys.yml")
    assert keys.rc != 0, keys
    assert "Nothing was changed" in keys.output, keys
    assert "litellm_config_litellm_settings.max_budget (50, a global budget) is enforced by LiteLLM only with a " \
           "database, and litellm_database_mode is none: choose litellm_database_mode compose, native or " \
           "external" in keys.output, keys
    assert f"litellm_keys_virtual_keys entry '{alias}': tpm_limit 200000 is over " \
           "litellm_config_litellm_settings.upperbound_key_generate_params.tpm_limit 100000" in keys.output, keys
    assert keys.recap()["changed"] == 0, keys
    assert snapshot(proxy) == before
    assert keys_of(proxy, alias) == []
    assert_no_secret(keys.output, proxy.master_key)


# -- the key audit -----------------------------------------------------------------------------------------------

def test_key_audit_flags_each_planted_case_without_a_key_value(ansible, proxy, name, tmp_path):
    """key_audit.yml end to end: keys planted in each state; check mode writes nothing; the JSON and
    Markdown reports (0600) flag each case; two days later (on the modules' clock) the old and unused
    keys fail the play when asked; no key value anywhere."""
    import stat

    from litellm_it import PLAYBOOKS, snapshot

    def plant(alias: str, **body: Any) -> str:
        status, answer = proxy.call("POST", "/key/generate", {"key_alias": alias, **body})
        assert status == 200, answer
        return answer["key"]

    a = {k: name(k) for k in ("clean", "nobudget", "expiring", "blocked", "orphan", "undeclared")}
    a["badalias"] = name("Bad_Alias")
    values = [
        plant(a["clean"], max_budget=5),
        plant(a["nobudget"]),
        plant(a["expiring"], max_budget=5, duration="3d"),
        plant(a["blocked"], max_budget=5),
        plant(a["orphan"], max_budget=5, user_id=name("nobody")),  # LiteLLM accepts a user that does not exist
        plant(a["undeclared"], max_budget=5),
        plant(a["badalias"], max_budget=5),
    ]
    assert proxy.call("POST", "/key/block", {"key": values[3]}).status == 200
    reports = tmp_path / "reports"
    reports.mkdir()
    keys_env = ansible.dir / "keys.env"
    keys_env.write_text(f"LITELLM_MASTER_KEY={proxy.master_key}\n")
    keys_env.chmod(0o600)
    ansible.write_inventory(
        litellm_keys_api_url=proxy.url, litellm_keys_master_key_file=str(keys_env), litellm_keys_retries=0,
        litellm_keys_virtual_keys=[{"key_alias": a[k]} for k in a if k != "undeclared"],
        litellm_key_audit_report_dir=str(reports), litellm_key_audit_alias_pattern="it-[a-z]+-[0-9a-f]{8}",
        litellm_key_audit_unused_days=1, litellm_key_audit_older_than_days=1, litellm_key_audit_expiring_within_days=7,
    )
    before = snapshot(proxy)
    check = ansible.playbook(PLAYBOOKS / "key_audit.yml", check=True)
    assert check.rc == 0, check
    assert list(reports.iterdir()) == []  # check mode reports the files it would write, and writes none

    run = ansible.playbook(PLAYBOOKS / "key_audit.yml")
    assert run.rc == 0, run
    report = json.loads((reports / "key-audit.json").read_text())
    markdown = (reports / "key-audit.md").read_text()
    for path in reports.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    found = {e["alias"]: set(e["findings"]) for e in report["keys"]}
    assert found[a["clean"]] == set(), found[a["clean"]]
    assert found[a["nobudget"]] == {"no_budget"}
    assert found[a["expiring"]] == {"expiring"}
    assert found[a["blocked"]] == {"blocked"}
    assert found[a["orphan"]] == {"orphaned"}
    assert found[a["undeclared"]] == {"undeclared"}
    assert found[a["badalias"]] == {"alias_pattern"}
    for alias in a.values():
        assert alias in markdown
    assert f"{a['orphan']} (token " in run.output and ": orphaned" in run.output  # the summary in the play output

    # Two days later the planted keys are old and unused; a compliance job that fails on "old" fails.
    proxy.advance_clock(2 * DAY)
    later = ansible.playbook(PLAYBOOKS / "key_audit.yml", extra_vars={"litellm_key_audit_fail_on": ["old", "orphaned"]})
    assert later.rc != 0 and "The key audit found" in later.output and " old" in later.output, later
    report = json.loads((reports / "key-audit.json").read_text())
    found = {e["alias"]: set(e["findings"]) for e in report["keys"]}
    assert found[a["clean"]] == {"old", "unused"}, found[a["clean"]]
    assert snapshot(proxy) == before  # read-only
    everything = check.output + run.output + later.output + markdown + json.dumps(report)
    assert_no_secret(everything, proxy.master_key, *values)
