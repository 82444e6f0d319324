"""Helpers of the database scenario's tests.

The shared gateway helpers (resources/tests/gateway_helpers.py) are imported
from their directory, and their run_playbook() is replaced, before the shared
test modules collected by test_shared_*.py import it, with one that
- limits each run to the host under test (the shared tests run once per host,
  and this scenario has two), and
- fails when a database password appears in the output of any run.
"""

import re
import shlex
import sys
import time
from pathlib import Path

SHARED_DIR = Path(__file__).resolve().parents[2] / "resources" / "tests"
if str(SHARED_DIR) not in sys.path:
    sys.path.append(str(SHARED_DIR))

import gateway_helpers  # noqa: E402  (after the path to it is known)

PROJECT_DIR = gateway_helpers.PROJECT_DIR
CONVERGE = gateway_helpers.CONVERGE
PLAYBOOKS = PROJECT_DIR / "playbooks"
RESTORE = PLAYBOOKS / "restore.yml"
recap = gateway_helpers.recap
assert_stopped_in_preflight = gateway_helpers.assert_stopped_in_preflight
api = gateway_helpers.api

DATABASE_ENV = "/etc/litellm/database.env"
BACKUP_DIR = "/var/backups/litellm"
BACKUP_UNIT = "litellm-database-backup"
COMPOSE = "docker compose --project-name litellm --file /opt/sacred-brain/ops/compose/litellm/docker-compose.yml"
DB_CONTAINER = "litellm-db-1"
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hi"}]}

# What a run that stops in preflight must leave as it was.
STATE_CMD = (
    "find /etc/litellm /etc/default/litellm /opt/sacred-brain/ops /etc/systemd/system /usr/local/sbin "
    f"{BACKUP_DIR} -maxdepth 3 -type f 2>/dev/null | sort | xargs sha256sum; "
    f"stat -c '%n %a %U %G' /etc/litellm /etc/litellm/* {BACKUP_DIR}; "
    "systemctl show -p ActiveEnterTimestamp litellm.service litellm-compose.service postgresql.service "
    "litellm-database-backup.timer"
)

# Set by the autouse fixture in conftest.py: the host under test, and the
# database password of every host seen so far.
current = {}
passwords = {}


def read_database_env(host):
    return dict(line.split("=", 1) for line in host.file(DATABASE_ENV).content_string.splitlines()
                if re.match(r"^[A-Z_]+=", line))


_run_shared_playbook = gateway_helpers.run_playbook


def run_playbook(*args, playbook=CONVERGE):
    """Run a playbook against the host under test only, and check that no database password is in its output."""
    result = _run_shared_playbook(*args, playbook=playbook, limit=current["name"])
    output = result.stdout + result.stderr
    for password in passwords.values():
        assert not password or password not in output, f"a database password is in the output of {playbook.name} {args}"
    return result


gateway_helpers.run_playbook = run_playbook


def only_hosts(*names):
    """Decorate a test that applies to these hosts only (conftest.py deselects it for the others)."""
    def mark(test):
        test.ONLY_HOSTS = names
        return test
    return mark


def in_db(database, command):
    """A shell command run where the database's client programs are: the host, or the db container."""
    if database["mode"] == "compose":
        return f"{COMPOSE} exec -T db {command}"
    return command


def psql(host, database, sql, url=None):
    """Run SQL as the role's user through a DATABASE_URL (the role's own by default)."""
    url = database["url"] if url is None else url
    return host.run(in_db(database, f"psql {shlex.quote(url)} -X -A -t -q -v ON_ERROR_STOP=1 -c {shlex.quote(sql)}"))


def dumps(host):
    """Names of the files in the backup directory, oldest first."""
    return host.run(f"find {BACKUP_DIR} -mindepth 1 -maxdepth 1 -printf '%f\\n' | sort").stdout.split()


def wait_for_a_new_dump_name(host, timeout=300):
    """Dumps are named by the second (litellm-YYYYmmddTHHMMSSZ.dump): wait until
    a backup started now gets a name after the newest dump's."""
    newest = max([name for name in dumps(host) if name.startswith("litellm-") and name.endswith(".dump")],
                 default="")
    deadline = time.monotonic() + timeout
    while host.check_output("date -u +litellm-%Y%m%dT%H%M%SZ.dump") <= newest:
        assert time.monotonic() < deadline, f"the host's clock did not pass {newest}"
        time.sleep(0.2)


def start_backup(host):
    return host.run(f"systemctl start {BACKUP_UNIT}.service")


def journal(host, lines=40):
    return host.run(f"journalctl -u {BACKUP_UNIT}.service --no-pager -n {lines}").stdout


wait_for = gateway_helpers.wait_for


def readiness(host, gateway):
    status, body = api(host, gateway, "GET", "/health/readiness", key="", timeout=10)
    return body if status == 200 and isinstance(body, dict) else None


def db_ready(host, gateway):
    return wait_for(lambda: (body := readiness(host, gateway)) and body.get("db") == "connected" and body,
                    "/health/readiness with the database connected")
