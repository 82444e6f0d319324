"""Whole-playbook runs for the database: the password kept across runs, and
bad database input that stops in preflight with nothing changed."""

import json

import pytest
from database_helpers import DATABASE_ENV, STATE_CMD, assert_stopped_in_preflight, psql, recap, run_playbook



def test_password_is_kept_across_runs(host, database):
    before = host.file(DATABASE_ENV).content_string
    result = run_playbook("--tags", "litellm_database")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert recap(output)["changed"] == 0, output[-4000:]
    assert host.file(DATABASE_ENV).content_string == before
    assert psql(host, database, "select current_user").stdout.strip() == "litellm"


BAD_INPUTS = {
    "unknown database mode": ({"litellm_database_mode": "mysql"}, "litellm_database_mode"),
    "external URL that is not PostgreSQL": (
        {"litellm_database_mode": "external", "litellm_database_external_url": "mysql://u:pw-in-url-0000@db.example/x"},
        "litellm_database_external_url must be a postgresql:// or postgres:// URL",
    ),
    "world-readable backup directory": (
        {"litellm_database_backup_dir_mode": "0755"}, "litellm_database_backup_dir_mode '0755' lets every user",
    ),
    "retention of zero": ({"litellm_database_backup_keep": 0}, "litellm_database_backup_keep must be at least 1"),
}


@pytest.mark.parametrize("extra_vars,expected", list(BAD_INPUTS.values()), ids=list(BAD_INPUTS))
def test_bad_database_input_fails_before_any_change(host, extra_vars, expected):
    before = host.run(STATE_CMD).stdout
    result = run_playbook("-e", json.dumps(extra_vars))
    assert_stopped_in_preflight(result, expected, ["pw-in-url-0000"])
    assert host.run(STATE_CMD).stdout == before
