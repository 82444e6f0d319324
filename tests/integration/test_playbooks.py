"""keys.yml and rotate_keys.yml end to end, as an operator runs them: keys as
code from inventory, delivery to an env file (mode 0600) on a named host, to a
file of its own and to a vault file on the controller, undeclared keys reported
and removed, the scheduled rotation with delivery, and a report without secrets
at -v. The master key is read from the gateway's keys.env, as on a real host."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from litellm_it import PLAYBOOKS, Ansible, assert_no_secret, derive_key, keys_of, pass_time, snapshot, token_of

VAULT_PASSWORD = "integration-vault-password"


def decrypt(path: Path, password: str = VAULT_PASSWORD) -> dict:
    from ansible.parsing.vault import VaultLib, VaultSecret

    vault = VaultLib([("default", VaultSecret(password.encode()))])
    return yaml.safe_load(vault.decrypt(path.read_bytes()))


def env_value(path: Path, variable: str) -> str:
    lines = [line for line in path.read_text().splitlines() if line.startswith(variable + "=")]
    assert len(lines) == 1, lines
    return lines[0].split("=", 1)[1]


class Story:
    """The operator's inventory and what each run left behind."""

    def __init__(self, tmp: Path, proxy: Any) -> None:
        self.tmp, self.proxy = tmp, proxy
        self.ansible = Ansible(tmp, proxy)
        suffix = tmp.name[-6:].replace("_", "")
        self.alias = {k: f"it-{k}-{suffix}" for k in ("openwebui", "batch", "plain", "team", "user", "stray", "foreign")}
        self.env_file = tmp / "openwebui" / "litellm.env"
        self.key_file = tmp / "batch" / "key"
        self.vault_file = tmp / "keys.vault.yml"
        self.keys_env = tmp / "keys.env"
        (tmp / "vault-pass").write_text(VAULT_PASSWORD + "\n")
        self.keys_env.write_text(f"# as litellm_env keeps it\nLITELLM_MASTER_KEY={proxy.master_key}\nLITELLM_SALT_KEY=x\n")
        self.keys_env.chmod(0o600)
        self.env_file.parent.mkdir()
        self.env_file.write_text("WEBUI_NAME=Sacred Brain\nOPENAI_API_KEY=sk-placeholder-to-be-replaced\n")
        self.env_file.chmod(0o644)
        self.key_file.parent.mkdir()
        # Time is moved, never waited for: keys become due and grace periods end on the clock the
        # modules read (the stand-in's, or the fault proxy's Date header in front of the real API).
        self.due_days = 30
        self.grace = 3600
        a = self.alias
        self.vars = {
            "litellm_keys_api_url": proxy.url,
            "litellm_keys_master_key_file": str(self.keys_env),
            "litellm_keys_retries": 0,
            "litellm_keys_vault_password_file": str(tmp / "vault-pass"),
            "litellm_keys_rotation_older_than_days": self.due_days,
            "litellm_keys_rotation_grace_period": f"{self.grace}s",
            "litellm_keys_teams": [{"team_alias": a["team"], "team_id": a["team"], "max_budget": 100}],
            "litellm_keys_users": [{"user_id": a["user"], "max_budget": 10, "user_role": "internal_user"}],
            "litellm_keys_virtual_keys": [
                {"key_alias": a["openwebui"], "models": ["fake-model"], "max_budget": 5, "soft_budget": 4,
                 "team_id": a["team"], "user_id": a["user"], "metadata": {"client": "openwebui"},
                 "deliver": [{"host": "client1", "path": str(self.env_file), "variable": "OPENAI_API_KEY"},
                             {"vault_file": str(self.vault_file), "variable": "openwebui_litellm_key"}]},
                {"key_alias": a["batch"], "max_budget": 2, "budget_duration": "30d",
                 "deliver": [{"host": "client1", "path": str(self.key_file), "mode": "0640"}]},
                {"key_alias": a["plain"], "tpm_limit": 1000},  # no delivery target: never rotated
            ],
        }
        self.ansible.write_inventory(**self.vars)
        self.runs: dict[str, Any] = {}
        self.values: dict[str, Any] = {}
        self.snapshots: dict[str, Any] = {}

    def run(self, label: str, playbook: str, **kwargs: Any):
        run = self.ansible.playbook(PLAYBOOKS / playbook, **kwargs)
        self.runs[label] = run
        return run

    def delivered(self) -> dict[str, str]:
        return {
            "env": env_value(self.env_file, "OPENAI_API_KEY"),
            "vault": decrypt(self.vault_file)["openwebui_litellm_key"],
            "file": self.key_file.read_text().strip(),
        }


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    from tests.realapi import admin_api

    tmp = tmp_path_factory.mktemp("story")
    with admin_api(tmp) as proxy:
        yield Story(tmp, proxy)


