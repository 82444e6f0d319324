"""Behaviours the contract review (S1-S5, F2, F3, F5, F6, F15-F17) found the stand-in hid, each as LiteLLM
1.108.7's source and its real admin API on PostgreSQL show it (tests/integration/test_differential.py
compares the two)."""

from __future__ import annotations

import urllib.parse
from datetime import datetime, timedelta, timezone

import pytest

from tests.standin.fixture import run_standin


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def proxy_error(message: str, status: int, type_: str = "internal_server_error", param=None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": str(status)}}


@pytest.fixture
def policy_standin(tmp_path):
    """A stand-in with the key policies of the role's documented litellm_settings (F3, F5, F6)."""
    with run_standin(
        db_path=tmp_path / "policies.db",
        disable_custom_api_keys=True,
        default_key_generate_params={
            "duration": "90d",
            "max_budget": 5.0,
            "budget_duration": "30d",
            "metadata": {"from": "defaults"},
            "object_permission": {"vector_stores": ["vs-default"]},
        },
        upperbound_key_generate_params={"tpm_limit": 100000, "max_budget": 50.0, "duration": "180d"},
    ) as proxy:
        yield proxy


# ----------------------------------------------------------------------------- F2 / S1: user_id decoding
def test_user_info_reads_a_space_back_with_unquote(standin, uniq):
    user = f"it-std fid {uniq}"
    assert standin.call("POST", "/user/new", {"user_id": user}).status == 200
    # %20 finds the user ...
    status, body = standin.call("GET", "/user/info?user_id=" + urllib.parse.quote(user))
    assert status == 200, body
    assert body["user_id"] == user
    # ... '+' for the space (what urlencode sends) is re-read with unquote: "a+b", not found
    status, body = standin.call("GET", "/user/info", params={"user_id": user})
    plus = user.replace(" ", "+")
    assert (status, body) == (404, proxy_error(f"User {plus} not found", 404))
    standin.call("POST", "/user/delete", {"user_ids": [user]})


def test_user_info_keeps_a_plus_in_user_id(standin, uniq):
    user = f"it-std+plus-{uniq}"
    assert standin.call("POST", "/user/new", {"user_id": user}).status == 200
    for query in ("user_id=" + urllib.parse.quote(user, safe=""), "user_id=" + user):  # %2B and a raw '+'
        status, body = standin.call("GET", "/user/info?" + query)
        assert status == 200, (query, body)
        assert body["user_info"]["user_id"] == user
    standin.call("POST", "/user/delete", {"user_ids": [user]})


def test_user_new_duplicate_message(standin, uniq):
    user = f"it-std-dup-{uniq}"
    standin.call("POST", "/user/new", {"user_id": user})
    status, body = standin.call("POST", "/user/new", {"user_id": user})
    assert (status, body) == (409, proxy_error(str({"error": f"User with id {user} already exists"}), 409))
    standin.call("POST", "/user/delete", {"user_ids": [user]})


# ----------------------------------------------------------------------------- F6 / S2: disable_custom_api_keys
def test_disable_custom_api_keys_refuses_a_chosen_key(policy_standin, uniq):
    status, body = policy_standin.call("POST", "/key/generate", {"key": f"sk-chosen-{uniq}-0123456789"})
    message = "Custom API key values are disabled by your administrator. Keys must be auto-generated."
    assert (status, body) == (403, proxy_error(str({"error": message}), 403))
    # a generated key is fine, and the refusal comes after the alias checks (as in LiteLLM)
    assert policy_standin.call("POST", "/key/generate", {"key_alias": f"auto-{uniq}"}).status == 200
    status, body = policy_standin.call("POST", "/key/generate", {"key_alias": f"auto-{uniq}", "key": "sk-x"})
    assert status == 400 and "already exists" in body["error"]["message"]


def test_disable_custom_api_keys_refuses_a_chosen_new_key_on_regenerate(tmp_path, uniq):
    with run_standin(db_path=tmp_path / "e.db", enterprise=True, disable_custom_api_keys=True) as proxy:
        key = proxy.call("POST", "/key/generate", {}).json["key"]
        status, body = proxy.call("POST", "/key/regenerate", {"key": key, "new_key": f"sk-new-{uniq}-0123456789"})
        assert status == 403
        assert "Custom API key values are disabled" in body["error"]["message"]
        assert proxy.call("POST", "/key/regenerate", {"key": key}).status == 200


def test_policy_options_on_the_command_line(tmp_path):
    with run_standin(
        db_path=tmp_path / "cli.db",
        subprocess=True,
        disable_custom_api_keys=True,
        default_key_generate_params={"duration": "90d"},
        upperbound_key_generate_params={"tpm_limit": 100000},
    ) as proxy:
        config = proxy.call("GET", "/__standin/config").json
        assert config["disable_custom_api_keys"] is True
        assert config["default_key_generate_params"] == {"duration": "90d"}
        assert config["upperbound_key_generate_params"] == {"tpm_limit": 100000}
        assert proxy.call("POST", "/key/generate", {"key": "sk-chosen-0123456789abc"}).status == 403


# ----------------------------------------------------------------------------- F3 / S3: default_key_generate_params
def test_default_key_generate_params_apply_to_master_key_calls(policy_standin):
    before = datetime.now(timezone.utc)
    status, out = policy_standin.call("POST", "/key/generate", {})
    assert status == 200, out
    assert timedelta(days=89, hours=23) < parse(out["expires"]) - before < timedelta(days=90, minutes=5)
    assert out["max_budget"] == 5.0
    assert out["budget_duration"] == "30d"
    assert out["metadata"] == {"from": "defaults"}
    assert out["tpm_limit"] == 100000  # unset: filled from the upper bound
    _unused, info = policy_standin.call("GET", "/key/info", params={"key": out["key"]})
    assert info["info"]["object_permission"]["vector_stores"] == ["vs-default"]
    assert info["info"]["object_permission_id"] == info["info"]["object_permission"]["object_permission_id"]


def test_default_key_generate_params_fill_only_what_is_unset(policy_standin):
    status, out = policy_standin.call(
        "POST",
        "/key/generate",
        {"duration": None, "budget_duration": None, "max_budget": 7.5, "metadata": {"a": 1}, "models": ["fake-model"]},
    )
    assert status == 200, out
    assert out["expires"] is not None  # an explicit duration: null is filled like a missing one
    assert out["budget_duration"] is None  # an explicit budget_duration: null is kept
    assert out["max_budget"] == 7.5
    assert out["metadata"] == {"a": 1}
    assert out["models"] == ["fake-model"]


def test_default_key_generate_params_do_not_apply_to_user_new_keys(policy_standin, uniq):
    status, out = policy_standin.call("POST", "/user/new", {"user_id": f"u-{uniq}"})
    assert status == 200, out
    _unused, info = policy_standin.call("GET", "/key/info", params={"key": out["key"]})
    assert info["info"]["expires"] is None
    assert info["info"]["max_budget"] is None


# ----------------------------------------------------------------------------- F5 / S3: upperbound_key_generate_params
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"tpm_limit": 200000}, "tpm_limit is over max limit set in config - user_value=200000; max_value=100000"),
        ({"max_budget": 60.0}, "max_budget is over max limit set in config - user_value=60.0; max_value=50.0"),
        ({"duration": "365d"}, "duration is over max limit set in config - user_value=365d; max_value=180d"),
    ],
)
def test_upperbound_refuses_generate(policy_standin, body, message):
    status, out = policy_standin.call("POST", "/key/generate", body)
    assert (status, out) == (400, proxy_error(str({"error": message}), 400))


