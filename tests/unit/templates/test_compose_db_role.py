"""F8: the compose database's superuser is the image's POSTGRES_USER
(postgres), and the proxy's role is a plain role that owns its database only.
database.env and the restore command are rendered; the role SQL
(compose-role.sql.j2) is run by psql against a real, throwaway PostgreSQL
cluster whose bootstrap superuser is postgres, as the image makes it."""

import os
import subprocess

from test_database_templates import ROLE_TEMPLATES, render


def _env(text):
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_compose_database_env_makes_postgres_the_superuser_and_litellm_a_separate_role():
    env = _env(render(ROLE_TEMPLATES / "database.env.j2", litellm_database_mode="compose",
                      __litellm_database_admin_password="admin0123456789abcdef"))
    # The image creates POSTGRES_USER as the cluster's superuser: not the proxy's role.
    assert env["POSTGRES_USER"] == "postgres" and env["POSTGRES_DB"] == "postgres"
    assert env["POSTGRES_PASSWORD"] == "admin0123456789abcdef"
    assert env["LITELLM_DATABASE_USER"] == "litellm" and env["LITELLM_DATABASE_NAME"] == "litellm"
    assert env["LITELLM_DATABASE_PASSWORD"] == "pw0123456789abcdef"
    assert env["DATABASE_URL"] == "postgresql://litellm:pw0123456789abcdef@db:5432/litellm"


def test_compose_database_env_of_a_cluster_initialised_before_f8_is_kept():
    """Its volume already has litellm as the bootstrap superuser: the file keeps describing it."""
    env = _env(render(ROLE_TEMPLATES / "database.env.j2", litellm_database_mode="compose",
                      __litellm_database_compose_legacy=True))
    assert env["POSTGRES_USER"] == "litellm" and env["POSTGRES_PASSWORD"] == "pw0123456789abcdef"
    assert "LITELLM_DATABASE_PASSWORD" not in env


def test_native_database_env_is_unchanged():
    env = _env(render(ROLE_TEMPLATES / "database.env.j2", litellm_database_mode="native"))
    assert env["POSTGRES_USER"] == "litellm" and env["POSTGRES_PASSWORD"] == "pw0123456789abcdef"


def test_compose_restore_drops_and_creates_as_superuser_and_restores_as_the_owner():
    script = render(ROLE_TEMPLATES / "litellm-database-restore.sh.j2", litellm_database_mode="compose")
    assert "PGUSER_ADMIN=postgres" in script and "PGUSER_OWNER=litellm" in script
    assert 'in_db dropdb --username="$PGUSER_ADMIN"' in script
    assert 'in_db createdb --username="$PGUSER_ADMIN" --maintenance-db=postgres --owner="$PGUSER_OWNER"' in script
    assert 'in_db pg_restore --username="$PGUSER_OWNER"' in script


def _psql(cluster, user, password, dbname, sql=None, stdin=None):
    argv = ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(cluster["port"]),
            f"--username={user}", f"--dbname={dbname}"]
    if sql is not None:
        argv += ["-At", "-c", sql]
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False,
                          env={**os.environ, "PGPASSWORD": password})


def _run_role_sql(cluster, **overrides):
    sql = render(ROLE_TEMPLATES / "compose-role.sql.j2", **overrides)
    return _psql(cluster, "postgres", cluster["password"], "postgres", stdin=sql)


def test_the_proxys_role_is_no_superuser_and_owns_only_its_database(cluster):
    first = _run_role_sql(cluster, litellm_database_user="proxy1", litellm_database_name="proxy1db",
                          litellm_database_effective_password="pw-one-0123456789")
    assert first.returncode == 0, first.stderr
    assert "litellm-db-changed: role created" in first.stderr and "CREATE DATABASE" in first.stdout
    # The password never shows in what psql prints.
    assert "pw-one-0123456789" not in first.stdout + first.stderr

    as_proxy = _psql(cluster, "proxy1", "pw-one-0123456789", "proxy1db",
                     "select rolsuper::text || ' ' || rolcreatedb::text || ' ' || rolcreaterole::text || ' ' || "
                     "(select pg_get_userbyid(datdba) from pg_database where datname = current_database()) "
                     "from pg_roles where rolname = current_user")
    assert as_proxy.returncode == 0, as_proxy.stderr
    assert as_proxy.stdout.strip() == "false false false proxy1"
    # What LiteLLM's migrations do works; what a SQL injection would want does not.
    assert _psql(cluster, "proxy1", "pw-one-0123456789", "proxy1db", "create table t (id int); drop table t").returncode == 0
    copy = _psql(cluster, "proxy1", "pw-one-0123456789", "proxy1db", "copy (select 1) to program 'true'")
    assert copy.returncode != 0 and "must be superuser" in copy.stderr, copy.stderr
    assert _psql(cluster, "proxy1", "pw-one-0123456789", "proxy1db", "create role x").returncode != 0
    assert _psql(cluster, "proxy1", "pw-one-0123456789", "proxy1db", "create database x").returncode != 0

    # A second run changes nothing (the task reports changed=0).
    again = _run_role_sql(cluster, litellm_database_user="proxy1", litellm_database_name="proxy1db",
                          litellm_database_effective_password="pw-one-0123456789")
    assert again.returncode == 0, again.stderr
    assert "litellm-db-changed" not in again.stderr
    assert "CREATE DATABASE" not in again.stdout and "ALTER DATABASE" not in again.stdout


def test_a_superuser_proxy_role_and_a_database_owned_by_another_are_put_right(cluster):
    setup = _psql(cluster, "postgres", cluster["password"], "postgres",
                  "create role proxy2 login superuser createdb password 'pw-two-0123456789'")
    assert setup.returncode == 0, setup.stderr
    assert _psql(cluster, "postgres", cluster["password"], "postgres", "create database proxy2db").returncode == 0
    fixed = _run_role_sql(cluster, litellm_database_user="proxy2", litellm_database_name="proxy2db",
                          litellm_database_effective_password="pw-two-0123456789")
    assert fixed.returncode == 0, fixed.stderr
    assert "litellm-db-changed: role attributes" in fixed.stderr and "ALTER DATABASE" in fixed.stdout
    check = _psql(cluster, "postgres", cluster["password"], "postgres",
                  "select rolsuper::text || ' ' || rolcreatedb::text || ' ' || "
                  "(select pg_get_userbyid(datdba) from pg_database where datname = 'proxy2db') "
                  "from pg_roles where rolname = 'proxy2'")
    assert check.stdout.strip() == "false false proxy2"


def test_quotes_in_names_and_password_cannot_break_out_of_the_sql(cluster):
    result = _run_role_sql(cluster, litellm_database_user="proxy3", litellm_database_name="proxy3db",
                           litellm_database_effective_password="pw'; create role evil superuser; --")
    assert result.returncode == 0, result.stderr
    assert _psql(cluster, "postgres", cluster["password"], "postgres",
                 "select count(*) from pg_roles where rolname = 'evil'").stdout.strip() == "0"
    assert _psql(cluster, "proxy3", "pw'; create role evil superuser; --", "proxy3db", "select 1").stdout.strip() == "1"
