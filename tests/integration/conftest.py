"""Fixtures of the integration tests (helpers in litellm_it.py): the proxy (LiteLLM's
real admin API behind a fault proxy with LITELLM_TEST_URL and LITELLM_TEST_MASTER_KEY,
else the admin-API stand-in), an ``ansible`` runner working in tmp_path, unique names."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from litellm_it import Ansible


@pytest.fixture
def proxy(standin: Any) -> Any:
    """The stand-in (or the real proxy); alias for readability."""
    return standin


@pytest.fixture
def ansible(tmp_path: Path, proxy: Any) -> Ansible:
    return Ansible(tmp_path, proxy)


@pytest.fixture
def name() -> Any:
    """Unique names, so the tests can also run against a shared real proxy."""
    suffix = uuid.uuid4().hex[:8]
    return lambda base: f"it-{base}-{suffix}"


@pytest.fixture(scope="session", autouse=True)
def clean_up_a_real_proxy() -> Any:
    """On a real proxy (LITELLM_TEST_URL), remove what the tests created (names start with it-)."""
    yield
    from tests.realapi import real_api_configured
    from tests.standin.fixture import remote_proxy_from_env

    remote = remote_proxy_from_env()
    if remote is None or not real_api_configured():
        return
    status, body = remote.call("GET", "/key/list", params={"key_alias": "it-", "substring_matching": "true", "size": 100})
    tokens = [t for t in (body or {}).get("keys", []) if isinstance(t, str)]
    if status == 200 and tokens:
        remote.call("POST", "/key/delete", {"keys": tokens})
    _unused, users = remote.call("GET", "/user/list", params={"page_size": 100})
    ids = [u["user_id"] for u in (users or {}).get("users", []) if str(u.get("user_id", "")).startswith("it-")]
    if ids:
        remote.call("POST", "/user/delete", {"user_ids": ids})
    _unused, teams = remote.call("GET", "/team/list")
    ids = [t["team_id"] for t in (teams or []) if str(t.get("team_alias") or "").startswith("it-")]
    if ids:
        remote.call("POST", "/team/delete", {"team_ids": ids})
