"""Differential test: the admin-API stand-in against LiteLLM 1.108.7's real admin API.

The same sequence of requests goes to both sides: the stand-in (started here
with ``run_standin``, with the real side's master key and model names) and the
real proxy named by ``LITELLM_TEST_URL`` / ``LITELLM_TEST_MASTER_KEY`` (start it
with ``scripts/real-admin-api.sh start``, which prints both lines).  The test
fails on any difference in

* the HTTP status code,
* the response shape: the set of keys, recursively, and the JSON type of every
  value (``null``, bool, number, string, list, object),
* the values that do not legitimately differ: everything except secrets, hashes,
  ids the server makes up, timestamps and spend (``VARYING``, plus a step's own
  ``varying``); a side's own key values, hashes and ids are replaced by
  placeholders first, also inside messages. ``IGNORED`` fields (filled by the
  real proxy's batched spend write a minute later) are left out, and lists that
  LiteLLM reads without an ORDER BY (``UNORDERED``) are sorted first.

Without ``LITELLM_TEST_URL`` the test fails and says how to start the real API;
``LITELLM_REAL_API=0`` skips it instead (for machines that cannot run it).

A second test compares the key policies (``disable_custom_api_keys``,
``default_key_generate_params``, ``upperbound_key_generate_params``, the key
alias format rule) with a second real proxy configured with
``tests/realapi/policy-config.yaml`` (``LITELLM_TEST_POLICY_URL``, same master
key); a third compares the stand-in's ``database=False`` with a real proxy
without DATABASE_URL (``LITELLM_TEST_NODB_URL``, same master key and models).
``scripts/real-admin-api.sh`` starts both (``LITELLM_POLICY_CONFIG=...``,
``LITELLM_NODB=1``) and prints their variables; each test skips, with the
reason, when its variable is unset.

(``DIFF_DUMP=answers.json`` keeps every answer of both sides.)
Everything it creates is named ``it-diff-...`` and removed again (the
integration conftest also sweeps ``it-`` names off a real proxy).
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
import uuid
from collections.abc import Callable
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.standin.fixture import RemoteProxy, Reply, remote_proxy_from_env, run_standin

REAL_API_OFF = os.environ.get("LITELLM_REAL_API", "").strip().lower() in ("0", "false", "no", "off")
START_HINT = (
    "the differential test needs LiteLLM's real admin API: start it with `scripts/real-admin-api.sh start` "
    "and export the LITELLM_TEST_URL=... and LITELLM_TEST_MASTER_KEY=... lines it prints "
    "(or set LITELLM_REAL_API=0 to skip this test on a machine that cannot run it)"
)

pytestmark = pytest.mark.skipif(
    REAL_API_OFF, reason="LITELLM_REAL_API=0: the differential test against LiteLLM's real admin API is switched off"
)

# Fields whose values legitimately differ between two servers (secrets, hashes, generated ids, clocks).
# Their JSON type is still compared.
VARYING = frozenset(
    {
        "key",
        "token",
        "token_id",
        "key_name",
        "expires",
        "created_at",
        "updated_at",
        "deleted_at",
        "budget_reset_at",
        "settings_updated_at",
        "last_active",
        "last_rotation_at",
        "key_rotation_at",
        "budget_id",
        "object_permission_id",
        "id",
        "deleted_by_api_key",
        "reset_at",
        "created",
        # spend: the stand-in books --cost-per-request at once; the real proxy prices the mock call at almost
        # nothing and writes spend to the database in batches about a minute later
        "spend",
        "total_spend",
    }
)
# Fields left out of the comparison altogether: the real proxy fills them in its batched spend write
# (a minute after the call), the stand-in at once.
IGNORED = frozenset({"model_spend", "last_active"})
# Lists LiteLLM reads without an ORDER BY (prisma find_many): their order is the database's, so both sides
# are sorted on a stable field before comparing.
UNORDERED = frozenset({"keys", "teams", "team_memberships", "members_with_roles"})
WRONG_MASTER_KEY = "sk-wrong-master-key-0123456789"


# ----------------------------------------------------------------------------- shape and value comparison
def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def compare(
    a: Any, b: Any, path: str = "$", varying: bool = False, also_varying: frozenset[str] = frozenset()
) -> list[str]:
    """Differences between two normalised JSON values: keys, types and (outside VARYING) values."""
    ta, tb = _type(a), _type(b)
    if ta != tb:
        return [f"{path}: type {ta} (stand-in) != {tb} (real): {_short(a)} != {_short(b)}"]
    if ta == "object":
        out = []
        for name in sorted(set(a) | set(b)):
            sub = f"{path}.{name}"
            if name in IGNORED:
                continue
            if name not in b:
                out.append(f"{sub}: only in the stand-in ({_short(a[name])})")
            elif name not in a:
                out.append(f"{sub}: only in the real API ({_short(b[name])})")
            else:
                out += compare(a[name], b[name], sub, varying or name in VARYING or name in also_varying, also_varying)
        return out
    if ta == "list":
        if path.rsplit(".", 1)[-1] in UNORDERED:
            a, b = sorted(a, key=_order_key), sorted(b, key=_order_key)
        out = []
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} items (stand-in) != {len(b)} (real)")
        for i, (x, y) in enumerate(zip(a, b)):
            out += compare(x, y, f"{path}[{i}]", varying, also_varying)
        return out
    if not varying and a != b:
        return [f"{path}: value {_short(a)} (stand-in) != {_short(b)} (real)"]
    return []


def _order_key(item: Any) -> str:
    if isinstance(item, dict):
        return "|".join(str(item.get(name) or "") for name in ("key_alias", "team_alias", "team_id", "user_id"))
    return json.dumps(item, sort_keys=True, default=str)


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 160 else text[:157] + "..."


# ----------------------------------------------------------------------------- the two sides
@dataclass
class Side:
    """One server plus what this run learnt from its answers (keys, hashes, ids)."""

    name: str
    proxy: Any
    ctx: dict[str, Any] = field(default_factory=dict)

    def placeholders(self) -> list[tuple[str, str]]:
        """(value, placeholder) pairs, longest first, for the values that differ between sides."""
        pairs = [(str(v), f"<{k}>") for k, v in self.ctx.items() if isinstance(v, str) and len(v) >= 8]
        pairs.append((self.proxy.master_key, "<master_key>"))
        return sorted(pairs, key=lambda p: -len(p[0]))

    def normalise(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.normalise(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.normalise(v) for v in value]
        if isinstance(value, str):
            for raw, placeholder in self.placeholders():
                value = value.replace(raw, placeholder)
            # sha256 hashes and masked keys this run did not capture
            value = re.sub(r"\b[0-9a-f]{64}\b", "<hash>", value)
            value = re.sub(r"sk-\.\.\.[A-Za-z0-9_-]{4}", "sk-...<last4>", value)
            return value
        return value


@dataclass
class Step:
    """One request.  ``body``/``path``/``params`` may be callables of the side's context."""

    name: str
    method: str
    path: str | Callable[[dict[str, Any]], str]
    body: Any = None
    params: Any = None
    auth: str = "master"  # "master", "wrong", "none", or a context name holding a virtual key
    raw_body: bytes | None = None
    capture: Callable[[dict[str, Any], Any], None] | None = None
    expect: int | None = None  # the status the real API is known to answer (documents the sequence)
    varying: frozenset[str] = frozenset()  # further field names whose values legitimately differ here
    select: Callable[[Any], Any] | None = None  # the part of a 200 answer to compare (shared, global lists)


