"""Prisma on the native gateway, as far as these machines allow.

LiteLLM's Prisma engines come from binaries.prisma.sh, which is out of reach
here (ENVIRONMENT.md), so the proxy cannot be pointed at its database. What
is checked for real:
- the check that decides whether litellm-migrate.service must run reads
  Prisma's ledger in the real PostgreSQL of the native host;
- pointing the proxy at the database (litellm_database_connect_proxy: true)
  installs the pinned Prisma client and Node.js into the real venv, then
  stops at `prisma generate` with an error naming the offline setting, before
  the venv is switched or the proxy restarted, and a run back to the
  scenario's settings returns the host to where it was.
"""

import base64
import json
import shlex

import pytest
from database_helpers import PROJECT_DIR, STATE_CMD, assert_stopped_in_preflight, psql, recap, run_playbook

CHECK_SCRIPT = PROJECT_DIR / "roles" / "litellm_service" / "files" / "litellm-migrations-pending"
VENV = "/opt/sacred-brain/venvs/litellm-1.108.7"
ACTIVE_VENV = "/opt/sacred-brain/.venv"
EXTRAS = "import litellm_proxy_extras, os; print(os.path.dirname(litellm_proxy_extras.__file__))"
# Prisma is set up by Ansible for the native (venv) gateway only; compose uses
# the image's. conftest.py deselects these tests for the other hosts.
ONLY_HOSTS = ("litellm-db-native",)
LEDGER_DDL = (
    'CREATE TABLE "_prisma_migrations" (id varchar(36) PRIMARY KEY, migration_name varchar(255) NOT NULL, '
    "finished_at timestamptz, rolled_back_at timestamptz)"
)


@pytest.fixture
def migrations_check(host, database):
    """The role's migration check, put on the host, and the active venv's migrations."""
    encoded = base64.b64encode(CHECK_SCRIPT.read_bytes()).decode()
    host.run_test(f"echo {encoded} | base64 -d > /tmp/migrations-pending && chmod 0755 /tmp/migrations-pending")
    extras = host.check_output(f"{ACTIVE_VENV}/bin/python -c {shlex.quote(EXTRAS)}")
    shipped = sorted(host.check_output(f"cd {extras}/migrations && ls */migration.sql | cut -d/ -f1").splitlines())
    assert len(shipped) > 100, shipped[:5]

    def pending(env_file="/etc/litellm/database.env"):
        return host.run(f"{ACTIVE_VENV}/bin/python /tmp/migrations-pending {env_file} {extras}/migrations")

    yield pending, shipped
    psql(host, database, 'DROP TABLE IF EXISTS "_prisma_migrations"')
    host.run("rm -f /tmp/migrations-pending /tmp/no-url.env")


def test_migration_check_reads_the_prisma_ledger(host, database, migrations_check):
    pending, shipped = migrations_check
    fresh = pending()
    assert fresh.rc == 0, fresh.stderr
    assert json.loads(fresh.stdout) == shipped  # no ledger yet: every migration is pending

    assert psql(host, database, LEDGER_DDL).rc == 0
    rows = [
        (shipped[0], "now()", "NULL"),   # applied
        (shipped[1], "now()", "now()"),  # rolled back: deploy applies it again
        (shipped[2], "NULL", "NULL"),    # started, never finished
    ]
    for number, (name, finished, rolled_back) in enumerate(rows):
        insert = (f"INSERT INTO \"_prisma_migrations\" VALUES ('{number}', '{name}', {finished}, {rolled_back})")
        assert psql(host, database, insert).rc == 0
    after = pending()
    assert after.rc == 0, after.stderr
    assert json.loads(after.stdout) == shipped[1:]
    assert database["password"] not in fresh.stdout + fresh.stderr + after.stdout + after.stderr


def test_migration_check_fails_clearly(host, database, migrations_check):
    pending, _ = migrations_check
    host.run_test("printf 'POSTGRES_DB=litellm\\n' > /tmp/no-url.env")
    no_url = pending("/tmp/no-url.env")
    assert no_url.rc != 0
    assert "no DATABASE_URL in /tmp/no-url.env" in no_url.stderr

    wrong = database["url"].replace(database["password"], "not-the-password")
    host.run_test(f"printf 'DATABASE_URL=%s\\n' {shlex.quote(wrong)} > /tmp/no-url.env")
    refused = pending("/tmp/no-url.env")
    assert refused.rc != 0
    assert "cannot read the migration ledger" in refused.stderr
    assert "not-the-password" not in refused.stderr


