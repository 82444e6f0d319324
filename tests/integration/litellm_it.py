"""Helpers of the integration tests: real ``ansible-playbook`` runs on localhost
against LiteLLM's real admin API through a fault proxy (when LITELLM_TEST_URL and
LITELLM_TEST_MASTER_KEY are set, as ``make test`` does) or the admin-API stand-in
(``standin`` fixture of tests/conftest.py).

``ansible`` runs playbooks from this checkout as the collection (ansible.cfg's
collections_path), with the venv's Python as the interpreter (interpreter
discovery finds a broken pyenv shim on the build machines).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19 (the matrix's oldest): the same, over basic._ANSIBLE_ARGS
    from unittest import mock

    from ansible.module_utils import basic

    @contextlib.contextmanager
    def patch_module_args(args):
        with mock.patch.object(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()):
            yield

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
PLAYBOOKS = ROOT / "playbooks"
KEY_VALUE = re.compile(r"(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_\-]{8,}")
# What litellm_key_rotate derives successor values from when a test calls it directly (its
# LITELLM_KEY_DERIVATION_SECRET fallback); never the master key (F18). The role passes its own.
DERIVATION_SECRET = "integration-derivation-secret-0123456789"


def derive_key(secret: str, alias: str, predecessor_token: str, nonce: str) -> str:
    """The collection's own derive_key (the checkout as ansible_collections.sacred_brain.llm_gateway)."""
    collections = str(ROOT / ".collections")
    if collections not in sys.path:
        sys.path.insert(0, collections)
    from ansible_collections.sacred_brain.llm_gateway.plugins.module_utils._litellm_api import derive_key as derive

    return derive(secret, alias, predecessor_token, nonce)


def ansible_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PATH=f"{Path(PYTHON).parent}:{env.get('PATH', '')}",
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
        ANSIBLE_ROLES_PATH=str(ROOT / "roles"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_DEPRECATION_WARNINGS="0",
        ANSIBLE_RETRY_FILES_ENABLED="0",
    )
    env.pop("LITELLM_MASTER_KEY", None)
    env["LITELLM_KEY_DERIVATION_SECRET"] = DERIVATION_SECRET
    env.update(extra)
    return env


class Run:
    """One finished ansible-playbook run."""

    def __init__(self, proc: subprocess.CompletedProcess, results: dict[str, Any] | None) -> None:
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.output = proc.stdout + proc.stderr
        self.results = results or {}

    def recap(self, host: str = "gw") -> dict[str, int]:
        match = re.search(r"^%s\s+:\s+(.*)$" % re.escape(host), self.stdout, re.M)
        assert match, self.output[-3000:]
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(1))}

    def __getitem__(self, name: str) -> Any:
        return self.results[name]

    def __repr__(self) -> str:
        return f"Run(rc={self.rc}, output=...{self.output[-4000:]})"


