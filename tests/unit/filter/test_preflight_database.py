"""The preflight's rules for the litellm_database role, fast, without a host."""

import pytest

from preflight_loader import merged_options, preflight

OPTIONS = merged_options("litellm", "litellm_database", "litellm_env", "litellm_config", "litellm_compose", "litellm_venv", "litellm_smoke")
GOOD = {
    "litellm_env_provider_keys": {"OPENAI_API_KEY": "sk-provider-value"},
    "litellm_compose_image": "ghcr.io/berriai/litellm:v1.108.7-stable",
}
EXTERNAL_SECRET = "s3cret-external-password"


def problems(**overrides):
    return preflight.litellm_preflight_problems({**GOOD, **overrides}, OPTIONS)


def test_database_defaults_pass_and_mode_is_none():
    assert OPTIONS["litellm_database_mode"]["default"] == "none"
    assert problems() == []


@pytest.mark.parametrize("overrides", [
    {"litellm_database_mode": "compose"},
    {"litellm_database_mode": "native", "litellm_deploy_mode": "venv"},
    {"litellm_database_mode": "native", "litellm_deploy_mode": "compose", "litellm_database_connect_proxy": False},
    {"litellm_database_mode": "external", "litellm_database_external_url": "postgresql://u:p@db.example:5432/litellm"},
    {"litellm_database_mode": "external",
     "litellm_database_external_url": "postgres://u:p@db.example/litellm?sslmode=require"},
    {"litellm_database_mode": "compose", "litellm_database_password": "A-good.password_0123~xyz"},
    {"litellm_database_mode": "compose", "litellm_database_backup_dir_mode": "0750"},
    {"litellm_database_mode": "compose", "litellm_database_backup_dir_mode": "700"},
    {"litellm_database_mode": "compose", "litellm_database_backup_keep": 1},
    {"litellm_database_mode": "compose", "litellm_database_image": "postgres@sha256:" + "a" * 64},
    {"litellm_database_mode": "compose", "litellm_database_image": "sacred-brain/postgres:15"},
    # Backup settings are not checked when there is no database.
    {"litellm_database_mode": "none", "litellm_database_backup_keep": 0},
], ids=lambda o: ",".join(f"{k.removeprefix('litellm_')}={v}" for k, v in o.items()))
def test_good_database_input_passes(overrides):
    assert problems(**overrides) == []


@pytest.mark.parametrize("overrides,expected", [
    ({"litellm_database_mode": "mysql"}, "litellm_database_mode must be one of compose, native, external, none"),
    ({"litellm_database_mode": "compose", "litellm_deploy_mode": "venv"},
     "litellm_database_mode 'compose' runs PostgreSQL in the proxy's compose project"),
    ({"litellm_database_mode": "native"}, "litellm_database_mode 'native' listens on the host's 127.0.0.1 only"),
    ({"litellm_database_mode": "external"}, "litellm_database_external_url is required"),
    ({"litellm_database_mode": "external", "litellm_database_external_url": f"mysql://u:{EXTERNAL_SECRET}@db/x"},
     "litellm_database_external_url must be a postgresql:// or postgres:// URL (scheme found: 'mysql')"),
    ({"litellm_database_mode": "external", "litellm_database_external_url": "db.example:5432/litellm"},
     "litellm_database_external_url must be a postgresql:// or postgres:// URL"),
    ({"litellm_database_mode": "external", "litellm_database_external_url": "postgresql:///litellm"},
     "litellm_database_external_url has no host"),
    ({"litellm_database_mode": "compose", "litellm_database_backup_dir_mode": "0755"},
     "litellm_database_backup_dir_mode '0755' lets every user on the host into the backup directory"),
    ({"litellm_database_mode": "compose", "litellm_database_backup_dir_mode": "0704"},
     "litellm_database_backup_dir_mode '0704' lets every user"),
    ({"litellm_database_mode": "native", "litellm_deploy_mode": "venv", "litellm_database_backup_dir_mode": "rwx"},
     "litellm_database_backup_dir_mode must be an octal mode"),
    ({"litellm_database_mode": "compose", "litellm_database_backup_keep": 0},
     "litellm_database_backup_keep must be at least 1"),
    ({"litellm_database_mode": "compose", "litellm_database_backup_keep": -3},
     "litellm_database_backup_keep must be at least 1"),
    ({"litellm_database_mode": "compose", "litellm_database_backup_dir": "backups"},
     "litellm_database_backup_dir must be an absolute path"),
    ({"litellm_database_mode": "compose", "litellm_database_image": "postgres"},
     "litellm_database_image 'postgres' has no pinned tag"),
    ({"litellm_database_mode": "compose", "litellm_database_image": "docker.io/library/postgres:latest"},
     "has no pinned tag"),
    ({"litellm_database_mode": "compose", "litellm_database_name": "Lite-LLM"},
     "litellm_database_name must be a plain PostgreSQL name"),
    ({"litellm_database_mode": "compose", "litellm_database_user": "x; drop"},
     "litellm_database_user must be a plain PostgreSQL name"),
    ({"litellm_database_mode": "compose", "litellm_database_password": "short-pw"},
     "litellm_database_password is too short"),
    ({"litellm_database_mode": "compose", "litellm_database_password": "has spaces and $ and 'quotes'"},
     "litellm_database_password may hold only letters, digits"),
    ({"litellm_database_mode": "compose", "litellm_env_extra": {"DATABASE_URL": "postgresql://x@y/z"}},
     "litellm_env_extra.DATABASE_URL is managed by litellm_database_*"),
])
def test_bad_database_input_is_named(overrides, expected):
    found = problems(**overrides)
    assert any(expected in message for message in found), found


