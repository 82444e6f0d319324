"""The restore drill: rows written, a dump taken by the backup unit, the data
wiped, playbooks/restore.yml run from the controller, the rows back. On both
hosts, whose proxies use their database, a key generated through LiteLLM's
admin API before the dump (stored in the database, authenticating a chat
completion) and deleted after it works again after the restore, which stops
and starts the proxy: the key lives in the database, not in the proxy's memory
(one proxy start proves both; a DB-backed start is the costliest step here)."""

import hashlib
import json
import re

import pytest
from database_helpers import (BACKUP_DIR, RESTORE, api, dumps, journal, psql, recap, run_playbook, start_backup,
                              wait_for, wait_for_a_new_dump_name)

TABLE_STATE = ("select coalesce(string_agg(tablename || ':' || tableowner, ' ' order by tablename), '') "
               "from pg_tables where schemaname = 'public'")


CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hi"}]}


def _chat(host, gateway, key):
    return api(host, gateway, "POST", "/v1/chat/completions", CHAT, key=key)[0]


@pytest.fixture(scope="module")
def drill(host, database, gateway):
    """Rows in the database and a virtual key, then a dump of them by the backup unit."""
    psql(host, database, "drop table if exists drill_rows; drop table if exists written_after_dump")
    created = psql(host, database, "create table drill_rows (id int primary key, note text); "
                                   "insert into drill_rows values (1, 'one'), (2, 'two'), (3, 'three')")
    assert created.rc == 0, created.stderr
    status, body = api(host, gateway, "POST", "/key/generate",
                       {"key_alias": "db-scenario-restore", "models": ["gpt-4o-mini"],
                        "metadata": {"test": "survives a restore"}})
    assert status == 200, body
    key = body["key"]
    # Stored in the real database (LiteLLM keeps the sha256 of the key).
    token = hashlib.sha256(key.encode()).hexdigest()
    stored = psql(host, database, f"select key_alias from \"LiteLLM_VerificationToken\" where token = '{token}'")
    assert stored.stdout.strip() == "db-scenario-restore", stored.stdout + stored.stderr
    status, answer = api(host, gateway, "POST", "/v1/chat/completions", CHAT, key=key)
    assert status == 200 and answer["choices"][0]["message"]["content"], answer
    assert _chat(host, gateway, "sk-not-a-key-00000000000000000") == 401
    wait_for_a_new_dump_name(host)
    assert start_backup(host).rc == 0, journal(host)
    dump = dumps(host)[-1]
    yield {"dump": dump, "key": key}
    psql(host, database, "drop table if exists drill_rows; drop table if exists written_after_dump")
    api(host, gateway, "POST", "/key/delete", {"keys": [key]})


def _rows(host, database):
    result = psql(host, database, "select string_agg(id || '=' || note, ',' order by id) from drill_rows")
    return result.stdout.strip() if result.rc == 0 else None


def test_restore_needs_confirmation_and_changes_nothing_without_it(host, database, drill):
    assert psql(host, database, "drop table drill_rows").rc == 0
    before = psql(host, database, TABLE_STATE).stdout
    result = run_playbook(playbook=RESTORE)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert "litellm_database_restore_confirm=true" in output, output[-3000:]
    assert recap(output)["changed"] == 0
    assert psql(host, database, TABLE_STATE).stdout == before


def test_restore_of_a_missing_dump_names_it_and_changes_nothing(host, database, drill):
    before = psql(host, database, TABLE_STATE).stdout
    result = run_playbook("-e", json.dumps({"litellm_database_restore_confirm": True,
                                            "litellm_database_restore_file": "litellm-19990101T000000Z.dump"}),
                          playbook=RESTORE)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert f"No dump {BACKUP_DIR}/litellm-19990101T000000Z.dump" in output, output[-3000:]
    assert recap(output)["changed"] == 0
    assert psql(host, database, TABLE_STATE).stdout == before


def test_restore_of_a_dump_outside_the_backup_directory_is_refused(host, database, drill):
    """A dump another user could have written is never restored (F21)."""
    host.run(f"cp {BACKUP_DIR}/{drill['dump']} /tmp/planted.dump && chmod 0666 /tmp/planted.dump")
    before = psql(host, database, TABLE_STATE).stdout
    result = run_playbook("-e", json.dumps({"litellm_database_restore_confirm": True,
                                            "litellm_database_restore_file": "/tmp/planted.dump"}),
                          playbook=RESTORE)
    output = result.stdout + result.stderr
    host.run("rm -f /tmp/planted.dump")
    assert result.returncode != 0, output[-3000:]
    assert "must be a dump in" in output, output[-3000:]
    assert recap(output)["changed"] == 0
    assert psql(host, database, TABLE_STATE).stdout == before


def test_restore_brings_the_rows_back(host, database, drill, gateway):
    # Wiped: the table is gone, and something written after the dump exists.
    psql(host, database, "drop table if exists drill_rows")
    assert psql(host, database, "create table written_after_dump (id int)").rc == 0
    assert _rows(host, database) is None
    # The key deleted through the admin API: refused.
    assert api(host, gateway, "POST", "/key/delete", {"keys": [drill["key"]]})[0] == 200
    assert _chat(host, gateway, drill["key"]) == 401
    # The proxy, connected to the database, is stopped and started around the restore.
    result = run_playbook("-e", json.dumps({"litellm_database_restore_confirm": True}), playbook=RESTORE)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert f"restored database litellm from {BACKUP_DIR}/{drill['dump']}" in output, output[-4000:]
    assert re.search(r"Stop the proxy[^\n]*\n+changed:", output), output[-4000:]
    assert re.search(r"Start the proxy[^\n]*\n+changed:", output), output[-4000:]
    # The proxy is back.
    assert api(host, gateway, "GET", "/health/liveliness", key="", timeout=10)[0] == 200
    # The rows are back, owned by the role; what came after the dump is gone.
    assert _rows(host, database) == "1=one,2=two,3=three"
    tables = psql(host, database, TABLE_STATE).stdout.strip()
    # LiteLLM's own tables are back too, and the deleted key works again.
    assert "drill_rows:litellm" in tables.split() and "written_after_dump" not in tables, tables
    assert "LiteLLM_VerificationToken:litellm" in tables.split(), tables
    wait_for(lambda: _chat(host, gateway, drill["key"]) == 200, "the restored key accepted")
    status, info = api(host, gateway, "GET", f"/key/info?key={drill['key']}")
    assert status == 200 and info["info"]["metadata"]["test"] == "survives a restore", info
    assert info["info"]["key_alias"] == "db-scenario-restore", info
    # The role's credentials still work and the next backup succeeds.
    wait_for_a_new_dump_name(host)
    assert start_backup(host).rc == 0, journal(host)


def test_restore_in_check_mode_changes_nothing(host, database, drill):
    psql(host, database, "insert into drill_rows values (4, 'four') on conflict do nothing")
    result = run_playbook("--check", "-e", json.dumps({"litellm_database_restore_confirm": True}), playbook=RESTORE)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert _rows(host, database) == "1=one,2=two,3=three,4=four"
