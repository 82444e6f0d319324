# Copyright: Sacred Brain platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Security checks of the gateway roles' inputs (issue 14), run by the preflight
in their own block after litellm_preflight_problems."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from urllib.parse import urlsplit

DOCUMENTATION = r"""
name: litellm_security_problems
short_description: List the security problems of the gateway roles' inputs
version_added: 0.2.0
description:
  - Takes the provided role variables and the merged argument specs of the
    gateway roles, fills in the spec defaults, and returns one message per
    security problem found.
  - Covers published example keys, values that would inject lines or
    directives into env files, unit files and the compose file, literal
    secrets in config.yaml, database URLs that libpq would echo, and a
    public listen without TLS.
  - Messages name the variable and never contain a secret value.
options:
  _input:
    description: Provided variables, name to value.
    type: dict
    required: true
  options:
    description: Merged argument-spec options of the gateway roles.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Fail on insecure input
  ansible.builtin.assert:
    that: problems | length == 0
  vars:
    problems: "{{ provided | sacred_brain.llm_gateway.litellm_security_problems(options) }}"
"""

RETURN = r"""
_value:
  description: One message per problem; empty when the input is good.
  type: list
  elements: str
"""

# Words that mark a placeholder copied from an example (F1).
PLACEHOLDER = re.compile(r"(?i)(example|replace[-_ ]?me|change[-_ ]?me|placeholder|your[-_]?key)")
# sha256 of every key value published in this collection's example vaults
# (their password is in inventories/README.md), so a copied value is refused
# even if it does not look like a placeholder.
PUBLISHED_KEY_SHA256 = {
    "b524c0419fb79b9f7844791a40d10728498fa781e5649a00f81f4efc047bc7e4",  # production example vault
    "ca8609a6da8ce5780d260bea36fc213dc3510bf31c6ac000fde36b7fb16e5363",  # staging example vault
}

ENV_REF = re.compile(r"^os\.environ/(.+)$")
# Config keys whose literal value is a secret (F11).
SECRET_KEY = re.compile(r"(?i)(key|secret|token|password|passwd|credential|webhook|_url$|^dsn$)")
# Keys that match SECRET_KEY but hold no secret.
NOT_SECRET_KEYS = {
    "key_alias", "key_management_system", "key_generation_settings", "cache_key", "redis_url_scheme",
    "max_tokens", "token_counter", "api_key_header_name", "allowed_routes", "public_routes",
    "proxy_base_url", "custom_tokenizer", "use_client_credentials_pass_through_routes",
}
# Written into env files read by systemd (EnvironmentFile=) and Docker Compose
# (env_file:), which parse quotes, backslashes, `$` and ` #` differently (F14).
ENV_UNSAFE = re.compile(r"[\x00-\x1f\x7f\\\"'`$]|\s#")
# Values rendered into unit files and the compose file (F15).
UNIT_PATH_UNSAFE = re.compile(r"[\s$%\\\"';]")
IMAGE_REFERENCE = re.compile(
    r"^(?:[a-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$")
PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
UNIT_PATHS = ("litellm_proxy_config_file", "litellm_proxy_venv_dir", "litellm_proxy_compose_dir",
              "litellm_secrets_dir", "litellm_secrets_file_compose", "litellm_secrets_file_native",
              "litellm_ca_bundle", "litellm_prisma_cache_dir", "litellm_database_backup_dir",
              "litellm_tls_certfile", "litellm_tls_keyfile")
PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _sha256(value):
    return hashlib.sha256(value.encode()).hexdigest()


def _check_published_key(variable, value, problems):
    if not isinstance(value, str) or not value:
        return
    if PLACEHOLDER.search(value) or _sha256(value) in PUBLISHED_KEY_SHA256:
        problems.append(
            f"{variable} is a placeholder or a published example value (the example vaults' password is public): "
            "use a random key of your own, or leave it empty to have one generated on the host"
        )


def _check_env_value(variable, value, problems):
    text = "" if value is None else str(value)
    if ENV_UNSAFE.search(text) or text != text.strip():
        problems.append(
            f"{variable} holds a character that env files cannot carry unchanged (a line break, quote, backslash, "
            "'$', ' #' or leading/trailing space): systemd and Docker Compose would read different values"
        )


def _secret_literals(value, path, found):
    """(path, reason) for every literal secret-like value inside a config document."""
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}"
            if (isinstance(item, str) and item and SECRET_KEY.search(str(key)) and str(key) not in NOT_SECRET_KEYS
                    and not ENV_REF.match(item.strip())):
                if str(key).endswith("_url") or str(key) == "dsn":
                    if _url_has_password(item):
                        found.append((where, "a URL with a password"))
                else:
                    found.append((where, "a literal secret"))
            elif isinstance(item, str) and _url_has_password(item):
                found.append((where, "a URL with a password"))
            else:
                _secret_literals(item, where, found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str) and _url_has_password(item):
                found.append((f"{path}[{index}]", "a URL with a password"))
            else:
                _secret_literals(item, f"{path}[{index}]", found)
    return found


