"""litellm-migrate-sql (litellm_service, litellm_database_migrate_method: sql)
against a real, throwaway PostgreSQL cluster (initdb in the test's temporary
directory): migrations applied by psql in order, each recorded in Prisma's
ledger as `prisma migrate deploy` records it, so that litellm-migrations-pending
sees them applied; a failed migration recorded, the play's next run refused until
it is resolved; the password never in psql's command line.

The last test applies LiteLLM's own shipped migrations (litellm-proxy-extras in
.venv) and asks litellm-migrations-pending: nothing pending."""

import hashlib
import importlib.machinery
import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

FILES = Path(__file__).resolve().parents[3] / "roles" / "litellm_service" / "files"


def _load(name, module_name):
    loader = importlib.machinery.SourceFileLoader(module_name, str(FILES / name))
    spec = importlib.util.spec_from_loader(module_name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


migrate_sql = _load("litellm-migrate-sql", "migrate_sql")
pending = _load("litellm-migrations-pending", "migrations_pending_for_sql")


@pytest.fixture
def database(cluster, request):
    """A fresh database in the cluster, as a DATABASE_URL."""
    name = "t_" + hashlib.sha1(request.node.name.encode()).hexdigest()[:12]
    with psycopg.connect(cluster["url"] + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return f"{cluster['url']}/{name}"


def _migrations(tmp_path, scripts):
    root = tmp_path / "migrations"
    for name, sql in scripts.items():
        (root / name).mkdir(parents=True)
        (root / name / "migration.sql").write_text(sql)
    (root / "migration_lock.toml").write_text('provider = "postgresql"\n')
    return root


def _ledger(url):
    with psycopg.connect(url) as conn:
        return conn.execute('SELECT id, checksum, migration_name, started_at, finished_at, rolled_back_at, logs, '
                            'applied_steps_count FROM "_prisma_migrations" ORDER BY started_at, migration_name').fetchall()


SCRIPTS = {
    "20250101000000_init": 'CREATE TABLE "Thing" (id text PRIMARY KEY, n int);\nINSERT INTO "Thing" VALUES (\'a\', 1);\n',
    # Prisma names can hold spaces (one of LiteLLM's does); CONCURRENTLY cannot run in a transaction block.
    "20250102000000_index things": 'CREATE INDEX CONCURRENTLY "Thing_n_idx" ON "Thing"(n);\n',
    "20250103000000_more": 'ALTER TABLE "Thing" ADD COLUMN note text;\n',
}


def _assert_ledger_as_prisma_records(database, root):
    """Every script of SCRIPTS in Prisma's ledger, in order, each row as `prisma migrate deploy` writes it."""
    rows = _ledger(database)
    assert [row[2] for row in rows] == sorted(SCRIPTS)
    for row_id, checksum, name, started, finished, rolled_back, logs, steps in rows:
        assert len(row_id) == 36 and row_id.count("-") == 4
        assert checksum == hashlib.sha256((root / name / "migration.sql").read_bytes()).hexdigest()
        assert started <= finished and rolled_back is None and logs is None and steps == 1
    return rows


def test_applies_in_order_and_records_the_ledger_as_prisma_does(tmp_path, database, capsys):
    root = _migrations(tmp_path, SCRIPTS)
    applied = migrate_sql.migrate(pending.libpq_url(database), root)
    assert applied == sorted(SCRIPTS)
    _assert_ledger_as_prisma_records(database, root)
    with psycopg.connect(database) as conn:
        assert conn.execute('SELECT id, n, note FROM "Thing"').fetchall() == [("a", 1, None)]
        assert conn.execute("SELECT indexname FROM pg_indexes WHERE indexname = 'Thing_n_idx'").fetchone()
    # What decides whether the migration unit runs again agrees: nothing pending.
    assert pending.applied_migrations(database) == set(SCRIPTS)
    assert "3 migration(s) applied, 0 already applied" in capsys.readouterr().out


def test_a_second_run_changes_nothing_and_a_new_migration_is_applied_alone(tmp_path, database):
    root = _migrations(tmp_path, SCRIPTS)
    migrate_sql.migrate(pending.libpq_url(database), root)
    before = _ledger(database)
    assert migrate_sql.migrate(pending.libpq_url(database), root) == []
    assert _ledger(database) == before
    (root / "20250104000000_later").mkdir()
    (root / "20250104000000_later" / "migration.sql").write_text('ALTER TABLE "Thing" ADD COLUMN later int;\n')
    assert migrate_sql.migrate(pending.libpq_url(database), root) == ["20250104000000_later"]
    assert _ledger(database)[:3] == before


def test_a_rolled_back_migration_is_applied_again(tmp_path, database):
    root = _migrations(tmp_path, {"20250101000000_init": 'CREATE TABLE "Thing" (id text);\n'})
    migrate_sql.migrate(pending.libpq_url(database), root)
    with psycopg.connect(database) as conn:
        conn.execute('UPDATE "_prisma_migrations" SET rolled_back_at = now()')
        conn.execute('DROP TABLE "Thing"')
    assert migrate_sql.migrate(pending.libpq_url(database), root) == ["20250101000000_init"]
    assert len(_ledger(database)) == 2


def test_a_failed_migration_is_recorded_and_stops_the_next_run(tmp_path, database):
    scripts = dict(SCRIPTS)
    scripts["20250102000000_index things"] = 'CREATE TABLE "Half" (id int);\nSELECT no_such_function();\n'
    root = _migrations(tmp_path, scripts)
    with pytest.raises(SystemExit, match=r"migration 20250102000000_index things failed \(psql exit 3\): .*no_such_function"):
        migrate_sql.migrate(pending.libpq_url(database), root)
    rows = _ledger(database)
    assert [(row[2], row[4] is None, row[7]) for row in rows] == [
        ("20250101000000_init", False, 1), ("20250102000000_index things", True, 0)]
    assert "no_such_function" in rows[1][6]  # the error, in the row's logs, as Prisma keeps it
    assert "20250103000000_more" not in {row[2] for row in rows}  # nothing after the failure ran
    # Still pending for the check; refused by the job until it is resolved (Prisma's P3009).
    assert pending.applied_migrations(database) == {"20250101000000_init"}
    with pytest.raises(SystemExit, match=f"the migration ledger holds a failed migration: 20250102000000_index things \\(id {rows[1][0]}\\)"):
        migrate_sql.migrate(pending.libpq_url(database), root)
    # Resolved as an operator would: the half-done work undone, the row marked rolled back, the script fixed.
    with psycopg.connect(database) as conn:
        conn.execute('DROP TABLE "Half"')
        conn.execute('UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE id = %s', (rows[1][0],))
    (root / "20250102000000_index things" / "migration.sql").write_text(SCRIPTS["20250102000000_index things"])
    assert migrate_sql.migrate(pending.libpq_url(database), root) == [
        "20250102000000_index things", "20250103000000_more"]
    assert pending.applied_migrations(database) == set(SCRIPTS)


def _psql_script(root, database):
    """--psql-script's output, run by a psql elsewhere (the compose gateway's `db` service)."""
    script = subprocess.run([sys.executable, str(FILES / "litellm-migrate-sql"), "--psql-script", str(root)],
                            capture_output=True, text=True, check=True).stdout
    return subprocess.run(["psql", "-X", database], input=script, capture_output=True, text=True, check=False)


def test_the_psql_script_records_the_ledger_as_the_job_does(tmp_path, database):
    root = _migrations(tmp_path, SCRIPTS)
    first = _psql_script(root, database)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [f"applied migration {name}" for name in sorted(SCRIPTS)]
    rows = _assert_ledger_as_prisma_records(database, root)
    # The job's own check agrees; a second run applies nothing; a new migration is applied alone.
    assert pending.applied_migrations(database) == set(SCRIPTS)
    again = _psql_script(root, database)
    assert again.returncode == 0 and again.stdout == "" and again.stderr == "", again
    assert _ledger(database) == rows
    (root / "20250104000000_later").mkdir()
    (root / "20250104000000_later" / "migration.sql").write_text('ALTER TABLE "Thing" ADD COLUMN later int')
    assert _psql_script(root, database).stdout.splitlines() == ["applied migration 20250104000000_later"]


def test_the_psql_script_stops_at_a_failure_and_refuses_a_failed_ledger(tmp_path, database):
    scripts = dict(SCRIPTS)
    scripts["20250102000000_index things"] = 'CREATE TABLE "Half" (id int);\nSELECT no_such_function();\n'
    root = _migrations(tmp_path, scripts)
    failed = _psql_script(root, database)
    assert failed.returncode == 3 and "no_such_function" in failed.stderr, failed
    rows = _ledger(database)
    assert [(row[2], row[4] is None) for row in rows] == [("20250101000000_init", False),
                                                          ("20250102000000_index things", True)]
    (root / "20250102000000_index things" / "migration.sql").write_text(SCRIPTS["20250102000000_index things"])
    refused = _psql_script(root, database)
    assert refused.returncode == 3, refused
    assert f"the migration ledger holds a failed migration: 20250102000000_index things (id {rows[1][0]})" \
        in refused.stderr
    assert len(_ledger(database)) == 2
    with psycopg.connect(database) as conn:
        conn.execute('DROP TABLE "Half"')
        conn.execute('UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE id = %s', (rows[1][0],))
    assert _psql_script(root, database).returncode == 0
    assert pending.applied_migrations(database) == set(SCRIPTS)


def test_the_password_reaches_psql_through_its_environment_only(tmp_path, database, cluster, monkeypatch):
    seen = []
    real_run = subprocess.run

    def spy(argv, **kwargs):
        seen.append((argv, kwargs["env"]))
        return real_run(argv, check=kwargs.pop("check", False), **kwargs)

    monkeypatch.setattr(migrate_sql.subprocess, "run", spy)
    monkeypatch.setenv("PGHOST", "elsewhere.invalid")  # nothing inherited overrides DATABASE_URL
    root = _migrations(tmp_path, {"20250101000000_init": 'CREATE TABLE "Thing" (id text);\n'})
    migrate_sql.migrate(pending.libpq_url(database + "?connection_limit=3&schema=public"), root)
    (argv, env), = seen
    assert cluster["password"] not in " ".join(argv)
    assert env["PGPASSWORD"] == cluster["password"] and env["PGHOST"] == "127.0.0.1"
    assert env["PGOPTIONS"] == '-c search_path="public"'
    assert "DATABASE_URL" not in env


def test_errors_name_what_is_wrong(tmp_path, cluster, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(SystemExit, match="no DATABASE_URL in the environment"):
        migrate_sql.main(["litellm-migrate-sql"])
    empty = tmp_path / "none"
    empty.mkdir()
    with pytest.raises(SystemExit, match=f"no migrations in {empty}"):
        migrate_sql.migrate(pending.libpq_url(cluster["url"] + "/postgres"), empty)
    root = _migrations(tmp_path, {"20250101000000_init": "SELECT 1;\n"})
    wrong = cluster["url"].replace(cluster["password"], "not-the-password") + "/postgres"
    with pytest.raises(SystemExit, match="cannot connect to the database") as refused:
        migrate_sql.migrate(pending.libpq_url(wrong), root)
    assert "not-the-password" not in str(refused.value)


def test_litellms_shipped_migrations_leave_nothing_pending(database):
    """LiteLLM 1.108.7's own migrations (litellm-proxy-extras in .venv): all applied, the schema LiteLLM expects."""
    import litellm_proxy_extras

    root = Path(litellm_proxy_extras.__file__).parent / "migrations"
    started = time.monotonic()
    applied = migrate_sql.migrate(pending.libpq_url(database), root)
    assert len(applied) > 100 and applied == pending.shipped_migrations(root)
    assert pending.applied_migrations(database) == set(applied)
    with psycopg.connect(database) as conn:
        tables = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"LiteLLM_VerificationToken", "LiteLLM_UserTable", "LiteLLM_TeamTable", "_prisma_migrations"} <= tables
    assert time.monotonic() - started >= 0  # (timing is reported by pytest --durations, never asserted)


def test_two_gateways_migrating_one_database_at_once_both_finish(tmp_path, database):
    """The second job waits for Prisma's lock without holding a snapshot: the
    first one's CREATE INDEX CONCURRENTLY would otherwise wait on it for ever
    (two gateways of a fleet starting together on one database)."""
    import threading

    gate = 4242  # held by the test: the first job stops inside its first migration
    scripts = {"20250101000000_init": SCRIPTS["20250101000000_init"]
               + f"SELECT pg_advisory_lock({gate}); SELECT pg_advisory_unlock({gate});\n",
               **{name: sql for name, sql in SCRIPTS.items() if name != "20250101000000_init"}}
    root = _migrations(tmp_path, scripts)
    url = pending.libpq_url(database)
    results = {}

    def job(name):
        try:
            results[name] = migrate_sql.migrate(url, root, out=open("/dev/null", "w"))
        except BaseException as exc:  # noqa: BLE001  (reported by the assertion below)
            results[name] = exc

    def backends():
        with psycopg.connect(database, autocommit=True) as conn:
            return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                "AND pid <> pg_backend_pid()").fetchone()[0]

    with psycopg.connect(database, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (gate,))
        first = threading.Thread(target=job, args=("first",), daemon=True)
        first.start()
        deadline = time.monotonic() + 300
        while backends() < 3:  # the test's holder, the first job and its psql
            assert time.monotonic() < deadline, "the first job did not reach its migration"
            time.sleep(0.2)
        second = threading.Thread(target=job, args=("second",), daemon=True)
        second.start()
        while backends() < 4:  # the second job, waiting for Prisma's lock
            assert time.monotonic() < deadline, "the second job did not connect"
            time.sleep(0.2)
        holder.execute("SELECT pg_advisory_unlock(%s)", (gate,))
    first.join(timeout=300)
    second.join(timeout=300)
    assert not first.is_alive() and not second.is_alive(), "the two migration jobs wait on each other"
    assert results == {"first": sorted(scripts), "second": []}, results