def proxy_state(host):
    return {
        "started": host.check_output("systemctl show -p ActiveEnterTimestamp --value litellm.service"),
        "active_venv": host.check_output(f"readlink {ACTIVE_VENV}"),
        "unit": host.check_output("sha256sum /etc/systemd/system/litellm.service"),
        "liveliness": host.run("curl -fsS -o /dev/null -w '%{http_code}' http://127.0.0.1:4000/health/liveliness").stdout,
    }


def test_pointing_the_proxy_at_the_database_stops_at_prisma_generate(host, database):
    before = proxy_state(host)
    assert before["liveliness"] == "200"

    result = run_playbook("-e", json.dumps({"litellm_database_connect_proxy": True}))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-4000:]
    assert "prisma generate failed in " + VENV in output, output[-4000:]
    assert "litellm_prisma_engines_archive" in output
    assert recap(output)["failed"] == 1, output[-3000:]

    # Everything up to the generation is real: the pinned client in the venv, Node.js on the host.
    version = host.run(f"{VENV}/bin/python -c 'import prisma; print(prisma.__version__)'")
    assert version.stdout.strip() == "0.11.0", version.stderr
    assert host.run("node --version").rc == 0
    # The CLI came from the npm registry; the engines (binaries.prisma.sh) did not.
    assert host.file("/opt/sacred-brain/prisma/node_modules/prisma/build/index.js").exists
    assert "binaries.prisma.sh" in output
    assert not host.file(f"{VENV}/.sacred-brain-prisma-client").exists
    # ...and the proxy was neither switched nor restarted, and the migration unit never written.
    assert proxy_state(host) == before
    assert not host.file("/etc/systemd/system/litellm-migrate.service").exists

    back = run_playbook()
    back_output = back.stdout + back.stderr
    assert back.returncode == 0, back_output[-4000:]
    assert "DATABASE_URL" not in host.file(database["proxy_env_file"]).content_string
    again = run_playbook()
    assert recap(again.stdout)["changed"] == 0, again.stdout[-3000:]
    assert proxy_state(host)["liveliness"] == "200"


def test_a_failed_migration_job_stops_the_play_before_the_restart(host, database):
    before = proxy_state(host)
    since = host.check_output("date '+%Y-%m-%d %H:%M:%S'")

    # Without the client step, LiteLLM's migration job itself meets the missing engines.
    result = run_playbook("-e", json.dumps({"litellm_database_connect_proxy": True}),
                          "--skip-tags", "litellm_venv_prisma")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-4000:]
    assert "LiteLLM's migrations failed (journalctl -u litellm-migrate.service)" in output, output[-4000:]
    assert recap(output)["failed"] == 1, output[-3000:]

    # The unit ran LiteLLM's real migration job, which reached the real database...
    migrate_unit = host.file("/etc/systemd/system/litellm-migrate.service").content_string
    assert "--skip_server_startup" in migrate_unit
    assert "Wants=network-online.target litellm-migrate.service" in host.file(
        "/etc/systemd/system/litellm.service").content_string
    journal = host.check_output(f"journalctl -u litellm-migrate.service --since '{since}' --no-pager")
    assert "migrations at /opt/sacred-brain/venvs/litellm-1.108.7" in journal, journal[-3000:]
    assert "Acquired the Prisma migration lock" in journal, journal[-3000:]
    assert "Database migration cannot proceed" in journal, journal[-3000:]
    assert database["password"] not in journal
    assert host.run("systemctl is-failed litellm-migrate.service").stdout.strip() == "failed"
    # ...and the proxy still runs as it did, not restarted onto a schema that is not there.
    after = proxy_state(host)
    assert (after["started"], after["active_venv"], after["liveliness"]) == (
        before["started"], before["active_venv"], "200")

    back = run_playbook()
    assert back.returncode == 0, (back.stdout + back.stderr)[-4000:]
    assert not host.file("/etc/systemd/system/litellm-migrate.service").exists
    assert "litellm-migrate" not in host.file("/etc/systemd/system/litellm.service").content_string
    again = run_playbook()
    assert recap(again.stdout)["changed"] == 0, again.stdout[-3000:]


def test_bad_prisma_input_fails_before_any_change(host):
    before = (host.run(STATE_CMD).stdout, proxy_state(host))
    bad = {"litellm_database_connect_proxy": True, "litellm_venv_prisma_requirement": "prisma"}
    result = run_playbook("-e", json.dumps(bad))
    assert_stopped_in_preflight(result, "litellm_venv_prisma_requirement must pin the prisma package")
    assert (host.run(STATE_CMD).stdout, proxy_state(host)) == before