def _url_has_password(text):
    if "://" not in text or "@" not in text:
        return False
    try:
        return urlsplit(text.strip()).password not in (None, "")
    except ValueError:
        return True


def _check_database_url(values, problems):
    if values.get("litellm_database_mode") != "external":
        return
    url = values.get("litellm_database_external_url")
    if not isinstance(url, str) or not url:
        return
    userinfo = url.partition("://")[2].rpartition("@")[0] if "@" in url else ""
    if PERCENT.search(userinfo) or re.search(r"\s", url):
        # libpq echoes the part it cannot parse, password included (F12).
        problems.append(
            "litellm_database_external_url has a space or an invalid percent-encoding ('%' not followed by two hex "
            "digits) in it: libpq would print that part, password included; percent-encode the user and password"
        )
    _check_env_value("litellm_database_external_url", url, problems)


def _check_public_listen(values, problems):
    address = str(values.get("litellm_listen_address", "127.0.0.1"))
    try:
        loopback = ipaddress.ip_address(address).is_loopback
    except ValueError:
        loopback = address == "localhost"
    if loopback or not values.get("litellm_allow_public_listen"):
        return
    certfile, keyfile = values.get("litellm_tls_certfile") or "", values.get("litellm_tls_keyfile") or ""
    if bool(certfile) != bool(keyfile):
        problems.append("litellm_tls_certfile and litellm_tls_keyfile go together: set both or neither")
    elif not certfile and not values.get("litellm_behind_tls_proxy"):
        problems.append(
            f"litellm_listen_address '{address}' is public but the proxy would serve its admin API and the master key "
            "over plain HTTP: set litellm_tls_certfile and litellm_tls_keyfile, or litellm_behind_tls_proxy: true "
            "when a TLS proxy on this host terminates TLS"
        )
    _check_admin_ui(values, address, problems)


def _truthy(value):
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _check_admin_ui(values, address, problems):
    """A public listen serves LiteLLM's admin UI, whose login is admin / the master key unless UI_PASSWORD is
    set (F25): it must be switched off or given credentials of its own."""
    env = {}
    for variable in ("litellm_env_extra", "litellm_env_provider_keys"):
        if isinstance(values.get(variable), dict):
            env.update(values[variable])
    general = values.get("litellm_config_general_settings")
    general = general if isinstance(general, dict) else {}
    if (_truthy(env.get("DISABLE_ADMIN_UI", "")) or env.get("UI_PASSWORD")
            or _truthy(general.get("disable_env_credential_login", ""))):
        return
    problems.append(
        f"litellm_listen_address '{address}' is public and LiteLLM's admin UI (/ui) would accept the user admin with "
        "the master key as its password: set litellm_env_extra.DISABLE_ADMIN_UI: 'True', or give the UI its own "
        "password (litellm_env_provider_keys.UI_PASSWORD), or set "
        "litellm_config_general_settings.disable_env_credential_login: true"
    )


SHA256_HEX = re.compile(r"^[0-9A-Fa-f]{64}$")


def _check_integrity(values, deploy_mode, problems):
    """Archives, keys and repositories whose content is trusted on the host (F26)."""
    for variable in ("litellm_venv_wheelhouse_archive_checksum",):
        value = str(values.get(variable) or "")
        if value and not SHA256_HEX.match(value):
            problems.append(f"{variable} must be a sha256 in hex (64 characters)")
    if values.get("litellm_prisma_engines_archive") and not values.get("litellm_prisma_engines_archive_checksum"):
        problems.append(
            "litellm_prisma_engines_archive needs litellm_prisma_engines_archive_checksum (sha256sum of the "
            "archive): offline Prisma runs with PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING=1, so the archive's checksum "
            "is the only thing that vouches for the engines in it"
        )
    if deploy_mode == "compose" and values.get("litellm_compose_docker_install") == "docker_repo":
        for variable in ("litellm_compose_docker_repo_url", "litellm_compose_docker_repo_key_url"):
            url = str(values.get(variable) or "")
            if url and not url.startswith("https://"):
                problems.append(f"{variable} must be an https:// URL: apt would trust what it serves")
        fingerprint = re.sub(r"\s", "", str(values.get("litellm_compose_docker_repo_key_fingerprint") or ""))
        if not re.fullmatch(r"[0-9A-Fa-f]{40}", fingerprint):
            problems.append(
                "litellm_compose_docker_repo_key_fingerprint must be the 40 hex digits of Docker's signing key "
                "(gpg --show-keys KEYFILE); the repository is added only with the key that has it"
            )


