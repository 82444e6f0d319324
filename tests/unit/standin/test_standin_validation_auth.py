"""Request validation (LiteLLM's pydantic models -> 422) and authentication (401)."""

from __future__ import annotations


def test_bad_type_is_422_with_fastapi_detail(standin):
    status, body = standin.call("POST", "/key/generate", {"max_budget": "lots"})
    assert status == 422
    assert body == {
        "detail": [
            {
                "type": "float_parsing",
                "loc": ["body", "max_budget"],
                "msg": "Input should be a valid number, unable to parse string as a number",
            }
        ]
    }


def test_several_errors_are_all_reported(standin):
    status, body = standin.call("POST", "/key/generate", {"metadata": ["not", "a", "dict"], "models": "gpt"})
    assert status == 422
    locs = sorted(tuple(err["loc"]) for err in body["detail"])
    assert locs == [("body", "metadata"), ("body", "models")]
    assert all(set(err) == {"type", "loc", "msg"} for err in body["detail"])


def test_model_validator_error_has_body_loc(standin):
    # UpdateKeyRequest: "either key or key_alias must be provided"
    status, body = standin.call("POST", "/key/update", {"max_budget": 3})
    assert status == 422
    assert body["detail"][0]["loc"] == ["body"]
    assert body["detail"][0]["type"] == "value_error"
    assert "either key or key_alias must be provided" in body["detail"][0]["msg"]


def test_delete_needs_keys_or_aliases(standin):
    status, body = standin.call("POST", "/key/delete", {})
    assert status == 422
    assert "At least one of 'keys' or 'key_aliases' must be provided." in body["detail"][0]["msg"]


def test_required_field_missing(standin):
    status, body = standin.call("POST", "/key/block", {})
    assert status == 422
    assert body["detail"] == [{"type": "missing", "loc": ["body", "key"], "msg": "Field required"}]


def test_missing_body_and_invalid_json(standin):
    status, body = standin.call("POST", "/key/generate")
    assert status == 422
    assert body["detail"] == [{"type": "missing", "loc": ["body"], "msg": "Field required"}]
    status, body = standin.call("POST", "/key/generate", raw_body=b'{"key_alias": ')
    assert status == 422
    assert body["detail"][0]["type"] == "json_invalid"
    assert body["detail"][0]["loc"][0] == "body"


def test_body_must_be_an_object(standin):
    # LiteLLM reads the parsed body as a dict before FastAPI validates it: a JSON array ends in its
    # unhandled-exception handler (a bare 500), before authentication.
    expected = {"error": {"message": "Internal server error", "type": "internal_server_error"}}
    assert tuple(standin.call("POST", "/team/new", [1, 2])) == (500, expected)
    assert tuple(standin.call("POST", "/key/generate", [1, 2], key="sk-wrong-0123456789abcdef")) == (500, expected)


def test_unknown_fields_are_ignored_like_litellm(standin, uniq):
    status, body = standin.call("POST", "/key/generate", {"key_alias": f"extra-{uniq}", "no_such_field": 1})
    assert status == 200, body
    assert "no_such_field" not in body


def test_query_validation_422(standin):
    status, body = standin.call("GET", "/key/list", params={"page": "0", "size": "1000"})
    assert status == 422
    assert {tuple(e["loc"]) for e in body["detail"]} == {("query", "page"), ("query", "size")}
    status, body = standin.call("GET", "/key/list", params={"return_full_object": "maybe"})
    assert status == 422
    assert body["detail"][0]["type"] == "bool_parsing"


def test_missing_key_is_401_in_litellm_shape(standin):
    status, body = standin.call("POST", "/key/generate", {}, key=None)
    assert status == 401
    assert body == {
        "error": {
            "message": "Authentication Error, No api key passed in.",
            "type": "auth_error",
            "param": "None",
            "code": "401",
        }
    }


def test_wrong_key_is_401(standin):
    status, body = standin.call("GET", "/key/list", key="sk-definitely-not-the-master-key")
    assert status == 401
    assert body["error"]["code"] == "401"
    assert body["error"]["type"] == "token_not_found_in_db"
    status, body = standin.call("GET", "/key/list", key="not-an-sk-key")
    assert status == 401
    assert body["error"]["type"] == "auth_error"
    assert "LiteLLM Virtual Key expected" in body["error"]["message"]


