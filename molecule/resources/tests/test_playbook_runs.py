"""Whole-playbook runs against the converged gateway: check mode, verbose
output, and bad input that must stop in preflight with nothing changed."""

import json

import pytest
from gateway_helpers import CONVERGE, PROJECT_DIR, assert_stopped_in_preflight, recap, run_playbook

STATE_CMD = (
    "find /etc/litellm /etc/default/litellm /opt/sacred-brain/ops /etc/systemd/system "
    "-maxdepth 3 -type f -name '*' 2>/dev/null | sort | xargs sha256sum; "
    "stat -c '%n %a %U %G' /etc/litellm /etc/litellm/* ; "
    "systemctl show -p ActiveEnterTimestamp litellm.service litellm-compose.service"
)


def _secrets(gateway):
    return [gateway["master_key"], gateway["salt_key"], *gateway["provider_keys"].values()]


# rollout.yml reads the host in a play of its own, before the other roles'
# defaults exist: its check run once reported the pip install as a change.
@pytest.mark.parametrize("playbook", [CONVERGE, PROJECT_DIR / "playbooks" / "rollout.yml"], ids=["site", "rollout"])
def test_check_diff_on_converged_host_changes_nothing(host, gateway, playbook):
    before = host.run(STATE_CMD).stdout
    result = run_playbook("--check", "--diff", "-v", playbook=playbook)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    counters = recap(output)
    assert counters["changed"] == 0 and counters["failed"] == 0, output[-4000:]
    for secret in _secrets(gateway):
        assert secret not in output
    assert host.run(STATE_CMD).stdout == before


# The smoke checks' own messages (the task names appear even when skipped).
SHORT_SMOKE = "(the only smoke check: the proxy was not restarted and litellm_smoke is on_change)"
FULL_SMOKE = ("GET /v1/models: ", "GET /health: ", "POST /v1/chat/completions (")


def _flat(output):
    """The output with every run of whitespace made one space (the callback wraps long messages)."""
    return " ".join(output.split())


def test_verbose_run_is_idempotent_and_prints_no_secret(host, gateway):
    result = run_playbook("-v")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert recap(output)["changed"] == 0, output[-4000:]
    # litellm_smoke: on_change (the default) and nothing changed: one request.
    assert "GET /v1/models: " in output and SHORT_SMOKE in _flat(output), output[-4000:]
    assert "POST /v1/chat/completions (" not in output and "GET /health: " not in output
    for secret in _secrets(gateway):
        assert secret not in output


def test_a_changed_host_is_restored_and_gets_every_smoke_check(host, gateway):
    """The single read of the host (litellm_host_state) sees drift in a file's
    content and a directory's mode; the run puts both back, restarts the proxy
    and then runs every smoke check."""
    config = "/opt/sacred-brain/ops/litellm/config.yaml"
    before = host.run(f"sha256sum {config}; stat -c '%a' /etc/litellm").stdout
    assert host.run(f"echo '# drift' >> {config} && chmod 0755 /etc/litellm").rc == 0
    result = run_playbook()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert recap(output)["changed"] >= 2, output[-4000:]
    assert host.run(f"sha256sum {config}; stat -c '%a' /etc/litellm").stdout == before
    for message in FULL_SMOKE:
        assert message in output, output[-4000:]
    assert SHORT_SMOKE not in _flat(output)


def test_smoke_always_runs_every_check_without_a_change(host, gateway):
    result = run_playbook("-e", "litellm_smoke=always")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert recap(output)["changed"] == 0, output[-4000:]
    for message in FULL_SMOKE:
        assert message in output, output[-4000:]


BAD_INPUTS = {
    "unknown deploy mode": ({"litellm_deploy_mode": "kubernetes"}, "litellm_deploy_mode"),
    "port not a number": ({"litellm_port": "four-thousand"}, "litellm_port"),
    "port out of range": ({"litellm_port": 70000}, "litellm_port must be between 1 and 65535"),
    "model without litellm_params.model": (
        {"litellm_config_model_list": [{"model_name": "broken", "litellm_params": {"api_base": "http://x"}}]},
        "litellm_config_model_list[0].litellm_params.model",
    ),
    "os.environ key without provider key": (
        {"litellm_config_model_list": [{"model_name": "claude", "litellm_params": {
            "model": "anthropic/claude-3-5-haiku", "api_key": "os.environ/ANTHROPIC_API_KEY"}}]},
        "litellm_env_provider_keys has no key ANTHROPIC_API_KEY",
    ),
    "weak master key": ({"litellm_env_master_key": "sk-1234"}, "litellm_env_master_key"),
    "short master key": ({"litellm_env_master_key": "sk-shortbutnot1234"}, "litellm_env_master_key is too short"),
    "literal api key in config": (
        {"litellm_config_model_list": [{"model_name": "leaky", "litellm_params": {
            "model": "openai/gpt-4o", "api_key": "sk-literal-secret-in-config-000000"}}]},
        "litellm_config_model_list[0].litellm_params.api_key holds a literal secret",
    ),
    "public listen address": ({"litellm_listen_address": "0.0.0.0"}, "litellm_listen_address"),
    "published example master key": ({"litellm_env_master_key": "sk-example-production-master-key-replace-me-0123456789"},
                                     "litellm_env_master_key is a placeholder or a published example value"),
    "public listen without TLS": ({"litellm_listen_address": "0.0.0.0", "litellm_allow_public_listen": True},
                                  "over plain HTTP"),
    "salt key change": ({"litellm_env_salt_key": "a-different-salt-key-0123456789"}, "litellm_env_salt_key differs"),
    "image archive with another sha256": ({"litellm_compose_image_archive_sha256": "0" * 64},
                                          "litellm_compose_image_archive_sha256: the image archive"),
    "docker before 28 not acknowledged": ({"litellm_compose_allow_docker_before_28": False},
                                          "forwards a port published on 127.0.0.1"),
}


# The preflight validates the same way in every deploy mode (each rule is
# unit-tested in tests/unit/filter): the venv scenario runs every case above on
# a real host, the compose scenario the ones that touch its mode or its host's
# state, each a whole ansible-playbook run.
COMPOSE_CASES = {"unknown deploy mode", "public listen address", "salt key change", "image archive with another sha256",
                 "docker before 28 not acknowledged"}
# Cases that only mean something in compose mode.
COMPOSE_ONLY = {"image archive with another sha256", "docker before 28 not acknowledged"}


@pytest.mark.parametrize("extra_vars,expected", list(BAD_INPUTS.values()), ids=list(BAD_INPUTS))
def test_bad_input_fails_before_any_change(host, gateway, extra_vars, expected):
    case = next(name for name, value in BAD_INPUTS.items() if value == (extra_vars, expected))
    if gateway["mode"] == "compose" and case not in COMPOSE_CASES:
        pytest.skip("run in the venv scenario; the preflight does not depend on the deploy mode")
    if gateway["mode"] != "compose" and case in COMPOSE_ONLY:
        pytest.skip("compose mode only")
    before = host.run(STATE_CMD).stdout
    result = run_playbook("-e", json.dumps(extra_vars))
    assert_stopped_in_preflight(result, expected,
                                _secrets(gateway) + ["sk-literal-secret-in-config-000000", "sk-shortbutnot1234",
                                                     "sk-example-production-master-key-replace-me-0123456789"])
    assert host.run(STATE_CMD).stdout == before
