"""LiteLLM's database on the converged hosts: running, reachable only locally,
the role's credentials, the secrets file, backups by the timer, and a failing
backup that keeps the earlier dumps."""

import time

import pytest
from database_helpers import (BACKUP_DIR, BACKUP_UNIT, COMPOSE, DATABASE_ENV, DB_CONTAINER, dumps, in_db, journal,
                              psql, start_backup, wait_for_a_new_dump_name)


def _wait_db_ready(host, database, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if database["mode"] == "compose":
            ready = host.run(f"docker inspect -f '{{{{.State.Health.Status}}}}' {DB_CONTAINER}").stdout.strip() == "healthy"
        else:
            ready = host.run("pg_isready -q -h 127.0.0.1 -p 5432").rc == 0
        if ready:
            return
        time.sleep(1)
    raise AssertionError("the database did not come back")


def test_postgresql_is_running_and_healthy(host, database):
    if database["mode"] == "native":
        assert host.service("postgresql").is_enabled
        assert host.run("systemctl is-active postgresql@15-main.service").stdout.strip() == "active", \
            host.run("journalctl -u postgresql@15-main --no-pager -n 40").stdout
        assert host.run("pg_isready -h 127.0.0.1 -p 5432").rc == 0
    else:
        state = host.run(f"docker inspect -f '{{{{.State.Status}}}} {{{{.State.Health.Status}}}} "
                         f"{{{{.HostConfig.RestartPolicy.Name}}}}' {DB_CONTAINER}").stdout.split()
        assert state == ["running", "healthy", "unless-stopped"], host.run(f"docker logs {DB_CONTAINER} 2>&1").stdout
        # The data is on the project's named volume.
        mounts = host.run(f"docker inspect -f '{{{{range .Mounts}}}}{{{{.Type}}}}:{{{{.Name}}}}:{{{{.Destination}}}} "
                          f"{{{{end}}}}' {DB_CONTAINER}").stdout.split()
        assert mounts == ["volume:litellm_pgdata:/var/lib/postgresql/data"]


def test_database_listens_locally_only(host, database):
    listening = host.socket.get_listening_sockets()
    on_5432 = [s for s in listening if s.startswith("tcp") and s.endswith(":5432")]
    if database["mode"] == "native":
        assert on_5432 == ["tcp://127.0.0.1:5432"], f"PostgreSQL exposed beyond 127.0.0.1: {on_5432}"
        assert "unix:///var/run/postgresql/.s.PGSQL.5432" in listening
    else:
        # Nothing on the host (the instance) listens for the database...
        assert on_5432 == [], on_5432
        # ...because the container publishes no port.
        bindings = host.run(f"docker inspect -f '{{{{json .HostConfig.PortBindings}}}}' {DB_CONTAINER}").stdout.strip()
        assert bindings in ("{}", "null"), bindings
        assert host.run(f"docker port {DB_CONTAINER}").stdout.strip() == ""
        compose = host.file("/opt/sacred-brain/ops/compose/litellm/docker-compose.yml").content_string
        db_section = compose.split("\n  db:\n", 1)[1]
        assert "ports:" not in db_section
        # The proxy starts only once the database is healthy.
        assert "depends_on:\n      db:\n        condition: service_healthy" in compose


def test_credentials_file_is_root_only(host, database):
    f = host.file(DATABASE_ENV)
    assert (f.user, f.group, f.mode) == ("root", "root", 0o600)
    env = database["env"]
    if database["mode"] == "compose":
        # The image's superuser is postgres; the proxy's role is separate (F8).
        assert env["POSTGRES_USER"] == "postgres" and env["POSTGRES_DB"] == "postgres"
        assert env["LITELLM_DATABASE_USER"] == "litellm" and env["LITELLM_DATABASE_NAME"] == "litellm"
        assert len(env["POSTGRES_PASSWORD"]) >= 32 and env["POSTGRES_PASSWORD"] != database["password"]
    else:
        assert env["POSTGRES_USER"] == "litellm" and env["POSTGRES_DB"] == "litellm"
    password = database["password"]
    assert len(password) >= 32 and password.isalnum()
    expected_host = "127.0.0.1" if database["mode"] == "native" else "db"
    assert database["url"] == f"postgresql://litellm:{password}@{expected_host}:5432/litellm"
    assert host.run(f"runuser -u nobody -- cat {DATABASE_ENV}").rc != 0


def test_proxy_is_pointed_at_its_database(host, database):
    # Both proxies use their database (Prisma from the offline archive; test_database_prisma.py).
    env = host.file(database["proxy_env_file"]).content_string
    assert f"DATABASE_URL={database['url']}" in env.splitlines() or f"DATABASE_URL='{database['url']}'" in env


def test_role_credentials_work(host, database):
    result = psql(host, database, "select current_user || ' ' || current_database() || ' ' "
                                  "|| (select rolsuper::text from pg_roles where rolname = current_user)")
    assert result.rc == 0, result.stderr
    if database["mode"] == "native":
        # A plain role that owns its database; the superuser stays postgres.
        assert result.stdout.strip() == "litellm litellm false"
        owner = host.run("runuser -u postgres -- psql -XAtc \"select pg_get_userbyid(datdba) || ' ' || "
                         "pg_encoding_to_char(encoding) from pg_database where datname = 'litellm'\"")
        assert owner.stdout.strip() == "litellm UTF8"
    else:
        # The proxy's role is not the cluster's superuser (F8): the image's
        # POSTGRES_USER, postgres, is; litellm owns its database and nothing else.
        assert result.stdout.strip() == "litellm litellm false"
        roles = host.run(f"{COMPOSE} exec -T db psql -U postgres -XAtc \"select rolname || ' ' || rolsuper::text || ' ' "
                         "|| rolcreatedb::text || ' ' || rolcreaterole::text from pg_roles where rolname in ('litellm', 'postgres') "
                         "order by 1\"")
        assert roles.stdout.split("\n")[:2] == ["litellm false false false", "postgres true true true"], roles.stderr
        owner = host.run(f"{COMPOSE} exec -T db psql -U postgres -XAtc \"select pg_get_userbyid(datdba) "
                         "from pg_database where datname = 'litellm'\"")
        assert owner.stdout.strip() == "litellm", owner.stderr
        # No COPY ... TO PROGRAM for the proxy's role.
        copy = psql(host, database, "copy (select 1) to program 'true'")
        assert copy.rc != 0 and "must be superuser" in copy.stderr, copy.stderr
    # The role can create what LiteLLM's migrations create.
    assert psql(host, database, "create table credentials_probe (id int); drop table credentials_probe").rc == 0


def test_wrong_password_is_refused(host, database):
    wrong = database["url"].replace(database["password"], "not-the-password-0000")
    result = psql(host, database, "select 1", url=wrong)
    assert result.rc != 0
    assert "password authentication failed" in result.stderr


def test_backup_timer_is_enabled_and_scheduled(host):
    assert host.service(f"{BACKUP_UNIT}.timer").is_enabled
    assert host.run(f"systemctl is-active {BACKUP_UNIT}.timer").stdout.strip() == "active"
    props = dict(line.split("=", 1) for line in host.run(
        f"systemctl show {BACKUP_UNIT}.timer -p TimersCalendar -p Persistent -p Unit").stdout.splitlines())
    assert "03:30:00" in props["TimersCalendar"]
    assert props["Persistent"] == "yes" and props["Unit"] == f"{BACKUP_UNIT}.service"


def test_backup_unit_exposure(host, database):
    """systemd-analyze security on the installed backup unit (F4); printed in the verify log."""
    result = host.run(f"systemd-analyze security --no-pager {BACKUP_UNIT}.service")
    overall = [line for line in result.stdout.splitlines() if "Overall exposure level" in line]
    assert overall, result.stdout[-2000:] + result.stderr
    print(database["mode"], overall[0])
    assert float(overall[0].split(":")[1].split()[0]) <= 2.0, overall[0]
    shown = host.run(f"systemctl show {BACKUP_UNIT}.service -p ProtectSystem -p CapabilityBoundingSet -p ReadWritePaths").stdout
    assert "ProtectSystem=strict" in shown and f"ReadWritePaths={BACKUP_DIR}" in shown


def test_backup_run_writes_private_dumps_and_keeps_the_newest(host, database):
    directory = host.file(BACKUP_DIR)
    assert (directory.user, directory.group, directory.mode) == ("root", "root", 0o700)
    for _ in range(database["keep"] + 1):
        wait_for_a_new_dump_name(host)
        result = start_backup(host)
        assert result.rc == 0, journal(host)
    names = dumps(host)
    assert len(names) == database["keep"], names
    assert all(n.startswith("litellm-") and n.endswith(".dump") for n in names), names
    for name in names:
        f = host.file(f"{BACKUP_DIR}/{name}")
        assert (f.user, f.group, f.mode) == ("root", "root", 0o600)
        assert f.size > 0
        # Custom format, readable by pg_restore.
        assert host.run(in_db(database, "pg_restore --list") + f" < {BACKUP_DIR}/{name}").rc == 0
    logs = journal(host)
    assert f"written to {BACKUP_DIR}/{names[-1]}" in logs
    assert f"1 older dump(s) removed, {database['keep']} kept" in logs


def test_failed_backup_fails_the_unit_and_keeps_the_earlier_dumps(host, database):
    if not dumps(host):
        assert start_backup(host).rc == 0
    before = host.run(f"cd {BACKUP_DIR} && ls -A | sort | xargs sha256sum").stdout
    stop, start = (f"docker stop {DB_CONTAINER}", f"docker start {DB_CONTAINER}") if database["mode"] == "compose" \
        else ("systemctl stop postgresql", "systemctl start postgresql")
    assert host.run(stop).rc == 0
    try:
        wait_for_a_new_dump_name(host)
        result = start_backup(host)
        assert result.rc != 0, "the backup unit succeeded without a database"
        assert host.run(f"systemctl is-failed {BACKUP_UNIT}.service").stdout.strip() == "failed"
        logs = journal(host)
        assert "backup of database litellm FAILED" in logs, logs
        # Logged as an error, so `journalctl -p err` shows it.
        assert "FAILED" in host.run(f"journalctl -u {BACKUP_UNIT}.service -p err --no-pager -n 5").stdout
        # Every earlier dump as it was, no partial file.
        assert host.run(f"cd {BACKUP_DIR} && ls -A | sort | xargs sha256sum").stdout == before
    finally:
        host.run(start)
        host.run(f"systemctl reset-failed {BACKUP_UNIT}.service")
    _wait_db_ready(host, database)
    assert psql(host, database, "select 1").stdout.strip() == "1"


def test_compose_db_is_on_the_project_network_only(host, database):
    if database["mode"] != "compose":
        pytest.skip("the native database has no container")
    networks = host.run(f"docker inspect -f '{{{{range $k, $v := .NetworkSettings.Networks}}}}{{{{$k}}}} "
                        f"{{{{end}}}}' {DB_CONTAINER}").stdout.split()
    assert networks == ["litellm_default"]
    running = host.run(f"{COMPOSE} ps --status running --format '{{{{.Service}}}}'").stdout.split()
    assert sorted(running) == ["db", "litellm"]
