"""The preflight's security rules (issue 14), fast, without a host."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from preflight_loader import ROOT, merged_options

import importlib.util

_spec = importlib.util.spec_from_file_location(
    "litellm_security_problems", ROOT / "plugins" / "filter" / "litellm_security_problems.py")
security = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(security)

OPTIONS = merged_options("litellm", "litellm_env", "litellm_config", "litellm_compose", "litellm_venv",
                         "litellm_smoke", "litellm_database", "litellm_service")
GOOD = {
    "litellm_env_provider_keys": {"OPENAI_API_KEY": "sk-provider-value"},
    "litellm_compose_image": "ghcr.io/berriai/litellm:v1.108.7-stable",
}
PRODUCTION_EXAMPLE_KEY = "sk-example-production-master-key-replace-me-0123456789"
STAGING_EXAMPLE_KEY = "sk-example-staging-master-key-replace-me-0123456789"


def problems(**overrides):
    return security.litellm_security_problems({**GOOD, **overrides}, OPTIONS)


def test_defaults_pass():
    assert problems() == []


@pytest.mark.parametrize("key", [PRODUCTION_EXAMPLE_KEY, STAGING_EXAMPLE_KEY, "sk-" + "replace-me" * 3,
                                 "sk-CHANGEME-0123456789abcdefghijklmnop"])
@pytest.mark.parametrize("variable", ["litellm_env_master_key", "litellm_env_salt_key"])
def test_published_and_placeholder_keys_are_refused(variable, key):
    found = problems(**{variable: key})
    assert len(found) == 1 and found[0].startswith(variable), found
    assert key not in found[0]


def test_a_random_key_passes():
    assert problems(litellm_env_master_key="sk-Zq8vW2nLk4Rt9YbX1cPm7DfH3sJe6GaU") == []


def _vault_values(path):
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-vault"), "view", "--vault-password-file", "/dev/stdin", str(path)],
                            input="example-vault-password\n", capture_output=True, text=True, check=True)
    return yaml.safe_load(result.stdout)


@pytest.mark.parametrize("vault", sorted(ROOT.glob("inventories/*/group_vars/*/vault.yml")), ids=lambda p: p.parts[-4])
def test_every_shipped_vault_is_refused(vault):
    """The example vaults' password is published: none of their keys may pass the preflight."""
    values = _vault_values(vault)
    found = problems(litellm_env_master_key=values["vault_litellm_master_key"])
    assert any("litellm_env_master_key is a placeholder" in message for message in found), found


@pytest.mark.parametrize("overrides,variable", [
    ({"litellm_env_master_key": "sk-Zq8vW2nLk4Rt9YbX1cPm7DfH3sJe6GaU\nEVIL=1"}, "litellm_env_master_key"),
    ({"litellm_env_salt_key": "Zq8vW2nLk4Rt9YbX1cPm7DfH\nEVIL=1"}, "litellm_env_salt_key"),
    ({"litellm_env_provider_keys": {"OPENAI_API_KEY": "sk-provider\\"}}, "litellm_env_provider_keys.OPENAI_API_KEY"),
    ({"litellm_env_provider_keys": {"OPENAI_API_KEY": "ab$HOME#x"}}, "litellm_env_provider_keys.OPENAI_API_KEY"),
    ({"litellm_env_provider_keys": {"OPENAI_API_KEY": "'quoted'"}}, "litellm_env_provider_keys.OPENAI_API_KEY"),
    ({"litellm_env_provider_keys": {"OPENAI_API_KEY": "value #comment"}}, "litellm_env_provider_keys.OPENAI_API_KEY"),
    ({"litellm_env_extra": {"X": " padded"}}, "litellm_env_extra.X"),
])
def test_env_values_that_differ_between_systemd_and_compose_are_refused(overrides, variable):
    found = problems(**overrides)
    assert len(found) == 1 and found[0].startswith(variable + " holds a character"), found
    assert "EVIL" not in found[0] and "HOME" not in found[0]


@pytest.mark.parametrize("overrides,path", [
    ({"litellm_config_general_settings": {"database_url": "postgresql://u:pw@h/db"}},
     "litellm_config_general_settings.database_url holds a URL with a password"),
    ({"litellm_config_router_settings": {"redis_password": "hunter2"}},
     "litellm_config_router_settings.redis_password holds a literal secret"),
    ({"litellm_config_litellm_settings": {"langfuse_secret": "sk-lf-1"}},
     "litellm_config_litellm_settings.langfuse_secret holds a literal secret"),
    ({"litellm_config_model_list": [{"model_name": "m", "litellm_params": {
        "model": "azure/x", "azure_ad_token": "tok", "api_key": "os.environ/OPENAI_API_KEY"}}]},
     "litellm_config_model_list[0].litellm_params.azure_ad_token holds a literal secret"),
    ({"litellm_config_model_list": [{"model_name": "m", "litellm_params": {
        "model": "openai/x", "api_base": "https://user:pw@api.example/v1", "api_key": "os.environ/OPENAI_API_KEY"}}]},
     "litellm_config_model_list[0].litellm_params.api_base holds a URL with a password"),
    ({"litellm_config_litellm_settings": {"callbacks_config": {"slack_webhook_url": "https://x:y@hooks/1"}}},
     "litellm_config_litellm_settings.callbacks_config.slack_webhook_url holds a URL with a password"),
])
def test_literal_secrets_anywhere_in_the_config_are_refused(overrides, path):
    found = problems(**overrides)
    assert len(found) == 1 and found[0].startswith(path), found
    for secret in ("pw", "hunter2", "sk-lf-1", "tok"):
        assert f"'{secret}'" not in found[0]


