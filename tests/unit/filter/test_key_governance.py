"""The preflight's budget, upper-bound and alerting rules (plugins/filter/litellm_key_governance.py), fast."""

import importlib.util

from preflight_loader import ROOT

_spec = importlib.util.spec_from_file_location("litellm_key_governance", ROOT / "plugins" / "filter" / "litellm_key_governance.py")
governance = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(governance)

UPPER = {"upperbound_key_generate_params": {"tpm_limit": 100000, "max_budget": 50, "duration": "180d"}}


def check(**data):
    return governance.FilterModule().filters()["litellm_key_governance"](data)


def test_role_defaults_pass():
    import yaml

    defaults = yaml.safe_load((ROOT / "roles" / "litellm_config" / "defaults" / "main.yml").read_text())
    settings = defaults["litellm_config_litellm_settings"]
    assert "max_budget" not in settings and "default_key_generate_params" not in settings
    assert "upperbound_key_generate_params" not in settings
    assert check(database_mode="none", litellm_settings=settings, keys=[{"key_alias": "a"}]) == {"problems": [], "notes": []}


def test_global_budget_without_database_is_refused_naming_the_variable_and_the_modes():
    [problem] = check(database_mode="none", litellm_settings={"max_budget": 50})["problems"]
    assert "litellm_config_litellm_settings.max_budget" in problem and "litellm_database_mode" in problem
    assert "compose, native or external" in problem
    assert check(database_mode="compose", litellm_settings={"max_budget": 50})["problems"] == []
    assert check(database_mode="none", litellm_settings={"max_budget": 50},
                 general_settings={"database_url": "os.environ/DATABASE_URL"})["problems"] == []


def test_key_team_user_budgets_without_database_are_refused():
    problems = check(database_mode="none", keys=[{"key_alias": "k", "max_budget": 5, "budget_duration": "30d"},
                                                 {"key_alias": "gone", "max_budget": 5, "state": "absent"}],
                     teams=[{"team_alias": "t", "soft_budget": 1}], users=[{"user_id": "u"}])["problems"]
    assert len(problems) == 2
    assert "litellm_keys_virtual_keys entry 'k' sets max_budget, budget_duration" in problems[0]
    assert "litellm_keys_teams entry 't' sets soft_budget" in problems[1]


def test_key_over_an_upper_bound_is_refused_naming_key_and_limit():
    problems = check(database_mode="compose", litellm_settings=UPPER,
                     keys=[{"key_alias": "batch", "tpm_limit": 200000, "max_budget": 10, "duration": "30d"}])["problems"]
    assert problems == ["litellm_keys_virtual_keys entry 'batch': tpm_limit 200000 is over "
                        "litellm_config_litellm_settings.upperbound_key_generate_params.tpm_limit 100000, "
                        "LiteLLM would refuse the key"]
    [problem] = check(database_mode="compose", litellm_settings=UPPER,
                      keys=[{"key_alias": "long", "tpm_limit": 1, "max_budget": 1, "duration": "1y"}])["problems"]
    assert "'long': duration 1y is over" in problem


def test_key_leaving_a_capped_limit_unset_is_refused():
    problems = check(database_mode="compose", litellm_settings=UPPER, keys=[{"key_alias": "open"}])["problems"]
    assert len(problems) == 3
    assert any("declares no duration (never expires)" in p and "caps it at 180d" in p for p in problems)
    assert any("declares no tpm_limit (unlimited)" in p for p in problems)


def test_webhook_alerting_needs_its_url_in_the_env_file():
    [problem] = check(alerting=["webhook"], env_names=[])["problems"]
    assert "litellm_env_extra has no WEBHOOK_URL" in problem
    assert check(alerting=["webhook"], env_names=["WEBHOOK_URL"])["problems"] == []


def test_default_key_params_name_the_declared_keys_they_concern():
    result = check(database_mode="compose",
                   litellm_settings={"default_key_generate_params": {"duration": "90d", "max_budget": 5}},
                   keys=[{"key_alias": "a"}, {"key_alias": "b", "duration": "30d", "max_budget": 1}])
    assert result["problems"] == []
    assert len(result["notes"]) == 2
    assert "default_key_generate_params.duration (90d)" in result["notes"][0] and "keys without duration: a." in result["notes"][0]


def test_durations_read_like_litellm():
    assert governance.duration_seconds("30d") == 30 * 86400
    assert governance.duration_seconds("1mo") == 30 * 86400
    assert governance.duration_seconds("90") == 90
    assert governance.duration_seconds("soon") is None
