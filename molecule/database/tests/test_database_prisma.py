"""Both gateways' proxies on their PostgreSQL, for real.

binaries.prisma.sh is out of reach here (ENVIRONMENT.md), so both hosts get
Prisma the way an air-gapped gateway does: litellm_prisma_engines_archive, here
the archive of scripts/build-prisma-archive.sh (the Prisma CLI and Prisma's query
engine compiled to WebAssembly, on Debian's Node.js), checksum verified, and
LiteLLM's migrations applied with psql (litellm_database_migrate_method: sql).
The native gateway runs it from its venv under systemd; the compose gateway
unpacks it on the host and bind-mounts it into the proxy container (whose image,
as LiteLLM's own, has Node, prisma and a generated client), and its migrations
are run by the `db` service's psql. What is checked, on each, on the real proxy
and the real database:
- /health/readiness reports the database connected, through the archive's engine;
- Prisma's ledger holds every shipped migration as `prisma migrate deploy` records
  it, and the role's migration check finds nothing pending;
- a key generated through LiteLLM's admin API is stored in the database,
  authenticates a chat completion, and still does after the proxy is stopped
  and started: in the restore drill (test_database_restore.py), whose restore
  restarts the proxy anyway;
- a migration that fails (native: a planted migration; compose: a failed row in
  Prisma's ledger, which the image's migrations cannot be planted into) stops the
  play before the proxy restarts, with the proxy untouched, and the play's next
  run (the failure resolved) is green;
- a bad archive checksum or Prisma input fails naming the variable, nothing changed.
The backup + restore drill with a key is in test_database_restore.py.
"""

import base64
import json
import shlex

from database_helpers import (COMPOSE, PROJECT_DIR, STATE_CMD, assert_stopped_in_preflight, db_ready,
                              only_hosts, psql, recap, run_playbook)

CHECK_SCRIPT = PROJECT_DIR / "roles" / "litellm_service" / "files" / "litellm-migrations-pending"
MIGRATE_SCRIPT = PROJECT_DIR / "roles" / "litellm_service" / "files" / "litellm-migrate-sql"
COMPOSE_FILE = "/opt/sacred-brain/ops/compose/litellm/docker-compose.yml"
PROXY_CONTAINER = "litellm-litellm-1"
VENV = "/opt/sacred-brain/venvs/litellm-1.108.7"
ACTIVE_VENV = "/opt/sacred-brain/.venv"
EXTRAS = "import litellm_proxy_extras, os; print(os.path.dirname(litellm_proxy_extras.__file__))"
DRILL_MIGRATION = "99990101000000_sacred_brain_failing_drill"


def compose(host):
    return host.ansible.get_variables()["litellm_deploy_mode"] == "compose"


def proxy_state(host):
    liveliness = host.run("curl -fsS -o /dev/null -w '%{http_code}' http://127.0.0.1:4000/health/liveliness").stdout
    if compose(host):
        started, pid = host.run(f"docker inspect -f '{{{{.State.StartedAt}}}} {{{{.State.Pid}}}}' {PROXY_CONTAINER}"
                                ).stdout.split() or ["", "0"]
        return {"started": started, "pid": pid, "image": host.run(f"docker inspect -f '{{{{.Image}}}}' "
                                                                   f"{PROXY_CONTAINER}").stdout.strip(),
                "liveliness": liveliness}
    return {
        "started": host.check_output("systemctl show -p ActiveEnterTimestamp --value litellm.service"),
        "pid": host.check_output("systemctl show -p MainPID --value litellm.service"),
        "active_venv": host.check_output(f"readlink {ACTIVE_VENV}"),
        "liveliness": liveliness,
    }


def in_proxy(host, command):
    """A shell command run where the proxy's Python is: the active venv, or the proxy container."""
    if compose(host):
        return f"{COMPOSE} exec -T litellm sh -c {shlex.quote(command.replace('PYTHON', 'python3'))}"
    return command.replace("PYTHON", f"{ACTIVE_VENV}/bin/python")


