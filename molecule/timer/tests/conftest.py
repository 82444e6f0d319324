"""Fixtures of the timer scenario: the admin-API stand-in on the build machine.

The instance shares the build machine's network (network_mode: host), so the
rotation that systemd starts inside it reaches this stand-in on 127.0.0.1.
"""

import os
import sys
from pathlib import Path

import pytest

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY") or Path(__file__).resolve().parents[3])
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from tests.standin.fixture import run_standin  # noqa: E402


@pytest.fixture(scope="module")
def settings(host):
    return host.ansible.get_variables()


@pytest.fixture(scope="module")
def proxy(settings, tmp_path_factory):
    db = tmp_path_factory.mktemp("standin") / "standin.db"
    with run_standin(db_path=db, port=int(settings["timer_test_standin_port"]),
                     master_key=settings["timer_test_master_key"]) as running:
        yield running
