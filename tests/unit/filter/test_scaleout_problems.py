"""The rules of a fleet of gateways (litellm_scaleout_problems): the shared
Redis, the database connection budget and the balancer, fast, without a host."""

import importlib.util

import pytest

from preflight_loader import ROOT, merged_options

_spec = importlib.util.spec_from_file_location(
    "litellm_scaleout_problems", ROOT / "plugins" / "filter" / "litellm_scaleout_problems.py")
scaleout = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scaleout)

GATEWAY_OPTIONS = merged_options("litellm", "litellm_database", "litellm_redis", "litellm_env", "litellm_config",
                                 "litellm_compose", "litellm_venv", "litellm_service", "litellm_smoke")
REDIS_OPTIONS = merged_options("litellm_redis")
BALANCER_OPTIONS = merged_options("litellm_balancer")
PASSWORD = "Redis-vault-password-0123456789"
EXTERNAL_DB = {"litellm_database_mode": "external",
               "litellm_database_external_url": "postgresql://u:db-secret-password@db.example:5432/litellm"}
REDIS = {"litellm_redis_mode": "external", "litellm_redis_host": "10.0.0.5", "litellm_redis_password": PASSWORD}
SERVERS = [{"name": "gw1", "address": "10.0.0.11", "port": 4000}, {"name": "gw2", "address": "10.0.0.12", "port": 4000}]


def gateway(**overrides):
    return scaleout.litellm_scaleout_problems(overrides, GATEWAY_OPTIONS)


def redis(**overrides):
    return scaleout.litellm_scaleout_problems(overrides, REDIS_OPTIONS)


def balancer(**overrides):
    return scaleout.litellm_scaleout_problems({"litellm_balancer_servers": SERVERS, **overrides}, BALANCER_OPTIONS)


# --- defaults -----------------------------------------------------------------

def test_defaults_pass_and_mean_no_redis():
    assert GATEWAY_OPTIONS["litellm_redis_mode"]["default"] == "none"
    assert gateway() == []
    assert redis() == []


# --- a fleet on one database without Redis ------------------------------------

def test_fleet_on_one_database_without_redis_is_refused_naming_the_variables():
    found = gateway(litellm_fleet_size=3, **EXTERNAL_DB)
    assert len(found) == 1
    assert "litellm_fleet_size is 3" in found[0]
    assert "litellm_redis_mode: none" in found[0] and "litellm_database_mode: external" in found[0]


def test_fleet_with_redis_passes():
    assert gateway(litellm_fleet_size=3, **EXTERNAL_DB, **REDIS) == []


@pytest.mark.parametrize("overrides", [
    {"litellm_fleet_size": 1, **EXTERNAL_DB},  # one gateway
    {"litellm_fleet_size": 3},  # no database: no shared keys, nothing to share
    {"litellm_fleet_size": 3, "litellm_database_mode": "native", "litellm_deploy_mode": "venv"},  # own database each
    {"litellm_fleet_size": 3, "litellm_database_connect_proxy": False, **EXTERNAL_DB},
], ids=["one", "no-database", "own-database", "not-connected"])
def test_no_redis_needed_when_no_database_is_shared(overrides):
    assert gateway(**overrides) == []


# --- the connection budget ------------------------------------------------------

def test_connection_budget_at_the_limit_passes():
    # 9 gateways x 1 worker x 10 = 90 = 100 - 10
    assert gateway(litellm_fleet_size=9, **EXTERNAL_DB, **REDIS) == []


def test_connection_budget_over_the_limit_is_refused_naming_numbers_and_variables():
    found = gateway(litellm_fleet_size=10, **EXTERNAL_DB, **REDIS)
    assert len(found) == 1
    message = found[0]
    for text in ("100 database connections", "10 gateway(s) (litellm_fleet_size)",
                 "1 worker(s) (litellm_compose_extra_args)",
                 "10 (litellm_config_database_connection_pool_limit)", "the 90 the database allows",
                 "litellm_database_max_connections 100", "litellm_database_reserved_connections 10"):
        assert text in message, text


def test_workers_multiply_the_connections():
    found = gateway(litellm_fleet_size=2, litellm_deploy_mode="venv",
                    litellm_service_extra_args=["--num_workers", "4"],
                    litellm_config_database_connection_pool_limit=10, litellm_database_max_connections=80,
                    litellm_database_reserved_connections=5, **EXTERNAL_DB, **REDIS)
    assert len(found) == 1
    assert "80 database connections" in found[0] and "4 worker(s) (litellm_service_extra_args)" in found[0]
    assert "the 75 the database allows" in found[0]


@pytest.mark.parametrize("args,expected", [
    ([], 1), (["--num_workers", "3"], 3), (["--num_workers=5"], 5), (["--port", "4000", "--num_workers", "2"], 2),
])
def test_workers_are_read_from_the_extra_args(args, expected):
    assert scaleout.workers_per_instance({"litellm_deploy_mode": "compose", "litellm_compose_extra_args": args}) == \
        (expected, "litellm_compose_extra_args")