def test_database_secrets_never_appear_in_messages():
    found = problems(litellm_database_mode="external",
                     litellm_database_external_url=f"mysql://user:{EXTERNAL_SECRET}@db.example/x")
    found += problems(litellm_database_mode="compose", litellm_database_password="short$secret")
    assert len(found) == 2, found
    for message in found:
        assert EXTERNAL_SECRET not in message and "short$secret" not in message


def test_one_message_per_database_problem():
    found = problems(litellm_database_mode="compose", litellm_database_backup_dir_mode="0777",
                     litellm_database_backup_keep=0)
    assert len(found) == 2, found


def test_backup_dir_mode_default_is_private():
    assert OPTIONS["litellm_database_backup_dir_mode"]["default"] == "0700"
    assert OPTIONS["litellm_database_backup_keep"]["default"] >= 1


NATIVE_CONNECTED = {"litellm_deploy_mode": "venv", "litellm_database_mode": "native", "litellm_database_connect_proxy": True}


def test_prisma_defaults_pass_for_a_native_proxy_on_its_database(tmp_path):
    archive = tmp_path / "prisma-cache.tar.gz"
    archive.write_bytes(b"")
    assert problems(**NATIVE_CONNECTED) == []
    assert problems(**NATIVE_CONNECTED, litellm_prisma_engines_archive=str(archive)) == []
    assert problems(**NATIVE_CONNECTED, litellm_prisma_engines_archive="/srv/on-the-host.tar.gz",
                    litellm_prisma_engines_archive_remote_src=True) == []
    # The archive of scripts/build-prisma-archive.sh, as the database scenario sets it.
    assert problems(**NATIVE_CONNECTED, litellm_prisma_engines_archive="/srv/on-the-host.tar.gz",
                    litellm_prisma_engines_archive_remote_src=True, litellm_prisma_engines_archive_checksum="aB" * 32,
                    litellm_prisma_query_engine_binary="/opt/sacred-brain/prisma/wasm-engine/query-engine",
                    litellm_prisma_schema_engine_binary="/opt/sacred-brain/prisma/wasm-engine/schema-engine-stub",
                    litellm_database_migrate_method="sql") == []
    assert OPTIONS["litellm_database_migrate_method"]["default"] == "prisma"
    assert OPTIONS["litellm_database_migrate_method"]["choices"] == ["prisma", "sql"]