@pytest.fixture(scope="module")
def made(story):
    """keys.yml: check mode on an empty proxy, apply at -v, apply again, check again."""
    s, proxy = story, story.proxy
    s.snapshots["empty"] = snapshot(proxy)
    s.run("check_fresh", "keys.yml", check=True)
    s.snapshots["after_check_fresh"] = snapshot(proxy)
    s.values["files_after_check"] = [p.exists() for p in (s.key_file, s.vault_file)]
    s.run("apply", "keys.yml", verbosity=1)
    s.values["created"] = s.delivered()
    # Keys this inventory does not declare: one marked as managed by the role, one not.
    proxy.call("POST", "/key/generate", {"key_alias": s.alias["stray"], "metadata": {"managed_by": "sacred_brain.llm_gateway"}})
    proxy.call("POST", "/key/generate", {"key_alias": s.alias["foreign"]})
    s.snapshots["before_again"] = snapshot(proxy)
    s.run("apply_again", "keys.yml", verbosity=1)
    s.run("check_again", "keys.yml", check=True)
    s.snapshots["after_again"] = snapshot(proxy)
    s.run("remove_undeclared", "keys.yml", extra_vars={"litellm_keys_undeclared": "remove"})
    return s


def test_check_mode_on_an_empty_proxy_changes_nothing(made):
    run = made.runs["check_fresh"]
    assert run.rc == 0, run
    assert made.snapshots["after_check_fresh"] == made.snapshots["empty"]
    assert made.values["files_after_check"] == [False, False]
    assert "would be created" in run.stdout


def test_keys_yml_makes_the_declared_state(made):
    run, proxy, a = made.runs["apply"], made.proxy, made.alias
    assert run.rc == 0, run
    assert run.recap()["changed"] > 0
    values = made.values["created"]
    assert values["env"] == values["vault"]
    [owui] = keys_of(proxy, a["openwebui"])
    assert owui["token"] == token_of(values["env"])
    assert (owui["team_id"], owui["user_id"], owui["max_budget"]) == (a["team"], a["user"], 5)
    assert owui["litellm_budget_table"]["soft_budget"] == 4
    assert owui["metadata"] == {"client": "openwebui", "managed_by": "sacred_brain.llm_gateway", "lifetime": "never"}
    [batch] = keys_of(proxy, a["batch"])
    assert batch["token"] == token_of(values["file"])
    assert len(keys_of(proxy, a["plain"])) == 1
    assert proxy.call("GET", "/team/info", params={"team_id": a["team"]}).status == 200
    assert proxy.call("GET", "/user/info", params={"user_id": a["user"]}).status == 200
    assert proxy.chat(values["env"]).status == 200


def test_delivery_files_are_private(made):
    assert stat.S_IMODE(made.env_file.stat().st_mode) == 0o600
    assert "WEBUI_NAME=Sacred Brain" in made.env_file.read_text()  # the rest of the env file is kept
    assert stat.S_IMODE(made.key_file.stat().st_mode) == 0o640  # the target's own mode
    assert stat.S_IMODE(made.vault_file.stat().st_mode) == 0o600
    assert made.vault_file.read_text().startswith("$ANSIBLE_VAULT;1.1;AES256")


def test_keys_yml_output_holds_no_secret(made):
    for label in ("check_fresh", "apply", "apply_again", "check_again", "remove_undeclared"):
        assert_no_secret(made.runs[label].output, made.proxy.master_key, *made.values["created"].values())


def test_keys_yml_is_idempotent_and_reports_undeclared_keys(made):
    again, check = made.runs["apply_again"], made.runs["check_again"]
    assert again.rc == 0 and check.rc == 0, (again, check)
    assert again.recap()["changed"] == 0 and check.recap()["changed"] == 0
    assert made.snapshots["after_again"] == made.snapshots["before_again"]
    assert made.alias["stray"] in again.stdout  # reported ...
    assert made.alias["foreign"] not in again.stdout  # ... keys not marked as managed are out of scope
    assert made.delivered() == made.values["created"]


def test_undeclared_keys_can_be_removed(made):
    run, proxy, a = made.runs["remove_undeclared"], made.proxy, made.alias
    assert run.rc == 0, run
    assert keys_of(proxy, a["stray"]) == []
    assert len(keys_of(proxy, a["foreign"])) == 1
    for alias in ("openwebui", "batch", "plain"):
        assert len(keys_of(proxy, a[alias])) == 1


