"""Every module through a real ansible-playbook run, in the four steps of
community.docker's integration tests: check mode (changed, nothing changed on
the proxy), apply (changed), check again and apply again (not changed). Bad
input, an unreachable URL and malformed answers are the modules' own checks:
their tests run the modules in this process (``ansible.module``)."""

from __future__ import annotations

import json
from typing import Any


from litellm_it import Ansible, assert_no_secret, keys_of, snapshot, token_of, without_background_fields


SNAPSHOT_PATHS = {
    "keys": ("/key/list", {"return_full_object": "true", "size": 100}),
    "users": ("/user/list", {"page_size": 100}),
    "teams": ("/team/list", {}),
}


def read_task(proxy: Any, path: str, register: str) -> dict:
    """A GET of the admin API in the middle of a run, as ``{"json": <body>}`` under ``register``: a
    set_fact over the url lookup, which reads in the controller's own process (a uri task would
    start a module process)."""
    return {"name": f"read {register}", "no_log": True, "vars": {
        "_read_url": proxy.url + path, "_read_headers": {"Authorization": f"Bearer {proxy.master_key}"}},
        "ansible.builtin.set_fact": {register: {"json": "{{ lookup('ansible.builtin.url', _read_url, "
                                                        "headers=_read_headers, split_lines=false) | from_json }}"}}}


def snapshot_task(proxy: Any, what: str, register: str) -> dict:
    """What the admin API shows, read in the middle of a run (to prove a check-mode step changed nothing)."""
    path, query = SNAPSHOT_PATHS[what]
    return read_task(proxy, path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""), register)


def api_task(proxy: Any, method: str, path: str, register: str, body: Any = None, key: str | None = None) -> dict:
    """A uri task calling the proxy in the middle of a run (a chat completion with ``key``)."""
    args = {"url": proxy.url + path, "method": method, "status_code": [200, 401, 404],
            "headers": {"Authorization": "Bearer " + (key or proxy.master_key)}}
    if body is not None:
        args.update(body_format="json", body=body)
    return {"name": register, "ansible.builtin.uri": args, "register": register, "no_log": True, "check_mode": False}


def four_steps(module: str, args: dict, what: str, proxy: Any, tag: str) -> list[dict]:
    """The tasks of one four-step sequence: check mode (between two snapshots), apply, check, apply."""
    task = {f"sacred_brain.llm_gateway.{module}": args}
    return [
        snapshot_task(proxy, what, f"{tag}_before"),
        dict(task, name=f"{tag}: check mode", register=f"{tag}_check", check_mode=True),
        snapshot_task(proxy, what, f"{tag}_after"),
        dict(task, name=f"{tag}: apply", register=f"{tag}_apply"),
        dict(task, name=f"{tag}: check again", register=f"{tag}_check_again", check_mode=True),
        dict(task, name=f"{tag}: apply again", register=f"{tag}_apply_again"),
    ]


def steps_of(run: Any, tag: str, changes: bool = True) -> list[dict]:
    """The four results of a sequence, checked: changed, changed, not changed, not changed; check mode changed nothing."""
    steps = [run[f"{tag}_{step}"] for step in ("check", "apply", "check_again", "apply_again")]
    for step in steps:
        assert step and not step.get("failed"), (tag, step)
    assert [s["changed"] for s in steps] == [changes, changes, False, False], (tag, [s["changed"] for s in steps])
    after, before = (without_background_fields(run[f"{tag}_{when}"]["json"]) for when in ("after", "before"))
    assert after == before, f"{tag}: check mode changed something"
    return steps


def create_update_remove(ansible: Any, proxy: Any, module: str, what: str, args: dict, update: dict,
                         info_path: str, remove: dict) -> dict:
    """Four steps each to create, update (reading the entity back afterwards) and remove; returns the info read."""
    run = ansible.tasks(
        four_steps(module, args, what, proxy, "create")
        + four_steps(module, dict(args, **update), what, proxy, "update")
        + [read_task(proxy, info_path, "info")]
        + four_steps(module, dict(remove, state="absent"), what, proxy, "remove"))
    for tag in ("create", "update", "remove"):
        steps_of(run, tag)
    return run["info"]["json"]


def test_litellm_team(ansible, proxy, name):
    args = {"team_alias": name("team"), "team_id": name("team"), "max_budget": 100, "budget_duration": "30d",
            "models": ["fake-model"], "tpm_limit": 10000, "rpm_limit": 60, "metadata": {"cost_center": "4711"}}
    info = create_update_remove(ansible, proxy, "litellm_team", "teams", args, {"max_budget": 150},
                                f"/team/info?team_id={args['team_id']}", {"team_alias": args["team_alias"]})
    team = info["team_info"]
    assert (team["max_budget"], team["tpm_limit"], team["metadata"]["cost_center"]) == (150, 10000, "4711")
    assert proxy.call("GET", "/team/info", params={"team_id": args["team_id"]}).status == 404


