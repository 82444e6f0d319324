"""The files of a fleet with a shared Redis and a balancer, rendered by Ansible
itself on the controller from the roles' own defaults, vars and task files:
config.yaml and the env file of a gateway wired to Redis, redis.conf and the
unit's hardening drop-in, and haproxy.cfg. Each file passes the `validate:`
command its role runs (haproxy -c where HAProxy is installed). Fast, without a
host."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
ROLES = ("litellm", "litellm_database", "litellm_redis", "litellm_env", "litellm_config", "litellm_balancer")
PLAYBOOK = """
- hosts: lb1
  connection: local
  gather_facts: false
  vars_files:
{vars_files}
  tasks:
    - ansible.builtin.include_tasks: {root}/roles/litellm_redis/tasks/connection.yml
      when: litellm_redis_mode != 'none'
    - ansible.builtin.template:
        src: {root}/roles/litellm_config/templates/config.yaml.j2
        dest: "{{{{ out }}}}/config.yaml"
        mode: "0644"
        validate: "{{{{ _litellm_config_validate }}}}"
    - ansible.builtin.template:
        src: {root}/roles/litellm_env/templates/litellm.env.j2
        dest: "{{{{ out }}}}/litellm.env"
        mode: "0600"
    - ansible.builtin.template:
        src: {root}/roles/litellm_redis/templates/redis.conf.j2
        dest: "{{{{ out }}}}/redis.conf"
        mode: "0600"
        validate: "{{{{ _litellm_redis_validate }}}}"
    - ansible.builtin.template:
        src: {root}/roles/litellm_redis/templates/redis-hardening.conf.j2
        dest: "{{{{ out }}}}/redis-hardening.conf"
        mode: "0644"
    - ansible.builtin.include_role:
        name: sacred_brain.llm_gateway.litellm_balancer
        tasks_from: preflight
    - ansible.builtin.template:
        src: {root}/roles/litellm_balancer/templates/haproxy.cfg.j2
        dest: "{{{{ out }}}}/haproxy.cfg"
        mode: "0644"
