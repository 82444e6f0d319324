"""/key/regenerate and /key/{key}/regenerate: Enterprise-only, like LiteLLM."""

from __future__ import annotations

import hashlib


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def generate(proxy, **body):
    status, out = proxy.call("POST", "/key/generate", body)
    assert status == 200, out
    return out


def test_regenerate_refused_without_enterprise(only_standin, uniq):
    out = generate(only_standin, key_alias=f"r-{uniq}")
    for path, body in (("/key/regenerate", {"key": out["key"]}), (f"/key/{out['key']}/regenerate", None)):
        status, err = only_standin.call("POST", path, body)
        # LiteLLM raises a ValueError here, which handle_exception_on_proxy turns into a 500.
        assert status == 500
        assert err["error"]["type"] == "internal_server_error"
        assert err["error"]["message"].startswith("Regenerating Virtual Keys is an Enterprise feature")
    # nothing changed
    status, info = only_standin.call("GET", "/key/info", params={"key": out["token"]})
    assert info["info"]["status"] == "active"
    assert only_standin.chat(out["key"]).status == 200


def test_regenerate_body_is_still_validated(only_standin):
    status, body = only_standin.call("POST", "/key/regenerate", {"max_budget": "x"})
    assert status == 422


def test_regenerate_with_enterprise(standin_enterprise, uniq):
    proxy = standin_enterprise
    out = generate(proxy, key_alias=f"r-{uniq}", metadata={"g": 1}, max_budget=10, spend=1.5)
    status, new = proxy.call("POST", "/key/regenerate", {"key": out["key"], "metadata": {"g": 2}})
    assert status == 200, new
    assert new["key"].startswith("sk-") and new["key"] != out["key"]
    assert new["token_id"] == sha256(new["key"])
    assert new["token"] is None  # LiteLLM pops token and only sets token_id here
    assert new["key_alias"] == f"r-{uniq}"
    assert new["metadata"] == {"g": 2}
    assert new["max_budget"] == 10
    assert new["spend"] == 1.5
    # old key is gone (archived), new key works, alias now points at the new token
    assert proxy.chat(out["key"]).status == 401
    assert proxy.chat(new["key"]).status == 200
    status, info = proxy.call("GET", "/key/info", params={"key": out["token"]})
    assert info["info"]["status"] == "deleted"
    status, listing = proxy.call("GET", "/key/list", params={"key_alias": f"r-{uniq}"})
    assert listing["keys"] == [new["token_id"]]


def test_regenerate_by_path_with_new_key_and_grace_period(standin_enterprise, uniq):
    proxy = standin_enterprise
    out = generate(proxy, key_alias=f"rp-{uniq}")
    chosen = f"sk-next-{uniq}-000000000"
    status, new = proxy.call("POST", f"/key/{out['key']}/regenerate", {"new_key": chosen, "grace_period": "1h"})
    assert status == 200, new
    assert new["key"] == chosen
    # during the grace period the old key still authenticates (and spends on the new row)
    assert proxy.chat(out["key"]).status == 200
    assert proxy.chat(chosen).status == 200
    status, info = proxy.call("GET", "/key/info", params={"key": sha256(chosen)})
    assert info["info"]["spend"] > 0
    proxy.advance_clock(2 * 3600)
    assert proxy.chat(out["key"]).status == 401
    assert proxy.chat(chosen).status == 200


def test_regenerate_unknown_key_is_404(standin_enterprise):
    status, body = standin_enterprise.call("POST", "/key/regenerate", {"key": "sk-unknown-0000000000000"})
    assert status == 404
    assert "not found" in body["error"]["message"]


def test_regenerate_key_as_query_parameter(standin_enterprise, uniq):
    out = generate(standin_enterprise, key_alias=f"rq-{uniq}")
    status, new = standin_enterprise.call("POST", "/key/regenerate", params={"key": out["key"]})
    assert status == 200, new
    assert new["key_alias"] == f"rq-{uniq}"
    assert new["token_id"] != out["token"]