@pytest.fixture(scope="module")
def rotated(made):
    """rotate_keys.yml: check mode once keys are due, the rotation at -v, a re-run, the purge after the grace period."""
    s, proxy = made, made.proxy
    proxy.advance_clock((s.due_days + 1) * 86400)
    s.snapshots["before_rotation"] = snapshot(proxy)
    s.run("rotate_check", "rotate_keys.yml", check=True, verbosity=1)
    s.snapshots["after_rotate_check"] = snapshot(proxy)
    s.values["after_rotate_check"] = s.delivered()
    s.run("rotate", "rotate_keys.yml", verbosity=1)
    s.values["rotated"] = s.delivered()
    s.values["chat_in_grace"] = [proxy.chat(v).status for v in (*s.values["created"].values(), *s.values["rotated"].values())]
    s.run("rotate_again", "rotate_keys.yml", verbosity=1)
    s.values["rotated_again"] = s.delivered()
    pass_time(proxy, s.grace + 1)
    s.run("purge", "rotate_keys.yml", verbosity=1)
    return s


def test_rotate_keys_check_mode_changes_nothing(rotated):
    run = rotated.runs["rotate_check"]
    assert run.rc == 0, run
    assert rotated.snapshots["after_rotate_check"] == rotated.snapshots["before_rotation"]
    assert rotated.values["after_rotate_check"] == rotated.values["created"]
    assert f"would rotate {rotated.alias['openwebui']}" in run.stdout


def test_rotate_keys_rotates_what_is_due_and_delivers_it(rotated):
    run, proxy, a = rotated.runs["rotate"], rotated.proxy, rotated.alias
    assert run.rc == 0, run
    old, new = rotated.values["created"], rotated.values["rotated"]
    assert new["env"] == new["vault"] and new["env"] != old["env"] and new["file"] != old["file"]
    holder = next(k for k in keys_of(proxy, a["openwebui"]) if k["key_alias"] == a["openwebui"])
    assert holder["token"] == token_of(new["env"])
    assert (holder["max_budget"], holder["team_id"], holder["litellm_budget_table"]["soft_budget"]) == (5, a["team"], 4)
    assert [k["key_alias"] for k in keys_of(proxy, a["plain"])] == [a["plain"]]  # nothing to deliver to: not rotated
    assert rotated.values["chat_in_grace"] == [200] * 6  # the old keys work until the grace period ends
    assert stat.S_IMODE(rotated.env_file.stat().st_mode) == 0o600
    assert f"rotated {a['openwebui']}" in run.stdout and f"rotated {a['batch']}" in run.stdout


def test_rotate_keys_is_idempotent_within_the_grace_period(rotated):
    run = rotated.runs["rotate_again"]
    assert run.rc == 0, run
    assert run.recap()["changed"] == 0
    assert rotated.values["rotated_again"] == rotated.values["rotated"]


def test_rotate_keys_purges_after_the_grace_period(rotated):
    run, proxy = rotated.runs["purge"], rotated.proxy
    assert run.rc == 0, run
    assert f"purged (block) {rotated.alias['openwebui']}.retiring." in run.stdout
    for value in rotated.values["created"].values():
        assert proxy.chat(value).status == 401
    for value in rotated.values["rotated"].values():
        assert proxy.chat(value).status == 200


def test_f18_rotated_values_are_derived_from_a_secret_of_their_own(rotated):
    """F18: the role generates a derivation secret on the gateway; the old master key computes no key in use."""
    proxy, secret_file = rotated.proxy, rotated.tmp / "key-derivation.secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secret = secret_file.read_text().strip()
    assert len(secret) >= 32 and secret != proxy.master_key
    for alias in (rotated.alias["openwebui"], rotated.alias["batch"]):
        [holder] = [k for k in keys_of(proxy, alias) if k["key_alias"] == alias]
        rotation = holder["metadata"]["rotation"]
        args = (alias, rotation["predecessor_token"], rotation["nonce"])
        assert token_of(derive_key(secret, *args)) == holder["token"]
        assert token_of(derive_key(proxy.master_key, *args)) != holder["token"]
    for label in ("rotate", "rotate_again", "purge"):
        assert_no_secret(rotated.runs[label].output, secret)


def test_rotate_keys_output_holds_no_secret(rotated):
    secrets = [rotated.proxy.master_key, *rotated.values["created"].values(), *rotated.values["rotated"].values()]
    for label in ("rotate_check", "rotate", "rotate_again", "purge"):
        assert_no_secret(rotated.runs[label].output, *secrets)


