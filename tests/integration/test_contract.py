"""The modules against LiteLLM 1.108.7's own behaviour (contract review 2026-12),
one test per item, named after it. Each test holds against the real proxy as
read in LiteLLM's source; the faults (a first attempt that commits but whose
answer is lost) come from ``proxy.set_faults``.

Items that need the proxy configured in a way the admin API cannot set
(general_settings.disable_custom_api_keys, a key_alias format rule) run on a
stand-in of their own, started with that setting, and are skipped against a
real proxy (LITELLM_TEST_URL)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote
from typing import Any

import yaml

import pytest

from litellm_it import Ansible, assert_no_secret, keys_of, token_of

RETRY_ONCE = {"retries": 1}  # the module retries the request whose answer was lost, within the run


def retried(result: dict) -> bool:
    return any("had to be retried" in w for w in result.get("warnings", []))


# What each setting a test asks for is in the policy proxy's config.yaml (tests/realapi/policy-config.yaml).
POLICY_CONFIG = Path(__file__).resolve().parents[1] / "realapi" / "policy-config.yaml"
SETTING_IN_CONFIG = {
    "disable_custom_api_keys": ("general_settings", "disable_custom_api_keys"),
    "key_alias_format_validation": ("litellm_settings", "enable_key_alias_format_validation"),
}


@pytest.fixture
def configured_standin(tmp_path: Path) -> Any:
    """An admin API configured with the given settings: ``configured_standin(**settings)``.

    Against the real API (``make test``), the second real proxy whose config.yaml sets key
    policies (LITELLM_TEST_POLICY_URL, through a fault proxy of the test's own); otherwise a
    stand-in of its own started with the settings."""
    from tests.realapi import RealApi, real_api_configured
    from tests.realapi.faultproxy import fault_proxy
    from tests.standin.fixture import remote_proxy_from_env, run_standin

    started = []

    def start(**settings: Any) -> tuple[Any, Ansible]:
        work = tmp_path / "configured"
        work.mkdir()
        if real_api_configured() and not settings.get("enterprise"):  # Enterprise: the stand-in only
            policy_url = os.environ.get("LITELLM_TEST_POLICY_URL")
            if not policy_url:
                pytest.fail("LITELLM_TEST_POLICY_URL is not set: start the real API with "
                            "LITELLM_POLICY_CONFIG=tests/realapi/policy-config.yaml scripts/real-admin-api.sh start")
            config = yaml.safe_load(POLICY_CONFIG.read_text())
            for setting, value in settings.items():
                section, option = SETTING_IN_CONFIG[setting]
                assert config.get(section, {}).get(option) == value, f"{POLICY_CONFIG} does not set {section}.{option}"
            master_key = remote_proxy_from_env().master_key
            manager = fault_proxy(policy_url, master_key)
            proxy = RealApi(manager.__enter__().url, master_key, upstream=policy_url)
        else:
            manager = run_standin(db_path=tmp_path / "configured.db", **settings)
            proxy = manager.__enter__()
        started.append(manager)
        return proxy, Ansible(work, proxy)

    yield start
    for manager in started:
        manager.__exit__(None, None, None)


# -- item 1 (F1, F17): a retried delete whose first attempt committed ------------------------------------------

def test_item1_retried_key_delete_whose_answer_was_lost_is_done(ansible, proxy, name):
    alias = name("del-key")
    status, created = proxy.call("POST", "/key/generate", {"key_alias": alias})
    assert status == 200, created
    proxy.set_faults(drop_after_next=1, path_prefix="/key/delete")
    result = ansible.module("litellm_key", {"key_alias": alias, "state": "absent"}, connection=RETRY_ONCE)
    assert not result.get("failed"), result
    assert result["changed"] is True and result["token"] == token_of(created["key"])
    assert retried(result)  # the retry met LiteLLM's 404 "No keys found" and took it as done
    assert keys_of(proxy, alias) == []
    assert proxy.chat(created["key"]).status == 401


def test_item1_retried_user_delete_whose_answer_was_lost_is_done(ansible, proxy, name):
    user_id = name("del-user")
    assert proxy.call("POST", "/user/new", {"user_id": user_id, "auto_create_key": False}).status == 200
    proxy.set_faults(drop_after_next=1, path_prefix="/user/delete")
    result = ansible.module("litellm_user", {"user_id": user_id, "state": "absent"}, connection=RETRY_ONCE)
    assert not result.get("failed"), result
    assert result["changed"] is True and retried(result)
    assert proxy.call("GET", "/user/info", params={"user_id": user_id}).status == 404


def test_item1_retried_team_delete_whose_answer_was_lost_is_done(ansible, proxy, name):
    alias = name("del-team")
    status, team = proxy.call("POST", "/team/new", {"team_alias": alias, "team_id": alias})
    assert status == 200, team
    proxy.set_faults(drop_after_next=1, path_prefix="/team/delete")
    result = ansible.module("litellm_team", {"team_alias": alias, "state": "absent"}, connection=RETRY_ONCE)
    assert not result.get("failed"), result
    assert result["changed"] is True and retried(result)
    assert proxy.call("GET", "/team/info", params={"team_id": alias}).status == 404


def test_f15_key_info_of_a_deleted_key_is_not_taken_for_a_live_key(ansible, proxy, name):
    alias = name("f15")
    created = ansible.module("litellm_key", {"key_alias": alias, "max_budget": 1})
    assert created["changed"] is True, created
    removed = ansible.module("litellm_key", {"key_alias": alias, "state": "absent"})
    assert removed["changed"] is True, removed
    # LiteLLM answers /key/info of a deleted key with 200, from its deleted-keys archive ...
    status, info = proxy.call("GET", "/key/info", params={"key": created["token"]})
    assert status == 200 and info["info"]["deleted_at"], info
    # ... which is not a key that exists: the alias is free, the module creates a new key.
    again = ansible.module("litellm_key", {"key_alias": alias, "max_budget": 1})
    assert again["changed"] is True and again["token"] != created["token"], again
    assert proxy.chat(again["key"]).status == 200


# -- item 2 (F2): a user_id with a space --------------------------------------------------------------------

def test_item2_user_id_with_a_space_is_created_once(ansible, proxy, name):
    user_id = name("a b")  # it-a b-<suffix>
    args = {"user_id": user_id, "max_budget": 5, "metadata": {"dept": "ops"}}
    first = ansible.module("litellm_user", args)
    assert not first.get("failed") and first["changed"] is True, first
    second = ansible.module("litellm_user", args)
    assert not second.get("failed"), second  # was: 409, the user was not found and created again
    assert second["changed"] is False
    status, info = proxy.call("GET", "/user/info?user_id=" + quote(user_id))  # %20, as LiteLLM reads it back
    assert status == 200 and info["user_info"]["max_budget"] == 5


# -- item 3 (F6, F16): method regenerate ---------------------------------------------------------------------

def test_item3_f16_regenerate_without_licence_fails_at_once_and_says_so(ansible, proxy, name):
    if proxy.enterprise:
        pytest.skip("the proxy has an Enterprise licence")
    alias = name("regen")
    status, created = proxy.call("POST", "/key/generate", {"key_alias": alias})
    assert status == 200, created
    result = ansible.module("litellm_key_rotate", {"key_alias": alias, "method": "regenerate"},
                            connection={"retries": 3})
    assert result.get("failed"), result
    assert "Enterprise" in result["msg"] and "method=community works with the open-source proxy" in result["msg"]
    assert "master key was rejected" not in result["msg"]
    assert not retried(result)  # HTTP 500 "Enterprise feature" is not a transient error
    [holder] = keys_of(proxy, alias)
    assert holder["token"] == token_of(created["key"]) and proxy.chat(created["key"]).status == 200


def test_item3_community_rotation_works_when_custom_key_values_are_disabled(configured_standin, name):
    proxy, ansible = configured_standin(disable_custom_api_keys=True)
    alias = name("nocustom")
    status, created = proxy.call("POST", "/key/generate", {"key_alias": alias})
    assert status == 200, created
    result = ansible.module("litellm_key_rotate", {"key_alias": alias, "grace_period": "60s"})
    assert not result.get("failed"), result
    assert any("disable_custom_api_keys" in w for w in result.get("warnings", [])), result
    [entry] = result["rotated"]
    assert entry["new_token"] == token_of(entry["key"])
    assert proxy.chat(entry["key"]).status == 200 and proxy.chat(created["key"]).status == 200
    made = ansible.module("litellm_key", {"key_alias": alias + "-2"})
    assert not made.get("failed") and proxy.chat(made["key"]).status == 200, made


def test_item3_regenerate_works_when_custom_key_values_are_disabled(configured_standin):
    proxy, ansible = configured_standin(enterprise=True, disable_custom_api_keys=True)
    status, created = proxy.call("POST", "/key/generate", {"key_alias": "it-regen-nocustom"})
    assert status == 200, created
    result = ansible.module("litellm_key_rotate", {"key_alias": "it-regen-nocustom", "method": "regenerate",
                                                   "grace_period": "60s"})
    assert not result.get("failed"), result
    assert any("disable_custom_api_keys" in w for w in result.get("warnings", [])), result
    [entry] = result["rotated"]
    assert entry["method"] == "regenerate" and entry["new_token"] == token_of(entry["key"])
    assert proxy.chat(entry["key"]).status == 200


# -- item 4 (F7): refusals are not "the master key was rejected" -------------------------------------------------

def test_item4_an_enterprise_refusal_reports_litellms_message_not_a_rejected_master_key(ansible, proxy, name):
    if proxy.enterprise:
        pytest.skip("the proxy has an Enterprise licence")
    # LiteLLM without a licence refuses tags on a new key ("Only premium users can add tags to keys").
    result = ansible.module("litellm_key", {"key_alias": name("tags"), "tags": ["team-a"]}, connection={"retries": 3})
    assert result.get("failed"), result
    assert "master key was rejected" not in result["msg"]
    # LiteLLM's own words (CommonProxyErrors.not_premium_user), whichever check refused it
    assert "You must be a LiteLLM Enterprise user to use this feature" in result["msg"], result["msg"]
    assert "this is a LiteLLM Enterprise feature" in result["msg"]
    assert not retried(result)


def test_item4_a_wrong_master_key_is_still_reported_as_rejected(ansible, proxy, name):
    result = ansible.module("litellm_key", {"key_alias": name("auth")}, connection={"master_key": "sk-not-the-master-0000"})
    assert result.get("failed") and result["msg"].startswith(f"the master key was rejected by {proxy.url} (HTTP 401")


# -- item 5 (F9): rotation aliases and a key_alias format rule ---------------------------------------------------

def test_item5_rotation_alias_refused_by_the_alias_format_leaves_nothing_changed(configured_standin):
    import uuid

    proxy, ansible = configured_standin(key_alias_format_validation=True)
    # Within LiteLLM's 255 characters, and so is <alias>.next.<8 hex>; <alias>.retiring.<8 hex> is not.
    alias = "it-" + uuid.uuid4().hex[:8] + "a" * 228
    status, created = proxy.call("POST", "/key/generate", {"key_alias": alias})
    assert status == 200, created
    before = keys_of(proxy, alias)
    result = ansible.module("litellm_key_rotate", {"key_alias": alias})
    assert result.get("failed"), result
    assert "Invalid key_alias format" in result["msg"] and "Nothing was changed." in result["msg"], result
    assert keys_of(proxy, alias) == before  # no successor left, the key untouched
    assert proxy.chat(created["key"]).status == 200


# -- item 7 (F11): a proxy without a database --------------------------------------------------------------------

@pytest.fixture
def proxy_without_database(tmp_path: Path) -> Any:
    """A proxy with no DATABASE_URL: the real one (LITELLM_TEST_NODB_URL, ``make test``) through a fault
    proxy of the test's own, else a stand-in started with ``database=False``."""
    from tests.realapi import RealApi, real_api_configured
    from tests.realapi.faultproxy import fault_proxy
    from tests.standin.fixture import remote_proxy_from_env, run_standin

    if real_api_configured():
        url = os.environ.get("LITELLM_TEST_NODB_URL")
        if not url:
            pytest.fail("LITELLM_TEST_NODB_URL is not set: start the real API with LITELLM_NODB=1 "
                        "scripts/real-admin-api.sh start")
        master_key = remote_proxy_from_env().master_key
        with fault_proxy(url, master_key) as faulty:
            yield RealApi(faulty.url, master_key, upstream=url)
        return
    with run_standin(db_path=tmp_path / "nodb.db", database=False) as proxy:
        yield proxy


@pytest.mark.parametrize("module, args", [
    ("litellm_key", {"key_alias": "it-nodb"}),
    ("litellm_user", {"user_id": "it-nodb"}),
    ("litellm_team", {"team_alias": "it-nodb"}),
    ("litellm_key_rotate", {"key_alias": "it-nodb"}),
])
def test_item7_a_proxy_without_database_fails_at_once_and_says_so(proxy_without_database, tmp_path, module, args):
    ansible = Ansible(tmp_path, proxy_without_database)
    result = ansible.module(module, args, connection={"retries": 3})
    assert result.get("failed"), result
    assert "has no database connected" in result["msg"], result["msg"]
    assert not retried(result)  # not taken for a transient failure


# -- item 6 (F10): user metadata ------------------------------------------------------------------------------

def test_item6_user_metadata_is_merged_and_scim_metadata_never_erased(ansible, proxy, name):
    plain, scim = name("meta"), name("scim")
    assert proxy.call("POST", "/user/new", {"user_id": plain, "auto_create_key": False,
                                            "metadata": {"dept": "ml", "cost_center": "42"}}).status == 200
    result = ansible.module("litellm_user", {"user_id": plain, "metadata": {"dept": "ops"}})
    assert result["changed"] is True, result
    _unused, info = proxy.call("GET", "/user/info", params={"user_id": plain})
    assert info["user_info"]["metadata"] == {"dept": "ops", "cost_center": "42"}  # only the declared key set

    scim_meta = {"dept": "ml", "scim_metadata": {"givenName": "Ada", "familyName": "L"}, "scim_active": True,
                 "scim_enterprise": {"department": "R&D"}}
    assert proxy.call("POST", "/user/new", {"user_id": scim, "auto_create_key": False,
                                            "metadata": scim_meta}).status == 200
    _unused, before = proxy.call("GET", "/user/info", params={"user_id": scim})
    result = ansible.module("litellm_user", {"user_id": scim, "metadata": {"dept": "ops"}})
    assert result.get("failed") and "provisioned by SCIM" in result["msg"], result
    assert "nothing was changed" in result["msg"]
    _unused, after = proxy.call("GET", "/user/info", params={"user_id": scim})
    assert after["user_info"]["metadata"] == before["user_info"]["metadata"]
    budget = ansible.module("litellm_user", {"user_id": scim, "max_budget": 7})  # other settings still managed
    assert budget["changed"] is True and not budget.get("failed"), budget


# -- item 11: rotation "move applied, answer lost" ------------------------------------------------------------

@pytest.mark.parametrize("derivation", [True, False], ids=["derived value", "value chosen by LiteLLM"])
def test_item11_rotation_alias_moved_answer_lost_rerun_hands_out_a_working_value(ansible, proxy, name, derivation):
    alias = name("moved")
    status, created = proxy.call("POST", "/key/generate", {"key_alias": alias})
    assert status == 200, created
    old = created["key"]
    # One controller re-running after its own failure (its runs share a lock): the same lease_owner takes over
    # its lease at once (F16); a run with another owner would wait for the lease to expire.
    args = {"key_alias": alias, "grace_period": "60s", "key_derivation": derivation, "lease_owner": "it-controller"}
    # /key/update #1 retires the old key, #2 moves the alias: it is applied, its answer never arrives.
    proxy.set_faults(skip_next=1, drop_after_next=1, path_prefix="/key/update")
    first = ansible.module("litellm_key_rotate", args)
    assert first.get("failed") and "(move alias)" in first["msg"], first
    assert not [e for e in first.get("rotated", []) if e.get("key")]  # no value left the first run

    second = ansible.module("litellm_key_rotate", args)  # a plain re-run, no redeliver
    assert not second.get("failed") and second["changed"] is True, second
    [entry] = second["rotated"]
    assert entry["resumed"] is True and entry["old_token"] == token_of(old)
    new = entry["key"]
    assert proxy.chat(new).status == 200  # the value handed out works ...
    [holder] = [k for k in keys_of(proxy, alias) if k["key_alias"] == alias]
    assert holder["token"] == token_of(new)  # ... and it is the key holding the alias
    assert proxy.chat(old).status == 200  # the old key is in its grace period

    third = ansible.module("litellm_key_rotate", args)
    assert not third.get("failed") and third["changed"] is False, third
    assert_no_secret(repr(first) + repr(third), proxy.master_key, old)