def test_unreadable_workers_are_named():
    found = gateway(litellm_fleet_size=2, litellm_compose_extra_args=["--num_workers", "many"], **EXTERNAL_DB, **REDIS)
    assert found == ["litellm_compose_extra_args has --num_workers without a whole number"]


def test_a_host_with_its_own_database_counts_itself_only():
    # 5 hosts each on a native database of their own: 1 x 1 x 10 <= 100 - 10.
    assert gateway(litellm_fleet_size=5, litellm_database_mode="native", litellm_deploy_mode="venv",
                   litellm_redis_mode="none") == []
    found = gateway(litellm_fleet_size=5, litellm_database_mode="native", litellm_deploy_mode="venv",
                    litellm_config_database_connection_pool_limit=95)
    assert len(found) == 1 and "95 database connections (1 gateway(s)" in found[0]


# --- Redis ----------------------------------------------------------------------

@pytest.mark.parametrize("overrides", [
    {"litellm_redis_mode": "native", "litellm_redis_password": PASSWORD},
    {"litellm_redis_mode": "native", "litellm_redis_password": PASSWORD, "litellm_redis_bind": ["10.0.0.5", "127.0.0.1"]},
    {"litellm_redis_mode": "native", "litellm_redis_password": PASSWORD, "litellm_redis_bind": ["fd00::5"]},
    {"litellm_redis_mode": "native", "litellm_redis_password": PASSWORD, "litellm_redis_bind": ["0.0.0.0"],
     "litellm_redis_allow_public_bind": True},
    {"litellm_redis_mode": "native", "litellm_redis_password": PASSWORD, "litellm_redis_username": ""},
    {**REDIS, "litellm_redis_tls": True, "litellm_redis_tls_ca_file": "/etc/ssl/redis-ca.pem"},
    {**REDIS, "litellm_redis_host": "redis.internal.example"},
], ids=["native", "private", "ula", "wildcard-acknowledged", "requirepass", "external-tls", "external-name"])
def test_good_redis_input_passes(overrides):
    assert redis(**overrides) == []


