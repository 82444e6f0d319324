"""The litellm_database templates and the database parts of the env and
compose templates, rendered with Jinja2 as Ansible renders them, and the
backup command run against stand-in PostgreSQL client programs: fast, without
a host."""

import json
import os
import shlex
import stat
import subprocess
from pathlib import Path

import jinja2
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
ROLE_TEMPLATES = ROOT / "roles" / "litellm_database" / "templates"


def _defaults(role):
    return yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text()) or {}


def render(path, **overrides):
    """Render a role template with the role defaults and Ansible's Jinja2 settings."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader([str(path.parent)]), trim_blocks=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters.update({
        "comment": lambda text: "\n".join("# " + line for line in str(text).splitlines()),
        "quote": lambda value: shlex.quote(str(value)),
        "to_json": json.dumps,
        "bool": lambda value: str(value).lower() in ("1", "true", "yes", "on"),
    })
    variables = {}
    for role in ("litellm", "litellm_compose", "litellm_env", "litellm_database"):
        variables.update(_defaults(role))
    role_vars = yaml.safe_load((ROOT / "roles" / "litellm_database" / "vars" / "main.yml").read_text())
    variables.update({
        "ansible_managed": "Ansible managed",
        "litellm_env_effective_master_key": "sk-master",
        "litellm_env_effective_salt_key": "salt",
        "litellm_database_effective_password": "pw0123456789abcdef",
        "litellm_database_url": "postgresql://litellm:pw0123456789abcdef@db:5432/litellm",
        "_litellm_database_env_file": "/etc/litellm/database.env",
        "_litellm_database_compose_project": "litellm",
        "_litellm_database_compose_file": "/opt/sacred-brain/ops/compose/litellm/docker-compose.yml",
        # Computed in roles/litellm/vars (test_compose_proxy_gets_the_prisma_archive sets them).
        "_litellm_compose_prisma": False,
        "_litellm_compose_migrate_sql": False,
    })
    variables.update({k: v for k, v in role_vars.items() if isinstance(v, (str, int, list)) and "{{" not in str(v)})
    variables.update(overrides)
    return env.get_template(path.name).render(**variables)


ENV_TEMPLATE = ROOT / "roles" / "litellm_env" / "templates" / "litellm.env.j2"
COMPOSE_TEMPLATE = ROOT / "roles" / "litellm_compose" / "templates" / "docker-compose.yml.j2"


@pytest.mark.parametrize("connect,url,present", [
    (True, "postgresql://u:p@db:5432/litellm", True),
    (False, "postgresql://u:p@db:5432/litellm", False),
    (True, "", False),
])
def test_env_file_has_database_url_only_when_connected(connect, url, present):
    text = render(ENV_TEMPLATE, litellm_database_connect_proxy=connect, litellm_database_url=url)
    assert (f"DATABASE_URL={url}\n" in text) is present
    assert ("DATABASE_URL" in text) is present


def test_env_file_without_the_database_role():
    env = jinja2.Environment(loader=jinja2.FileSystemLoader([str(ENV_TEMPLATE.parent)]), trim_blocks=True)
    env.filters.update({"comment": lambda t: "# " + t, "bool": bool})
    text = env.get_template(ENV_TEMPLATE.name).render(
        ansible_managed="x", litellm_env_effective_master_key="k", litellm_env_effective_salt_key="s",
        litellm_env_provider_keys={}, litellm_env_extra={})
    assert "DATABASE_URL" not in text


def test_compose_without_database_is_unchanged():
    document = yaml.safe_load(render(COMPOSE_TEMPLATE, litellm_database_mode="none"))
    assert list(document["services"]) == ["litellm"]
    assert "depends_on" not in document["services"]["litellm"]
    assert "volumes" not in document


def test_compose_database_service():
    document = yaml.safe_load(render(COMPOSE_TEMPLATE, litellm_database_mode="compose",
                                     litellm_database_image="sacred-brain/postgres:15"))
    db = document["services"]["db"]
    assert db["image"] == "sacred-brain/postgres:15"
    assert "ports" not in db and "network_mode" not in db
    assert db["env_file"] == ["/etc/litellm/database.env"]
    assert db["volumes"] == ["pgdata:/var/lib/postgresql/data"]
    assert document["volumes"] == {"pgdata": {}}
    assert db["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert document["services"]["litellm"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert document["services"]["litellm"]["ports"] == ["127.0.0.1:4000:4000"]


def test_compose_proxy_without_the_archive_keeps_its_images_prisma():
    litellm = yaml.safe_load(render(COMPOSE_TEMPLATE, litellm_database_mode="compose"))["services"]["litellm"]
    assert litellm["environment"] == {"HOME": "/tmp"}
    assert not any("prisma" in volume for volume in litellm["volumes"])


def test_compose_proxy_gets_the_prisma_archive_and_migrates_through_db():
    env = {"PRISMA_BINARY_CACHE_DIR": "/opt/sacred-brain/prisma", "PRISMA_OFFLINE_MODE": "true",
           "PRISMA_QUERY_ENGINE_BINARY": "/opt/sacred-brain/prisma/wasm-engine/query-engine"}
    litellm = yaml.safe_load(render(COMPOSE_TEMPLATE, litellm_database_mode="compose", _litellm_compose_prisma=True,
                                    _litellm_compose_migrate_sql=True, _litellm_compose_prisma_env=env,
                                    litellm_prisma_cache_dir="/opt/sacred-brain/prisma"))["services"]["litellm"]
    assert litellm["environment"] == {"HOME": "/tmp", "DISABLE_SCHEMA_UPDATE": "true", **env}
    assert "/opt/sacred-brain/prisma:/opt/sacred-brain/prisma:ro" in litellm["volumes"]
    assert litellm["read_only"] is True and litellm["user"] == "65534:65534"


@pytest.mark.parametrize("mode", ["native", "compose", "external"])
@pytest.mark.parametrize("name", ["litellm-database-backup.sh.j2", "litellm-database-restore.sh.j2"])
def test_commands_are_valid_bash(tmp_path, mode, name):
    script = tmp_path / "script"
    script.write_text(render(ROLE_TEMPLATES / name, litellm_database_mode=mode))
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("mode", ["native", "compose", "external"])
def test_units_render(mode):
    service = render(ROLE_TEMPLATES / "litellm-database-backup.service.j2", litellm_database_mode=mode)
    assert "Type=oneshot" in service and "ExecStart=/usr/local/sbin/litellm-database-backup" in service
    assert "UMask=0077" in service
    timer = render(ROLE_TEMPLATES / "litellm-database-backup.timer.j2", litellm_database_mode=mode)
    assert "OnCalendar=*-*-* 03:30:00" in timer and "Persistent=true" in timer


def test_database_env_holds_no_postgres_credentials_in_external_mode():
    text = render(ROLE_TEMPLATES / "database.env.j2", litellm_database_mode="external",
                  litellm_database_url="postgresql://u:p@db.example/x")
    assert "POSTGRES_" not in text and "DATABASE_URL=postgresql://u:p@db.example/x" in text


# The backup command against stand-ins: `runuser` runs the stand-in pg_dump,
# `pg_restore --list` accepts only what the stand-in wrote, `date` counts.
STANDINS = {
    "runuser": '#!/bin/sh\nshift 3\nexec "$@"\n',
    "pg_dump": '#!/bin/sh\n[ -e "$STANDIN/fail" ] && { printf PARTIAL; echo "connection refused" >&2; exit 1; }\n'
               'printf "PGDMP-standin-dump"\n',
    "pg_restore": '#!/bin/sh\ngrep -q "^PGDMP" || exit 1\n',
    "date": '#!/bin/sh\nn=$(cat "$STANDIN/n" 2>/dev/null || echo 0); n=$((n + 1)); echo $n >"$STANDIN/n"\n'
            'printf "20250101T0000%02dZ\\n" "$n"\n',
}


@pytest.fixture
def backup(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in STANDINS.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    backup_dir = tmp_path / "backups"
    backup_dir.mkdir(mode=0o700)
    script = tmp_path / "litellm-database-backup"
    script.write_text(render(ROLE_TEMPLATES / "litellm-database-backup.sh.j2", litellm_database_mode="native",
                             litellm_database_backup_dir=str(backup_dir), litellm_database_backup_keep=2))
    script.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "STANDIN": str(tmp_path)}

    def run():
        return subprocess.run([str(script)], capture_output=True, text=True, env=env, check=False)

    run.dir = backup_dir
    run.fail = tmp_path / "fail"
    return run


def _listing(directory):
    return sorted(p.name for p in directory.iterdir())


def test_backup_keeps_the_newest_dumps_with_private_modes(backup):
    for _unused in range(3):
        result = backup()
        assert result.returncode == 0, result.stderr
    assert _listing(backup.dir) == ["litellm-20250101T000002Z.dump", "litellm-20250101T000003Z.dump"]
    for dump in backup.dir.iterdir():
        assert stat.S_IMODE(dump.stat().st_mode) == 0o600
        assert dump.read_text() == "PGDMP-standin-dump"
    assert "1 older dump(s) removed, 2 kept (at most 2)" in result.stdout


def test_failed_backup_fails_and_keeps_the_earlier_dumps(backup):
    assert backup().returncode == 0
    before = {p.name: p.read_bytes() for p in backup.dir.iterdir()}
    backup.fail.touch()
    for _unused in range(3):
        result = backup()
        assert result.returncode != 0
        assert "backup of database litellm FAILED" in result.stderr
    assert {p.name: p.read_bytes() for p in backup.dir.iterdir()} == before  # no partial file left either


# External database: the URL's password must never be on a command line (ps
# shows every process's argv to every local user).
ARGV_RECORDER = ('#!/bin/sh\nprintf "%s\\n" "$0 $*" >>"$STANDIN/argv"\nprintf "%s" "${PGPASSWORD:-}" >"$STANDIN/pgpassword"\n'
                 '[ "$(basename "$0")" = pg_dump ] && printf "PGDMP-standin-dump"\n'
                 '[ "$(basename "$0")" = pg_restore ] && cat >/dev/null\nexit 0\n')


@pytest.mark.parametrize("url,password,clean", [
    ("postgresql://litellm:s3cr%40et-pw@db.example:5432/litellm?sslmode=require", "s3cr@et-pw",
     "postgresql://litellm@db.example:5432/litellm?sslmode=require"),
    ("postgresql://litellm@db.example/litellm?password=s3cr3t-query-pw&sslmode=verify-full", "s3cr3t-query-pw",
     "postgresql://litellm@db.example/litellm?sslmode=verify-full"),
])
@pytest.mark.parametrize("name", ["litellm-database-backup.sh.j2", "litellm-database-restore.sh.j2"])
def test_external_database_password_is_never_in_argv(tmp_path, url, password, clean, name):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in ("pg_dump", "pg_restore"):
        (bin_dir / program).write_text(ARGV_RECORDER)
        (bin_dir / program).chmod(0o755)
    env_file = tmp_path / "database.env"
    env_file.write_text(f"# managed\nDATABASE_URL={url}\n")
    backup_dir = tmp_path / "backups"
    backup_dir.mkdir(mode=0o700)
    dump = backup_dir / "litellm-20250101T000000Z.dump"
    dump.write_text("PGDMP-standin-dump")
    script = tmp_path / "script"
    script.write_text(render(ROLE_TEMPLATES / name, litellm_database_mode="external",
                             _litellm_database_env_file=str(env_file), litellm_database_backup_dir=str(backup_dir),
                             litellm_database_restore_file=str(dump)))
    script.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "STANDIN": str(tmp_path)}
    result = subprocess.run([str(script), str(dump)], capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    argv = (tmp_path / "argv").read_text()
    assert f"--dbname={clean}" in argv
    assert password not in argv and password.replace("@", "%40") not in argv
    assert (tmp_path / "pgpassword").read_text() == password
    assert password not in result.stdout + result.stderr


def test_compose_containers_run_with_least_privilege():
    services = yaml.safe_load(render(COMPOSE_TEMPLATE, litellm_database_mode="compose"))["services"]
    proxy, db = services["litellm"], services["db"]
    assert proxy["user"] == "65534:65534" and proxy["read_only"] is True
    assert proxy["cap_drop"] == ["ALL"] and "cap_add" not in proxy
    assert proxy["security_opt"] == ["no-new-privileges:true"]
    assert proxy["pids_limit"] == 512 and proxy["mem_limit"] == "2g"
    assert proxy["tmpfs"] == ["/tmp:size=256m,mode=1777"]
    assert db["cap_drop"] == ["ALL"] and db["cap_add"] == ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID"]
    assert db["security_opt"] == ["no-new-privileges:true"]


def test_compose_values_cannot_inject_yaml():
    """Every scalar from the inventory is a JSON string: a newline cannot add a key (F15)."""
    document = yaml.safe_load(render(COMPOSE_TEMPLATE, litellm_database_mode="compose",
                                     litellm_compose_image="ghcr.io/berriai/litellm:v1\n    privileged: true",
                                     litellm_proxy_config_file="/x.yaml\n    privileged: true"))
    proxy = document["services"]["litellm"]
    assert "privileged" not in proxy
    assert proxy["image"] == "ghcr.io/berriai/litellm:v1\n    privileged: true"


def test_compose_tls_files_are_mounted_and_passed():
    proxy = yaml.safe_load(render(COMPOSE_TEMPLATE, litellm_database_mode="none", litellm_tls_certfile="/etc/litellm/tls.crt",
                                  litellm_tls_keyfile="/etc/litellm/tls.key"))["services"]["litellm"]
    assert "/etc/litellm/tls.crt:/app/tls/cert.pem:ro" in proxy["volumes"]
    assert proxy["command"][-4:] == ["--ssl_certfile_path", "/app/tls/cert.pem", "--ssl_keyfile_path", "/app/tls/key.pem"]