def extras_dir(host):
    return host.check_output(in_proxy(host, f"PYTHON -c {shlex.quote(EXTRAS)}"))


def test_the_proxy_runs_on_its_database_through_the_archives_engine(host, gateway, database):
    body = db_ready(host, gateway)
    assert body["status"] == "healthy", body
    assert "DATABASE_URL=" in host.file(database["proxy_env_file"]).content_string
    engine = host.run("pgrep -f 'node .*/opt/sacred-brain/prisma/wasm-engine/shim.mjs'")
    assert engine.rc == 0, host.run("ps -eo pid,ppid,user,args").stdout[-3000:]
    pid = engine.stdout.split()[0]
    cgroup = host.file(f"/proc/{pid}/cgroup").content_string
    if compose(host):
        # The archive, read-only at the same path in the container, named by the container's environment.
        spec = json.loads(host.check_output(f"docker inspect {PROXY_CONTAINER}"))[0]
        env = dict(item.split("=", 1) for item in spec["Config"]["Env"])
        assert env["PRISMA_QUERY_ENGINE_BINARY"] == "/opt/sacred-brain/prisma/wasm-engine/query-engine", env
        assert env["PRISMA_SCHEMA_ENGINE_BINARY"] == "/opt/sacred-brain/prisma/wasm-engine/schema-engine-stub", env
        assert env["PRISMA_BINARY_CACHE_DIR"] == "/opt/sacred-brain/prisma" and env["DISABLE_SCHEMA_UPDATE"] == "true"
        mounts = [(m["Source"], m["Destination"], m["RW"]) for m in spec["Mounts"]]
        assert ("/opt/sacred-brain/prisma", "/opt/sacred-brain/prisma", False) in mounts, mounts
        # The engine prisma-client-py spawned is the archive's, under the image's Node.js, in the proxy's
        # container, as its unprivileged user.
        assert spec["Id"] in cgroup, cgroup
        assert host.process.get(pid=int(pid)).user == "nobody"
        node = host.run(f"{COMPOSE} exec -T litellm node --version")
    else:
        unit = host.file("/etc/systemd/system/litellm.service").content_string
        assert "Environment=PRISMA_QUERY_ENGINE_BINARY=/opt/sacred-brain/prisma/wasm-engine/query-engine" in unit
        assert "Environment=DISABLE_SCHEMA_UPDATE=true" in unit
        # The engine prisma-client-py spawned is the archive's, under Node.js, in the proxy's unit, as its user.
        assert "litellm.service" in cgroup
        assert host.process.get(pid=int(pid)).user == "litellm"
        node = host.run("node --version")
    # The archive was unpacked as built (its own checksums hold) after its checksum was verified.
    assert host.run("cd /opt/sacred-brain/prisma && sha256sum --quiet -c SHA256SUMS").rc == 0
    given = host.ansible.get_variables()["litellm_prisma_engines_archive_checksum"]
    assert given, "run the scenario through make (SACRED_BRAIN_PRISMA_ARCHIVE_SHA256 names the archive's checksum)"
    assert given == host.check_output("sha256sum /srv/prisma/prisma-engines-wasm.tar.gz | cut -d' ' -f1")
    marker = host.file("/opt/sacred-brain/prisma/.sacred-brain-engines-archive").content_string.split()
    assert marker == ["/srv/prisma/prisma-engines-wasm.tar.gz", given]
    assert node.stdout.startswith("v18."), node.stderr  # Debian 12's Node.js runs the engine


