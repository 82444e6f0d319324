"""The preflight's cross-field rules, fast, without a host."""

import pytest
import yaml

from preflight_loader import ROOT, merged_options, preflight

OPTIONS = merged_options("litellm", "litellm_env", "litellm_config", "litellm_compose", "litellm_venv", "litellm_smoke")
GOOD = {
    "litellm_env_provider_keys": {"OPENAI_API_KEY": "sk-provider-value"},
    "litellm_compose_image": "ghcr.io/berriai/litellm:v1.108.7-stable",
}


def problems(**overrides):
    return preflight.litellm_preflight_problems({**GOOD, **overrides}, OPTIONS)


def test_defaults_with_the_provider_key_pass():
    assert problems() == []


def test_defaults_without_the_provider_key_fail_naming_it():
    found = preflight.litellm_preflight_problems({}, OPTIONS)
    assert found == ["litellm_config_model_list[0].litellm_params.api_key reads os.environ/OPENAI_API_KEY, "
                     "but litellm_env_provider_keys has no key OPENAI_API_KEY"]


def test_spec_defaults_mirror_role_defaults():
    for role in ROOT.joinpath("roles").iterdir():
        defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}
        options = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
        assert set(defaults) == set(options), role.name
        for name, value in defaults.items():
            assert options[name].get("default") == value, f"{role.name}: {name}"


@pytest.mark.parametrize("overrides,expected", [
    ({"litellm_port": 0}, "litellm_port must be between 1 and 65535"),
    ({"litellm_listen_address": "0.0.0.0"}, "litellm_listen_address '0.0.0.0' is not a loopback address"),
    ({"litellm_listen_address": "gateway.example"}, "litellm_listen_address 'gateway.example' is not an IP address"),
    ({"litellm_proxy_config_file": "config.yaml"}, "litellm_proxy_config_file must be an absolute path"),
    ({"litellm_env_master_key": "sk-1234"}, "litellm_env_master_key is a publicly known weak key"),
    ({"litellm_env_master_key": "0123456789abcdef0123456789abcdef0123"}, "litellm_env_master_key must start with 'sk-'"),
    ({"litellm_env_master_key": "sk-short"}, "litellm_env_master_key is too short"),
    ({"litellm_env_master_key": "sk-" + "ab" * 20}, "litellm_env_master_key is weak"),
    ({"litellm_env_salt_key": "short"}, "litellm_env_salt_key is too short"),
    ({"litellm_env_provider_keys": {"OPENAI_API_KEY": "x", "bad-name": "y"}}, "invalid variable name 'bad-name'"),
    ({"litellm_env_provider_keys": {"OPENAI_API_KEY": ""}}, "litellm_env_provider_keys.OPENAI_API_KEY is empty"),
    ({"litellm_env_provider_keys": {"OPENAI_API_KEY": "a\nb"}}, "contains a line break"),
    ({"litellm_env_extra": {"LITELLM_MASTER_KEY": "sk-x"}}, "litellm_env_extra.LITELLM_MASTER_KEY is managed"),
    ({"litellm_config_model_list": []}, "litellm_config_model_list is empty"),
    ({"litellm_config_model_list": [{"model_name": "m"}]}, "litellm_config_model_list[0].litellm_params must be a mapping"),
    ({"litellm_config_model_list": [{"litellm_params": {"model": "openai/x"}}]},
     "litellm_config_model_list[0].model_name must be a non-empty string"),
    ({"litellm_config_model_list": [{"model_name": "m", "litellm_params": {"api_base": "http://x"}}]},
     "litellm_config_model_list[0].litellm_params.model must be a non-empty string"),
    ({"litellm_config_model_list": [{"model_name": "m", "litellm_params": {"model": "openai/x", "api_key": "sk-literal"}}]},
     "litellm_config_model_list[0].litellm_params.api_key holds a literal secret"),
    ({"litellm_config_router_settings": {"redis_password": "os.environ/REDIS_PASSWORD"}},
     "litellm_config_router_settings.redis_password reads os.environ/REDIS_PASSWORD"),
    ({"litellm_compose_image": "ghcr.io/berriai/litellm"}, "has no tag"),
    ({"litellm_compose_image": "ghcr.io/berriai/litellm:latest"}, "uses a moving tag 'latest'"),
    ({"litellm_compose_image": "ghcr.io/berriai/litellm:main-latest"}, "uses a moving tag 'main-latest'"),
    ({"litellm_compose_keep_images": 0}, "litellm_compose_keep_images must be at least 1"),
    ({"litellm_venv_keep_versions": 0}, "litellm_venv_keep_versions must be at least 1"),
    ({"litellm_smoke_model": "not-configured"}, "litellm_smoke_model 'not-configured' is not a model_name"),
])
def test_bad_input_is_named(overrides, expected):
    found = problems(**overrides)
    assert any(expected in message for message in found), found


def test_secret_values_never_appear_in_messages():
    secret = "sk-literal-provider-secret-value"
    found = problems(
        litellm_env_master_key="sk-short-secret",
        litellm_config_model_list=[{"model_name": "m", "litellm_params": {"model": "openai/x", "api_key": secret}}],
        litellm_env_provider_keys={"OPENAI_API_KEY": "multi\nline-secret"},
    )
    assert len(found) >= 3
    for message in found:
        assert secret not in message and "sk-short-secret" not in message and "line-secret" not in message


def test_public_listen_allowed_explicitly():
    assert problems(litellm_listen_address="0.0.0.0", litellm_allow_public_listen=True) == []


def test_image_pinned_by_digest_is_accepted():
    assert problems(litellm_compose_image="ghcr.io/berriai/litellm@sha256:" + "a" * 64) == []


def test_image_rules_apply_only_in_compose_mode():
    assert problems(litellm_deploy_mode="venv", litellm_compose_image="ghcr.io/berriai/litellm:latest") == []


def test_env_refs_satisfied_by_extra_env():
    models = [{"model_name": "m", "litellm_params": {"model": "openai/x", "api_base": "os.environ/MY_BASE"}}]
    assert problems(litellm_config_model_list=models, litellm_env_extra={"MY_BASE": "http://x"}) == []


def test_every_role_readme_documents_every_variable():
    for role in ROOT.joinpath("roles").iterdir():
        readme = (role / "README.md").read_text()
        options = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
        missing = [name for name in options if name not in readme]
        assert not missing, f"{role.name}/README.md does not document {missing}"