def test_upperbound_refuses_update_without_filling(policy_standin):
    key = policy_standin.call("POST", "/key/generate", {}).json["key"]
    status, out = policy_standin.call("POST", "/key/update", {"key": key, "tpm_limit": 200000})
    message = "tpm_limit is over max limit set in config - user_value=200000; max_value=100000"
    assert (status, out) == (400, proxy_error(str({"error": message}), 400, "auth_error", "None"))
    status, out = policy_standin.call("POST", "/key/update", {"key": key, "duration": "-1"})  # never: infinite
    assert status == 400 and "duration is over max limit" in out["error"]["message"]
    status, out = policy_standin.call("POST", "/key/update", {"key": key, "max_budget": 10.0})
    assert status == 200 and out["max_budget"] == 10.0


def test_no_policies_by_default(standin, uniq):
    status, out = standin.call("POST", "/key/generate", {"key_alias": f"nopol-{uniq}", "tpm_limit": 200000})
    assert status == 200, out
    assert out["expires"] is None and out["max_budget"] is None
    standin.call("POST", "/key/delete", {"keys": [out["key"]]})


# ----------------------------------------------------------------------------- S4: object_permission
def test_object_permission_is_stored_and_returned(standin, uniq):
    status, out = standin.call(
        "POST", "/key/generate", {"key_alias": f"op-{uniq}", "object_permission": {"vector_stores": ["vs-1"]}}
    )
    assert status == 200, out
    assert out["object_permission"] is None  # GenerateKeyResponse does not echo it
    _unused, info = standin.call("GET", "/key/info", params={"key": out["key"]})
    permission = info["info"]["object_permission"]
    assert info["info"]["object_permission_id"] == permission["object_permission_id"]
    assert permission["vector_stores"] == ["vs-1"]
    assert permission["mcp_servers"] == [] and permission["mcp_tool_permissions"] is None
    assert permission["verification_tokens"] is None  # relation fields are there, not included
    status, upd = standin.call("POST", "/key/update", {"key": out["key"], "object_permission": {"agents": ["a-1"]}})
    assert status == 200, upd
    assert upd["object_permission"]["object_permission_id"] == permission["object_permission_id"]
    assert upd["object_permission"]["agents"] == ["a-1"]
    assert upd["object_permission"]["vector_stores"] == ["vs-1"]
    standin.call("POST", "/key/delete", {"keys": [out["key"]]})