def test_litellm_user(ansible, proxy, name):
    args = {"user_id": name("user"), "user_email": "alice@example.org", "user_role": "internal_user",
            "max_budget": 25, "budget_duration": "30d", "models": ["fake-model"], "metadata": {"team": "a"}}
    info = create_update_remove(ansible, proxy, "litellm_user", "users", args, {"rpm_limit": 30},
                                f"/user/info?user_id={args['user_id']}", {"user_id": args["user_id"]})
    assert (info["user_info"]["max_budget"], info["user_info"]["rpm_limit"]) == (25, 30)
    assert info["keys"] == []  # created without a key
    assert proxy.call("GET", "/user/info", params={"user_id": args["user_id"]}).status == 404


def test_litellm_key(ansible, proxy, name):
    team, user = name("team"), name("user")
    assert proxy.call("POST", "/team/new", {"team_alias": team, "team_id": team}).status == 200
    assert proxy.call("POST", "/user/new", {"user_id": user, "auto_create_key": False}).status == 200
    alias = name("key")
    args = {"key_alias": alias, "models": ["fake-model"], "max_budget": 5, "soft_budget": 4,
            "budget_duration": "30d", "tpm_limit": 1000, "rpm_limit": 10, "max_parallel_requests": 2,
            "duration": "30d", "metadata": {"owner": "platform"}, "team_id": team, "user_id": user}
    chat = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}
    run = ansible.tasks(
        four_steps("litellm_key", args, "keys", proxy, "create")
        + four_steps("litellm_key", dict(args, max_budget=6, soft_budget=5, metadata={"owner": "ops"}), "keys", proxy,
                     "update")
        + [read_task(proxy, f"/key/list?return_full_object=true&key_alias={alias}", "updated")]
        + four_steps("litellm_key", {"key_alias": alias, "state": "blocked"}, "keys", proxy, "block")
        + [api_task(proxy, "POST", "/v1/chat/completions", "blocked_chat", body=chat, key="{{ create_apply.key }}")]
        + four_steps("litellm_key", {"key_alias": alias, "state": "absent"}, "keys", proxy, "remove"))
    steps = steps_of(run, "create")
    steps_of(run, "update")
    value = steps[1]["key"]  # returned once, at creation
    assert all("key" not in step for step in steps[:1] + steps[2:])
    assert_no_secret(str(steps[1]["diff"]) + str(steps[1]["key_info"]), value)
    assert_no_secret(run.output, value, proxy.master_key)
    [holder] = run["updated"]["json"]["keys"]
    assert holder["token"] == token_of(value)
    assert (holder["max_budget"], holder["litellm_budget_table"]["soft_budget"], holder["metadata"]["owner"]) == (6, 5, "ops")
    assert (holder["team_id"], holder["user_id"], holder["tpm_limit"]) == (team, user, 1000)
    steps_of(run, "block")
    assert run["blocked_chat"]["status"] == 401
    steps_of(run, "remove")
    assert keys_of(proxy, alias) == []
    assert proxy.chat(value).status == 401


def test_litellm_key_info(ansible, proxy, name):
    alias = name("key")
    status, created = proxy.call("POST", "/key/generate", {"key_alias": alias, "metadata": {"owner": alias}})
    assert status == 200
    run = ansible.tasks(
        four_steps("litellm_key_info", {"key_alias": alias}, "keys", proxy, "read")
        + [{"name": "by metadata", "sacred_brain.llm_gateway.litellm_key_info": {"metadata": {"owner": alias}},
            "register": "by_metadata"}])
    for step in steps_of(run, "read", changes=False):
        assert [k["token"] for k in step["virtual_keys"]] == [token_of(created["key"])]
    assert [k["key_alias"] for k in run["by_metadata"]["virtual_keys"]] == [alias]
    assert_no_secret(run.output + str(run.results), created["key"])


def test_litellm_key_rotate(ansible, proxy, name):
    alias = name("key")
    status, created = proxy.call("POST", "/key/generate", {"key_alias": alias, "max_budget": 3})
    assert status == 200
    grace = 3600  # passes on the clock the module reads (stand-in, or the fault proxy's Date header)
    wait = {"name": "grace passes", "ansible.builtin.uri": {
        "url": proxy.url + "/__standin/clock", "method": "POST", "body_format": "json",
        "body": {"advance_seconds": grace + 1}, "headers": {"Authorization": "Bearer " + proxy.master_key}},
        "no_log": True}
    run = ansible.tasks(
        four_steps("litellm_key_rotate", {"key_alias": alias, "grace_period": f"{grace}s", "redeliver": True},
                   "keys", proxy, "rotate")
        + [wait]
        + four_steps("litellm_key_rotate", {"key_alias": alias, "state": "purged"}, "keys", proxy, "purge"))
    steps = steps_of(run, "rotate")
    assert steps[0]["rotated"][0]["new_token"] is None and "key" not in steps[0]["rotated"][0]
    new = steps[1]["rotated"][0]["key"]
    assert steps[3]["redelivered"][0]["key"] == new  # a later run can deliver it again during the grace period
    steps_of(run, "purge")
    assert proxy.chat(created["key"]).status == 401
    assert proxy.chat(new).status == 200
    assert_no_secret(run.output, created["key"], new, proxy.master_key)