class Ansible:
    """Writes inventories and playbooks under tmp_path and runs them."""

    def __init__(self, tmp_path: Path, proxy: Any) -> None:
        self.dir = tmp_path
        self.proxy = proxy
        self.inventory = tmp_path / "inventory.yml"
        self.write_inventory()
        self._n = 0

    def write_inventory(self, extra_hosts: dict[str, dict] | None = None, **group_vars: Any) -> Path:
        inventory = {
            "all": {
                "vars": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": PYTHON,
                    "ansible_become": False,
                    **group_vars,
                },
                "children": {
                    "gateways": {"hosts": {"gw": {}}},
                    "clients": {"hosts": {"client1": {}, **(extra_hosts or {})}},
                },
            }
        }
        self.inventory.write_text(yaml.safe_dump(inventory))
        return self.inventory

    def playbook(self, playbook: str | Path, *args: str, extra_vars: dict | None = None, check: bool = False,
                 verbosity: int = 0, env: dict[str, str] | None = None, timeout: float = 1800) -> Run:
        self._n += 1
        cmd = ["ansible-playbook", "-i", str(self.inventory), str(playbook)]
        if extra_vars:
            vars_file = self.dir / f"extra-vars-{self._n}.json"
            vars_file.write_text(json.dumps(extra_vars))
            cmd += ["-e", f"@{vars_file}"]
        if check:
            cmd.append("--check")
        if verbosity:
            cmd.append("-" + "v" * verbosity)
        cmd += list(args)
        proc = subprocess.run(cmd, cwd=ROOT, env=ansible_env(**(env or {})), capture_output=True, text=True,
                              timeout=timeout, check=False)
        results = None
        results_file = self.dir / "results.json"
        if results_file.exists():
            results = json.loads(results_file.read_text())
            results_file.unlink()
        return Run(proc, results)

    def tasks(self, tasks: list[dict], *, connection: dict | None = None, check: bool = False,
              extra_vars: dict | None = None, verbosity: int = 0) -> Run:
        """Run ``tasks`` on gw with the litellm group's module_defaults; every task may ``register``.

        Each task's registered result (and each fact a set_fact task sets) is written (under
        no_log) to results.json and returned in ``Run.results``; tasks get ``ignore_errors: true`` so that failures are returned too.
        """
        registered = []
        body = []
        for task in tasks:
            task = dict(task)
            task.setdefault("ignore_errors", True)
            if "register" in task:
                registered.append(task["register"])
            registered += [n for n in task.get("ansible.builtin.set_fact", {}) if n != "cacheable"]
            body.append(task)
        dump = "{{ {%s} | to_json }}" % ", ".join(f"'{n}': {n} | default(None)" for n in registered)
        body.append({
            "name": "Keep the registered results for the test",
            "ansible.builtin.copy": {"content": dump, "dest": str(self.dir / "results.json"), "mode": "0600"},
            "no_log": True,
            "check_mode": False,
        })
        # A request timeout that a loaded machine never reaches: a timeout is a verdict on speed.
        defaults = {"api_url": self.proxy.url, "master_key": self.proxy.master_key, "retries": 0, "timeout": 120}
        defaults.update(connection or {})
        play = [{
            "name": "Integration test tasks",
            "hosts": "gw",
            "gather_facts": False,
            "module_defaults": {"group/sacred_brain.llm_gateway.litellm": defaults},
            "tasks": body,
        }]
        self._n += 1
        path = self.dir / f"play-{self._n}.yml"
        path.write_text(yaml.safe_dump(play, sort_keys=False))
        return self.playbook(path, check=check, extra_vars=extra_vars, verbosity=verbosity)

    def module(self, module: str, args: dict, *, check: bool = False, connection: dict | None = None) -> dict:
        """One module call, in this process; returns its result (failed ones too).

        For the tests of what a module does against the API: a playbook run around one task
        proves nothing more and costs seconds of CPU (ansible-playbook's start, AnsiballZ's
        imports). Check mode, diff, no_log in the output and idempotence are proved through
        ``tasks``/``playbook``, which run real ansible-playbook."""
        defaults = {"api_url": self.proxy.url, "master_key": self.proxy.master_key, "retries": 0, "timeout": 120}
        defaults.update(connection or {})
        return run_module(module, dict(defaults, **args), check=check)