# ----------------------------------------------------------------- bad input
def test_a_bad_inventory_stops_keys_yml_before_anything_changes(ansible, proxy, name, tmp_path):
    before = snapshot(proxy)
    ansible.write_inventory(
        litellm_keys_api_url=proxy.url, litellm_keys_master_key=proxy.master_key,
        litellm_keys_virtual_keys=[
            {"key_alias": name("a"), "deliver": [{"host": "nowhere", "path": "/tmp/x", "variable": "KEY"}]},
            {"key_alias": name("b"), "deliver": [{"vault_file": "relative.yml"}]},
            {"key_alias": name("b"), "rotate": True},
        ])
    run = ansible.playbook(PLAYBOOKS / "keys.yml")
    assert run.rc != 0
    for text in ("litellm_keys_virtual_keys[0] (%s).deliver[0]: host nowhere is not in the inventory" % name("a"),
                 "vault_file must be an absolute path", "a vault_file target needs variable",
                 "the key_alias %s is declared more than once" % name("b"),
                 "rotate is true but deliver names no target"):
        assert text in run.stdout, run
    assert snapshot(proxy) == before

    ansible.write_inventory(litellm_keys_api_url=proxy.url, litellm_keys_master_key=proxy.master_key,
                            litellm_keys_virtual_keys=[{"key_alias": name("c"), "max_budget": "lots"}])
    run = ansible.playbook(PLAYBOOKS / "keys.yml")
    assert run.rc != 0 and "litellm_keys_virtual_keys" in run.stdout and "max_budget" in run.stdout, run
    assert snapshot(proxy) == before


def test_a_wrong_master_key_stops_both_playbooks_clearly(ansible, proxy, name):
    before = snapshot(proxy)
    wrong = "sk-not-the-master-key-0123456789"
    ansible.write_inventory(litellm_keys_api_url=proxy.url, litellm_keys_master_key=wrong, litellm_keys_retries=0,
                            litellm_keys_virtual_keys=[{"key_alias": name("k")}])
    for playbook in ("keys.yml", "rotate_keys.yml"):
        run = ansible.playbook(PLAYBOOKS / playbook, verbosity=1)
        assert run.rc != 0
        assert f"the master key was rejected by {proxy.url}" in run.stdout, run
        assert_no_secret(run.output, wrong, proxy.master_key)
    assert snapshot(proxy) == before


def test_f13_an_executable_vault_password_file_is_run_not_read(ansible, proxy, name, tmp_path):
    """F13: a vault password script is run, as --vault-password-file runs it; its source text is no password."""
    import subprocess

    from litellm_it import ansible_env

    script = tmp_path / "vault-pass"
    script.write_text(f"#!/bin/sh\n# prints the vault password, as a password manager client would\necho '{VAULT_PASSWORD}'\n")
    script.chmod(0o700)
    vault, alias = tmp_path / "keys.vault.yml", name("vault-script")
    ansible.write_inventory(
        litellm_keys_api_url=proxy.url, litellm_keys_master_key=proxy.master_key, litellm_keys_retries=0,
        litellm_keys_vault_password_file=str(script), litellm_keys_rotation_older_than_days=0,
        litellm_keys_rotation_renew_within_days=0,
        litellm_keys_rotation_key_derivation_secret="f13-derivation-secret-0123456789",
        litellm_keys_virtual_keys=[{"key_alias": alias, "deliver": [{"vault_file": str(vault), "variable": "k"}]}])
    run = ansible.playbook(PLAYBOOKS / "keys.yml")
    assert run.rc == 0, run
    created = decrypt(vault)["k"]
    run = ansible.playbook(PLAYBOOKS / "rotate_keys.yml")
    assert run.rc == 0, run
    rotated = decrypt(vault)["k"]
    assert rotated != created
    [holder] = [k for k in keys_of(proxy, alias) if k["key_alias"] == alias]
    assert holder["token"] == token_of(rotated)
    view = subprocess.run(["ansible-vault", "view", "--vault-password-file", str(script), str(vault)],
                          env=ansible_env(), capture_output=True, text=True, check=False)
    assert view.returncode == 0 and yaml.safe_load(view.stdout) == {"k": rotated}, view.stderr
    with pytest.raises(Exception):
        decrypt(vault, script.read_text().strip())  # the script's text is not the password
    with pytest.raises(Exception):
        decrypt(vault, script.read_text())


def test_f16_rotate_keys_refuses_to_run_on_several_gateways_at_once(ansible, proxy, name, tmp_path):
    """F16: the gateways share one database; one rotate_keys run per gateway would race itself."""
    before = snapshot(proxy)
    inventory = yaml.safe_load(ansible.write_inventory(
        litellm_keys_api_url=proxy.url, litellm_keys_master_key=proxy.master_key, litellm_keys_retries=0,
        litellm_keys_virtual_keys=[{"key_alias": name("k"), "rotate": True,
                                    "deliver": [{"host": "client1", "path": str(tmp_path / "k")}]}]).read_text())
    inventory["all"]["children"]["gateways"]["hosts"]["gw2"] = {}
    ansible.inventory.write_text(yaml.safe_dump(inventory))
    run = ansible.playbook(PLAYBOOKS / "rotate_keys.yml", extra_vars={"litellm_keys_hosts": "gateways"})
    assert run.rc != 0
    assert "rotate_keys runs on exactly one gateway" in run.stdout and "gw, gw2" in run.stdout, run
    assert snapshot(proxy) == before