def test_the_migration_ledger_is_complete(host, database):
    extras = extras_dir(host)
    shipped = sorted(host.check_output(in_proxy(host, f"cd {extras}/migrations && ls -d */ | tr -d /")).splitlines())
    assert len(shipped) > 100
    # Applied by the sql method, recorded as `prisma migrate deploy` records: checksum = sha256 of the file.
    rows = psql(host, database, 'select migration_name, checksum, applied_steps_count, finished_at is not null '
                                'from "_prisma_migrations" where rolled_back_at is null order by migration_name')
    assert rows.rc == 0, rows.stderr
    ledger = [line.split("|") for line in rows.stdout.splitlines()]
    applied = [row for row in ledger if row[3] == "t"]
    assert [row[0] for row in applied] == shipped
    sums = dict(line.split("  ", 1)[::-1] for line in host.check_output(
        in_proxy(host, f"cd {extras}/migrations && sha256sum */migration.sql")).splitlines())
    assert all(row[1] == sums[f"{row[0]}/migration.sql"] and row[2] == "1" for row in applied)
    if compose(host):
        # Run by the image's interpreter into the db service's psql (litellm_compose), not by the proxy.
        encoded = base64.b64encode(MIGRATE_SCRIPT.read_bytes()).decode()
        script = host.file("/opt/sacred-brain/ops/compose/litellm/litellm-migrate-sql")
        assert script.content_string == base64.b64decode(encoded).decode() and script.mode == 0o644
        return
    # The role's own check agrees: nothing pending, so no later run migrates again.
    encoded = base64.b64encode(CHECK_SCRIPT.read_bytes()).decode()
    assert host.file("/usr/local/sbin/litellm-migrations-pending").content_string == base64.b64decode(encoded).decode()
    pending = host.run(f"{ACTIVE_VENV}/bin/python /usr/local/sbin/litellm-migrations-pending "
                       f"{database['proxy_env_file']} {extras}/migrations")
    assert pending.rc == 0 and json.loads(pending.stdout) == [], pending.stderr
    # It ran as the sql job, in the migration unit, before the proxy.
    assert "/usr/local/sbin/litellm-migrate-sql" in host.file("/etc/systemd/system/litellm-migrate.service").content_string
    assert host.check_output("systemctl show -p Result --value litellm-migrate.service") == "success"


# litellm-migrations-pending is the native gateway's (its migration unit's) check.
@only_hosts("litellm-db-native")
def test_migration_check_fails_clearly(host, database):
    extras = extras_dir(host)
    check = f"{ACTIVE_VENV}/bin/python /usr/local/sbin/litellm-migrations-pending"
    host.run_test("printf 'POSTGRES_DB=litellm\\n' > /tmp/no-url.env")
    no_url = host.run(f"{check} /tmp/no-url.env {extras}/migrations")
    assert no_url.rc != 0
    assert "no DATABASE_URL in /tmp/no-url.env" in no_url.stderr

    wrong = database["url"].replace(database["password"], "not-the-password")
    host.run_test(f"printf 'DATABASE_URL=%s\\n' {shlex.quote(wrong)} > /tmp/no-url.env")
    refused = host.run(f"{check} /tmp/no-url.env {extras}/migrations")
    host.run("rm -f /tmp/no-url.env")
    assert refused.rc != 0
    assert "cannot read the migration ledger" in refused.stderr
    assert "not-the-password" not in refused.stderr


def plant_failed_migration(host, database):
    """Native: a migration the database refuses, planted into the active venv's migrations. Compose: the
    image's migrations cannot be planted into (read-only image); a migration Prisma's ledger records as
    failed instead (unfinished, not rolled back), which stops the psql script as it stops Prisma (P3009)."""
    if compose(host):
        inserted = psql(host, database, 'insert into "_prisma_migrations" (id, checksum, migration_name, logs) '
                                        f"values ('sacred-brain-drill', '0', '{DRILL_MIGRATION}', 'drill')")
        assert inserted.rc == 0, inserted.stderr
        return
    planted = f"{extras_dir(host)}/migrations/{DRILL_MIGRATION}"
    host.run_test(f"mkdir -p {planted} && printf '%s\\n' 'CREATE TABLE \"DrillHalfDone\" (id int);' "
                  f"'SELECT sacred_brain_no_such_function();' > {planted}/migration.sql")


def resolve_failed_migration(host, database):
    """As an operator would: the bad migration gone, its half-done work undone, its row rolled back."""
    if not compose(host):
        host.run(f"rm -rf {extras_dir(host)}/migrations/{DRILL_MIGRATION}")
    psql(host, database, 'drop table if exists "DrillHalfDone"; update "_prisma_migrations" '
                         f"set rolled_back_at = now() where migration_name = '{DRILL_MIGRATION}'")