@contextlib.contextmanager
def module_environment() -> Iterator[None]:
    """os.environ as ``ansible_env`` gives a playbook run's modules, for a module run in this
    process; only the variables that differ are set and put back (never a cleared environment:
    other threads, the stand-in's and a chatting client's, read it meanwhile)."""
    wanted = ansible_env()
    saved = {k: os.environ.get(k) for k in set(wanted) | set(os.environ) if os.environ.get(k) != wanted.get(k)}
    try:
        for k in saved:
            if k in wanted:
                os.environ[k] = wanted[k]
            else:
                del os.environ[k]
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_module(module: str, args: dict, *, check: bool = False) -> dict:
    """Run a collection module's main() in this process, with the environment ``ansible_env``
    gives a playbook run's modules; returns its result as a registered variable holds it
    (``changed`` defaults to false, warnings as their messages)."""
    import importlib
    import io

    from ansible.module_utils.common import warnings

    collections = str(ROOT / ".collections")
    if collections not in sys.path:
        sys.path.insert(0, collections)
    main = importlib.import_module(f"ansible_collections.sacred_brain.llm_gateway.plugins.modules.{module}").main
    args = dict(args, _ansible_check_mode=check)
    for store in ("_global_warnings", "_global_deprecations"):
        getattr(warnings, store).clear()  # module-global in ansible-core: one module run's own
    out = io.StringIO()
    with module_environment(), patch_module_args(args), contextlib.redirect_stdout(out):
        try:
            main()
        except SystemExit:
            pass
        else:
            raise AssertionError(f"{module} returned without exit_json or fail_json")
        messages = warnings.get_warning_messages()
    result = json.loads(out.getvalue())
    result.pop("warnings", None)
    result.pop("deprecations", None)
    if messages:
        result["warnings"] = list(messages)
    result.setdefault("changed", False)
    return result


# Written by LiteLLM's own background jobs, not by any request: the spend of earlier tests'
# chats reaches the database in batches, budgets reset on a schedule.
BACKGROUND_FIELDS = frozenset({"spend", "model_spend", "updated_at", "last_active", "budget_reset_at"})


def without_background_fields(row: Any) -> Any:
    """``row`` less what LiteLLM's background jobs write, with nested lists in a canonical order:
    PostgreSQL returns related rows (a team's keys) in storage order, which a background
    write of an unrelated field changes."""
    if isinstance(row, dict):
        return {k: without_background_fields(v) for k, v in row.items() if k not in BACKGROUND_FIELDS}
    if isinstance(row, list):
        return sorted((without_background_fields(v) for v in row), key=lambda v: json.dumps(v, sort_keys=True))
    return row


def snapshot(proxy: Any) -> dict[str, Any]:
    """Everything the admin API shows about keys, users and teams (to prove that nothing changed),
    less what LiteLLM's background jobs write."""
    keys, page = [], 1
    while True:
        status, body = proxy.call("GET", "/key/list", params={"return_full_object": "true", "size": 100, "page": page})
        assert status == 200, body
        keys += body["keys"]
        if page >= (body.get("total_pages") or 1):
            break
        page += 1
    _unused, users = proxy.call("GET", "/user/list", params={"page_size": 100})
    _unused, teams = proxy.call("GET", "/team/list")
    return without_background_fields({
        "keys": sorted(keys, key=lambda k: k["token"]),
        "users": sorted((users or {}).get("users", []), key=lambda u: u["user_id"]),
        "teams": sorted(teams or [], key=lambda t: t["team_id"]),
    })


def keys_of(proxy: Any, alias: str) -> list[dict]:
    """Every key of an alias: the holder and the rotation generations in flight (<alias>.next./.retiring.)."""
    status, body = proxy.call("GET", "/key/list", params={"return_full_object": "true", "size": 100, "search": alias})
    assert status == 200, body
    return [k for k in body["keys"] if k.get("key_alias") == alias or (k.get("key_alias") or "").startswith(alias + ".")]


def token_of(value: str) -> str:
    import hashlib

    return hashlib.sha256(value.encode()).hexdigest()


def pass_time(proxy: Any, seconds: float) -> None:
    """Move the clock the modules read (the stand-in's, or the fault proxy's ``Date`` header
    in front of the real API); never wait for time to pass."""
    proxy.advance_clock(seconds)


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret and secret not in text, "a secret appears in the output"
    # Whatever looks like a key value must be one of the sk-******** masks.
    leaked = [m for m in KEY_VALUE.findall(text) if set(m[3:]) != {"*"}]
    assert not leaked, f"something that looks like a key value is in the output: {leaked[0][:6]}..."
