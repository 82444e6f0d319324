"""Shared pytest fixtures.

``standin``: the admin API a test talks to.  When ``LITELLM_TEST_URL`` and
``LITELLM_TEST_MASTER_KEY`` are set (``scripts/real-admin-api.sh exec -- pytest``,
as ``make test`` runs it), LiteLLM's real admin API on PostgreSQL, through a
fault-injecting reverse proxy of the test's own (:class:`tests.realapi.RealApi`:
``set_faults()`` and ``advance_clock()`` work there too); otherwise a fresh
admin-API stand-in per test (SQLite in tmp_path), as ``make check`` runs it.

``standin_enterprise``: same, started with ``--enterprise`` (on a real proxy,
tests using it are skipped unless ``LITELLM_TEST_ENTERPRISE=1``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_REPO_ROOT = Path(__file__).resolve().parents[1]
if str(_REPO_ROOT) not in sys.path:
    # ``tests`` has no __init__.py; make ``import tests.standin`` work under pytest's rootdir-based imports.
    sys.path.insert(0, str(_REPO_ROOT))

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from tests.realapi import admin_api  # noqa: E402
from tests.standin.fixture import DEFAULT_MASTER_KEY, remote_proxy_from_env, run_standin  # noqa: E402


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[object]:
    with admin_api(tmp_path) as proxy:
        yield proxy


@pytest.fixture
def standin_enterprise(tmp_path: Path) -> Iterator[object]:
    remote = remote_proxy_from_env()
    if remote is not None:
        if not remote.enterprise:
            pytest.skip("needs an Enterprise proxy; set LITELLM_TEST_ENTERPRISE=1 if LITELLM_TEST_URL has a license")
        yield remote
        return
    with run_standin(db_path=tmp_path / "standin.db", master_key=DEFAULT_MASTER_KEY, enterprise=True) as proxy:
        yield proxy
