"""Fixtures of the database scenario's tests. The shared `gateway` fixture
(resources/tests/conftest.py) is loaded here too, for the shared test modules
that test_shared_*.py collect."""

import importlib.util

import pytest

import database_helpers as helpers

_spec = importlib.util.spec_from_file_location("_shared_gateway_conftest", helpers.SHARED_DIR / "conftest.py")
_shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_shared)
gateway = _shared.gateway


@pytest.fixture(autouse=True)
def _host_under_test(host):
    """Remember the host under test (run_playbook limits runs to it) and its database password."""
    name = host.backend.host
    helpers.current["name"] = name
    if name not in helpers.passwords:
        env = helpers.read_database_env(host)
        # The proxy's role's password and, in compose mode, the cluster superuser's (F8).
        helpers.passwords[name] = env.get("LITELLM_DATABASE_PASSWORD", env.get("POSTGRES_PASSWORD", ""))
        helpers.passwords[name + " superuser"] = env.get("POSTGRES_PASSWORD", "")
    return name


@pytest.fixture(scope="module")
def database(host):
    """What the database tests need to know about the host's database."""
    variables = host.ansible.get_variables()
    env = helpers.read_database_env(host)
    return {
        "mode": variables["litellm_database_mode"],
        "deploy_mode": variables["litellm_deploy_mode"],
        "keep": variables["litellm_database_backup_keep"],
        "env": env,
        "url": env["DATABASE_URL"],
        "password": env.get("LITELLM_DATABASE_PASSWORD", env["POSTGRES_PASSWORD"]),
        "proxy_env_file": "/etc/litellm/litellm.env" if variables["litellm_deploy_mode"] == "compose"
        else "/etc/default/litellm",
    }


def pytest_collection_modifyitems(config, items):
    """Deselect the tests of a module, or a test, that names its hosts (ONLY_HOSTS, or
    database_helpers.only_hosts on the test) for every other host."""
    selected, deselected = [], []
    for item in items:
        only = getattr(getattr(item, "function", None), "ONLY_HOSTS", None) or getattr(item.module, "ONLY_HOSTS", None)
        spec = getattr(item, "callspec", None)
        host = getattr(spec.params.get("_testinfra_host"), "backend", None) if spec else None
        (deselected if only and getattr(host, "host", None) not in only else selected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected
