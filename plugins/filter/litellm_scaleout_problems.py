# Copyright: Sacred Brain platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rules of a fleet of gateways: the shared Redis and the database connection budget."""

from __future__ import annotations

import ipaddress
import re

DOCUMENTATION = r"""
name: litellm_scaleout_problems
short_description: List what is wrong with the Redis and fleet inputs of the gateway roles
version_added: 0.2.0
description:
  - Takes the provided role variables and the merged argument specs of the
    roles, fills in the spec defaults, and returns one message per problem
    found by the rules of the C(litellm_redis) role and of a fleet of gateways
    sharing one database.
  - A fleet of more than one gateway on one (external) database needs Redis,
    and the fleet's worst-case database connections (gateways x workers x
    C(litellm_config_database_connection_pool_limit)) must fit under
    C(litellm_database_max_connections) minus C(litellm_database_reserved_connections).
  - Messages name the variables and the numbers, never a secret value.
options:
  _input:
    description: Provided variables, name to value. C(litellm_fleet_size) is the
      number of gateways sharing the database, already resolved (at least 1).
    type: dict
    required: true
  options:
    description: Merged argument-spec options of the roles.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Fail on bad input
  ansible.builtin.assert:
    that: problems | length == 0
  vars:
    problems: "{{ provided | sacred_brain.llm_gateway.litellm_scaleout_problems(options) }}"
"""

RETURN = r"""
_value:
  description: One message per problem; empty when the input is good.
  type: list
  elements: str
"""

REDIS_MODES = ("none", "native", "external")
# Written to redis.conf (an ACL rule or requirepass) and to env files unquoted.
REDIS_PASSWORD = re.compile(r"^[A-Za-z0-9._~-]+$")
REDIS_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
REDIS_MEMORY = re.compile(r"^[0-9]+([kmg]b?|b)?$", re.IGNORECASE)
REDIS_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.:-]*[A-Za-z0-9])?$")
WILDCARDS = {"0.0.0.0", "*", "::", "-::*", "::*"}
NUM_WORKERS = re.compile(r"^--num_workers(?:=(.*))?$")
# Private networks: RFC 1918, shared address space, link-local, ULA. Python's
# is_private also counts documentation ranges, which are not.
PRIVATE_NETWORKS = tuple(ipaddress.ip_network(net) for net in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "fc00::/7", "fe80::/10"))


def _is_private(address):
    return address.is_loopback or any(address.version == net.version and address in net for net in PRIVATE_NETWORKS)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _check_redis(values, problems):
    mode = values.get("litellm_redis_mode", "none")
    if mode not in REDIS_MODES:
        problems.append(f"litellm_redis_mode must be one of {', '.join(REDIS_MODES)}, got '{mode}'")
        return
    if mode == "none":
        return
    port = values.get("litellm_redis_port")
    if not _is_int(port) or not 1 <= port <= 65535:
        problems.append(f"litellm_redis_port must be between 1 and 65535, got {port}")
    password = values.get("litellm_redis_password")
    if not password:
        problems.append(f"litellm_redis_password is required with litellm_redis_mode: {mode} (keep it in Ansible Vault)")
    elif not isinstance(password, str) or not REDIS_PASSWORD.match(password):
        problems.append(
            "litellm_redis_password may hold only letters, digits and . _ ~ - "
            "(it is written to redis.conf and to the gateways' env file)"
        )
    elif len(password) < 16:
        problems.append("litellm_redis_password is too short: at least 16 characters")
    username = values.get("litellm_redis_username")
    if username:
        if not isinstance(username, str) or not REDIS_USERNAME.match(username):
            problems.append(f"litellm_redis_username must be a plain name (letters, digits, _ . -), got '{username}'")
        elif username == "default":
            problems.append(
                "litellm_redis_username must not be 'default': native mode turns Redis's default user off; "
                "leave it empty to use requirepass instead of an ACL user"
            )
    host = values.get("litellm_redis_host") or ""
    if host and (not isinstance(host, str) or not REDIS_HOST.match(host)):
        problems.append(f"litellm_redis_host must be a host name or an IP address, got '{host}'")
    extra_env = values.get("litellm_env_extra")
    if isinstance(extra_env, dict):
        managed = sorted(name for name in extra_env if str(name).startswith("REDIS_"))
        if managed:
            problems.append(
                f"litellm_env_extra.{managed[0]} is managed by litellm_redis_* (REDIS_* names are written from them)"
            )
    if mode == "external":
        if not host:
            problems.append("litellm_redis_host is required with litellm_redis_mode: external")
        ca_file = values.get("litellm_redis_tls_ca_file") or ""
        if ca_file and not str(ca_file).startswith("/"):
            problems.append(f"litellm_redis_tls_ca_file must be an absolute path on the gateway host, got '{ca_file}'")
        if ca_file and not values.get("litellm_redis_tls"):
            problems.append("litellm_redis_tls_ca_file is set but litellm_redis_tls is false: set litellm_redis_tls: true")
        return
    # native
    if values.get("litellm_redis_tls"):
        problems.append(
            "litellm_redis_tls applies to litellm_redis_mode: external; a native Redis listens on private "
            "addresses without TLS (use external with a TLS-terminating Redis for TLS)"
        )
    bind = values.get("litellm_redis_bind")
    if not isinstance(bind, list) or not bind:
        problems.append("litellm_redis_bind must list the private addresses redis-server listens on")
    else:
        for address in bind:
            text = str(address)
            if text in WILDCARDS:
                if not values.get("litellm_redis_allow_public_bind"):
                    problems.append(
                        f"litellm_redis_bind has the wildcard '{text}', which listens on every interface; "
                        "list private addresses, or set litellm_redis_allow_public_bind: true and firewall the port"
                    )
                continue
            try:
                parsed = ipaddress.ip_address(text.lstrip("-"))
            except ValueError:
                problems.append(f"litellm_redis_bind entry '{text}' is not an IP address")
                continue
            if not _is_private(parsed) and not values.get("litellm_redis_allow_public_bind"):
                problems.append(
                    f"litellm_redis_bind entry '{text}' is a public address; list private addresses, "
                    "or set litellm_redis_allow_public_bind: true and firewall the port"
                )
    # A compose proxy runs on a bridge network: the host's loopback is not its own.
    if values.get("litellm_deploy_mode") == "compose" and isinstance(bind, list) and bind:
        effective = host or str(bind[0]).lstrip("-")
        try:
            loopback = ipaddress.ip_address(effective).is_loopback
        except ValueError:
            loopback = effective == "localhost"
        if loopback:
            problems.append(
                f"litellm_redis_mode 'native' with litellm_deploy_mode: compose: the proxy container cannot reach "
                f"Redis at '{effective}' (the host's loopback); bind a private address of the host first in "
                "litellm_redis_bind, or set litellm_redis_host to it"
            )
    memory = values.get("litellm_redis_maxmemory")
    if not isinstance(memory, str) or not REDIS_MEMORY.match(memory):
        problems.append(f"litellm_redis_maxmemory must be a Redis memory size such as 256mb or 1gb, got '{memory}'")
    clients = values.get("litellm_redis_maxclients")
    if not _is_int(clients) or clients < 1:
        problems.append(f"litellm_redis_maxclients must be at least 1, got {clients}")


def workers_per_instance(values):
    """Uvicorn workers of one gateway: --num_workers in the extra arguments of its deploy mode, else 1."""
    name = "litellm_compose_extra_args" if values.get("litellm_deploy_mode", "compose") == "compose" \
        else "litellm_service_extra_args"
    args = [str(arg) for arg in (values.get(name) or [])]
    for index, arg in enumerate(args):
        match = NUM_WORKERS.match(arg)
        if not match:
            continue
        raw = match.group(1) if match.group(1) is not None else (args[index + 1] if index + 1 < len(args) else "")
        try:
            return max(1, int(raw)), name
        except ValueError:
            return None, name
    return 1, name


def _check_fleet(values, problems):
    database_mode = values.get("litellm_database_mode", "none")
    if database_mode in (None, "none") or not values.get("litellm_database_connect_proxy", True):
        return
    fleet = values.get("litellm_fleet_size", 1)
    if not _is_int(fleet) or fleet < 0:
        problems.append(f"litellm_fleet_size must be a number of gateways (0: the hosts of the play), got {fleet}")
        return
    fleet = max(fleet, 1)
    # native and compose give every gateway host a database of its own; only an
    # external database is shared by the fleet.
    instances = fleet if database_mode == "external" else 1
    redis_mode = values.get("litellm_redis_mode", "none")
    if instances > 1 and redis_mode in (None, "none"):
        problems.append(
            f"litellm_fleet_size is {instances}: {instances} gateways share one database "
            f"(litellm_database_mode: external) without Redis (litellm_redis_mode: none), so rate limits, router "
            "cooldowns and spend updates would be per gateway; set litellm_redis_mode (native or external)"
        )
    workers, workers_variable = workers_per_instance(values)
    if workers is None:
        problems.append(f"{workers_variable} has --num_workers without a whole number")
        return
    pool = values.get("litellm_config_database_connection_pool_limit")
    maximum = values.get("litellm_database_max_connections")
    reserved = values.get("litellm_database_reserved_connections")
    for name, value, least in (("litellm_config_database_connection_pool_limit", pool, 1),
                               ("litellm_database_max_connections", maximum, 1),
                               ("litellm_database_reserved_connections", reserved, 0)):
        if not _is_int(value) or value < least:
            problems.append(f"{name} must be a whole number of at least {least}, got {value}")
            return
    demand = instances * workers * pool
    budget = maximum - reserved
    if demand > budget:
        problems.append(
            f"the gateways may open {demand} database connections ({instances} gateway(s) (litellm_fleet_size) x "
            f"{workers} worker(s) ({workers_variable}) x {pool} (litellm_config_database_connection_pool_limit)), "
            f"more than the {budget} the database allows (litellm_database_max_connections {maximum} - "
            f"litellm_database_reserved_connections {reserved}); lower the pool, or raise max_connections "
            "(or put a pooler such as PgBouncer in front)"
        )


SERVER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
HAPROXY_TIME = re.compile(r"^[0-9]+(us|ms|s|m|h|d)?$")


