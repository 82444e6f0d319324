"""CLI/subprocess mode, persistence, the fixture API and the LITELLM_TEST_URL switch."""

from __future__ import annotations

import pytest

from tests.standin import RemoteProxy, Standin, run_standin
from tests.standin.fixture import remote_proxy_from_env


def test_subprocess_mode_and_persistence(tmp_path):
    db = tmp_path / "persist.db"
    with run_standin(db_path=db, subprocess=True, master_key="sk-cli-master-key-000000") as proxy:
        assert proxy.url.startswith("http://127.0.0.1:")
        assert proxy.master_key == "sk-cli-master-key-000000"
        status, out = proxy.call("POST", "/key/generate", {"key_alias": "persisted", "metadata": {"n": 1}})
        assert status == 200
        proxy.set_faults(fail_next=1)
        assert proxy.call("GET", "/key/list").status == 500
    # a new server on the same file sees the key, and the key still works
    with run_standin(db_path=db, master_key="sk-cli-master-key-000000") as proxy:
        status, info = proxy.call("GET", "/key/info", params={"key": out["token"]})
        assert status == 200
        assert info["info"]["metadata"] == {"n": 1}
        assert proxy.chat(out["key"]).status == 200


def test_subprocess_enterprise_flag(tmp_path):
    with run_standin(db_path=tmp_path / "e.db", subprocess=True, enterprise=True) as proxy:
        status, out = proxy.call("POST", "/key/generate", {"key_alias": "e"})
        status, new = proxy.call("POST", "/key/regenerate", {"key": out["key"]})
        assert status == 200
        assert new["key"] != out["key"]


def test_fixture_object_api(standin):
    assert isinstance(standin, (Standin, RemoteProxy))
    assert standin.url.startswith("http")
    assert standin.master_key.startswith("sk-")
    assert callable(standin.set_faults) and callable(standin.stop)


def test_run_standin_picks_free_ports_and_stops(tmp_path):
    with run_standin(db_path=tmp_path / "a.db") as a, run_standin(db_path=tmp_path / "b.db") as b:
        assert a.url != b.url
        assert a.call("GET", "/health/liveliness", key=None).status == 200
        url = b.url
    import urllib.request

    with pytest.raises(OSError):
        urllib.request.urlopen(url + "/health/liveliness", timeout=1)  # noqa: S310


def test_env_override_selects_remote_proxy(monkeypatch):
    monkeypatch.delenv("LITELLM_TEST_URL", raising=False)
    monkeypatch.delenv("LITELLM_TEST_MASTER_KEY", raising=False)
    assert remote_proxy_from_env() is None
    monkeypatch.setenv("LITELLM_TEST_URL", "http://gateway.example:4000/")
    assert remote_proxy_from_env() is None  # both variables are needed
    monkeypatch.setenv("LITELLM_TEST_MASTER_KEY", "sk-real-master")
    remote = remote_proxy_from_env()
    assert isinstance(remote, RemoteProxy)
    assert remote.url == "http://gateway.example:4000"
    assert remote.master_key == "sk-real-master"
    assert remote.is_standin is False