@pytest.mark.parametrize("overrides,expected", [
    ({"litellm_venv_prisma_requirement": "prisma"}, "litellm_venv_prisma_requirement must pin the prisma package"),
    ({"litellm_venv_prisma_requirement": "prisma>=0.11"}, "litellm_venv_prisma_requirement must pin"),
    ({"litellm_prisma_engines_archive": "/nonexistent/prisma-cache.tar.gz"},
     "litellm_prisma_engines_archive: no file /nonexistent/prisma-cache.tar.gz on the controller"),
    ({"litellm_prisma_cache_dir": "opt/prisma"}, "litellm_prisma_cache_dir must be an absolute path"),
    ({"litellm_prisma_engines_archive_checksum": "sha256:abc"},
     "litellm_prisma_engines_archive_checksum must be a sha256 in hex (64 characters)"),
    ({"litellm_prisma_query_engine_binary": "wasm-engine/query-engine"},
     "litellm_prisma_query_engine_binary must be an absolute path on the host, got 'wasm-engine/query-engine'"),
    ({"litellm_prisma_schema_engine_binary": "stub"}, "litellm_prisma_schema_engine_binary must be an absolute path"),
], ids=["unpinned", "range", "missing-archive", "relative-cache", "checksum", "query-engine", "schema-engine"])
def test_bad_prisma_input_is_named(overrides, expected):
    found = problems(**NATIVE_CONNECTED, **overrides)
    assert any(expected in problem for problem in found), found


def test_prisma_settings_do_not_matter_without_a_connected_native_proxy():
    unused = {"litellm_venv_prisma_requirement": "prisma", "litellm_prisma_engines_archive": "/nonexistent.tar"}
    assert problems(**{**NATIVE_CONNECTED, "litellm_database_connect_proxy": False}, **unused) == []
    assert problems(litellm_database_mode="compose", litellm_database_connect_proxy=False, **unused) == []
    # A compose proxy without the archive uses its image's Prisma: the venv's pin is not its concern.
    assert problems(litellm_database_mode="compose", litellm_venv_prisma_requirement="prisma") == []


COMPOSE_ARCHIVE = {"litellm_database_mode": "compose", "litellm_database_connect_proxy": True,
                   "litellm_prisma_engines_archive": "/srv/prisma/prisma-engines-wasm.tar.gz",
                   "litellm_prisma_engines_archive_remote_src": True,
                   "litellm_prisma_engines_archive_checksum": "aB" * 32}


def test_the_archive_passes_for_a_compose_proxy_on_its_database():
    # As the database scenario's compose gateway sets it.
    assert problems(**COMPOSE_ARCHIVE, litellm_database_migrate_method="sql",
                    litellm_prisma_query_engine_binary="/opt/sacred-brain/prisma/wasm-engine/query-engine",
                    litellm_prisma_schema_engine_binary="/opt/sacred-brain/prisma/wasm-engine/schema-engine-stub") == []


@pytest.mark.parametrize("overrides,expected", [
    # Only litellm_prisma_cache_dir is mounted into the proxy container.
    ({"litellm_prisma_query_engine_binary": "/usr/local/bin/query-engine"},
     "litellm_prisma_query_engine_binary must be under litellm_prisma_cache_dir (/opt/sacred-brain/prisma) on a "
     "compose gateway"),
    ({"litellm_prisma_schema_engine_binary": "/opt/sacred-brain/prisma-other/stub"},
     "litellm_prisma_schema_engine_binary must be under litellm_prisma_cache_dir"),
    ({"litellm_prisma_engines_archive_checksum": "abc"}, "litellm_prisma_engines_archive_checksum must be a sha256"),
    ({"litellm_prisma_engines_archive": "/nonexistent/prisma.tar.gz", "litellm_prisma_engines_archive_remote_src": False},
     "litellm_prisma_engines_archive: no file /nonexistent/prisma.tar.gz on the controller"),
    # The sql method runs the db service's psql: an external database has none.
    ({"litellm_database_mode": "external", "litellm_database_external_url": "postgresql://u:p@db.example:5432/litellm",
      "litellm_database_migrate_method": "sql"},
     "litellm_database_migrate_method 'sql' on a compose gateway runs the migrations with the psql of the compose "
     "project's `db` service, which needs litellm_database_mode: compose (got 'external')"),
], ids=["query-engine-outside", "schema-engine-outside", "checksum", "missing-archive", "sql-external"])
def test_bad_compose_prisma_input_is_named(overrides, expected):
    found = problems(**{**COMPOSE_ARCHIVE, **overrides})
    assert any(expected in problem for problem in found), found