def _check_backup_key(values, problems):
    """The dumps' encryption key must be a public key: the private one never belongs on the gateway (F20)."""
    key = values.get("litellm_database_backup_gpg_public_key") or ""
    if not isinstance(key, str) or not key:
        return
    if "PRIVATE KEY" in key:
        problems.append(
            "litellm_database_backup_gpg_public_key holds a private key: give the public key only "
            "(gpg --armor --export KEYID) and keep the private key off the gateway"
        )
    elif "-----BEGIN PGP PUBLIC KEY BLOCK-----" not in key:
        problems.append(
            "litellm_database_backup_gpg_public_key must be an ASCII-armored OpenPGP public key "
            "(gpg --armor --export KEYID)"
        )


def litellm_security_problems(provided, options):
    """Return a list of security problems with the gateway roles' inputs."""
    values = {name: spec["default"] for name, spec in options.items() if isinstance(spec, dict) and "default" in spec}
    values.update(provided or {})
    problems = []

    for variable in ("litellm_env_master_key", "litellm_env_salt_key"):
        _check_published_key(variable, values.get(variable), problems)
        if values.get(variable):
            _check_env_value(variable, values.get(variable), problems)

    for variable in ("litellm_env_provider_keys", "litellm_env_extra"):
        mapping = values.get(variable)
        if isinstance(mapping, dict):
            for name, value in mapping.items():
                if value is not None:
                    _check_env_value(f"{variable}.{name}", value, problems)

    for variable in ("litellm_config_model_list", "litellm_config_router_settings",
                     "litellm_config_litellm_settings", "litellm_config_general_settings"):
        if variable in values:
            for path, reason in _secret_literals(values[variable], variable, []):
                problems.append(
                    f"{path} holds {reason}: config.yaml is not a secret file; use 'os.environ/NAME' and put the "
                    "value in litellm_env_provider_keys.NAME"
                )

    _check_database_url(values, problems)
    if values.get("litellm_database_mode") in ("native", "compose") and values.get("litellm_database_password"):
        # database.env is the compose db service's env file too.
        _check_env_value("litellm_database_password", values.get("litellm_database_password"), problems)
    if values.get("litellm_database_mode") == "compose" and values.get("litellm_database_user") == "postgres":
        problems.append(
            "litellm_database_user may not be postgres in compose mode: postgres is the database cluster's "
            "superuser, and the proxy's role must not be (F8); use a role of its own such as litellm"
        )

    for variable in UNIT_PATHS:
        value = values.get(variable)
        if isinstance(value, str) and UNIT_PATH_UNSAFE.search(value):
            problems.append(
                f"{variable} may not hold spaces, line breaks, quotes or the characters $ % \\ ; "
                "(it is written into systemd units and the compose file)"
            )
    args = values.get("litellm_service_extra_args")
    if isinstance(args, list) and any(re.search(r"[\x00-\x1f]", str(arg)) for arg in args):
        problems.append("litellm_service_extra_args: an argument holds a line break or control character")

    deploy_mode = values.get("litellm_deploy_mode", "compose")
    for variable in ("litellm_compose_image", "litellm_database_image"):
        image = values.get(variable)
        if deploy_mode == "compose" and isinstance(image, str) and image and not IMAGE_REFERENCE.match(image):
            problems.append(f"{variable} is not a plain image reference (registry/name:tag[@sha256:digest])")
    digest_images = ["litellm_compose_image"] + (
        ["litellm_database_image"] if values.get("litellm_database_mode") == "compose" else [])
    for variable in digest_images:
        image = values.get(variable)
        if (deploy_mode == "compose" and values.get("litellm_compose_require_digest") and isinstance(image, str)
                and "@sha256:" not in image):
            problems.append(
                f"{variable} has no @sha256 digest while litellm_compose_require_digest is true: "
                "a tag can be re-pushed; pin the digest you reviewed"
            )
    for variable in ("litellm_compose_image_archive_sha256", "litellm_database_image_archive_sha256"):
        value = str(values.get(variable) or "")
        if value and not SHA256_HEX.match(value):
            problems.append(f"{variable} must be a sha256 in hex (64 characters)")
    _check_integrity(values, deploy_mode, problems)
    _check_backup_key(values, problems)
    networks = values.get("litellm_compose_loopback_guard_networks")
    if values.get("litellm_compose_loopback_guard") and isinstance(networks, list):
        for network in networks:
            try:
                ipaddress.IPv4Network(str(network))
            except ValueError:
                problems.append(
                    f"litellm_compose_loopback_guard_networks: '{network}' is not an IPv4 network (e.g. 172.16.0.0/12)")
    project = values.get("litellm_compose_project_name")
    if isinstance(project, str) and not PROJECT_NAME.match(project):
        problems.append("litellm_compose_project_name may hold only lower-case letters, digits, _ and -")

    _check_public_listen(values, problems)
    return problems


class FilterModule:
    """Security filters of the gateway roles."""

    def filters(self):
        return {"litellm_security_problems": litellm_security_problems}
