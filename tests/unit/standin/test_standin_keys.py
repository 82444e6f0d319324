"""/key/generate, /key/info, /key/list, /key/update, /key/block, /key/unblock, /key/delete."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import datetime, timedelta, timezone


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def generate(proxy, **body):
    status, out = proxy.call("POST", "/key/generate", body)
    assert status == 200, out
    return out


def test_generate_shape(standin, uniq):
    before = datetime.now(timezone.utc)
    out = generate(
        standin,
        key_alias=f"gen-{uniq}",
        duration="30d",
        max_budget=12.5,
        spend=1.25,
        models=["fake-model"],
        metadata={"owner": "ci", "generation": 1},
        tpm_limit=1000,
    )
    assert out["key"].startswith("sk-")
    assert out["token"] == sha256(out["key"])
    assert out["token_id"] == out["token"]
    assert out["key_alias"] == f"gen-{uniq}"
    assert out["key_name"] == f"sk-...{out['key'][-4:]}"
    assert out["spend"] == 1.25
    assert out["max_budget"] == 12.5
    assert out["models"] == ["fake-model"]
    assert out["metadata"] == {"owner": "ci", "generation": 1}
    assert out["tpm_limit"] == 1000
    expires = parse(out["expires"])
    assert timedelta(days=29, hours=23) < expires - before < timedelta(days=30, minutes=5)
    assert out["key_type"] == "default"
    assert out["created_by"] == "default_user_id"


def test_generate_without_duration_never_expires(standin, uniq):
    out = generate(standin, key_alias=f"noexp-{uniq}")
    assert out["expires"] is None
    assert out["spend"] == 0.0


def test_generate_with_chosen_key(standin, uniq):
    chosen = f"sk-chosen-{uniq}-0123456789"
    out = generate(standin, key=chosen, key_alias=f"chosen-{uniq}")
    assert out["key"] == chosen
    assert out["token"] == sha256(chosen)
    # the same value again: insert_data is an upsert with update {} -- 200, the stored row stays as it was
    status, again = standin.call("POST", "/key/generate", {"key": chosen, "key_alias": f"chosen2-{uniq}"})
    assert status == 200, again
    assert again["token"] == sha256(chosen) and again["key_alias"] == f"chosen2-{uniq}"
    _unused, info = standin.call("GET", "/key/info", params={"key": chosen})
    assert info["info"]["key_alias"] == f"chosen-{uniq}"
    status, body = standin.call("POST", "/key/generate", {"key": f"nope-{uniq}-0123456789"})
    assert status == 400
    assert "must start with 'sk-'" in body["error"]["message"]
    status, body = standin.call("POST", "/key/generate", {"key": "sk-short"})
    assert status == 400
    assert "at least 16 characters" in body["error"]["message"]


def test_duplicate_alias_is_400(standin, uniq):
    generate(standin, key_alias=f"dup-{uniq}")
    status, body = standin.call("POST", "/key/generate", {"key_alias": f"dup-{uniq}"})
    assert status == 400
    assert body == {
        "error": {
            "message": f"Key with alias 'dup-{uniq}' already exists. Unique key aliases across all keys are required.",
            "type": "bad_request_error",
            "param": "key_alias",
            "code": "400",
        }
    }


def test_generate_rejects_negative_budget_and_bad_budget_duration(standin):
    status, body = standin.call("POST", "/key/generate", {"max_budget": -1})
    assert status == 400
    assert "max_budget must be a non-negative finite number" in body["error"]["message"]
    status, body = standin.call("POST", "/key/generate", {"budget_duration": "soon"})
    assert status == 400
    assert "Invalid budget_duration" in body["error"]["message"]


def test_premium_fields_need_enterprise(only_standin, uniq):
    status, body = only_standin.call("POST", "/key/generate", {"key_alias": f"t-{uniq}", "tags": ["a"]})
    assert status == 403
    assert "only available for LiteLLM Enterprise users: tags" in body["error"]["message"]


def test_premium_fields_with_enterprise_go_to_metadata(standin_enterprise, uniq):
    out = generate(standin_enterprise, key_alias=f"t-{uniq}", tags=["a"], guardrails=["g1"], metadata={"m": 1})
    assert out["metadata"]["tags"] == ["a"]
    assert out["metadata"]["guardrails"] == ["g1"]
    assert out["metadata"]["m"] == 1


def test_info_nesting_and_lookup_by_key_or_hash(standin, uniq):
    out = generate(standin, key_alias=f"info-{uniq}", metadata={"a": 1}, max_budget=3)
    for lookup in (out["key"], out["token"]):
        status, body = standin.call("GET", "/key/info", params={"key": lookup})
        assert status == 200
        assert body["key"] == lookup
        info = body["info"]
        assert "token" not in info
        assert info["key_alias"] == f"info-{uniq}"
        assert info["metadata"] == {"a": 1}
        assert info["max_budget"] == 3
        assert info["status"] == "active"
        assert info["spend"] == 0.0


def test_info_unknown_key_is_404(standin):
    status, body = standin.call("GET", "/key/info", params={"key": "0" * 64})
    assert status == 404
    assert body["error"]["type"] == "not_found_error"
    assert body["error"]["code"] == "404"


def test_key_value_is_never_stored(only_standin, uniq):
    out = generate(only_standin, key_alias=f"secret-{uniq}")
    with open(only_standin.db_path, "rb") as fh:
        raw = fh.read()
    wal = only_standin.db_path + "-wal"
    try:
        with open(wal, "rb") as fh:
            raw += fh.read()
    except FileNotFoundError:
        pass
    assert out["key"].encode() not in raw
    conn = sqlite3.connect(only_standin.db_path)
    try:
        tokens = [row[0] for row in conn.execute("SELECT token FROM keys")]
    finally:
        conn.close()
    assert out["token"] in tokens


def test_list_paging_and_filters(standin, uniq):
    team = f"team-{uniq}"
    made = [generate(standin, key_alias=f"page-{uniq}-{i:02d}", team_id=team) for i in range(23)]
    other = generate(standin, key_alias=f"other-{uniq}", user_id=f"user-{uniq}")
    seen = []
    for page in (1, 2, 3):
        status, body = standin.call("GET", "/key/list", params={"team_id": team, "page": page, "size": 10})
        assert status == 200
        assert body["total_count"] == 23
        assert body["current_page"] == page
        assert body["total_pages"] == 3
        assert len(body["keys"]) == (10 if page < 3 else 3)
        assert all(isinstance(k, str) and len(k) == 64 for k in body["keys"])
        seen += body["keys"]
    assert sorted(seen) == sorted(m["token"] for m in made)
    # newest first
    assert seen[0] == made[-1]["token"]

    status, body = standin.call("GET", "/key/list", params={"key_alias": f"page-{uniq}-07"})
    assert body["keys"] == [made[7]["token"]]
    status, body = standin.call("GET", "/key/list", params={"user_id": f"user-{uniq}"})
    assert body["keys"] == [other["token"]]
    status, body = standin.call("GET", "/key/list", params={"key_alias": f"absent-{uniq}"})
    assert body == {"keys": [], "total_count": 0, "current_page": 1, "total_pages": 0}


def test_list_full_objects(standin, uniq):
    out = generate(standin, key_alias=f"full-{uniq}", metadata={"gen": 2}, max_budget=9)
    status, body = standin.call("GET", "/key/list", params={"key_alias": f"full-{uniq}", "return_full_object": "true"})
    assert status == 200
    [obj] = body["keys"]
    assert obj["token"] == out["token"]
    assert obj["key_alias"] == f"full-{uniq}"
    assert obj["metadata"] == {"gen": 2}
    assert obj["max_budget"] == 9
    assert out["key"] not in str(body)


def test_list_status_filter(standin, uniq):
    team = f"st-{uniq}"
    a = generate(standin, key_alias=f"st-a-{uniq}", team_id=team)
    b = generate(standin, key_alias=f"st-b-{uniq}", team_id=team)
    assert standin.call("POST", "/key/block", {"key": b["key"]}).status == 200
    status, body = standin.call("GET", "/key/list", params={"team_id": team, "status": "revoked"})
    assert body["keys"] == [b["token"]]
    status, body = standin.call("GET", "/key/list", params={"team_id": team, "status": "active"})
    assert body["keys"] == [a["token"]]
    status, body = standin.call("GET", "/key/list", params={"status": "bogus"})
    assert status == 400


def test_update_by_key_replaces_metadata(standin, uniq):
    out = generate(standin, key_alias=f"upd-{uniq}", metadata={"a": 1, "b": 2}, max_budget=5)
    status, body = standin.call(
        "POST", "/key/update", {"key": out["key"], "metadata": {"c": 3}, "max_budget": 7, "spend": 2.5}
    )
    assert status == 200, body
    assert body["key"] == out["key"]  # echoes what was sent
    assert body["token"] == out["token"]
    assert body["metadata"] == {"c": 3}  # metadata is replaced, not merged
    assert body["max_budget"] == 7
    assert body["spend"] == 2.5
    status, info = standin.call("GET", "/key/info", params={"key": out["token"]})
    assert info["info"]["metadata"] == {"c": 3}
    assert info["info"]["spend"] == 2.5


def test_update_by_alias_and_rename(standin, uniq):
    out = generate(standin, key_alias=f"old-{uniq}", metadata={"keep": True})
    status, body = standin.call("POST", "/key/update", {"key_alias": f"old-{uniq}", "tpm_limit": 42})
    assert status == 200, body
    assert body["key"] == out["token"]  # alias lookups answer with the hash
    assert body["tpm_limit"] == 42
    assert body["metadata"] == {"keep": True}  # not sent -> kept
    status, body = standin.call("POST", "/key/update", {"key": out["token"], "key_alias": f"new-{uniq}"})
    assert status == 200
    status, info = standin.call("GET", "/key/info", params={"key": out["token"]})
    assert info["info"]["key_alias"] == f"new-{uniq}"


def test_update_errors(standin, uniq):
    a = generate(standin, key_alias=f"ua-{uniq}")
    generate(standin, key_alias=f"ub-{uniq}")
    status, body = standin.call("POST", "/key/update", {"key": a["key"], "key_alias": f"ub-{uniq}"})
    assert status == 400
    assert "already exists" in body["error"]["message"]
    status, body = standin.call("POST", "/key/update", {"key": "sk-unknown-key-0000000000", "max_budget": 1})
    assert status == 404
    assert body["error"] == {"message": "Key not found.", "type": "not_found_error", "param": "key", "code": "404"}
    status, body = standin.call("POST", "/key/update", {"key_alias": f"missing-{uniq}", "max_budget": 1})
    assert status == 404
    assert body["error"]["param"] == "key_alias"


def test_update_duration_sets_and_clears_expires(standin, uniq):
    out = generate(standin, key_alias=f"dur-{uniq}")
    status, body = standin.call("POST", "/key/update", {"key": out["key"], "duration": "2h"})
    assert status == 200
    assert body["expires"] is not None
    status, body = standin.call("POST", "/key/update", {"key": out["key"], "duration": None})
    assert status == 200
    assert body["expires"] is None


def test_block_and_unblock(standin, uniq):
    out = generate(standin, key_alias=f"blk-{uniq}")
    status, body = standin.call("POST", "/key/block", {"key": out["key"]})
    assert status == 200
    assert body["blocked"] is True
    assert body["token"] == out["token"]
    status, info = standin.call("GET", "/key/info", params={"key": out["token"]})
    assert info["info"]["status"] == "revoked"
    status, body = standin.call("POST", "/key/unblock", {"key": out["token"]})
    assert status == 200
    assert body["blocked"] is False
    status, body = standin.call("POST", "/key/block", {"key": "sk-not-there-000000000"})
    assert status == 404
    status, body = standin.call("POST", "/key/block", {"key": "bad key!"})
    assert status == 400


def test_delete_by_key_hash_and_alias(standin, uniq):
    a = generate(standin, key_alias=f"da-{uniq}")
    b = generate(standin, key_alias=f"db-{uniq}")
    c = generate(standin, key_alias=f"dc-{uniq}")
    status, body = standin.call("POST", "/key/delete", {"keys": [a["key"], b["token"]]})
    assert status == 200
    assert body == {"deleted_keys": [a["key"], b["token"]]}
    status, body = standin.call("POST", "/key/delete", {"key_aliases": [f"dc-{uniq}"]})
    assert status == 200
    assert body == {"deleted_keys": [f"dc-{uniq}"]}
    for out in (a, b, c):
        status, info = standin.call("GET", "/key/info", params={"key": out["token"]})
        assert status == 200
        assert info["info"]["status"] == "deleted"
        assert info["info"]["deleted_at"]
        status, body = standin.call("GET", "/key/list", params={"key_alias": out["key_alias"]})
        assert body["keys"] == []


def test_delete_unknown_is_404(standin, uniq):
    status, body = standin.call("POST", "/key/delete", {"keys": ["sk-gone-0000000000000000"]})
    assert status == 404
    assert body["error"]["code"] == "404"
    assert "No keys found" in body["error"]["message"]
    status, body = standin.call("POST", "/key/delete", {"key_aliases": [f"gone-{uniq}"]})
    assert status == 404


def test_delete_partially_known_list_answers_with_the_request(standin, uniq):
    a = generate(standin, key_alias=f"part-{uniq}")
    status, body = standin.call("POST", "/key/delete", {"keys": [a["key"], "sk-never-existed-000000"]})
    assert status == 200
    assert body["deleted_keys"] == [a["key"], "sk-never-existed-000000"]


def test_unsafe_alias_always_rejected(standin, uniq):
    status, body = standin.call("POST", "/key/generate", {"key_alias": f"tab\there-{uniq}"})
    assert status == 400
    assert body["error"]["param"] == "key_alias"
    assert "control characters" in body["error"]["message"]


def test_alias_format_validation_is_opt_in(tmp_path):
    from tests.standin import run_standin

    with run_standin(db_path=tmp_path / "lax.db") as lax:
        assert lax.call("POST", "/key/generate", {"key_alias": "has space!"}).status == 200
    with run_standin(db_path=tmp_path / "strict.db", key_alias_format_validation=True) as strict:
        status, body = strict.call("POST", "/key/generate", {"key_alias": "has space!"})
        assert status == 400
        assert body["error"]["message"].startswith("Invalid key_alias format.")
        assert strict.call("POST", "/key/generate", {"key_alias": "svc/app-1.prod@eu"}).status == 200


def test_concurrent_generates_with_one_alias_create_one_key(only_standin, uniq):
    from concurrent.futures import ThreadPoolExecutor

    def attempt(_unused):
        return only_standin.call("POST", "/key/generate", {"key_alias": f"race-{uniq}"}).status

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(attempt, range(16)))
    assert statuses.count(200) == 1
    assert statuses.count(400) == 15
    status, body = only_standin.call("GET", "/key/list", params={"key_alias": f"race-{uniq}"})
    assert body["total_count"] == 1