def _resolve(value: Any, ctx: dict[str, Any]) -> Any:
    return value(ctx) if callable(value) else value


def send(side: Side, step: Step) -> Reply:
    key: Any
    if step.auth == "master":
        key = side.proxy.master_key
    elif step.auth == "wrong":
        key = WRONG_MASTER_KEY
    elif step.auth == "none":
        key = None
    else:
        key = side.ctx[step.auth]
    return side.proxy.call(
        step.method,
        _resolve(step.path, side.ctx),
        _resolve(step.body, side.ctx),
        params=_resolve(step.params, side.ctx),
        raw_body=step.raw_body,
        key=key,
    )


def chat(model: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hello"}]}


def steps(s: str, model: str) -> list[Step]:
    """The sequence; ``s`` is this run's unique suffix (the same on both sides)."""
    alias = f"it-diff-{s}"
    user = f"it-diff user {s}"  # a space: /user/info decodes user_id with unquote, not unquote_plus
    team = f"it-diff-team-{s}"
    enc_user = urllib.parse.quote(user)
    return [
        # ------------------------------------------------------------------ keys
        Step(
            "key generate (alias, models, metadata, budget, duration)",
            "POST",
            "/key/generate",
            {
                "key_alias": alias,
                "models": [model],
                "metadata": {"owner": "diff", "n": 1},
                "max_budget": 10.0,
                "duration": "30d",
            },
            capture=lambda c, b: c.update(key=b["key"], token=b["token"]),
            expect=200,
        ),
        Step("key generate: duplicate alias", "POST", "/key/generate", {"key_alias": alias}, expect=400),
        Step(
            "key generate: chosen key",
            "POST",
            "/key/generate",
            {"key": f"sk-diff-chosen-{s}", "key_alias": f"{alias}-chosen"},
            capture=lambda c, b: c.update(chosen_token=b["token"]),
            expect=200,
        ),
        Step("key generate: chosen key too short", "POST", "/key/generate", {"key": "sk-short"}, expect=400),
        Step("key generate: chosen key without sk-", "POST", "/key/generate", {"key": f"nope-{s}-0123456789"}),
        Step(
            "key generate: soft budget, budget_duration, tpm/rpm, object_permission",
            "POST",
            "/key/generate",
            {
                "key_alias": f"{alias}-soft",
                "soft_budget": 2.5,
                "budget_duration": "30d",
                "tpm_limit": 1000,
                "rpm_limit": 10,
                "object_permission": {"vector_stores": ["vs-diff"]},
            },
            capture=lambda c, b: c.update(soft_key=b["key"], soft_token=b["token"]),
            expect=200,
        ),
        Step("key info: soft budget key", "GET", "/key/info", params=lambda c: {"key": c["soft_key"]}),
        Step(
            "key update: soft budget key, object_permission",
            "POST",
            "/key/update",
            lambda c: {"key": c["soft_key"], "soft_budget": 3.5, "object_permission": {"agents": ["agent-diff"]}},
            expect=200,
        ),
        Step("key info: soft budget key after update", "GET", "/key/info", params=lambda c: {"key": c["soft_key"]}),
        Step(
            "key list: soft budget key, full objects",
            "GET",
            "/key/list",
            params={"key_alias": f"{alias}-soft", "return_full_object": "true"},
            expect=200,
        ),
        Step(
            "key update (metadata, max_budget)",
            "POST",
            "/key/update",
            lambda c: {"key": c["key"], "metadata": {"owner": "diff", "n": 2}, "max_budget": 20.0},
            expect=200,
        ),
        Step("key update by alias", "POST", "/key/update", {"key_alias": alias, "tpm_limit": 500}, expect=200),
        Step("key update: unknown key", "POST", "/key/update", {"key": f"sk-diff-missing-{s}", "max_budget": 1.0}),
        Step("key info", "GET", "/key/info", params=lambda c: {"key": c["key"]}, expect=200),
        Step("key info by hash", "GET", "/key/info", params=lambda c: {"key": c["token"]}, expect=200),
        Step("key info: unknown key", "GET", "/key/info", params={"key": f"sk-diff-missing-{s}"}),
        Step("key info: the key itself", "GET", "/key/info", auth="key"),
        Step("key list by alias", "GET", "/key/list", params={"key_alias": alias}, expect=200),
        Step(
            "key list by alias, full objects",
            "GET",
            "/key/list",
            params={"key_alias": alias, "return_full_object": "true"},
            expect=200,
        ),
        Step("key list: bad size", "GET", "/key/list", params={"size": 0}, expect=422),
        Step("key list: bad sort column", "GET", "/key/list", params={"sort_by": "nope"}),
        Step("key list: bad status", "GET", "/key/list", params={"status": "nope"}),
        # ------------------------------------------------------------ data plane
        Step("readiness", "GET", "/health/readiness", auth="none", expect=200),
        Step("liveliness", "GET", "/health/liveliness", auth="none", expect=200),
        Step("models: master key", "GET", "/v1/models", expect=200),
        Step("models: the virtual key", "GET", "/v1/models", auth="key", expect=200),
        Step(
            "chat: the virtual key",
            "POST",
            "/v1/chat/completions",
            chat(model),
            auth="key",
            expect=200,
            # the mock text and LiteLLM's token count of the prompt are the real config's and tokenizer's
            varying=frozenset({"content", "prompt_tokens", "completion_tokens", "total_tokens"}),
        ),
        Step("chat: a model the key may not use", "POST", "/v1/chat/completions", chat("gpt-4o-mini"), auth="key"),
        Step("chat: unknown model, master key", "POST", "/v1/chat/completions", chat(f"no-such-model-{s}")),
        Step("chat: no messages", "POST", "/v1/chat/completions", {"model": model}, auth="key"),
        Step(
            "key info: another key with a virtual key",
            "GET",
            "/key/info",
            params=lambda c: {"key": c["soft_key"]},
            auth="key",
        ),
        Step("admin route with a virtual key", "GET", "/key/list", auth="key"),
        Step("key generate with a virtual key", "POST", "/key/generate", {}, auth="key"),
        Step("key update with a virtual key", "POST", "/key/update", lambda c: {"key": c["key"]}, auth="key"),
        Step("user info with a virtual key", "GET", "/user/info", auth="key"),
        Step("user info of another user with a virtual key", "GET", "/user/info", params={"user_id": "x"}, auth="key"),
        Step("user new with a virtual key", "POST", "/user/new", {}, auth="key"),
        Step("key block", "POST", "/key/block", lambda c: {"key": c["key"]}, expect=200),
        Step("chat: blocked key", "POST", "/v1/chat/completions", chat(model), auth="key"),
        Step("key unblock", "POST", "/key/unblock", lambda c: {"key": c["key"]}, expect=200),
        Step("key block: unknown key", "POST", "/key/block", {"key": f"sk-diff-missing-{s}"}),
        Step(
            "key generate: spend over budget",
            "POST",
            "/key/generate",
            {"key_alias": f"{alias}-spent", "spend": 2.0, "max_budget": 1.0},
            capture=lambda c, b: c.update(spent_key=b["key"]),
            expect=200,
        ),
        Step("chat: key over budget", "POST", "/v1/chat/completions", chat(model), auth="spent_key"),
        Step("key delete: over-budget key", "POST", "/key/delete", {"key_aliases": [f"{alias}-spent"]}, expect=200),
        Step("chat: a wrong key", "POST", "/v1/chat/completions", chat(model), auth="wrong"),
        Step("chat: no key", "POST", "/v1/chat/completions", chat(model), auth="none"),
        Step("key regenerate (path), no licence", "POST", lambda c: f"/key/{c['key']}/regenerate", {}, expect=500),
        Step("key regenerate (body), no licence", "POST", "/key/regenerate", lambda c: {"key": c["key"]}, expect=500),
        Step("key delete", "POST", "/key/delete", lambda c: {"keys": [c["key"]]}, expect=200),
        Step("key delete again", "POST", "/key/delete", lambda c: {"keys": [c["key"]]}, expect=404),
        Step("key info: deleted key", "GET", "/key/info", params=lambda c: {"key": c["key"]}, expect=200),
        Step("chat: deleted key", "POST", "/v1/chat/completions", chat(model), auth="key", expect=401),
        Step("key list: deleted keys", "GET", "/key/list", params={"key_alias": alias, "status": "deleted"}),
        Step(
            "key list: deleted keys, full objects",
            "GET",
            "/key/list",
            params={"key_alias": alias, "status": "deleted", "return_full_object": "true"},
        ),
        Step(
            "key list: substring of the alias",
            "GET",
            "/key/list",
            params={"key_alias": f"it-diff-{s}-s", "substring_matching": "true", "return_full_object": "true"},
        ),
        Step("key list: sorted by spend", "GET", "/key/list", params={"key_alias": alias, "sort_by": "spend"}),
        Step("key delete by alias", "POST", "/key/delete", {"key_aliases": [f"{alias}-chosen"]}, expect=200),
        Step("key delete: soft budget key", "POST", "/key/delete", lambda c: {"keys": [c["soft_key"]]}, expect=200),
        # ----------------------------------------------------------------- users
        Step(
            "user new (space in user_id)",
            "POST",
            "/user/new",
            {"user_id": user, "user_email": f"it-diff-{s}@example.com", "metadata": {"team": "diff"}},
            capture=lambda c, b: c.update(user_key=b["key"]),
            expect=200,
        ),
        Step("user new: duplicate", "POST", "/user/new", {"user_id": user}, expect=409),
        Step("user info (%20)", "GET", f"/user/info?user_id={enc_user}", expect=200),
        Step("user info ('+' for the space)", "GET", "/user/info", params={"user_id": user}),
        Step(
            "user update metadata",
            "POST",
            "/user/update",
            {"user_id": user, "metadata": {"team": "diff", "n": 2}, "max_budget": 5.0},
            expect=200,
        ),
        Step("user info after update", "GET", f"/user/info?user_id={enc_user}", expect=200),
        Step("user list: this user", "GET", "/user/list", params={"user_ids": user}, expect=200),
        Step(
            "user update by e-mail",
            "POST",
            "/user/update",
            {"user_email": f"it-diff-{s}@example.com", "user_alias": "diff"},
        ),
        Step("user update: budget_duration", "POST", "/user/update", {"user_id": user, "budget_duration": "7d"}),
        Step("key list: this user's keys", "GET", "/key/list", params={"user_id": user}),
        Step("user info: unknown user", "GET", "/user/info", params={"user_id": f"it-diff-nobody-{s}"}),
        # ----------------------------------------------------------------- teams
        Step(
            "team new",
            "POST",
            "/team/new",
            {"team_id": team, "team_alias": f"it-diff-{s}", "metadata": {"env": "diff"}, "max_budget": 50.0},
            expect=200,
        ),
        Step("team new: duplicate", "POST", "/team/new", {"team_id": team}, expect=400),
        Step(
            "user new in a team",
            "POST",
            "/user/new",
            {"user_id": f"it-diff-u2-{s}", "team_id": team, "user_role": "internal_user", "auto_create_key": False},
            expect=200,
        ),
        Step("team info: user added by /user/new", "GET", "/team/info", params={"team_id": team}, expect=200),
        Step("user info: user added to a team", "GET", "/user/info", params={"user_id": f"it-diff-u2-{s}"}),
        Step("user delete: user in a team", "POST", "/user/delete", {"user_ids": [f"it-diff-u2-{s}"]}, expect=200),
        Step(
            "team new with the user as a member",
            "POST",
            "/team/new",
            {
                "team_id": f"{team}-m",
                "team_alias": f"it-diff-{s}-m",
                "members_with_roles": [{"role": "user", "user_id": user}],
            },
            expect=200,
        ),
        Step(
            "key generate in the user's own team",
            "POST",
            "/key/generate",
            {"key_alias": f"{alias}-own", "user_id": user, "team_id": f"{team}-m"},
            capture=lambda c, b: c.update(own_key=b["key"]),
            expect=200,
        ),
        Step("team info: team with a member", "GET", "/team/info", params={"team_id": f"{team}-m"}, expect=200),
        Step("user info: member of a team", "GET", f"/user/info?user_id={enc_user}", expect=200),
        Step("team delete: team with a member", "POST", "/team/delete", {"team_ids": [f"{team}-m"]}, expect=200),
        Step(
            "key generate for user and team",
            "POST",
            "/key/generate",
            {"key_alias": f"{alias}-team", "user_id": user, "team_id": team},
            capture=lambda c, b: c.update(team_key=b["key"], team_token=b["token"]),
            expect=200,
        ),
        Step("team info", "GET", "/team/info", params={"team_id": team}, expect=200),
        Step("team info with a virtual key", "GET", "/team/info", params={"team_id": team}, auth="user_key"),
        Step("team info with the member's key", "GET", "/team/info", params={"team_id": team}, auth="team_key"),
        Step("key list with a user's key", "GET", "/key/list", auth="user_key"),
        Step(
            "key list of another user with a user's key", "GET", "/key/list", params={"user_id": "x"}, auth="user_key"
        ),
        Step(
            "team update",
            "POST",
            "/team/update",
            {"team_id": team, "metadata": {"env": "diff", "n": 2}, "max_budget": 60.0},
            expect=200,
        ),
        Step("team info after update", "GET", "/team/info", params={"team_id": team}, expect=200),
        Step("user info with a key and a team", "GET", f"/user/info?user_id={enc_user}", expect=200),
        Step("team list: this user's teams", "GET", "/team/list", params={"user_id": user}, expect=200),
        Step(
            "team list (all teams, as litellm_team reads it): this team's entry",
            "GET",
            "/team/list",
            expect=200,
            select=lambda body: [t for t in body if t.get("team_id") == team],
        ),
        Step(
            "key list as litellm_key pages it",
            "GET",
            "/key/list",
            params={"key_alias": f"{alias}-team", "return_full_object": "true", "size": 100, "page": 1},
            expect=200,
        ),
        Step("key list: the team's keys", "GET", "/key/list", params={"team_id": team, "return_full_object": "true"}),
        Step(
            "key update: move to no team, new budget_duration",
            "POST",
            "/key/update",
            lambda c: {"key": c["team_key"], "budget_duration": "1d", "duration": "7d", "key_alias": f"{alias}-team"},
        ),
        Step(
            "key generate: unknown team (master key)",
            "POST",
            "/key/generate",
            {"key_alias": f"{alias}-noteam", "team_id": f"it-diff-noteam-{s}"},
            capture=lambda c, b: c.update(noteam_key=b["key"]),
        ),
        Step("team update: unknown team", "POST", "/team/update", {"team_id": f"it-diff-noteam-{s}"}),
        Step("team delete", "POST", "/team/delete", {"team_ids": [team]}, expect=200),
        Step("team delete again", "POST", "/team/delete", {"team_ids": [team]}),
        Step("team info: deleted team", "GET", "/team/info", params={"team_id": team}),
        Step("key info: deleted with its team", "GET", "/key/info", params=lambda c: {"key": c["team_key"]}),
        Step("user delete", "POST", "/user/delete", {"user_ids": [user]}, expect=200),
        Step("user info: deleted user", "GET", f"/user/info?user_id={enc_user}"),
        # ------------------------------------------------------------- bad bodies
        Step("bad body: not JSON", "POST", "/key/generate", raw_body=b"{not json", expect=422),
        Step("bad body: a list", "POST", "/key/generate", [1, 2], expect=500),
        Step("bad body: a list, wrong master key", "POST", "/key/generate", [1, 2], auth="wrong"),
        Step("bad body: not JSON, wrong master key", "POST", "/key/generate", raw_body=b"{not", auth="wrong"),
        Step("bad body: a number, /user/new", "POST", "/user/new", 5),
        Step(
            "bad body: max_budget a string, wrong master key",
            "POST",
            "/key/generate",
            {"max_budget": "x"},
            auth="wrong",
        ),
        Step("bad body: max_budget a string", "POST", "/key/generate", {"max_budget": "lots"}, expect=422),
        Step("bad body: models not a list", "POST", "/key/generate", {"models": "fake"}, expect=422),
        Step("bad body: user_id a number", "POST", "/user/new", {"user_id": 5}, expect=422),
        Step("bad body: team_ids missing", "POST", "/team/delete", {}, expect=422),
        Step("bad body: key/update without key or alias", "POST", "/key/update", {"max_budget": 1.0}),
        Step("bad body: key/delete without keys", "POST", "/key/delete", {}),
        # ------------------------------------------------------------------- auth
        Step("wrong master key: key list", "GET", "/key/list", auth="wrong", expect=401),
        Step("wrong master key: key generate", "POST", "/key/generate", {"key_alias": alias}, auth="wrong", expect=401),
        Step("no key: key list", "GET", "/key/list", auth="none", expect=401),
    ]


# ----------------------------------------------------------------------------- the real side
def connect_real_api() -> tuple[RemoteProxy, list[str]]:
    """The real proxy of LITELLM_TEST_URL and its model names; the calling test FAILS when there is none."""
    remote = remote_proxy_from_env()
    if remote is None:
        pytest.fail(f"LITELLM_TEST_URL / LITELLM_TEST_MASTER_KEY are not set: {START_HINT}", pytrace=False)
    try:
        reply = remote.call("GET", "/health/readiness", key=None, timeout=10)
    except OSError as exc:
        pytest.fail(f"the real API at {remote.url} does not answer ({exc}): {START_HINT}", pytrace=False)
    if reply.status != 200:
        pytest.fail(f"the real API at {remote.url} is not ready ({reply}): {START_HINT}", pytrace=False)
    status, body = remote.call("GET", "/model/info")
    assert status == 200, body
    # "name=provider/model": the stand-in then lists the same mode and token limits on /v1/models
    models = list(dict.fromkeys(f"{m['model_name']}={m['litellm_params']['model']}" for m in body["data"]))
    assert models, "the real API serves no models"
    return remote, models


# ----------------------------------------------------------------------------- the test
def run_sequence(standin_side: Side, real_side: Side, sequence: list[Step]) -> list[str]:
    report: list[str] = []
    dump: list[dict[str, Any]] = []
    for step in sequence:
        answers = {}
        for side in (standin_side, real_side):
            reply = send(side, step)
            body = reply.json if reply.json is not None or not reply.body else reply.text
            if step.capture is not None and reply.status == 200:
                step.capture(side.ctx, body)
            if step.select is not None and reply.status == 200:
                body = step.select(body)
            answers[side.name] = (reply.status, body)
        (s_status, s_body), (r_status, r_body) = answers["stand-in"], answers["real"]
        problems = []
        if s_status != r_status:
            problems.append(f"status {s_status} (stand-in) != {r_status} (real)")
        problems += compare(standin_side.normalise(s_body), real_side.normalise(r_body), also_varying=step.varying)
        if problems:
            report.append(
                f"--- {step.name}: {step.method} {_resolve(step.path, real_side.ctx)}\n    "
                + "\n    ".join(problems)
                + f"\n    stand-in: {s_status} {_short(standin_side.normalise(s_body))}"
                + f"\n    real:     {r_status} {_short(real_side.normalise(r_body))}"
            )
        if step.expect is not None and r_status != step.expect:
            report.append(f"--- {step.name}: the real API answered {r_status}, the sequence expects {step.expect}")
        dump.append({"step": step.name, "stand-in": [s_status, s_body], "real": [r_status, r_body]})
    if os.environ.get("DIFF_DUMP"):  # DIFF_DUMP=answers.json keeps every answer of both sides, for debugging
        with open(os.environ["DIFF_DUMP"], "w") as fh:
            json.dump(dump, fh, indent=1, default=str)
    return report


def cleanup(side: Side, s: str) -> None:
    proxy = side.proxy
    for name in ("key", "soft_key", "team_key", "user_key", "own_key", "noteam_key"):
        if name in side.ctx:
            proxy.call("POST", "/key/delete", {"keys": [side.ctx[name]]})
    proxy.call("POST", "/key/delete", {"key_aliases": [f"it-diff-{s}", f"it-diff-{s}-chosen", f"it-diff-{s}-team"]})
    proxy.call("POST", "/team/delete", {"team_ids": [f"it-diff-team-{s}"]})
    proxy.call("POST", "/team/delete", {"team_ids": [f"it-diff-team-{s}-m"]})
    proxy.call("POST", "/user/delete", {"user_ids": [f"it-diff user {s}", f"it-diff-u2-{s}"]})


# ----------------------------------------------------------------------------- key policies
# The second real proxy (LITELLM_TEST_POLICY_URL, same master key) runs with these config.yaml sections
# (scripts/real-admin-api.sh's LITELLM_POLICY_CONFIG); the stand-in is given the same settings as options.
POLICY_CONFIG = Path(__file__).resolve().parents[1] / "realapi" / "policy-config.yaml"


def policy_settings(path: Path = POLICY_CONFIG) -> dict[str, Any]:
    """run_standin() options for the LiteLLM settings in a policy config file."""
    import yaml

    config = yaml.safe_load(path.read_text()) or {}
    general = config.get("general_settings") or {}
    settings = config.get("litellm_settings") or {}
    # alerting only sends webhooks (budget alerts); the admin API answers the same without it
    known_general = {"disable_custom_api_keys", "master_key", "database_url", "alerting", "alert_types"}
    known_settings = {
        "default_key_generate_params",
        "upperbound_key_generate_params",
        "enable_key_alias_format_validation",
    }
    unknown = sorted((set(general) - known_general) | (set(settings) - known_settings))
    assert not unknown, f"{path} sets what the stand-in cannot be told: {unknown}"
    return {
        "disable_custom_api_keys": bool(general.get("disable_custom_api_keys", False)),
        "default_key_generate_params": settings.get("default_key_generate_params"),
        "upperbound_key_generate_params": settings.get("upperbound_key_generate_params"),
        "key_alias_format_validation": bool(settings.get("enable_key_alias_format_validation", False)),
    }


def policy_steps(s: str) -> list[Step]:
    alias = f"it-diff-pol-{s}"
    return [
        Step(
            "defaults and upper bounds fill an empty request (master key)",
            "POST",
            "/key/generate",
            {"key_alias": alias},
            capture=lambda c, b: c.update(key=b["key"]),
            expect=200,
        ),
        Step("key info: filled key", "GET", "/key/info", params=lambda c: {"key": c["key"]}, expect=200),
        Step(
            "explicit duration null is filled too",
            "POST",
            "/key/generate",
            {"key_alias": f"{alias}-d", "duration": None},
        ),
        Step(
            "explicit budget_duration null is kept",
            "POST",
            "/key/generate",
            {"key_alias": f"{alias}-b", "budget_duration": None},
        ),
        Step(
            "caller's values win",
            "POST",
            "/key/generate",
            {"key_alias": f"{alias}-v", "max_budget": 7.5, "metadata": {"a": 1}, "models": ["fake-model"]},
        ),
        Step("tpm_limit over the upper bound", "POST", "/key/generate", {"tpm_limit": 200000}, expect=400),
        Step("max_budget over the upper bound", "POST", "/key/generate", {"max_budget": 60.0}, expect=400),
        Step("duration over the upper bound", "POST", "/key/generate", {"duration": "365d"}, expect=400),
        Step("a chosen key is refused", "POST", "/key/generate", {"key": f"sk-diff-pol-chosen-{s}"}, expect=403),
        Step("a key alias the format rule refuses", "POST", "/key/generate", {"key_alias": f"it diff pol {s}!"}),
        Step(
            "update: tpm_limit over the upper bound",
            "POST",
            "/key/update",
            lambda c: {"key": c["key"], "tpm_limit": 200000},
            expect=400,
        ),
        Step(
            "update: never-expiring duration over the bound",
            "POST",
            "/key/update",
            lambda c: {"key": c["key"], "duration": "-1"},
            expect=400,
        ),
        Step(
            "update within bounds", "POST", "/key/update", lambda c: {"key": c["key"], "max_budget": 10.0}, expect=200
        ),
        Step(  # what litellm_key sends to take back what the defaults and upper bounds filled (issue 15)
            "update: explicit nulls remove the filled expiry, budget and limits",
            "POST",
            "/key/update",
            lambda c: {"key": c["key"], "duration": None, "max_budget": None, "budget_duration": None,
                       "tpm_limit": None},
            expect=200,
        ),
        Step("key info: nothing filled left", "GET", "/key/info", params=lambda c: {"key": c["key"]}, expect=200),
        Step(
            "regenerate with a chosen new_key, no licence",
            "POST",
            "/key/regenerate",
            lambda c: {"key": c["key"], "new_key": f"sk-diff-pol-new-{s}"},
        ),
        Step(
            "delete",
            "POST",
            "/key/delete",
            {"key_aliases": [alias, f"{alias}-d", f"{alias}-b", f"{alias}-v"]},
            expect=200,
        ),
    ]


def test_key_policies_like_the_real_admin_api() -> None:
    url = os.environ.get("LITELLM_TEST_POLICY_URL")
    if not url:
        pytest.skip(
            "LITELLM_TEST_POLICY_URL is not set: it names a second real proxy (same master key) whose config "
            f"has the settings of {POLICY_CONFIG.relative_to(POLICY_CONFIG.parents[2])} (see this module's docstring)"
        )
    real_api, real_models = connect_real_api()
    real_policy_api = RemoteProxy(url, real_api.master_key)
    suffix = uuid.uuid4().hex[:8]
    settings = policy_settings()
    with run_standin(master_key=real_policy_api.master_key, models=real_models, **settings) as twin:
        standin_side, real_side = Side("stand-in", twin), Side("real", real_policy_api)
        try:
            report = run_sequence(standin_side, real_side, policy_steps(suffix))
        finally:
            for side in (standin_side, real_side):
                side.proxy.call(
                    "POST", "/key/delete", {"key_aliases": [f"it-diff-pol-{suffix}{x}" for x in ("", "-d", "-b", "-v")]}
                )
    assert not report, f"{len(report)} difference(s) between the stand-in and the real admin API:\n" + "\n".join(report)


# ----------------------------------------------------------------------------- without a database
def no_database_steps(model: str) -> list[Step]:
    """What a proxy without DATABASE_URL answers (the role's default database mode is none)."""
    chat_ok = Step(
        "chat: master key",
        "POST",
        "/v1/chat/completions",
        chat(model),
        expect=200,
        varying=frozenset({"content", "prompt_tokens", "completion_tokens", "total_tokens"}),
    )
    return [
        Step("readiness", "GET", "/health/readiness", auth="none", expect=200),
        Step("models: master key", "GET", "/v1/models", expect=200),
        chat_ok,
        Step("chat: a virtual key", "POST", "/v1/chat/completions", chat(model), auth="wrong", expect=400),
        Step("chat: no key", "POST", "/v1/chat/completions", chat(model), auth="none", expect=401),
        Step("key generate: a virtual key", "POST", "/key/generate", {}, auth="wrong", expect=400),
        Step("key generate: bad body", "POST", "/key/generate", {"max_budget": "x"}, expect=422),
        Step("key generate", "POST", "/key/generate", {}, expect=500),
        Step("key update", "POST", "/key/update", {"key": "sk-diff-nodb-0123456789"}),
        Step("key info", "GET", "/key/info", params={"key": "sk-diff-nodb-0123456789"}),
        Step("key info without key", "GET", "/key/info"),
        Step("key list", "GET", "/key/list"),
        Step("key delete", "POST", "/key/delete", {"keys": ["sk-diff-nodb-0123456789"]}),
        Step("key delete: bad body", "POST", "/key/delete", {}),
        Step("key block", "POST", "/key/block", {"key": "sk-diff-nodb-0123456789"}),
        Step("key unblock", "POST", "/key/unblock", {"key": "sk-diff-nodb-0123456789"}),
        Step("key regenerate, no licence", "POST", "/key/regenerate", {"key": "sk-diff-nodb-0123456789"}),
        Step("key regenerate (path), no licence", "POST", "/key/sk-diff-nodb-0123456789/regenerate", {}),
        Step("user new", "POST", "/user/new", {"user_id": "it-diff-nodb"}),
        Step("user info", "GET", "/user/info", params={"user_id": "it-diff-nodb"}),
        Step("user update", "POST", "/user/update", {"user_id": "it-diff-nodb"}),
        Step("user delete", "POST", "/user/delete", {"user_ids": ["it-diff-nodb"]}),
        Step("user list", "GET", "/user/list"),
        Step("team new", "POST", "/team/new", {}),
        Step("team info", "GET", "/team/info", params={"team_id": "it-diff-nodb"}),
        Step("team info without team_id", "GET", "/team/info"),
        Step("team update", "POST", "/team/update", {"team_id": "it-diff-nodb"}),
        Step("team delete", "POST", "/team/delete", {"team_ids": ["it-diff-nodb"]}),
        Step("team list", "GET", "/team/list"),
    ]


def test_no_database_like_the_real_proxy() -> None:
    url = os.environ.get("LITELLM_TEST_NODB_URL")
    if not url:
        pytest.skip(
            "LITELLM_TEST_NODB_URL is not set: it names a real proxy without DATABASE_URL (same master key as "
            "LITELLM_TEST_MASTER_KEY, same models as LITELLM_TEST_URL)"
        )
    real_api, real_models = connect_real_api()
    nodb = RemoteProxy(url, real_api.master_key)
    with run_standin(master_key=nodb.master_key, models=real_models, database=False) as twin:
        report = run_sequence(
            Side("stand-in", twin), Side("real", nodb), no_database_steps(real_models[0].split("=")[0])
        )
    assert not report, f"{len(report)} difference(s) between the stand-in and the real proxy:\n" + "\n".join(report)


def test_standin_answers_like_the_real_admin_api() -> None:
    real_api, real_models = connect_real_api()
    suffix = uuid.uuid4().hex[:8]
    # the stand-in runs with the real side's master key and model names
    with run_standin(master_key=real_api.master_key, models=real_models) as twin:
        standin_side, real_side = Side("stand-in", twin), Side("real", real_api)
        try:
            report = run_sequence(standin_side, real_side, steps(suffix, real_models[0].split("=")[0]))
        finally:
            cleanup(standin_side, suffix)
            cleanup(real_side, suffix)
    assert not report, f"{len(report)} difference(s) between the stand-in and the real admin API:\n" + "\n".join(report)