def test_a_failed_migration_stops_the_play_before_the_restart(host, gateway, database):
    """A failed migration on a run that would restart the proxy (an env change): the play stops at the
    migrations, the proxy untouched."""
    before = proxy_state(host)
    assert before["liveliness"] == "200"
    plant_failed_migration(host, database)
    try:
        result = run_playbook("-e", json.dumps({"litellm_env_extra": {"SACRED_BRAIN_DRILL": "restart-me"}}))
        output = result.stdout + result.stderr
        assert result.returncode != 0, output[-4000:]
        if compose(host):
            assert "LiteLLM's migrations failed in the compose database" in output, output[-4000:]
            # The script's own refusal, naming the failed row, in the play's message.
            assert f"the migration ledger holds a failed migration: {DRILL_MIGRATION}" in output, output[-4000:]
        else:
            assert "LiteLLM's migrations failed (journalctl -u litellm-migrate.service" in output, output[-4000:]
            assert "sacred_brain_no_such_function" in output, output[-4000:]  # psql's error, in the play's message
        assert recap(output)["failed"] == 1, output[-3000:]
        # The env file changed, but the proxy was not restarted onto it.
        assert "SACRED_BRAIN_DRILL" in host.file(database["proxy_env_file"]).content_string
        assert proxy_state(host) == before
        if not compose(host):
            assert host.run("systemctl is-failed litellm-migrate.service").stdout.strip() == "failed"
            # Recorded as Prisma records a failed migration: unfinished, with the error in its logs.
            row = psql(host, database, "select finished_at is null, rolled_back_at is null, "
                                       "logs like '%no_such_function%' from \"_prisma_migrations\" "
                                       f"where migration_name = '{DRILL_MIGRATION}'")
            assert row.stdout.split() == ["t|t|t"], row.stdout + row.stderr
            journal = host.check_output("journalctl -u litellm-migrate.service --no-pager -n 50")
            assert database["password"] not in journal
    finally:
        resolve_failed_migration(host, database)
    back = run_playbook()
    assert back.returncode == 0, (back.stdout + back.stderr)[-4000:]
    assert "SACRED_BRAIN_DRILL" not in host.file(database["proxy_env_file"]).content_string
    assert proxy_state(host)["started"] != before["started"]  # the env change reverted: restarted now
    db_ready(host, gateway)


def test_bad_prisma_input_fails_before_any_change(host):
    before = (host.run(STATE_CMD).stdout, proxy_state(host))
    if compose(host):
        # An engine outside the directory mounted into the container would not be there.
        result = run_playbook("-e", json.dumps({"litellm_prisma_query_engine_binary": "/usr/local/bin/query-engine"}))
        assert_stopped_in_preflight(result, "litellm_prisma_query_engine_binary must be under litellm_prisma_cache_dir")
    else:
        result = run_playbook("-e", json.dumps({"litellm_venv_prisma_requirement": "prisma"}))
        assert_stopped_in_preflight(result, "litellm_venv_prisma_requirement must pin the prisma package")
    assert (host.run(STATE_CMD).stdout, proxy_state(host)) == before


def test_an_archive_with_another_checksum_is_refused_before_unpacking(host):
    before = (host.run(STATE_CMD + "; find /opt/sacred-brain/prisma -type f | sort | xargs sha256sum").stdout,
              proxy_state(host))
    result = run_playbook("-e", json.dumps({"litellm_prisma_engines_archive_checksum": "0" * 64}))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert "litellm_prisma_engines_archive_checksum: /srv/prisma/prisma-engines-wasm.tar.gz has sha256" in output, \
        output[-3000:]
    assert recap(output)["changed"] == 0, output[-3000:]
    assert (host.run(STATE_CMD + "; find /opt/sacred-brain/prisma -type f | sort | xargs sha256sum").stdout,
            proxy_state(host)) == before

