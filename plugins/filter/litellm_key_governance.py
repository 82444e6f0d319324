# Copyright: Sacred Brain platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight rules for budgets and key parameters: what LiteLLM would not enforce, or would change."""

from __future__ import annotations

import re

DOCUMENTATION = r"""
name: litellm_key_governance
short_description: Check budgets, alerting and declared keys against LiteLLM's key parameters
version_added: 0.2.0
description:
  - Returns C(problems) (the preflight refuses the run when there is one) and C(notes) (explained in the
    output), each a list of messages that name the variable and never contain a secret.
  - "Problems: a budget (C(litellm_settings.max_budget), or a budget of a declared key, team or user) without a
    database, which LiteLLM would not enforce; a declared key that C(upperbound_key_generate_params) would
    refuse, or that declares no value for a limit the upper bound caps; webhook alerting without C(WEBHOOK_URL)."
  - "Notes: for each setting of C(default_key_generate_params), the declared keys that do not declare it."
options:
  _input:
    description:
      - C(database_mode), C(litellm_settings), C(general_settings), C(alerting), C(env_names) (the names of
        C(litellm_env_extra), never its values), C(keys), C(teams), C(users).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Refuse what LiteLLM would not enforce
  ansible.builtin.assert:
    that: (facts | sacred_brain.llm_gateway.litellm_key_governance).problems | length == 0
"""

RETURN = r"""
_value:
  description: C(problems) and C(notes), lists of messages.
  type: dict
"""

# Upper bounds LiteLLM compares as numbers and as durations (_enforce_upperbound_key_params).
NUMERIC_BOUNDS = ("max_budget", "max_parallel_requests", "tpm_limit", "rpm_limit")
DURATION_BOUNDS = ("duration", "budget_duration")
# What default_key_generate_params fills when a /key/generate request leaves it unset.
DEFAULTED = ("duration", "max_budget", "budget_duration", "tpm_limit", "rpm_limit", "max_parallel_requests",
             "models", "metadata")
BUDGET_FIELDS = ("max_budget", "soft_budget", "budget_duration")
_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w|mo|y)?\s*$")
_UNITS = {None: 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "mo": 2592000, "y": 31536000}


def duration_seconds(value):
    """Seconds of a LiteLLM duration ("30s", "15m", "24h", "7d", "2w", "1mo", "1y"), or None if unreadable."""
    m = _DURATION.match(str(value))
    if not m:
        return None
    return int(m.group(1)) * _UNITS[m.group(2)]


def _declared(items, state_key="state"):
    return [i for i in (items or []) if isinstance(i, dict) and i.get(state_key, "present") != "absent"]


def _has_database(data):
    general = data.get("general_settings") or {}
    return (data.get("database_mode") or "none") != "none" or bool(general.get("database_url"))


def budget_problems(data):
    if _has_database(data):
        return []
    problems = []
    modes = "litellm_database_mode compose, native or external"
    settings = data.get("litellm_settings") or {}
    if settings.get("max_budget") is not None:
        problems.append(
            "litellm_config_litellm_settings.max_budget (%s, a global budget) is enforced by LiteLLM only with a "
            "database, and litellm_database_mode is none: choose %s, or remove max_budget"
            % (settings["max_budget"], modes))
    for var, items, ident in (("litellm_keys_virtual_keys", data.get("keys"), "key_alias"),
                              ("litellm_keys_teams", data.get("teams"), "team_alias"),
                              ("litellm_keys_users", data.get("users"), "user_id")):
        for item in _declared(items):
            budgets = [f for f in BUDGET_FIELDS if item.get(f) is not None]
            if budgets:
                problems.append(
                    "%s entry %r sets %s, which LiteLLM tracks and enforces only with a database, and "
                    "litellm_database_mode is none: choose %s" % (var, item.get(ident), ", ".join(budgets), modes))
    return problems


def upperbound_problems(data):
    bounds = (data.get("litellm_settings") or {}).get("upperbound_key_generate_params") or {}
    problems = []
    where = "litellm_config_litellm_settings.upperbound_key_generate_params"
    for key in _declared(data.get("keys")):
        alias = key.get("key_alias")
        for field in NUMERIC_BOUNDS:
            bound = bounds.get(field)
            if bound is None:
                continue
            value = key.get(field)
            if value is None:
                problems.append(
                    "litellm_keys_virtual_keys entry %r declares no %s (unlimited), but %s.%s caps it at %s: "
                    "declare a %s of at most %s" % (alias, field, where, field, bound, field, bound))
            elif float(value) > float(bound):
                problems.append(
                    "litellm_keys_virtual_keys entry %r: %s %s is over %s.%s %s, LiteLLM would refuse the key"
                    % (alias, field, value, where, field, bound))
        for field in DURATION_BOUNDS:
            bound = bounds.get(field)
            if bound is None:
                continue
            value = key.get(field)
            if value is None:
                if field == "budget_duration" and key.get("max_budget") is None:
                    continue
                problems.append(
                    "litellm_keys_virtual_keys entry %r declares no %s (%s), but %s.%s caps it at %s: declare one "
                    "of at most %s" % (alias, field, "never expires" if field == "duration" else "a budget that never "
                                       "resets", where, field, bound, bound))
                continue
            have, most = duration_seconds(value), duration_seconds(bound)
            if have is None or most is None:
                problems.append("litellm_keys_virtual_keys entry %r: cannot compare %s %r with %s.%s %r (durations "
                                "look like 30s, 15m, 24h, 7d, 2w, 1mo)" % (alias, field, value, where, field, bound))
            elif have > most:
                problems.append(
                    "litellm_keys_virtual_keys entry %r: %s %s is over %s.%s %s, LiteLLM would refuse the key"
                    % (alias, field, value, where, field, bound))
    return problems


def alerting_problems(data):
    if "webhook" in (data.get("alerting") or []) and "WEBHOOK_URL" not in (data.get("env_names") or []):
        return ["litellm_config_alerting includes webhook, but litellm_env_extra has no WEBHOOK_URL: LiteLLM posts "
                "webhook alerts to the URL in that environment variable (put it in the vault)"]
    return []


def default_notes(data):
    defaults = (data.get("litellm_settings") or {}).get("default_key_generate_params") or {}
    notes = []
    keys = _declared(data.get("keys"))
    for field in DEFAULTED:
        if field not in defaults:
            continue
        concerned = [k.get("key_alias") for k in keys if k.get(field) in (None, [], {})]
        if not concerned:
            continue
        notes.append(
            "litellm_config_litellm_settings.default_key_generate_params.%s (%s) is given by LiteLLM to every key "
            "generated without one, master-key requests included. Declared keys without %s: %s. "
            "litellm_key and litellm_key_rotate take back an expiry, budgets, limits and models LiteLLM fills in "
            "(keys live as declared); keys made elsewhere (UI, /key/generate) keep them."
            % (field, defaults[field], field, ", ".join(str(a) for a in concerned)))
    return notes


def litellm_key_governance(data):
    data = data or {}
    problems = budget_problems(data) + upperbound_problems(data) + alerting_problems(data)
    return {"problems": problems, "notes": default_notes(data)}


class FilterModule:
    def filters(self):
        return {"litellm_key_governance": litellm_key_governance}