def test_environment_references_and_plain_settings_pass():
    assert problems(
        litellm_config_router_settings={"redis_password": "os.environ/REDIS_PASSWORD", "num_retries": 2},
        litellm_config_general_settings={"database_url": "os.environ/DATABASE_URL", "max_tokens": 5},
        litellm_config_litellm_settings={"success_callback": ["langfuse"], "cache_key": "x"},
    ) == []


@pytest.mark.parametrize("url", ["postgresql://u:s3cr%ZZet@h/db", "postgresql://u:pa ss@h/db"])
def test_database_urls_libpq_would_echo_are_refused(url):
    found = problems(litellm_database_mode="external", litellm_database_external_url=url)
    assert any(m.startswith("litellm_database_external_url has a space or an invalid percent-encoding")
               for m in found), found
    assert not any("s3cr" in m or "pa ss" in m for m in found)


def test_a_percent_encoded_database_url_passes():
    assert problems(litellm_database_mode="external",
                    litellm_database_external_url="postgresql://u:s3cr%25et@h:5432/db") == []


@pytest.mark.parametrize("overrides,variable", [
    ({"litellm_compose_image": "ghcr.io/berriai/litellm:v1\n    privileged: true"}, "litellm_compose_image"),
    ({"litellm_proxy_venv_dir": "/opt/x\nExecStartPre=+/bin/sh"}, "litellm_proxy_venv_dir"),
    ({"litellm_proxy_config_file": "/opt/$HOME/config.yaml"}, "litellm_proxy_config_file"),
    ({"litellm_ca_bundle": "/etc/ssl/%h.pem"}, "litellm_ca_bundle"),
    ({"litellm_compose_project_name": "Litellm x"}, "litellm_compose_project_name"),
    ({"litellm_service_extra_args": ["--x\nExecStartPre=+/bin/sh"]}, "litellm_service_extra_args"),
])
def test_values_that_would_inject_into_units_or_compose_are_refused(overrides, variable):
    found = problems(**overrides)
    assert len(found) == 1 and found[0].startswith(variable), found


def test_a_digest_is_required_when_asked():
    found = problems(litellm_compose_require_digest=True)
    assert len(found) == 1 and "litellm_compose_image has no @sha256 digest" in found[0]
    assert problems(litellm_compose_require_digest=True,
                    litellm_compose_image="ghcr.io/berriai/litellm:v1.108.7-stable@sha256:" + "a" * 64) == []


def test_public_listen_needs_tls_or_an_acknowledged_tls_proxy():
    public = {"litellm_listen_address": "0.0.0.0", "litellm_allow_public_listen": True,
              "litellm_env_extra": {"DISABLE_ADMIN_UI": "True"}}
    found = problems(**public)
    assert len(found) == 1 and "plain HTTP" in found[0] and "litellm_behind_tls_proxy" in found[0]
    assert problems(**public, litellm_behind_tls_proxy=True) == []
    assert problems(**public, litellm_tls_certfile="/etc/litellm/tls.crt", litellm_tls_keyfile="/etc/litellm/tls.key") == []
    assert problems(**public, litellm_tls_certfile="/etc/litellm/tls.crt") == [
        "litellm_tls_certfile and litellm_tls_keyfile go together: set both or neither"]
    assert problems(litellm_listen_address="127.0.0.1") == []


def test_the_compose_proxy_role_may_not_be_the_superuser():
    """F8: postgres is the compose cluster's superuser; the proxy's role must be another."""
    found = problems(litellm_database_mode="compose", litellm_database_user="postgres")
    assert len(found) == 1 and found[0].startswith("litellm_database_user may not be postgres"), found
    assert problems(litellm_database_mode="native", litellm_database_user="postgres") == []
    assert problems(litellm_database_mode="compose", litellm_database_user="litellm") == []


def test_a_database_password_env_files_would_change_is_refused():
    found = problems(litellm_database_mode="compose", litellm_database_password="pw$HOME-0123456789")
    assert len(found) == 1 and found[0].startswith("litellm_database_password"), found
    assert "pw$HOME" not in found[0]


