"""The fault proxy that sits between the modules and LiteLLM's real admin API, tested
in front of the stand-in (fast): it forwards, it loses answers after the request
reached the API, it refuses before, and it moves the clock the modules read."""

from __future__ import annotations

import email.utils
import time
from pathlib import Path

import pytest

from tests.realapi import RealApi
from tests.realapi.faultproxy import fault_proxy
from tests.standin.fixture import DEFAULT_MASTER_KEY, run_standin


@pytest.fixture
def behind(tmp_path: Path):
    with run_standin(db_path=tmp_path / "standin.db", master_key=DEFAULT_MASTER_KEY) as upstream:
        with fault_proxy(upstream.url, DEFAULT_MASTER_KEY) as faulty:
            yield upstream, RealApi(faulty.url, DEFAULT_MASTER_KEY, upstream=upstream.url)


def aliases(proxy) -> list[str]:
    status, body = proxy.call("GET", "/key/list", params={"return_full_object": "true"})
    assert status == 200, body
    return sorted(k["key_alias"] for k in body["keys"] if k.get("key_alias"))


def test_requests_and_answers_pass_through_unchanged(behind):
    upstream, proxy = behind
    reply = proxy.call("POST", "/key/generate", {"key_alias": "through"})
    assert reply.status == 200 and reply.json["key_alias"] == "through"
    assert aliases(upstream) == ["through"]
    assert proxy.chat(reply.json["key"]).status == 200
    assert proxy.call("GET", "/key/list", key="sk-wrong-key-0000").status == 401


def test_an_answer_lost_after_the_request_reached_the_api(behind):
    upstream, proxy = behind
    proxy.set_faults(drop_after_next=1, path_prefix="/key/generate")
    with pytest.raises(OSError):
        proxy.call("POST", "/key/generate", {"key_alias": "committed"})
    assert aliases(upstream) == ["committed"]  # LiteLLM did it; only the answer was lost
    assert proxy.call("POST", "/key/generate", {"key_alias": "second"}).status == 200  # once only


@pytest.mark.parametrize("faults, status, is_json", [
    (dict(fail_next=1, fail_status=503), 503, True),
    (dict(malformed_next=1), 200, False),
])
def test_a_refused_request_never_reaches_the_api(behind, faults, status, is_json):
    upstream, proxy = behind
    proxy.set_faults(path_prefix="/key/generate", **faults)
    reply = proxy.call("POST", "/key/generate", {"key_alias": "never"})
    assert (reply.status, reply.json is not None) == (status, is_json)
    assert aliases(upstream) == []


def test_a_request_lost_on_the_wire_never_reaches_the_api(behind):
    upstream, proxy = behind
    proxy.set_faults(drop_next=1, path_prefix="/key/generate")
    with pytest.raises(OSError):
        proxy.call("POST", "/key/generate", {"key_alias": "never"})
    assert aliases(upstream) == []


def test_the_clock_moves_the_date_header_only(behind):
    upstream, proxy = behind
    proxy.advance_clock(86400)
    seen = email.utils.parsedate_to_datetime(proxy.call("GET", "/health/liveliness").headers["Date"])
    assert abs(seen.timestamp() - (time.time() + 86400)) < 3600
    real = email.utils.parsedate_to_datetime(upstream.call("GET", "/health/liveliness").headers["Date"])
    assert abs(real.timestamp() - time.time()) < 3600


def test_control_calls_need_the_master_key(behind):
    _unused, proxy = behind
    reply = proxy.call("POST", "/__standin/faults", {"fail_next": 1}, key="sk-not-the-master-key")
    assert reply.status == 401
    assert proxy.faults["fail_next"] == 0
