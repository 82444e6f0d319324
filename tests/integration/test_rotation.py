"""Rotation end to end, litellm_key_rotate run as Ansible runs it (in this process,
``ansible.module``: check mode, diff and the playbook output are proved in
test_modules and test_playbooks): clients keep working with the
old key through the grace period, the old key is refused after the purge, the
new key works, spend is carried over, and an interruption between any two steps
followed by a re-run leaves exactly one live successor and no lost key.

No verdict depends on how fast the machine is: the grace period is an hour on
the clock the modules read, which the tests move (``pass_time``); "throughout
the grace period" is defined by events (the rotation ran, a purge inside the
period ran, the purge after it ran), and the chatting client is waited for
with a generous deadline, never timed."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from litellm_it import assert_no_secret, keys_of, pass_time, token_of

GRACE = 3600  # seconds on the clock the modules read; moved by the tests, never waited out
ANSWER_DEADLINE = 300  # seconds for a chatting client's next answers on a loaded machine


class Hammer(threading.Thread):
    """Sends chat completions with one key, back to back, counting every answer."""

    def __init__(self, proxy: Any, key: str) -> None:
        super().__init__(daemon=True)
        self.proxy, self.key = proxy, key
        self.ok, self.failures = 0, []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                reply = self.proxy.chat(self.key, content="still there?")
                status = reply.status
            except Exception as exc:  # noqa: BLE001 - a connection error is a failure too
                status = repr(exc)
            if status == 200:
                self.ok += 1
            else:
                self.failures.append(status)

    def answers(self) -> int:
        return self.ok + len(self.failures)

    def wait_for_more_answers(self, count: int = 3) -> None:
        """Wait until the client has had ``count`` more answers (of any kind) than now."""
        target = self.answers() + count
        deadline = time.monotonic() + ANSWER_DEADLINE
        while self.answers() < target:
            assert self.is_alive() and time.monotonic() < deadline, "the chatting client got no answers"
            time.sleep(0.05)

    def stop(self) -> "Hammer":
        self._stop_event.set()
        self.join(timeout=30)
        return self


def rotate_args(alias: str, **args: Any) -> dict:
    params = {"key_alias": alias, "grace_period": f"{GRACE}s", "redeliver": True}
    params.update(args)
    return params


def rotate(ansible, alias: str, **args: Any) -> dict:
    return ansible.module("litellm_key_rotate", rotate_args(alias, **args))


def live(keys: list[dict]) -> list[dict]:
    return [k for k in keys if not k.get("blocked")]


def test_clients_see_no_failure_through_the_grace_period(ansible, proxy, name):
    alias = name("busy")
    status, created = proxy.call("POST", "/key/generate", {"key_alias": alias})
    assert status == 200
    old = created["key"]
    hammer = Hammer(proxy, old)
    hammer.start()
    try:
        hammer.wait_for_more_answers()  # chatting before the rotation ...
        result = rotate(ansible, alias)
        assert not result.get("failed"), result
        new = result["rotated"][0]["key"]
        hammer.wait_for_more_answers()  # ... after it, with the old key ...
        pass_time(proxy, GRACE - 60)
        early = ansible.module("litellm_key_rotate", {"key_alias": alias, "state": "purged"})
        assert not early.get("failed") and early["purged"] == [], early  # ... and up to the end of the grace period
        hammer.wait_for_more_answers()
    finally:
        hammer.stop()
    assert hammer.failures == [], hammer.failures[:5]
    assert hammer.ok >= 9
    assert proxy.chat(new).status == 200

    pass_time(proxy, 61)  # the grace period is over
    purge = ansible.module("litellm_key_rotate", {"key_alias": alias, "state": "purged"})
    assert [p["token"] for p in purge["purged"]] == [token_of(old)]
    reply = proxy.chat(old)
    assert reply.status == 401, reply
    assert proxy.chat(new).status == 200
    [holder] = live(keys_of(proxy, alias))
    assert (holder["key_alias"], holder["token"]) == (alias, token_of(new))


def test_spend_is_carried_over_so_a_key_over_its_budget_stays_over_it(ansible, proxy, name):
    # Spend is set at creation: the real proxy prices a mock chat at almost nothing and
    # writes spend to the database in batches, so chats cannot spend a budget here.
    alias = name("budget")
    status, created = proxy.call("POST", "/key/generate", {"key_alias": alias, "max_budget": 0.01, "spend": 0.02,
                                                           "budget_duration": "30d", "soft_budget": 0.008})
    assert status == 200, created
    old = created["key"]
    refused = proxy.chat(old)
    assert 400 <= refused.status < 500 and "budget has been exceeded" in refused.text.lower(), refused
    [before] = keys_of(proxy, alias)
    result = rotate(ansible, alias)
    new = result["rotated"][0]["key"]
    holder = next(k for k in keys_of(proxy, alias) if k["key_alias"] == alias)
    assert before["spend"] == pytest.approx(0.02) and holder["spend"] == pytest.approx(before["spend"])
    assert holder["max_budget"] == 0.01 and holder["budget_duration"] == "30d"
    assert holder["litellm_budget_table"]["soft_budget"] == 0.008
    over = proxy.chat(new)
    assert 400 <= over.status < 500 and "budget has been exceeded" in over.text.lower(), over  # a rotation did not reset it


# Every step of a community rotation, and of the purge, with the request that
# breaks it; retries: 0 makes the first fault fail the module. Every case on its
# own key: set the fault, rotate (fails), rotate again. The module runs in this
# process (``ansible.module``): what is proved is the module's, not the playbook's.
INTERRUPTIONS = [
    ("listing the keys fails", dict(fail_next=1, path_prefix="/key/list")),
    ("successor creation refused", dict(fail_next=1, path_prefix="/key/generate")),
    ("successor creation lost on the wire", dict(drop_next=1, path_prefix="/key/generate")),
    # The module recognises its own successor by the hash of the value it chose and
    # carries on in the same run: this interruption heals without a re-run.
    ("successor created, answer lost (heals in the same run)", dict(drop_after_next=1, path_prefix="/key/generate")),
    ("successor creation answered with garbage", dict(malformed_next=1, path_prefix="/key/generate")),
    ("retiring the old key refused", dict(fail_next=1, path_prefix="/key/update")),
    ("old key retired, answer lost", dict(drop_after_next=1, path_prefix="/key/update")),
    ("moving the alias refused", dict(skip_next=1, fail_next=1, path_prefix="/key/update")),
    ("moving the alias lost on the wire", dict(skip_next=1, drop_next=1, path_prefix="/key/update")),
    ("alias moved, answer lost", dict(skip_next=1, drop_after_next=1, path_prefix="/key/update")),
]
PURGE_INTERRUPTIONS = [
    ("blocking refused", dict(fail_next=1, path_prefix="/key/block")),
    ("blocking lost on the wire", dict(drop_next=1, path_prefix="/key/block")),
    ("blocked, answer lost", dict(drop_after_next=1, path_prefix="/key/block")),
]


class Results(dict):
    """Module results by name, and what ansible-playbook would have printed of them at
    verbosity 0 (the failures and the warnings), to prove that no secret is in it."""

    def output(self) -> str:
        return json.dumps([r if r.get("failed") else r.get("warnings", []) for r in self.values()])


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """Runs every interruption case against one admin API (faults injected in front of it);
    yields what the tests check."""
    import uuid

    from litellm_it import Ansible
    from tests.realapi import admin_api

    tmp = tmp_path_factory.mktemp("interrupted")
    run_id = uuid.uuid4().hex[:8]  # the real API outlives the run: aliases of this run only
    with admin_api(tmp) as proxy:
        ansible = Ansible(tmp, proxy)
        cases = {}
        run = Results()
        for i, (case, faults) in enumerate(INTERRUPTIONS + PURGE_INTERRUPTIONS):
            alias = f"it-cut-{run_id}-{i}"
            status, created = proxy.call("POST", "/key/generate", {"key_alias": alias, "max_budget": 5})
            assert status == 200
            cases[case] = {"alias": alias, "old": created["key"], "i": i}
        try:
            for case, faults in INTERRUPTIONS:
                i = cases[case]["i"]
                proxy.set_faults(**faults)
                run[f"first{i}"] = rotate(ansible, f"it-cut-{run_id}-{i}")
                run[f"second{i}"] = rotate(ansible, f"it-cut-{run_id}-{i}")
            every = [cases[c]["alias"] for c, _unused in INTERRUPTIONS]
            run["third"] = ansible.module("litellm_key_rotate", {"key_aliases": every, "grace_period": f"{GRACE}s"})
            purged = [cases[case]["i"] for case, _unused in PURGE_INTERRUPTIONS]
            run["rotated"] = ansible.module("litellm_key_rotate", {
                "key_aliases": [f"it-cut-{run_id}-{i}" for i in purged], "grace_period": f"{GRACE}s"})
            pass_time(proxy, GRACE + 1)
            for case, faults in PURGE_INTERRUPTIONS:
                i = cases[case]["i"]
                proxy.set_faults(**faults)
                run[f"first{i}"] = rotate(ansible, f"it-cut-{run_id}-{i}", state="purged")
                run[f"second{i}"] = rotate(ansible, f"it-cut-{run_id}-{i}", state="purged")
        finally:
            proxy.clear_faults()
        yield proxy, cases, run


@pytest.mark.parametrize("case", [c for c, _unused in INTERRUPTIONS])
def test_an_interrupted_rotation_is_finished_by_a_rerun(interrupted, case):
    proxy, cases, run = interrupted
    alias, old, i = cases[case]["alias"], cases[case]["old"], cases[case]["i"]
    first, second = run[f"first{i}"], run[f"second{i}"]
    assert bool(first.get("failed")) != ("heals" in case), first
    assert not second.get("failed"), second
    handed_out = [e["key"] for e in first.get("rotated", []) + second["rotated"] + second["redelivered"] if e.get("key")]
    assert handed_out, "the new key value was never returned"
    assert len(set(handed_out)) == 1, "two different successor values were handed out"
    new = handed_out[0]
    keys = keys_of(proxy, alias)
    assert [k["token"] for k in keys if k["key_alias"] == alias] == [token_of(new)], "one key holds the alias: the one returned"
    assert not [k for k in keys if ".next." in k["key_alias"]], "an unfinished successor is left"
    assert [k["token"] for k in keys if ".retiring." in k["key_alias"]] == [token_of(old)]
    assert proxy.chat(new).status == 200
    assert proxy.chat(old).status == 200  # nothing handed out stopped working
    assert alias not in [e["alias"] for e in run["third"]["rotated"]]  # a third run has nothing to finish


@pytest.mark.parametrize("case", [c for c, _unused in PURGE_INTERRUPTIONS])
def test_an_interrupted_purge_is_finished_by_a_rerun(interrupted, case):
    proxy, cases, run = interrupted
    alias, old, i = cases[case]["alias"], cases[case]["old"], cases[case]["i"]
    new = next(e["key"] for e in run["rotated"]["rotated"] if e["alias"] == alias)
    first, second = run[f"first{i}"], run[f"second{i}"]
    assert first["failed"], first
    assert not second.get("failed"), second
    assert proxy.chat(old).status == 401
    assert proxy.chat(new).status == 200
    assert [k["token"] for k in live(keys_of(proxy, alias))] == [token_of(new)]


def test_the_interruptions_leak_no_secret(interrupted):
    proxy, cases, run = interrupted
    assert_no_secret(run.output(), proxy.master_key, *(c["old"] for c in cases.values()))


def test_f16_another_run_leaves_a_leased_successor_alone_until_the_lease_expires(ansible, proxy, name):
    """F16: run A (one controller) is cut off after creating its successor, or after moving the alias to it;
    run B (another controller, another derivation secret, so it cannot recover A's value) must not delete that
    successor while A's lease is live: it fails with "another rotation in progress". Once the lease has expired
    on the clock the modules read, B replaces the successor as before."""
    a_secret, b_secret = "run-a-derivation-secret-0123456789", "run-b-derivation-secret-0123456789"
    cases = {"created": dict(fail_next=1, path_prefix="/key/update"),
             "alias moved": dict(skip_next=1, drop_after_next=1, path_prefix="/key/update")}
    aliases, run = {}, Results()
    try:
        for i, (case, faults) in enumerate(cases.items()):
            alias = aliases[case] = name(f"lease{i}")
            assert proxy.call("POST", "/key/generate", {"key_alias": alias}).status == 200
            proxy.set_faults(**faults)
            run[f"a{i}"] = rotate(ansible, alias, key_derivation_secret=a_secret, redeliver=False)
    finally:
        proxy.clear_faults()  # healed
    for i, alias in enumerate(aliases.values()):
        run[f"b{i}"] = rotate(ansible, alias, key_derivation_secret=b_secret)
    for i, (case, alias) in enumerate(aliases.items()):
        assert run[f"a{i}"].get("failed"), (case, run[f"a{i}"])
        b = run[f"b{i}"]
        assert b.get("failed") and "another rotation in progress" in b["msg"], (case, b)
        [successor] = [k for k in keys_of(proxy, alias) if k["metadata"].get("rotation", {}).get("lease")]
        lease = successor["metadata"]["rotation"]["lease"]
        assert lease["owner"] and lease["expires"], (case, lease)
        assert len(keys_of(proxy, alias)) == 2, case  # the old key and A's successor, both still there

    pass_time(proxy, 31 * 60)  # past the default lease_ttl of 30m: A is gone
    for i, alias in enumerate(aliases.values()):
        run[f"later{i}"] = rotate(ansible, alias, key_derivation_secret=b_secret)
    for i, (case, alias) in enumerate(aliases.items()):
        later = run[f"later{i}"]
        assert not later.get("failed"), (case, later)
        [entry] = later["rotated"]
        assert entry.get("replaced_token"), (case, entry)
        [holder] = [k for k in keys_of(proxy, alias) if k["key_alias"] == alias]
        assert holder["token"] == token_of(entry["key"]) and proxy.chat(entry["key"]).status == 200
    assert_no_secret(run.output(), proxy.master_key, a_secret, b_secret)
