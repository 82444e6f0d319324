"""LiteLLM's real admin API for the tests: the engine shim that lets it run on
PostgreSQL here (engine-shim/, started by scripts/real-admin-api.sh), and the
fault-injecting reverse proxy the tests put in front of it (faultproxy.py)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.realapi.faultproxy import fault_proxy
from tests.standin.fixture import DEFAULT_MASTER_KEY, Standin, remote_proxy_from_env, run_standin


class RealApi(Standin):
    """LiteLLM's real admin API, reached through a fault proxy.

    It has the stand-in's client API, fault switches and clock (the clock moves
    the ``Date`` header the modules judge time by; LiteLLM's own clock does not
    move), so a test runs unchanged against either.
    """

    is_standin = False

    def __init__(self, url: str, master_key: str, upstream: str, enterprise: bool = False) -> None:
        super().__init__(url, master_key, db_path="", enterprise=enterprise)
        self.upstream = upstream

    def __repr__(self) -> str:
        return f"RealApi(url={self.url!r}, upstream={self.upstream!r})"

    def stop(self) -> Any:  # the real API outlives a test; scripts/real-admin-api.sh stops it
        return None


def real_api_configured() -> bool:
    return os.environ.get("LITELLM_REAL_API") != "0" and remote_proxy_from_env() is not None


@contextlib.contextmanager
def admin_api(tmp_path: Path) -> Iterator[Any]:
    """The real admin API behind a fault proxy of its own when one is configured
    (``LITELLM_TEST_URL``, unless ``LITELLM_REAL_API=0``), else a fresh stand-in."""
    remote = remote_proxy_from_env() if real_api_configured() else None
    if remote is not None:
        with fault_proxy(remote.url, remote.master_key) as faulty:
            yield RealApi(faulty.url, remote.master_key, upstream=remote.url, enterprise=remote.enterprise)
        return
    with run_standin(db_path=tmp_path / "standin.db", master_key=DEFAULT_MASTER_KEY) as proxy:
        yield proxy