def test_missing_bearer_prefix_is_401(standin):
    reply = standin.call("GET", "/key/list", key=None, headers={"Authorization": standin.master_key})
    assert reply.status == 401
    assert "Malformed API Key passed in" in reply.json["error"]["message"]


def test_auth_is_checked_before_body_validation(standin):
    status, body = standin.call("POST", "/key/generate", {"max_budget": "lots"}, key=None)
    assert status == 401
    assert body["error"]["type"] == "auth_error"


def test_x_litellm_api_key_header_is_accepted(standin):
    reply = standin.call("GET", "/key/list", key=None, headers={"x-litellm-api-key": standin.master_key})
    assert reply.status == 200, reply
    reply = standin.call("GET", "/key/list", key=None, headers={"x-litellm-api-key": f"Bearer {standin.master_key}"})
    assert reply.status == 200, reply


def test_virtual_key_cannot_use_admin_routes(standin, uniq):
    status, body = standin.call("POST", "/key/generate", {"key_alias": f"plain-{uniq}"})
    assert status == 200
    virtual = body["key"]
    status, err = standin.call("POST", "/key/generate", {"key_alias": f"other-{uniq}"}, key=virtual)
    assert status in (401, 403)
    assert err["error"]["type"] == "auth_error"
    # ... but may read its own info
    status, info = standin.call("GET", "/key/info", key=virtual)
    assert status == 200
    assert info["info"]["key_alias"] == f"plain-{uniq}"


def test_health_needs_no_key(standin):
    status, body = standin.call("GET", "/health/liveliness", key=None)
    assert status == 200
    assert body == "I'm alive!"


def test_unknown_route_and_method(only_standin):
    assert only_standin.call("GET", "/no/such/route").status == 404
    reply = only_standin.call("GET", "/key/generate")
    assert reply.status == 405
    assert reply.json == {"detail": "Method Not Allowed"}


def test_virtual_key_cannot_read_other_keys(standin, uniq):
    standin.call("POST", "/user/new", {"user_id": f"it-std-me-{uniq}", "auto_create_key": False})
    mine = standin.call("POST", "/key/generate", {"key_alias": f"mine-{uniq}", "user_id": f"it-std-me-{uniq}"}).json
    theirs = standin.call("POST", "/key/generate", {"key_alias": f"theirs-{uniq}"}).json
    status, body = standin.call("GET", "/key/info", params={"key": theirs["token"]}, key=mine["key"])
    assert status == 403
    assert body["error"]["message"] == "You are not allowed to access this key's info. Your role=internal_user"
    status, body = standin.call("GET", "/key/info", params={"key": mine["token"]}, key=mine["key"])
    assert status == 200
    assert body["info"]["key_alias"] == f"mine-{uniq}"
    standin.call("POST", "/user/delete", {"user_ids": [f"it-std-me-{uniq}"]})


def test_keys_without_a_user_read_each_other(standin, uniq):
    # _can_user_query_key_info compares key_info.user_id == caller's user_id: None == None lets a key without
    # a user read every other key without one (seen on the real API too)
    mine = standin.call("POST", "/key/generate", {"key_alias": f"mine2-{uniq}"}).json
    theirs = standin.call("POST", "/key/generate", {"key_alias": f"theirs2-{uniq}"}).json
    status, body = standin.call("GET", "/key/info", params={"key": theirs["token"]}, key=mine["key"])
    assert status == 200
    assert body["info"]["key_alias"] == f"theirs2-{uniq}"
    standin.call("POST", "/key/delete", {"keys": [mine["key"], theirs["key"]]})


def test_admin_only_route_with_a_virtual_key(standin):
    key = standin.call("POST", "/key/generate", {}).json["key"]
    status, body = standin.call("POST", "/key/generate", {}, key=key)
    assert status == 401
    assert body["error"]["message"] == (
        "Authentication Error, Only proxy admin can be used to generate, delete, update info for new "
        "keys/users/teams. Route=/key/generate. Your role=unknown. Your user_id=*******"
    )
    # /key/list is an info route; validate_key_list_check wants the key's own user row
    status, body = standin.call("GET", "/key/list", key=key)
    assert (status, body["error"]["type"], body["error"]["param"]) == (403, "bad_request_error", "user_id")
    standin.call("POST", "/key/delete", {"keys": [key]})
