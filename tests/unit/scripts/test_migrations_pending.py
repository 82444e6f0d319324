"""litellm-migrations-pending (litellm_service) without a database: how it
finds DATABASE_URL and the shipped migrations, and its errors. Its ledger
query runs against real PostgreSQL in the Molecule database scenario."""

import importlib.machinery
import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "roles" / "litellm_service" / "files" / "litellm-migrations-pending"
_loader = importlib.machinery.SourceFileLoader("migrations_pending", str(SCRIPT))
_spec = importlib.util.spec_from_loader("migrations_pending", _loader)
pending = importlib.util.module_from_spec(_spec)
_loader.exec_module(pending)


def test_database_url_is_read_from_the_env_file(tmp_path):
    env = tmp_path / "litellm"
    env.write_text("# managed\nLITELLM_MASTER_KEY=sk-x\nDATABASE_URL='postgresql://u:p%40ss@127.0.0.1/litellm'\n")
    assert pending.database_url(env) == "postgresql://u:p%40ss@127.0.0.1/litellm"


def test_missing_database_url_is_named(tmp_path):
    env = tmp_path / "litellm"
    env.write_text("LITELLM_MASTER_KEY=sk-x\n")
    with pytest.raises(SystemExit, match=f"no DATABASE_URL in {env}"):
        pending.database_url(env)


def test_only_directories_with_a_migration_count(tmp_path):
    for name in ("20250102000000_b", "20250101000000_a"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "migration.sql").write_text("SELECT 1;")
    (tmp_path / "20250103000000_empty").mkdir()
    (tmp_path / "migration_lock.toml").write_text('provider = "postgresql"')
    assert pending.shipped_migrations(tmp_path) == ["20250101000000_a", "20250102000000_b"]


def test_usage_and_an_empty_migrations_directory_fail(tmp_path):
    with pytest.raises(SystemExit, match="Usage: litellm-migrations-pending ENV_FILE MIGRATIONS_DIR"):
        pending.main(["litellm-migrations-pending"])
    with pytest.raises(SystemExit, match=f"no migrations in {tmp_path}"):
        pending.main(["litellm-migrations-pending", str(tmp_path / "env"), str(tmp_path)])


@pytest.mark.parametrize("url", [
    "postgresql://u:s3cr%ZZet@127.0.0.1:1/db",   # invalid percent-encoding: libpq quotes the token
    "postgresql://u:pa ss-s3cr@127.0.0.1:1/db",  # a space: libpq quotes the part
    "postgresql://u:s3cr-pw@127.0.0.1:notaport/db",  # urlsplit quotes the port text
    "postgresql://u:s3cr-pw@127.0.0.1:1/db",     # connection refused
])
def test_errors_never_show_the_password(url):
    with pytest.raises(SystemExit) as raised:
        pending.applied_migrations(url)
    assert "s3cr" not in str(raised.value)
    assert str(raised.value)
