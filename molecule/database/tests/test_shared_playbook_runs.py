"""The shared whole-playbook tests (resources/tests/test_playbook_runs.py) on this
scenario's hosts: check mode and a verbose re-run change nothing and print no
secret (with this conftest, no database password either). The shared bad-input
cases are left to the venv and compose scenarios; the database's own are in
test_database_runs.py."""

from test_playbook_runs import (  # noqa: F401
    test_check_diff_on_converged_host_changes_nothing,
    test_verbose_run_is_idempotent_and_prints_no_secret,
)


def test_the_shared_runs_are_limited_to_the_host_under_test():
    import database_helpers
    import test_playbook_runs

    assert test_playbook_runs.run_playbook is database_helpers.run_playbook
