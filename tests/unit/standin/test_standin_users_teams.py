"""/user/* and /team/*."""

from __future__ import annotations

import hashlib


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def test_user_lifecycle(standin, uniq):
    uid = f"user-{uniq}"
    status, body = standin.call(
        "POST",
        "/user/new",
        {"user_id": uid, "user_email": f"{uniq}@example.com", "max_budget": 5, "user_role": "internal_user"},
    )
    assert status == 200, body
    assert body["user_id"] == uid
    assert body["key"].startswith("sk-")  # auto_create_key defaults to true
    assert body["max_budget"] == 5
    assert "token" not in body or body["token"] is None
    status, dup = standin.call("POST", "/user/new", {"user_id": uid})
    assert status == 409
    assert "already exists" in dup["error"]["message"]
    status, dup = standin.call("POST", "/user/new", {"user_email": f"{uniq.upper()}@EXAMPLE.com"})
    assert status == 409

    status, info = standin.call("GET", "/user/info", params={"user_id": uid})
    assert status == 200
    assert info["user_id"] == uid
    assert info["user_info"]["user_email"] == f"{uniq}@example.com"
    assert [k["token"] for k in info["keys"]] == [sha256(body["key"])]

    status, upd = standin.call("POST", "/user/update", {"user_id": uid, "max_budget": 9, "metadata": {"a": 1}})
    assert status == 200, upd
    assert upd["user_id"] == uid
    assert upd["data"]["max_budget"] == 9
    assert upd["data"]["metadata"] == {"a": 1}

    status, listing = standin.call("GET", "/user/list", params={"user_ids": uid})
    assert status == 200
    assert [u["user_id"] for u in listing["users"]] == [uid]
    assert listing["users"][0]["key_count"] == 1
    assert listing["total"] == 1

    status, deleted = standin.call("POST", "/user/delete", {"user_ids": [uid]})
    assert status == 200
    assert standin.call("GET", "/user/info", params={"user_id": uid}).status == 404
    assert standin.chat(body["key"]).status == 401  # the user's keys went with it


def test_user_new_without_key_and_errors(standin, uniq):
    status, body = standin.call("POST", "/user/new", {"user_id": f"nokey-{uniq}", "auto_create_key": False})
    assert status == 200
    assert body["key"] == ""
    status, body = standin.call("POST", "/user/new", {"user_role": "superhero"})
    assert status == 422
    status, body = standin.call("POST", "/user/update", {"max_budget": 1})
    assert status == 422  # needs user_id or user_email
    status, body = standin.call("POST", "/user/delete", {"user_ids": [f"ghost-{uniq}"]})
    assert status == 404
    assert body == {"detail": {"error": f"User not found, passed user_id=ghost-{uniq}"}}


def test_team_lifecycle(standin, uniq):
    tid = f"team-{uniq}"
    status, team = standin.call(
        "POST", "/team/new", {"team_id": tid, "team_alias": f"alias-{uniq}", "max_budget": 20, "metadata": {"x": 1}}
    )
    assert status == 200, team
    assert team["team_id"] == tid
    assert team["max_budget"] == 20
    assert team["spend"] == 0.0
    status, dup = standin.call("POST", "/team/new", {"team_id": tid})
    assert status == 400
    assert "already exists" in dup["error"]["message"]

    status, key = standin.call("POST", "/key/generate", {"team_id": tid, "key_alias": f"tk-{uniq}"})
    assert status == 200

    status, info = standin.call("GET", "/team/info", params={"team_id": tid})
    assert status == 200
    assert info["team_id"] == tid
    assert info["team_info"]["team_alias"] == f"alias-{uniq}"
    assert [k["token"] for k in info["keys"]] == [key["token"]]

    status, upd = standin.call("POST", "/team/update", {"team_id": tid, "max_budget": 30})
    assert status == 200
    assert upd["team_id"] == tid
    assert upd["data"]["max_budget"] == 30
    assert upd["data"]["metadata"] == {"x": 1}

    status, teams = standin.call("GET", "/team/list")
    assert status == 200
    assert tid in [t["team_id"] for t in teams]

    status, deleted = standin.call("POST", "/team/delete", {"team_ids": [tid]})
    assert status == 200
    assert deleted == {"deleted_teams": [tid]}
    assert standin.chat(key["key"]).status == 401  # team keys are deleted with the team
    status, info = standin.call("GET", "/team/info", params={"team_id": tid})
    assert status == 404


def test_team_errors(standin, uniq):
    status, body = standin.call("POST", "/team/update", {"team_id": f"ghost-{uniq}", "max_budget": 1})
    assert status == 404
    assert "Team not found" in body["error"]["message"]
    status, body = standin.call("POST", "/team/delete", {"team_ids": [f"ghost-{uniq}"]})
    assert status == 404
    status, body = standin.call("POST", "/team/update", {"max_budget": 1})
    assert status == 422
    assert body["detail"][0]["loc"] == ["body", "team_id"]


def test_user_joins_team(standin, uniq):
    tid = f"jt-{uniq}"
    standin.call("POST", "/team/new", {"team_id": tid})
    status, body = standin.call(
        "POST", "/user/new", {"user_id": f"ju-{uniq}", "team_id": tid, "auto_create_key": False}
    )
    assert status == 200
    assert tid in body["teams"]
    status, teams = standin.call("GET", "/team/list", params={"user_id": f"ju-{uniq}"})
    assert [t["team_id"] for t in teams] == [tid]