def _check_balancer(values, problems):
    """Rules of the litellm_balancer role (only when its variables are given)."""
    if "litellm_balancer_bind_address" not in values:
        return
    address = str(values.get("litellm_balancer_bind_address") or "")
    public_ok = values.get("litellm_balancer_allow_public_bind")
    if address in WILDCARDS or address == "":
        if not public_ok:
            problems.append(
                f"litellm_balancer_bind_address '{address}' listens on every interface; give a private address, "
                "or set litellm_balancer_allow_public_bind: true"
            )
    else:
        try:
            parsed = ipaddress.ip_address(address)
            if not _is_private(parsed) and not public_ok:
                problems.append(
                    f"litellm_balancer_bind_address '{address}' is a public address (plain HTTP); "
                    "set litellm_balancer_allow_public_bind: true if clients must reach it there"
                )
        except ValueError:
            problems.append(f"litellm_balancer_bind_address '{address}' is not an IP address")
    port = values.get("litellm_balancer_bind_port")
    if not _is_int(port) or not 1 <= port <= 65535:
        problems.append(f"litellm_balancer_bind_port must be between 1 and 65535, got {port}")
    servers = values.get("litellm_balancer_servers")
    if not isinstance(servers, list) or not servers:
        problems.append(
            "the balancer has no gateway: set litellm_balancer_servers, or put hosts in the "
            f"'{values.get('litellm_balancer_gateway_group')}' group (litellm_balancer_gateway_group)"
        )
    else:
        names = []
        for index, server in enumerate(servers):
            where = f"litellm_balancer_servers[{index}]"
            if not isinstance(server, dict):
                problems.append(f"{where} must be a mapping with name, address and port")
                continue
            name = str(server.get("name") or "")
            if not SERVER_NAME.match(name):
                problems.append(f"{where}.name must be the gateway's inventory_hostname (letters, digits, _ . : -), got '{name}'")
            names.append(name)
            if not SERVER_NAME.match(str(server.get("address") or "")):
                problems.append(f"{where}.address must be a host name or an IP address, got '{server.get('address')}'")
            server_port = server.get("port")
            if not _is_int(server_port) or not 1 <= server_port <= 65535:
                problems.append(f"{where}.port must be between 1 and 65535, got {server_port}")
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            problems.append(f"litellm_balancer_servers names {duplicates[0]} more than once")
    path = values.get("litellm_balancer_health_path")
    if not isinstance(path, str) or not path.startswith("/") or any(c.isspace() for c in path):
        problems.append(f"litellm_balancer_health_path must be a path such as /health/liveliness, got '{path}'")
    for name in ("litellm_balancer_check_interval", "litellm_balancer_timeout_connect",
                 "litellm_balancer_timeout_client", "litellm_balancer_timeout_server"):
        value = values.get(name)
        if not isinstance(value, str) or not HAPROXY_TIME.match(value):
            problems.append(f"{name} must be an HAProxy time such as 2s or 10m, got '{value}'")
    for name in ("litellm_balancer_check_rise", "litellm_balancer_check_fall", "litellm_balancer_maxconn",
                 "litellm_balancer_drain_timeout", "litellm_balancer_enable_timeout", "litellm_balancer_wait_interval"):
        value = values.get(name)
        if not _is_int(value) or value < 1:
            problems.append(f"{name} must be at least 1, got {value}")


def _check_database_network(values, problems):
    """A native database shared by a fleet listens on private addresses and lets private networks in."""
    addresses = values.get("litellm_database_listen_addresses", ["127.0.0.1"])
    if not isinstance(addresses, list) or not addresses:
        problems.append("litellm_database_listen_addresses must list the private addresses PostgreSQL listens on")
    else:
        for entry in addresses:
            try:
                parsed = ipaddress.ip_address(str(entry))
            except ValueError:
                problems.append(f"litellm_database_listen_addresses entry '{entry}' is not an IP address")
                continue
            if not _is_private(parsed):
                problems.append(
                    f"litellm_database_listen_addresses entry '{entry}' is not a private address: PostgreSQL would "
                    "take logins from the internet; list loopback or private (RFC 1918, ULA) addresses"
                )
    networks = values.get("litellm_database_client_networks", [])
    if not isinstance(networks, list):
        problems.append("litellm_database_client_networks must be a list of networks (CIDR)")
        return
    for entry in networks:
        try:
            parsed = ipaddress.ip_network(str(entry), strict=True)
        except ValueError:
            problems.append(f"litellm_database_client_networks entry '{entry}' is not a network such as 10.0.0.0/24")
            continue
        if not _is_private(parsed.network_address) or not _is_private(parsed.broadcast_address):
            problems.append(
                f"litellm_database_client_networks entry '{entry}' is not a private network; "
                "list the gateways' private networks (RFC 1918, ULA)"
            )


def litellm_scaleout_problems(provided, options):
    """Return a list of problems with the Redis and fleet inputs."""
    values = {name: spec["default"] for name, spec in (options or {}).items()
              if isinstance(spec, dict) and "default" in spec}
    values.update(provided or {})
    problems = []
    _check_redis(values, problems)
    _check_fleet(values, problems)
    _check_database_network(values, problems)
    _check_balancer(values, problems)
    return problems


class FilterModule:
    """Preflight filters of a fleet of gateways."""

    def filters(self):
        return {"litellm_scaleout_problems": litellm_scaleout_problems}
