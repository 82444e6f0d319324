"""/v1/models and /v1/chat/completions with virtual-key checks and spend accrual."""

from __future__ import annotations

import pytest


def generate(proxy, **body):
    status, out = proxy.call("POST", "/key/generate", body)
    assert status == 200, out
    return out


def key_spend(proxy, token):
    status, info = proxy.call("GET", "/key/info", params={"key": token})
    assert status == 200, info
    return info["info"]["spend"]


def test_valid_key_gets_an_openai_completion(standin, uniq):
    out = generate(standin, key_alias=f"chat-{uniq}")
    status, body = standin.chat(out["key"])
    assert status == 200, body
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["role"] == "assistant"
    assert body["choices"][0]["message"]["content"]
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]


def test_plain_chat_completions_path_too(only_standin, uniq):
    out = generate(only_standin, key_alias=f"chat2-{uniq}")
    reply = only_standin.call(
        "POST",
        "/chat/completions",
        {"model": "fake-model", "messages": [{"role": "user", "content": "x"}]},
        key=out["key"],
    )
    assert reply.status == 200
    assert float(reply.headers["x-litellm-response-cost"]) == pytest.approx(0.001)


def test_master_key_works_on_data_plane(standin):
    assert standin.chat(standin.master_key).status == 200
    status, body = standin.call("GET", "/v1/models")
    assert status == 200
    assert body["object"] == "list"
    assert {m["id"] for m in body["data"]} >= {"fake-model"}


def test_blocked_key_is_401(standin, uniq):
    out = generate(standin, key_alias=f"blk-{uniq}")
    standin.call("POST", "/key/block", {"key": out["key"]})
    status, body = standin.chat(out["key"])
    assert status == 401
    assert body["error"]["type"] == "auth_error"
    assert "Key is blocked" in body["error"]["message"]
    standin.call("POST", "/key/unblock", {"key": out["key"]})
    assert standin.chat(out["key"]).status == 200


def test_expired_key_is_401(only_standin, uniq):
    # advance_clock moves the stand-in's own clock; in front of a real proxy it moves only the Date header
    standin = only_standin
    out = generate(standin, key_alias=f"exp-{uniq}", duration="1h")
    assert standin.chat(out["key"]).status == 200
    standin.advance_clock(3601)
    status, body = standin.chat(out["key"])
    assert status == 401
    assert body["error"]["type"] == "expired_key"
    assert "Expired Key" in body["error"]["message"]
    status, info = standin.call("GET", "/key/info", params={"key": out["token"]})
    assert info["info"]["status"] == "expired"


def test_deleted_and_unknown_keys_are_401(standin, uniq):
    out = generate(standin, key_alias=f"del-{uniq}")
    standin.call("POST", "/key/delete", {"keys": [out["key"]]})
    for key in (out["key"], "sk-never-issued-000000000"):
        status, body = standin.chat(key)
        assert status == 401
        assert body["error"]["type"] == "token_not_found_in_db"
        assert body["error"]["message"] == "Authentication Error, Invalid API key provided."


def test_over_budget_key_is_rejected(only_standin, uniq):
    # counts on --cost-per-request (0.001) booked at once; a real proxy prices a mock call at almost nothing
    standin = only_standin
    out = generate(standin, key_alias=f"bud-{uniq}", max_budget=0.0025)
    assert standin.chat(out["key"]).status == 200  # spend 0.001
    assert standin.chat(out["key"]).status == 200  # spend 0.002
    assert standin.chat(out["key"]).status == 200  # spend 0.003 (the check runs before the call)
    status, body = standin.chat(out["key"])
    # litellm.budget_exceeded_status_code is 422 in 1.108.7
    assert status == 422
    assert body["error"]["type"] == "budget_exceeded"
    assert body["error"]["message"].startswith(f"Budget has been exceeded! Key=bud-{uniq}")


def test_spend_given_at_generate_counts_against_budget(standin, uniq):
    out = generate(standin, key_alias=f"carry-{uniq}", max_budget=1.0, spend=1.0)
    status, body = standin.chat(out["key"])
    assert status == 422
    assert body["error"]["type"] == "budget_exceeded"


def test_spend_accrues_on_key_user_and_team(only_standin, uniq):
    proxy = only_standin
    assert proxy.call("POST", "/team/new", {"team_id": f"t-{uniq}"}).status == 200
    assert proxy.call("POST", "/user/new", {"user_id": f"u-{uniq}", "auto_create_key": False}).status == 200
    out = generate(proxy, key_alias=f"acc-{uniq}", user_id=f"u-{uniq}", team_id=f"t-{uniq}")
    for _unused in range(3):
        assert proxy.chat(out["key"]).status == 200
    assert key_spend(proxy, out["token"]) == pytest.approx(0.003)
    status, user = proxy.call("GET", "/user/info", params={"user_id": f"u-{uniq}"})
    assert user["user_info"]["spend"] == pytest.approx(0.003)
    status, team = proxy.call("GET", "/team/info", params={"team_id": f"t-{uniq}"})
    assert team["team_info"]["spend"] == pytest.approx(0.003)
    # failed requests do not cost anything
    proxy.call("POST", "/key/block", {"key": out["key"]})
    assert proxy.chat(out["key"]).status == 401
    assert key_spend(proxy, out["token"]) == pytest.approx(0.003)


def test_cost_per_request_is_configurable(tmp_path):
    from tests.standin import run_standin

    with run_standin(db_path=tmp_path / "c.db", cost_per_request=0.25) as proxy:
        out = generate(proxy, key_alias="cost")
        assert proxy.chat(out["key"]).status == 200
        assert key_spend(proxy, out["token"]) == pytest.approx(0.25)


def test_model_restrictions(standin, uniq):
    out = generate(standin, key_alias=f"mod-{uniq}", models=["fake-model"])
    assert standin.chat(out["key"], model="fake-model").status == 200
    status, body = standin.chat(out["key"], model="gpt-4o-mini")
    assert status in (401, 403)
    assert body["error"]["type"] == "key_model_access_denied"
    status, body = standin.call("GET", "/v1/models", key=out["key"])
    assert [m["id"] for m in body["data"]] == ["fake-model"]


def test_unknown_model_and_missing_messages_are_400(only_standin):
    status, body = only_standin.chat(only_standin.master_key, model="no-such-model")
    assert status == 400
    assert "Invalid model name passed in model=no-such-model" in body["error"]["message"]
    status, body = only_standin.call("POST", "/v1/chat/completions", {"model": "fake-model"})
    assert status == 400
    assert body["error"]["param"] == "messages"


def test_team_budget_and_blocked_team(only_standin, uniq):
    proxy = only_standin
    proxy.call("POST", "/team/new", {"team_id": f"tb-{uniq}", "max_budget": 0.001})
    out = generate(proxy, key_alias=f"tb-{uniq}", team_id=f"tb-{uniq}")
    assert proxy.chat(out["key"]).status == 200
    status, body = proxy.chat(out["key"])
    assert status == 422
    assert f"Team=tb-{uniq}" in body["error"]["message"]
    proxy.call("POST", "/team/update", {"team_id": f"tb-{uniq}", "max_budget": 100, "blocked": True})
    status, body = proxy.chat(out["key"])
    assert status == 401
    assert "is blocked" in body["error"]["message"]