# ----------------------------------------------------------------------------- F15 / F16 / F17
def test_deleted_key_info_is_the_archived_row(standin, uniq):
    key = standin.call("POST", "/key/generate", {"key_alias": f"del-{uniq}"}).json["key"]
    assert standin.call("POST", "/key/delete", {"keys": [key]}).status == 200
    status, body = standin.call("GET", "/key/info", params={"key": key})
    assert status == 200, body
    info = body["info"]
    assert info["status"] == "deleted"
    assert info["deleted_by"] == "default_user_id" and info["deleted_at"]
    assert isinstance(info["id"], str) and info["id"]
    assert info["deleted_by_api_key"] == "litellm_proxy_master_key"
    status, body = standin.call("POST", "/key/delete", {"keys": [key]})
    assert (status, body) == (404, proxy_error(str({"error": "No keys found"}), 404))


def test_regenerate_without_licence_is_a_500(standin):
    key = standin.call("POST", "/key/generate", {}).json["key"]
    for path, body in ((f"/key/{key}/regenerate", {}), ("/key/regenerate", {"key": key})):
        status, out = standin.call("POST", path, body)
        assert status == 500
        assert out["error"]["type"] == "internal_server_error" and out["error"]["code"] == "500"
        assert out["error"]["message"].startswith("Regenerating Virtual Keys is an Enterprise feature")
    standin.call("POST", "/key/delete", {"keys": [key]})


# ----------------------------------------------------------------------------- S2 / S5: response shapes
def test_soft_budget_row_in_generate_and_info(standin, uniq):
    out = standin.call("POST", "/key/generate", {"key_alias": f"sb-{uniq}", "soft_budget": 2.5}).json
    budget = out["litellm_budget_table"]
    assert budget["soft_budget"] == 2.5 and budget["budget_id"] == out["budget_id"]
    assert budget["allowed_models"] == [] and budget["keys"] is None and budget["temp_budget_increase"] is None
    info = standin.call("GET", "/key/info", params={"key": out["key"]}).json["info"]
    assert info["litellm_budget_table"]["soft_budget"] == 2.5
    upd = standin.call("POST", "/key/update", {"key": out["key"], "soft_budget": 3.0}).json
    assert upd["litellm_budget_table"] is None  # the update reads back with object_permission only
    standin.call("POST", "/key/delete", {"keys": [out["key"]]})


