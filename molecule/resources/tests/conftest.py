"""Fixtures of the gateway scenarios' testinfra tests."""

import re

import pytest


@pytest.fixture(scope="module")
def gateway(host):
    """What the tests need to know about the converged gateway."""
    variables = host.ansible.get_variables()
    mode = variables.get("litellm_deploy_mode", "compose")
    keys = dict(
        line.split("=", 1)
        for line in host.file("/etc/litellm/keys.env").content_string.splitlines()
        if re.match(r"^[A-Z_]+=", line)
    )
    return {
        "mode": mode,
        "unit": "litellm-compose.service" if mode == "compose" else "litellm.service",
        "env_file": "/etc/litellm/litellm.env" if mode == "compose" else "/etc/default/litellm",
        "master_key": keys["LITELLM_MASTER_KEY"],
        "salt_key": keys["LITELLM_SALT_KEY"],
        "provider_keys": variables["litellm_env_provider_keys"],
        "models": [m["model_name"] for m in variables["litellm_config_model_list"]],
        "name": variables["inventory_hostname"],
    }
