# Copyright: Sacred Brain platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cross-field checks of the gateway roles' inputs, run by the preflight."""

from __future__ import annotations

import ipaddress
import os
import re
from urllib.parse import urlsplit

DOCUMENTATION = r"""
name: litellm_preflight_problems
short_description: List what is wrong with the gateway roles' inputs
version_added: 0.1.0
description:
  - Takes the provided role variables and the merged argument specs of the
    gateway roles, fills in the spec defaults, and returns one message per
    problem found by the rules that span several variables.
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
- name: Fail on bad input
  ansible.builtin.assert:
    that: problems | length == 0
  vars:
    problems: "{{ provided | sacred_brain.llm_gateway.litellm_preflight_problems(options) }}"
"""

RETURN = r"""
_value:
  description: One message per problem; empty when the input is good.
  type: list
  elements: str
"""

ENV_REF = re.compile(r"^os\.environ/(.+)$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Keys LiteLLM itself refuses or that are published in its docs.
KNOWN_WEAK_MASTER_KEYS = {"sk-1234", "sk-12345", "sk-123456", "sk-test", "sk-master", "sk-admin", "sk-password"}
# Variables that hold the proxy's own keys; always present in the env files.
BUILTIN_ENV = {"LITELLM_MASTER_KEY", "LITELLM_SALT_KEY"}
SECRET_PARAMS = {"api_key", "aws_secret_access_key", "aws_access_key_id", "vertex_credentials", "api_token"}


def _env_refs(value, path, found):
    """Collect (path, NAME) for every `os.environ/NAME` string inside value."""
    if isinstance(value, dict):
        for key, item in value.items():
            _env_refs(item, f"{path}.{key}", found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _env_refs(item, f"{path}[{index}]", found)
    elif isinstance(value, str):
        match = ENV_REF.match(value.strip())
        if match:
            found.append((path, match.group(1)))
    return found


def _check_models(models, problems):
    if not isinstance(models, list):
        problems.append("litellm_config_model_list must be a list of model entries")
        return
    names = set()
    for index, entry in enumerate(models):
        where = f"litellm_config_model_list[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{where} must be a mapping with model_name and litellm_params")
            continue
        name = entry.get("model_name")
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{where}.model_name must be a non-empty string")
        else:
            names.add(name)
        params = entry.get("litellm_params")
        if not isinstance(params, dict):
            problems.append(f"{where}.litellm_params must be a mapping")
            continue
        if not isinstance(params.get("model"), str) or not params.get("model", "").strip():
            problems.append(f"{where}.litellm_params.model must be a non-empty string (e.g. openai/gpt-4o-mini)")
        for secret in SECRET_PARAMS & set(params):
            value = params[secret]
            if isinstance(value, str) and value and not ENV_REF.match(value):
                problems.append(
                    f"{where}.litellm_params.{secret} holds a literal secret: config.yaml is not a secret file; "
                    f"use 'os.environ/NAME' and put the value in litellm_env_provider_keys.NAME"
                )
    return names


def _check_master_key(key, min_length, problems, variable="litellm_env_master_key"):
    if key in (None, ""):
        return  # generated on the host
    if not isinstance(key, str):
        problems.append(f"{variable} must be a string")
    elif key in KNOWN_WEAK_MASTER_KEYS:
        problems.append(f"{variable} is a publicly known weak key; use a random one or leave it empty to generate one")
    elif not key.startswith("sk-"):
        problems.append(f"{variable} must start with 'sk-' (LiteLLM's key format)")
    elif len(key) < min_length:
        problems.append(f"{variable} is too short: at least {min_length} characters (litellm_env_master_key_min_length)")
    elif len(set(key[3:])) < 8:
        problems.append(f"{variable} is weak: too few distinct characters")


def _image_tag(image):
    """The tag and digest of an image reference ('' where absent)."""
    name, _unused, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    return (last.partition(":")[2] if ":" in last else ""), digest


def _check_image(image, problems):
    if not isinstance(image, str) or not image:
        problems.append("litellm_compose_image must be an image reference with a pinned tag")
        return
    tag, digest = _image_tag(image)
    if not tag and not digest:
        problems.append(f"litellm_compose_image '{image}' has no tag: pin a reviewed version tag")
    elif tag in ("latest", "main-latest", "main-stable") and not digest:
        problems.append(f"litellm_compose_image '{image}' uses a moving tag '{tag}': pin a reviewed version tag")


DATABASE_MODES = ("compose", "native", "external", "none")
DATABASE_URL_SCHEMES = ("postgresql", "postgres")
PRISMA_REQUIREMENT = re.compile(r"^prisma==[0-9][0-9A-Za-z.+-]*$")
PG_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Written to env files and into a URL unquoted: unreserved URL characters only.
DATABASE_PASSWORD = re.compile(r"^[A-Za-z0-9._~-]+$")
FILE_MODE = re.compile(r"^0?[0-7]{3}$")


def _check_database_image(image, problems):
    if not isinstance(image, str) or not image:
        problems.append("litellm_database_image must be an image reference with a pinned tag")
        return
    tag, digest = _image_tag(image)
    if not digest and tag in ("", "latest"):
        problems.append(f"litellm_database_image '{image}' has no pinned tag: pin a reviewed version tag")


def _check_database(values, problems):
    """Rules of the litellm_database role; messages never contain the password or the URL."""
    if "litellm_database_mode" not in values:
        return
    mode = values.get("litellm_database_mode")
    if mode not in DATABASE_MODES:
        problems.append(f"litellm_database_mode must be one of {', '.join(DATABASE_MODES)}, got '{mode}'")
        return
    deploy_mode = values.get("litellm_deploy_mode", "compose")
    connect = bool(values.get("litellm_database_connect_proxy"))
    if mode == "compose" and deploy_mode != "compose":
        problems.append(
            "litellm_database_mode 'compose' runs PostgreSQL in the proxy's compose project, which needs "
            f"litellm_deploy_mode: compose (got '{deploy_mode}'); use litellm_database_mode: native for venv"
        )
    if mode == "native" and deploy_mode == "compose" and connect:
        problems.append(
            "litellm_database_mode 'native' listens on the host's 127.0.0.1 only, which the proxy container "
            "cannot reach: use litellm_database_mode: compose with litellm_deploy_mode: compose "
            "(or litellm_database_connect_proxy: false)"
        )
    if mode == "external":
        url = values.get("litellm_database_external_url") or ""
        if not isinstance(url, str) or not url:
            problems.append("litellm_database_external_url is required with litellm_database_mode: external")
        else:
            try:
                parts = urlsplit(url.strip())
                host = parts.hostname
            except ValueError:
                parts, host = None, None
            if parts is None or parts.scheme not in DATABASE_URL_SCHEMES:
                scheme = parts.scheme if parts is not None and parts.scheme else "none"
                problems.append(
                    "litellm_database_external_url must be a postgresql:// or postgres:// URL "
                    f"(scheme found: '{scheme}')"
                )
            elif not host:
                problems.append("litellm_database_external_url has no host (postgresql://USER:PASSWORD@HOST:PORT/DB)")
            elif any(c in url for c in "\r\n"):
                problems.append("litellm_database_external_url contains a line break, which env files cannot hold")
    if mode == "none":
        return
    if mode in ("native", "compose"):
        for name in ("litellm_database_name", "litellm_database_user"):
            value = values.get(name)
            if not isinstance(value, str) or not PG_IDENTIFIER.match(value):
                problems.append(f"{name} must be a plain PostgreSQL name (lower-case letters, digits, _), got '{value}'")
        password = values.get("litellm_database_password")
        if password:
            if not isinstance(password, str) or not DATABASE_PASSWORD.match(password):
                problems.append(
                    "litellm_database_password may hold only letters, digits and . _ ~ - "
                    "(it is written to env files and into DATABASE_URL)"
                )
            elif len(password) < 16:
                problems.append("litellm_database_password is too short: at least 16 characters")
    if mode == "compose":
        _check_database_image(values.get("litellm_database_image"), problems)
    if connect and isinstance(values.get("litellm_env_extra"), dict) and "DATABASE_URL" in values["litellm_env_extra"]:
        problems.append("litellm_env_extra.DATABASE_URL is managed by litellm_database_* (set litellm_database_mode)")
    backup_dir = values.get("litellm_database_backup_dir")
    if isinstance(backup_dir, str) and backup_dir and not backup_dir.startswith("/"):
        problems.append(f"litellm_database_backup_dir must be an absolute path, got '{backup_dir}'")
    dir_mode = values.get("litellm_database_backup_dir_mode")
    if not isinstance(dir_mode, str) or not FILE_MODE.match(dir_mode):
        problems.append(f"litellm_database_backup_dir_mode must be an octal mode such as '0700', got '{dir_mode}'")
    elif int(dir_mode, 8) & 0o007:
        problems.append(
            f"litellm_database_backup_dir_mode '{dir_mode}' lets every user on the host into the backup directory "
            "(world-readable dumps of the keys database); use '0700' or '0750'"
        )
    keep = values.get("litellm_database_backup_keep")
    if not isinstance(keep, int) or isinstance(keep, bool) or keep < 1:
        problems.append(f"litellm_database_backup_keep must be at least 1 (the number of dumps kept), got {keep}")


def _check_prisma(values, problems):
    """Rules of the Prisma settings, which matter for a proxy pointed at its database: a native one, or a
    compose one given the offline archive (bind-mounted into its container)."""
    cache_dir = values.get("litellm_prisma_cache_dir")
    if isinstance(cache_dir, str) and not cache_dir.startswith("/"):
        problems.append(f"litellm_prisma_cache_dir must be an absolute path, got '{cache_dir}'")
    deploy_mode = values.get("litellm_deploy_mode", "compose")
    database_mode = values.get("litellm_database_mode")
    if database_mode in (None, "none") or not values.get("litellm_database_connect_proxy"):
        return
    if (deploy_mode == "compose" and values.get("litellm_database_migrate_method") == "sql"
            and database_mode != "compose"):
        problems.append(
            "litellm_database_migrate_method 'sql' on a compose gateway runs the migrations with the psql of the "
            f"compose project's `db` service, which needs litellm_database_mode: compose (got '{database_mode}')"
        )
    archive = values.get("litellm_prisma_engines_archive") or ""
    if deploy_mode == "venv":
        requirement = values.get("litellm_venv_prisma_requirement")
        if requirement is not None and not PRISMA_REQUIREMENT.match(str(requirement)):
            problems.append(
                f"litellm_venv_prisma_requirement must pin the prisma package (e.g. prisma==0.15.0), got '{requirement}'"
            )
    elif not archive:
        return  # compose without the archive: the image's own Prisma setup
    if (archive and not values.get("litellm_prisma_engines_archive_remote_src") and os.path.isabs(archive)
            and not os.path.isfile(archive)):
        problems.append(f"litellm_prisma_engines_archive: no file {archive} on the controller")
    checksum = str(values.get("litellm_prisma_engines_archive_checksum") or "")
    if checksum and not re.fullmatch(r"[0-9a-fA-F]{64}", checksum):
        problems.append("litellm_prisma_engines_archive_checksum must be a sha256 in hex (64 characters)")
    for name in ("litellm_prisma_query_engine_binary", "litellm_prisma_schema_engine_binary"):
        path = str(values.get(name) or "")
        if path and not path.startswith("/"):
            problems.append(f"{name} must be an absolute path on the host, got '{path}'")
        elif (path and deploy_mode == "compose" and isinstance(cache_dir, str)
              and not path.startswith(cache_dir.rstrip("/") + "/")):
            problems.append(
                f"{name} must be under litellm_prisma_cache_dir ({cache_dir}) on a compose gateway: only that "
                f"directory is mounted into the proxy container, got '{path}'"
            )


def litellm_preflight_problems(provided, options):
    """Return a list of problems with the gateway roles' inputs."""
    values = {name: spec["default"] for name, spec in options.items() if isinstance(spec, dict) and "default" in spec}
    values.update(provided or {})
    problems = []

    port = values.get("litellm_port")
    if isinstance(port, int) and not 1 <= port <= 65535:
        problems.append(f"litellm_port must be between 1 and 65535, got {port}")

    address = values.get("litellm_listen_address", "127.0.0.1")
    try:
        loopback = ipaddress.ip_address(str(address)).is_loopback
    except ValueError:
        loopback = str(address) == "localhost"
        if not loopback:
            problems.append(f"litellm_listen_address '{address}' is not an IP address")
    if not loopback and not values.get("litellm_allow_public_listen"):
        problems.append(
            f"litellm_listen_address '{address}' is not a loopback address; "
            "set litellm_allow_public_listen: true if the gateway must be reachable from other hosts"
        )

    for name in ("litellm_proxy_config_file", "litellm_proxy_venv_dir", "litellm_proxy_compose_dir",
                 "litellm_secrets_dir", "litellm_secrets_file_compose", "litellm_secrets_file_native"):
        value = values.get(name)
        if isinstance(value, str) and value and not value.startswith("/"):
            problems.append(f"{name} must be an absolute path, got '{value}'")
    ca_bundle = values.get("litellm_ca_bundle")
    if ca_bundle and not str(ca_bundle).startswith("/"):
        problems.append("litellm_ca_bundle must be an absolute path on the host")

    provider_keys = values.get("litellm_env_provider_keys") or {}
    extra_env = values.get("litellm_env_extra") or {}
    for variable, mapping in (("litellm_env_provider_keys", provider_keys), ("litellm_env_extra", extra_env)):
        if not isinstance(mapping, dict):
            problems.append(f"{variable} must be a mapping of NAME: value")
            continue
        for key, value in mapping.items():
            if not ENV_NAME.match(str(key)):
                problems.append(f"{variable} has an invalid variable name '{key}'")
            elif key in BUILTIN_ENV:
                problems.append(f"{variable}.{key} is managed by litellm_env_master_key/litellm_env_salt_key")
            if value is None or (variable == "litellm_env_provider_keys" and str(value) == ""):
                problems.append(f"{variable}.{key} is empty")
            elif "\n" in str(value) or "\r" in str(value):
                problems.append(f"{variable}.{key} contains a line break, which env files cannot hold")

    _check_master_key(values.get("litellm_env_master_key"), int(values.get("litellm_env_master_key_min_length") or 32),
                      problems)
    salt = values.get("litellm_env_salt_key")
    if salt and len(str(salt)) < 16:
        problems.append("litellm_env_salt_key is too short: at least 16 characters")

    models = values.get("litellm_config_model_list")
    model_names = set()
    if "litellm_config_model_list" in values:
        model_names = _check_models(models, problems) or set()
        if isinstance(models, list) and not models:
            problems.append("litellm_config_model_list is empty: the gateway would serve no model")

    available_env = set(provider_keys) | set(extra_env) | BUILTIN_ENV if isinstance(provider_keys, dict) and isinstance(extra_env, dict) else BUILTIN_ENV
    for variable in ("litellm_config_model_list", "litellm_config_router_settings",
                     "litellm_config_litellm_settings", "litellm_config_general_settings"):
        if variable not in values:
            continue
        for path, name in _env_refs(values[variable], variable, []):
            if name not in available_env:
                problems.append(
                    f"{path} reads os.environ/{name}, but litellm_env_provider_keys has no key {name}"
                )

    if values.get("litellm_deploy_mode", "compose") == "compose" and "litellm_compose_image" in values:
        _check_image(values.get("litellm_compose_image"), problems)

    for name in ("litellm_venv_keep_versions", "litellm_compose_keep_images"):
        keep = values.get(name)
        if isinstance(keep, int) and keep < 1:
            problems.append(f"{name} must be at least 1 (2 keeps a rollback possible), got {keep}")

    _check_database(values, problems)
    _check_prisma(values, problems)

    smoke_model = values.get("litellm_smoke_model")
    if smoke_model and model_names and smoke_model not in model_names:
        problems.append(f"litellm_smoke_model '{smoke_model}' is not a model_name in litellm_config_model_list")

    return problems


class FilterModule:
    """Preflight filters of the gateway roles."""

    def filters(self):
        return {"litellm_preflight_problems": litellm_preflight_problems}