@pytest.mark.parametrize("overrides,expected", [
    ({"litellm_redis_mode": "native"}, "litellm_redis_password is required with litellm_redis_mode: native"),
    ({"litellm_redis_mode": "native", "litellm_redis_password": "short-0123"}, "litellm_redis_password is too short"),
    ({"litellm_redis_mode": "native", "litellm_redis_password": "has space and 'quotes' 0123"},
     "litellm_redis_password may hold only"),
    ({"litellm_redis_mode": "native", "litellm_redis_password": PASSWORD, "litellm_redis_bind": ["0.0.0.0"]},
     "litellm_redis_bind has the wildcard '0.0.0.0'"),
    ({"litellm_redis_mode": "native", "litellm_redis_password": PASSWORD, "litellm_redis_bind": ["::"]},
     "litellm_redis_bind has the wildcard '::'"),
    ({"litellm_redis_mode": "native", "litellm_redis_password": PASSWORD, "litellm_redis_bind": ["203.0.113.7"]},
     "litellm_redis_bind entry '203.0.113.7' is a public address"),
    ({"litellm_redis_mode": "native", "litellm_redis_password": PASSWORD, "litellm_redis_bind": ["redis.example"]},
     "litellm_redis_bind entry 'redis.example' is not an IP address"),
    ({"litellm_redis_mode": "native", "litellm_redis_password": PASSWORD, "litellm_redis_bind": []},
     "litellm_redis_bind must list"),
    ({"litellm_redis_mode": "native", "litellm_redis_password": PASSWORD, "litellm_redis_tls": True},
     "litellm_redis_tls applies to litellm_redis_mode: external"),
    ({"litellm_redis_mode": "native", "litellm_redis_password": PASSWORD, "litellm_redis_username": "default"},
     "litellm_redis_username must not be 'default'"),
    ({"litellm_redis_mode": "native", "litellm_redis_password": PASSWORD, "litellm_redis_maxmemory": "lots"},
     "litellm_redis_maxmemory must be a Redis memory size"),
    ({"litellm_redis_mode": "external", "litellm_redis_password": PASSWORD},
     "litellm_redis_host is required with litellm_redis_mode: external"),
    ({**REDIS, "litellm_redis_tls": True, "litellm_redis_tls_ca_file": "ca.pem"},
     "litellm_redis_tls_ca_file must be an absolute path"),
    ({**REDIS, "litellm_redis_tls_ca_file": "/etc/ssl/ca.pem"}, "litellm_redis_tls is false"),
    ({**REDIS, "litellm_redis_port": 70000}, "litellm_redis_port must be between 1 and 65535"),
    ({"litellm_redis_mode": "cluster"}, "litellm_redis_mode must be one of none, native, external"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_bad_redis_input_is_named(overrides, expected):
    found = redis(**overrides)
    assert any(expected in message for message in found), found


def test_native_redis_on_loopback_is_refused_for_a_compose_proxy():
    native = {"litellm_redis_mode": "native", "litellm_redis_password": PASSWORD}
    found = gateway(litellm_deploy_mode="compose", **native)
    assert len(found) == 1 and "the proxy container cannot reach Redis at '127.0.0.1'" in found[0]
    assert gateway(litellm_deploy_mode="venv", **native) == []
    assert gateway(litellm_deploy_mode="compose", litellm_redis_bind=["10.0.0.5", "127.0.0.1"], **native) == []


def test_redis_names_in_extra_env_are_refused():
    found = gateway(litellm_env_extra={"REDIS_HOST": "10.0.0.9"}, **REDIS)
    assert found == ["litellm_env_extra.REDIS_HOST is managed by litellm_redis_* (REDIS_* names are written from them)"]


def test_secrets_never_appear_in_messages():
    bad_password = "bad password with spaces 0123456789"
    found = gateway(litellm_fleet_size=50, litellm_redis_mode="external", litellm_redis_host="10.0.0.5",
                    litellm_redis_password=bad_password, **EXTERNAL_DB)
    assert len(found) == 2
    text = " ".join(found)
    assert bad_password not in text and "db-secret-password" not in text


# --- the balancer -----------------------------------------------------------------

def test_balancer_with_servers_passes():
    assert balancer() == []
    assert balancer(litellm_balancer_bind_address="10.0.0.2") == []
    assert balancer(litellm_balancer_bind_address="0.0.0.0", litellm_balancer_allow_public_bind=True) == []


@pytest.mark.parametrize("overrides,expected", [
    ({"litellm_balancer_bind_address": "0.0.0.0"}, "litellm_balancer_bind_address '0.0.0.0' listens on every interface"),
    ({"litellm_balancer_bind_address": "198.51.100.4"}, "'198.51.100.4' is a public address"),
    ({"litellm_balancer_servers": []}, "the balancer has no gateway"),
    ({"litellm_balancer_servers": [SERVERS[0], SERVERS[0]]}, "litellm_balancer_servers names gw1 more than once"),
    ({"litellm_balancer_servers": [{"name": "gw 1", "address": "10.0.0.1", "port": 4000}]},
     "litellm_balancer_servers[0].name must be the gateway's inventory_hostname"),
    ({"litellm_balancer_servers": [{"name": "gw1", "address": "10.0.0.1", "port": 0}]},
     "litellm_balancer_servers[0].port must be between 1 and 65535"),
    ({"litellm_balancer_health_path": "health"}, "litellm_balancer_health_path must be a path"),
    ({"litellm_balancer_timeout_server": "ten minutes"}, "litellm_balancer_timeout_server must be an HAProxy time"),
    ({"litellm_balancer_drain_timeout": 0}, "litellm_balancer_drain_timeout must be at least 1"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_bad_balancer_input_is_named(overrides, expected):
    found = balancer(**overrides)
    assert any(expected in message for message in found), found


def test_balancer_rules_do_not_run_in_the_gateway_preflight():
    # The gateway preflight merges the gateway roles' specs, not the balancer's.
    assert "litellm_balancer_bind_address" not in GATEWAY_OPTIONS
    assert gateway(litellm_balancer_servers=[]) == []


# --- a native database shared by a fleet --------------------------------------

def test_database_on_a_private_address_for_a_private_network_passes():
    assert GATEWAY_OPTIONS["litellm_database_listen_addresses"]["default"] == ["127.0.0.1"]
    assert gateway(litellm_database_mode="native", litellm_database_listen_addresses=["127.0.0.1", "10.0.0.5"],
                   litellm_database_client_networks=["10.0.0.0/24", "fd00::/64"]) == []


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"litellm_database_listen_addresses": ["0.0.0.0"]}, "entry '0.0.0.0' is not a private address"),
    ({"litellm_database_listen_addresses": ["203.0.113.7"]}, "entry '203.0.113.7' is not a private address"),
    ({"litellm_database_listen_addresses": ["db.example"]}, "entry 'db.example' is not an IP address"),
    ({"litellm_database_listen_addresses": []}, "litellm_database_listen_addresses must list"),
    ({"litellm_database_client_networks": ["0.0.0.0/0"]}, "entry '0.0.0.0/0' is not a private network"),
    ({"litellm_database_client_networks": ["10.0.0.1/24"]}, "entry '10.0.0.1/24' is not a network"),
])
def test_bad_database_network_input_is_named(overrides, expected):
    found = gateway(litellm_database_mode="native", **overrides)
    assert len(found) == 1 and expected in found[0], found