"""
INVENTORY = """
[gateways]
gw1 ansible_host=10.0.0.11
gw2 ansible_host=10.0.0.99 litellm_balancer_server_address=10.0.0.12 litellm_port=4001
[balancers]
lb1
"""
PASSWORD = "Redis-vault-password-0123456789"
DB_PASSWORD = "db-secret-password-0123456789"
MASTER_KEY = "sk-master-key-value-0123456789abcdef"
BASE = {
    "litellm_env_effective_master_key": MASTER_KEY,
    "litellm_env_effective_salt_key": "salt-key-value-0123456789",
    "litellm_env_provider_keys": {"OPENAI_API_KEY": "sk-provider-secret-0123456789"},
    "litellm_database_mode": "external",
    "litellm_database_url": f"postgresql://litellm:{DB_PASSWORD}@db.example:5432/litellm",
    "litellm_redis_password": PASSWORD,
}
NATIVE = {**BASE, "litellm_redis_mode": "native", "litellm_redis_bind": ["10.0.0.5"]}
EXTERNAL_TLS = {**BASE, "litellm_redis_mode": "external", "litellm_redis_host": "redis.internal.example",
                "litellm_redis_port": 6380, "litellm_redis_tls": True, "litellm_redis_tls_ca_file": "/etc/ssl/redis-ca.pem"}


def run(tmp_path, **extra_vars):
    vars_files = "\n".join(f"    - {ROOT}/roles/{role}/{kind}/main.yml" for role in ROLES for kind in ("defaults", "vars"))
    playbook = tmp_path / "render.yml"
    playbook.write_text(PLAYBOOK.format(root=ROOT, vars_files=vars_files))
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(INVENTORY)
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}
    result = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(playbook),
         "-e", json.dumps({"out": str(out), "ansible_python_interpreter": sys.executable, **extra_vars})],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300, check=False,
    )
    return result, out


def render(tmp_path, **extra_vars):
    result, out = run(tmp_path, **extra_vars)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return {path.name: path.read_text() for path in out.iterdir()}


def directives(text):
    found = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _sep, rest = line.strip().partition(" ")
            found.setdefault(name, []).append(rest)
    return found


@pytest.fixture(scope="module")
def native(tmp_path_factory):
    return render(tmp_path_factory.mktemp("native"), **NATIVE)


@pytest.fixture(scope="module")
def external_tls(tmp_path_factory):
    return render(tmp_path_factory.mktemp("external"), **EXTERNAL_TLS)


def test_config_reads_redis_from_the_environment(native):
    config = yaml.safe_load(native["config.yaml"])
    assert config["router_settings"] == {"redis_host": "os.environ/REDIS_HOST", "redis_port": "os.environ/REDIS_PORT",
                                         "redis_password": "os.environ/REDIS_PASSWORD"}
    general = config["general_settings"]
    assert general["coordination_redis"] == {"host": "os.environ/REDIS_HOST", "port": "os.environ/REDIS_PORT",
                                             "password": "os.environ/REDIS_PASSWORD",
                                             "username": "os.environ/REDIS_USERNAME"}
    assert general["use_redis_transaction_buffer"] is True
    assert general["database_connection_pool_limit"] == 10
    assert general["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    assert "fail_closed_rate_limit_enforcement" not in general
    assert "cache" not in config["litellm_settings"]  # no response cache unless asked


@pytest.mark.parametrize("files", ["native", "external_tls"])
def test_no_secret_in_config_yaml(files, request):
    text = request.getfixturevalue(files)["config.yaml"]
    for secret in (PASSWORD, DB_PASSWORD, MASTER_KEY, "sk-provider-secret-0123456789"):
        assert secret not in text


def test_env_file_carries_the_connection(native):
    env = dict(line.split("=", 1) for line in native["litellm.env"].splitlines() if "=" in line and not line.startswith("#"))
    assert env["REDIS_HOST"] == "10.0.0.5"  # the first bind address
    assert env["REDIS_PORT"] == "6379"
    assert env["REDIS_USERNAME"] == "litellm"
    assert env["REDIS_PASSWORD"] == PASSWORD
    assert not any(name.startswith("REDIS_SSL") for name in env)


def test_external_tls_connection(external_tls):
    config = yaml.safe_load(external_tls["config.yaml"])
    assert config["general_settings"]["coordination_redis"]["ssl"] is True
    env = dict(line.split("=", 1) for line in external_tls["litellm.env"].splitlines() if "=" in line and not line.startswith("#"))
    assert env["REDIS_HOST"] == "redis.internal.example" and env["REDIS_PORT"] == "6380"
    assert env["REDIS_SSL"] == "True" and env["REDIS_SSL_CERT_REQS"] == "required"
    assert env["REDIS_SSL_CA_CERTS"] == "/etc/ssl/redis-ca.pem" and env["REDIS_SSL_CHECK_HOSTNAME"] == "True"


def test_redis_conf_is_private_protected_and_password_protected(native):
    conf = directives(native["redis.conf"])
    assert conf["bind"] == ["10.0.0.5"]
    assert conf["protected-mode"] == ["yes"]
    assert conf["save"] == ['""'] and conf["appendonly"] == ["no"]  # persistence off
    assert conf["user"][0] == "default off"
    assert conf["user"][1] == f"litellm on >{PASSWORD} ~* &* +@all -@admin -flushall -flushdb"
    assert "requirepass" not in conf
    assert conf["maxmemory-policy"] == ["volatile-lru"]


def test_redis_conf_without_acl_user_uses_requirepass(tmp_path):
    conf = directives(render(tmp_path, **NATIVE, litellm_redis_username="", litellm_redis_persistence=True)["redis.conf"])
    assert conf["requirepass"] == [PASSWORD]
    assert "user" not in conf
    assert conf["appendonly"] == ["yes"]


def test_redis_validate_refuses_an_unacknowledged_wildcard(tmp_path):
    # The preflight refuses it first; the validate command is the last line of defence.
    result, out = run(tmp_path, **{**NATIVE, "litellm_redis_bind": ["0.0.0.0"]})
    assert result.returncode != 0
    assert "wildcard bind without litellm_redis_allow_public_bind" in result.stdout + result.stderr
    assert not (out / "redis.conf").exists()


def test_redis_hardening_dropin(native):
    text = native["redis-hardening.conf"]
    for line in ("NoNewPrivileges=yes", "CapabilityBoundingSet=", "ProtectSystem=strict", "PrivateTmp=yes",
                 "PrivateDevices=yes", "ProtectHome=yes", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                 "MemoryDenyWriteExecute=yes", "ReadWriteDirectories=", "UMask=0077"):
        assert line + "\n" in text, line
    assert "[Service]\n" in text


def test_haproxy_cfg_balances_the_inventory_gateways(native):
    text = native["haproxy.cfg"]
    lines = [line.strip() for line in text.splitlines()]
    assert "bind 127.0.0.1:4000" in lines
    assert "http-check send meth GET uri /health/liveliness" in lines
    assert "http-check expect status 200" in lines
    assert "stats socket /run/haproxy/admin.sock mode 660 level admin" in lines
    assert "server gw1 10.0.0.11:4000 check" in lines
    assert "server gw2 10.0.0.12:4001 check" in lines  # litellm_balancer_server_address wins over ansible_host
    assert "retry-on conn-failure" in lines


def test_haproxy_cfg_binds_where_the_operator_says(tmp_path):
    text = render(tmp_path, **NATIVE, litellm_balancer_bind_address="10.0.0.2", litellm_balancer_bind_port=8080,
                  litellm_balancer_servers=[{"name": "gw1", "address": "fd00::11", "port": 4000}])["haproxy.cfg"]
    lines = [line.strip() for line in text.splitlines()]
    assert "bind 10.0.0.2:8080" in lines
    assert "server gw1 [fd00::11]:4000 check" in lines
    assert not any(line.startswith("server gw2") for line in lines)


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed here")
def test_haproxy_accepts_the_config(native, tmp_path):
    # The role validates with `haproxy -c -f %s`; the socket's directory must exist for the check.
    config = tmp_path / "haproxy.cfg"
    config.write_text(native["haproxy.cfg"].replace("/run/haproxy/admin.sock", str(tmp_path / "admin.sock"))
                      .replace("chroot /var/lib/haproxy", f"chroot {tmp_path}"))
    result = subprocess.run(["haproxy", "-c", "-f", str(config)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_without_redis_config_has_no_redis(tmp_path):
    files = render(tmp_path, **{**BASE, "litellm_redis_mode": "none"})
    config = yaml.safe_load(files["config.yaml"])
    assert "router_settings" not in config
    assert "coordination_redis" not in config["general_settings"]
    assert "use_redis_transaction_buffer" not in config["general_settings"]
    assert "REDIS_" not in files["litellm.env"]


def test_config_validate_refuses_a_literal_redis_password(tmp_path):
    # An operator's own router_settings with the password in clear: config.yaml's
    # validate command keeps the file from being written.
    result, out = run(tmp_path, **{**NATIVE, "litellm_config_router_settings": {"redis_password": PASSWORD}})
    assert result.returncode != 0
    assert "a Redis password not from env" in result.stdout + result.stderr
    assert not (out / "config.yaml").exists()