# ---------------------------------------------------------------------- bad input
BAD_ARGS = [
    ("litellm_key", {"key_alias": "x", "bogus": 1}, ["Unsupported parameters", "bogus"]),
    ("litellm_key", {"key_alias": "x", "max_budget": "lots"}, ["max_budget", "float"]),
    ("litellm_key", {"key_alias": "x", "state": "gone"}, ["state", "present, absent, blocked"]),
    ("litellm_key", {"key_alias": "x.next.0123abcd"}, ["in flight"]),
    ("litellm_user", {"user_id": "x", "max_budget": "lots"}, ["max_budget", "float"]),
    ("litellm_user", {"user_id": "x", "user_role": "boss"}, ["user_role"]),
    ("litellm_team", {"team_alias": "x", "tpm_limit": "many"}, ["tpm_limit", "int"]),
    ("litellm_team", {}, ["missing required arguments: team_alias"]),
    ("litellm_key_info", {"page_size": "big"}, ["page_size", "int"]),
    ("litellm_key_rotate", {"key_alias": "x", "grace_period": "soon"}, ["grace_period", "not a duration"]),
    ("litellm_key_rotate", {"key_alias": "x", "key_aliases": ["y"]}, ["mutually exclusive"]),
    ("litellm_key_rotate", {}, ["say which keys to rotate"]),
    ("litellm_key", {"key_alias": "x", "api_url": "127.0.0.1:4000"}, ["api_url must be an http"]),
    ("litellm_key", {"key_alias": "x", "timeout": "soon"}, ["timeout", "float"]),
]


def test_bad_arguments_fail_clearly_and_change_nothing(ansible, proxy):
    before = snapshot(proxy)
    for module, args, expected in BAD_ARGS:
        result = ansible.module(module, args)  # the module's own argument checks: no playbook needed
        assert result["failed"], (module, args, result)
        for text in expected:
            assert text in result["msg"], (module, args, result["msg"])
        assert_no_secret(json.dumps(result), proxy.master_key)
    assert snapshot(proxy) == before


MODULE_CALLS = [
    ("litellm_key", {"key_alias": "it-bad-conn", "max_budget": 1}),
    ("litellm_user", {"user_id": "it-bad-conn"}),
    ("litellm_team", {"team_alias": "it-bad-conn"}),
    ("litellm_key_info", {}),
    ("litellm_key_rotate", {"key_alias": "it-bad-conn"}),
]


def run_everywhere(ansible: Ansible, connection: dict) -> list[dict]:
    return [ansible.module(module, args, connection=connection) for module, args in MODULE_CALLS]


def run_everywhere_in_a_playbook(ansible: Ansible, connection: dict) -> tuple[list[dict], Any]:
    tasks = [{"name": module, f"sacred_brain.llm_gateway.{module}": args, "register": f"r{i}"}
             for i, (module, args) in enumerate(MODULE_CALLS)]
    run = ansible.tasks(tasks, connection=connection)
    return [run[f"r{i}"] for i in range(len(MODULE_CALLS))], run


def test_an_unreachable_url_fails_clearly(ansible, proxy):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    before = snapshot(proxy)
    results = run_everywhere(ansible, {"api_url": f"http://127.0.0.1:{port}"})
    for result in results:
        assert result["failed"]
        assert f"cannot connect to http://127.0.0.1:{port}: connection refused (after 1 attempt)" in result["msg"], result
    assert snapshot(proxy) == before


def test_a_wrong_master_key_fails_clearly(ansible, proxy):
    wrong = "sk-wrong-master-key-0123456789"
    before = snapshot(proxy)
    # Through ansible-playbook: what it prints of the failures holds neither master key.
    results, run = run_everywhere_in_a_playbook(ansible, {"master_key": wrong})
    for result in results:
        assert result["failed"]
        assert result["msg"].startswith(f"the master key was rejected by {proxy.url} (HTTP 401"), result
    assert snapshot(proxy) == before
    assert_no_secret(run.output, wrong, proxy.master_key)


MALFORMED = [
    ("/key/list", ["litellm_key", "litellm_key_info", "litellm_key_rotate"]),
    ("/user/info", ["litellm_user"]),
    ("/team/list", ["litellm_team"]),
]


def test_a_malformed_answer_fails_clearly(ansible, proxy):
    before = snapshot(proxy)
    results = []
    try:
        for path, modules in MALFORMED:
            proxy.set_faults(malformed_next=100, path_prefix=path)  # answer path with garbage
            results += [(module, path, ansible.module(module, args)) for module, args in MODULE_CALLS if module in modules]
    finally:
        proxy.clear_faults()
    assert [module for module, _path, _result in results] == [m for _path, ms in MALFORMED for m in ms]
    for module, path, result in results:
        assert result["failed"], (module, result)
        assert "with something that is not JSON" in result["msg"] and path in result["msg"], result
    assert snapshot(proxy) == before
