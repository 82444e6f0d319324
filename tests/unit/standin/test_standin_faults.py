"""Fault switches: fail_next / error_rate / delay_seconds / drop_next / drop_after_next / malformed_next."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request

import pytest


def raw_post(proxy, path, body, timeout=10):
    request = urllib.request.Request(
        proxy.url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {proxy.master_key}", "Content-Type": "application/json"},
    )
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310


def count_alias(proxy, alias):
    status, body = proxy.call("GET", "/key/list", params={"key_alias": alias})
    assert status == 200
    return body["total_count"]


def test_fail_next_answers_500_without_side_effects(standin, uniq):
    state = standin.set_faults(fail_next=2)
    assert state["fail_next"] == 2
    for _unused in range(2):
        status, body = standin.call("POST", "/key/generate", {"key_alias": f"f-{uniq}"})
        assert status == 500
        assert body["error"]["code"] == "500"
    assert count_alias(standin, f"f-{uniq}") == 0
    status, _unused = standin.call("POST", "/key/generate", {"key_alias": f"f-{uniq}"})
    assert status == 200
    assert standin.faults["injected"]["fail"] == 2


def test_fail_status_503(standin):
    standin.set_faults(fail_next=1, fail_status=503)
    reply = standin.call("GET", "/key/list")
    assert reply.status == 503
    if standin.is_standin:  # tests/realapi/faultproxy.py (in front of a real proxy) sends no Retry-After
        assert reply.headers.get("Retry-After") == "0"
    assert standin.call("GET", "/key/list").status == 200


def test_error_rate(standin):
    standin.set_faults(error_rate=1.0)
    assert all(standin.call("GET", "/key/list").status == 500 for _unused in range(5))
    standin.clear_faults()
    assert standin.call("GET", "/key/list").status == 200


def test_delay_seconds(standin):
    standin.set_faults(delay_seconds=0.4)
    start = time.monotonic()
    assert standin.call("GET", "/key/list").status == 200
    assert time.monotonic() - start >= 0.4
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        raw_post(standin, "/key/generate", {}, timeout=0.1)


def test_drop_next_closes_without_answer(standin, uniq):
    standin.set_faults(drop_next=1)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError)):
        raw_post(standin, "/key/generate", {"key_alias": f"d-{uniq}"})
    assert count_alias(standin, f"d-{uniq}") == 0  # dropped before processing
    assert standin.call("POST", "/key/generate", {"key_alias": f"d-{uniq}"}).status == 200


def test_drop_after_next_commits_but_never_answers(standin, uniq):
    standin.set_faults(drop_after_next=1)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError)):
        raw_post(standin, "/key/generate", {"key_alias": f"da-{uniq}"})
    assert count_alias(standin, f"da-{uniq}") == 1  # the change landed
    status, body = standin.call("POST", "/key/generate", {"key_alias": f"da-{uniq}"})
    assert status == 400  # a blind retry now hits the duplicate alias


def test_malformed_next_is_200_but_not_json(standin):
    standin.set_faults(malformed_next=1)
    reply = standin.call("GET", "/key/list")
    assert reply.status == 200
    assert reply.json is None
    with pytest.raises(ValueError):
        json.loads(reply.body)
    assert standin.call("GET", "/key/list").json is not None


def test_path_prefix_scopes_faults(standin, uniq):
    standin.set_faults(fail_next=5, path_prefix="/key/update")
    assert standin.call("POST", "/key/generate", {"key_alias": f"p-{uniq}"}).status == 200
    assert standin.call("POST", "/key/update", {"key_alias": f"p-{uniq}", "max_budget": 1}).status == 500
    assert standin.faults["fail_next"] == 4


def test_faults_via_http_need_master_key_and_valid_config(only_standin):
    reply = only_standin.call("POST", "/__standin/faults", {"fail_next": 1}, key=None)
    assert reply.status == 401
    reply = only_standin.call("POST", "/__standin/faults", {"fail_next": -1})
    assert reply.status == 400
    reply = only_standin.call("POST", "/__standin/faults", {"explode": True})
    assert reply.status == 400
    assert "unknown fault switch" in reply.json["error"]["message"]
    reply = only_standin.call("POST", "/__standin/faults", {"fail_next": 1})
    assert reply.status == 200
    assert only_standin.call("GET", "/key/list").status == 500
    # control endpoints are never faulted
    only_standin.set_faults(error_rate=1.0)
    assert only_standin.call("GET", "/__standin/faults").status == 200


def test_remote_proxy_skips_fault_tests():
    from tests.standin import RemoteProxy

    remote = RemoteProxy("http://127.0.0.1:9", "sk-x")
    with pytest.raises(pytest.skip.Exception, match="needs the LiteLLM stand-in"):
        remote.set_faults(fail_next=1)
    with pytest.raises(pytest.skip.Exception):
        remote.advance_clock(10)