def test_user_info_shape(standin, uniq):
    user = f"it-std-shape-{uniq}"
    assert standin.call("POST", "/user/new", {"user_id": user}).status == 200
    body = standin.call("GET", "/user/info", params={"user_id": user}).json
    info = body["user_info"]
    for rel in ("verified_subjects", "litellm_organization_table", "invitations_created", "object_permission"):
        assert rel in info and info[rel] is None
    assert info["organization_memberships"] == [] and info["model_max_budget_usage"] == {}
    (key,) = body["keys"]
    assert key["created_by"] is None and key["updated_by"] is None  # /user/new keys carry no creator
    assert key["team_alias"] == "None"  # a key without a team: the string "None"
    standin.call("POST", "/user/delete", {"user_ids": [user]})


def test_team_creator_is_an_admin_member(standin, uniq):
    team = f"it-std-team-{uniq}"
    out = standin.call("POST", "/team/new", {"team_id": team, "team_alias": team}).json
    assert {"user_id": "default_user_id", "user_email": None, "role": "admin"} in out["members_with_roles"]
    info = standin.call("GET", "/team/info", params={"team_id": team}).json
    assert {"user_id": "default_user_id", "user_email": None, "role": "admin", "user_alias": None} in info["team_info"][
        "members_with_roles"
    ]
    assert info["team_info"]["caller_edit_access"] == {"kind": "unrestricted"}
    assert info["team_info"]["model_max_budget_usage"] == {}
    memberships = [m for m in info["team_memberships"] if m["user_id"] == "default_user_id"]
    assert memberships and memberships[0]["budget_source"] == "none"
    upd = standin.call("POST", "/team/update", {"team_id": team, "max_budget": 3.0}).json
    assert upd["data"]["litellm_model_table"] is None and upd["data"]["projects"] is None
    standin.call("POST", "/team/delete", {"team_ids": [team]})


# ----------------------------------------------------------------------------- F4 / F11 / F12: no database
def test_without_a_database(tmp_path):
    with run_standin(db_path=tmp_path / "nodb.db", database=False) as proxy:
        assert tuple(proxy.call("GET", "/health/readiness", key=None)) == (
            200,
            {"status": "healthy", "db": "Not connected"},
        )
        status, body = proxy.call("POST", "/key/generate", {})
        assert status == 500 and body["error"]["message"].startswith("{'error': 'DB not connected.")
        assert proxy.call("POST", "/key/generate", {"max_budget": "x"}).status == 422  # validation comes first
        status, body = proxy.call("POST", "/key/delete", {"keys": ["sk-nodb-0123456789"]})
        assert (status, body["error"]["message"]) == (500, "Not connected to DB!")
        assert tuple(proxy.call("POST", "/user/delete", {"user_ids": ["u"]})) == (
            500,
            {"detail": {"error": "No db connected"}},
        )
        assert proxy.call("POST", "/team/update", {"team_id": "t"}).status == 401
        status, body = proxy.call("POST", "/key/regenerate", {"key": "sk-nodb-0123456789"})
        assert status == 500 and "Enterprise feature" in body["error"]["message"]  # licence check first
        # only the master key authenticates: any other key is "No connected db." (400)
        expected = proxy_error("No connected db.", 400, "no_db_connection")
        assert tuple(proxy.call("GET", "/key/list", key="sk-any-0123456789")) == (400, expected)
        assert tuple(proxy.call("POST", "/v1/chat/completions", {"model": "fake-model"}, key="nope")) == (400, expected)
        assert proxy.chat(proxy.master_key).status == 200


def test_without_a_database_on_the_command_line(tmp_path):
    with run_standin(db_path=tmp_path / "nodb-cli.db", database=False, subprocess=True) as proxy:
        assert proxy.call("GET", "/__standin/config").json["database"] is False
        assert proxy.call("POST", "/key/generate", {}).status == 500