@pytest.mark.parametrize("overrides,start", [
    ({"litellm_venv_wheelhouse_archive_checksum": "abc"}, "litellm_venv_wheelhouse_archive_checksum must be a sha256"),
    ({"litellm_prisma_engines_archive": "/srv/prisma.tar.gz"}, "litellm_prisma_engines_archive needs"),
    ({"litellm_compose_docker_install": "docker_repo",
      "litellm_compose_docker_repo_url": "http://download.docker.com/linux/debian"},
     "litellm_compose_docker_repo_url must be an https:// URL"),
    ({"litellm_compose_docker_install": "docker_repo", "litellm_compose_docker_repo_key_url": "http://mirror/gpg"},
     "litellm_compose_docker_repo_key_url must be an https:// URL"),
    ({"litellm_compose_docker_install": "docker_repo", "litellm_compose_docker_repo_key_fingerprint": "0EBFCD88"},
     "litellm_compose_docker_repo_key_fingerprint must be the 40 hex digits"),
])
def test_unverified_archives_keys_and_repositories_are_refused(overrides, start):
    """F26: every archive or key the host trusts is pinned, and fetched over HTTPS."""
    found = problems(**overrides)
    assert len(found) == 1 and found[0].startswith(start), found


def test_pinned_archives_and_the_default_docker_key_pass():
    assert problems(litellm_venv_wheelhouse_archive_checksum="A" * 64,
                    litellm_prisma_engines_archive="/srv/prisma.tar.gz",
                    litellm_prisma_engines_archive_checksum="b" * 64,
                    litellm_compose_docker_install="docker_repo") == []


def test_the_database_image_needs_a_digest_too_when_asked():
    """F10: litellm_compose_require_digest covers the compose database's image as well."""
    pinned = "ghcr.io/berriai/litellm:v1.108.7-stable@sha256:" + "a" * 64
    found = problems(litellm_compose_require_digest=True, litellm_compose_image=pinned,
                     litellm_database_mode="compose", litellm_database_image="postgres:16.10-bookworm")
    assert len(found) == 1 and found[0].startswith("litellm_database_image has no @sha256 digest"), found
    assert problems(litellm_compose_require_digest=True, litellm_compose_image=pinned, litellm_database_mode="compose",
                    litellm_database_image="postgres:16.10-bookworm@sha256:" + "b" * 64) == []
    # Without a compose database its image is not used.
    assert problems(litellm_compose_require_digest=True, litellm_compose_image=pinned) == []


@pytest.mark.parametrize("variable", ["litellm_compose_image_archive_sha256", "litellm_database_image_archive_sha256"])
def test_an_image_archive_checksum_must_be_a_sha256(variable):
    found = problems(**{variable: "not-a-sha256"})
    assert found == [f"{variable} must be a sha256 in hex (64 characters)"]
    assert problems(**{variable: "C" * 64}) == []


PUBLIC_TLS = {"litellm_listen_address": "0.0.0.0", "litellm_allow_public_listen": True,
              "litellm_behind_tls_proxy": True}


def test_public_listen_with_the_admin_ui_on_the_master_key_is_refused():
    """F25: on a public listen /ui must be off or have credentials other than admin / the master key."""
    found = problems(**PUBLIC_TLS)
    assert len(found) == 1 and "admin UI (/ui)" in found[0] and "DISABLE_ADMIN_UI" in found[0], found
    # Loopback: the UI is reachable from the host only.
    assert problems(litellm_behind_tls_proxy=True) == []


@pytest.mark.parametrize("overrides", [
    {"litellm_env_extra": {"DISABLE_ADMIN_UI": "True"}},
    {"litellm_env_provider_keys": {"OPENAI_API_KEY": "sk-provider-value", "UI_PASSWORD": "Zq8vW2nLk4Rt9YbX1cPm"}},
    {"litellm_config_general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY",
                                         "disable_env_credential_login": True}},
], ids=["disabled", "own-password", "no-env-login"])
def test_public_listen_with_the_admin_ui_off_or_its_own_password_passes(overrides):
    found = problems(**PUBLIC_TLS, **overrides)
    assert found == [], found


@pytest.mark.parametrize("key,start", [
    ("-----BEGIN PGP PRIVATE KEY BLOCK-----\nxyz\n-----END PGP PRIVATE KEY BLOCK-----",
     "litellm_database_backup_gpg_public_key holds a private key"),
    ("age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq",
     "litellm_database_backup_gpg_public_key must be an ASCII-armored OpenPGP public key"),
])
def test_the_backup_key_must_be_an_openpgp_public_key(key, start):
    """F20: only a public key reaches the gateway."""
    found = problems(litellm_database_mode="native", litellm_database_backup_gpg_public_key=key)
    assert len(found) == 1 and found[0].startswith(start), found
    assert "xyz" not in found[0]
    public = "-----BEGIN PGP PUBLIC KEY BLOCK-----\nabc\n-----END PGP PUBLIC KEY BLOCK-----"
    assert problems(litellm_database_mode="native", litellm_database_backup_gpg_public_key=public) == []


def test_the_loopback_guard_takes_ipv4_networks_only():
    found = problems(litellm_compose_loopback_guard=True, litellm_compose_loopback_guard_networks=["172.16.0.0/12", "x; rm"])
    assert found == ["litellm_compose_loopback_guard_networks: 'x; rm' is not an IPv4 network (e.g. 172.16.0.0/12)"]
    assert problems(litellm_compose_loopback_guard=True) == []
