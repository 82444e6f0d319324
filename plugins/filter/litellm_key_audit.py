# Copyright: Sacred Brain platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The key audit report: findings per key from litellm_key_info's answer, as data and as Markdown."""

from __future__ import annotations

import datetime
import re

DOCUMENTATION = r"""
name: litellm_key_audit
short_description: Findings of a key audit from the keys litellm_key_info returns
version_added: 0.2.0
description:
  - Classifies every key (O(_input), the C(virtual_keys) of M(sacred_brain.llm_gateway.litellm_key_info) with
    C(check_owners=true)) and returns C(keys) (one entry per key with its C(findings)), C(summary) (count per
    kind), C(markdown) (a table) and C(now).
  - "Kinds: C(no_budget) (neither max_budget nor soft_budget), C(unused) (no activity for O(unused_days): last_active, else
    created_at), C(old) (created more than O(older_than_days) ago), C(expiring) (expires within
    O(expiring_within_days), or expired), C(blocked), C(orphaned) (its user or team is gone), C(undeclared) (not in
    O(declared)), C(alias_pattern) (alias does not match O(alias_pattern))."
  - Keys in a rotation (predecessors in their grace period, unfinished successors) are judged by their logical
    alias. Never contains a key value, only token ids (hashes).
options:
  _input:
    description: The keys, as litellm_key_info returns them.
    type: list
    elements: dict
    required: true
  now:
    description: The proxy's time (litellm_key_info's RV(now)), ISO 8601.
    type: str
    required: true
  declared:
    description: Declared key aliases; null skips the C(undeclared) check.
    type: list
    elements: str
  unused_days:
    description: Flag keys without activity for this many days; null skips the check.
    type: float
  older_than_days:
    description: Flag keys created more than this many days ago; null skips the check.
    type: float
  expiring_within_days:
    description: Flag keys expiring within this many days (or expired); null skips the check.
    type: float
  alias_pattern:
    description: A regular expression every alias must match in full; empty skips the check.
    type: str
"""

EXAMPLES = r"""
- name: Audit
  ansible.builtin.set_fact:
    audit: "{{ listed.virtual_keys | sacred_brain.llm_gateway.litellm_key_audit(now=listed.now, declared=aliases) }}"
"""

RETURN = r"""
_value:
  description: C(keys), C(summary), C(markdown), C(now).
  type: dict
"""

KINDS = ("no_budget", "unused", "old", "expiring", "blocked", "orphaned", "undeclared", "alias_pattern")


def _time(value):
    if not value:
        return None
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(.*)$", text)
    if not m:
        return None
    frac = (m.group(2) or ".0")[1:7].ljust(6, "0")
    try:
        dt = datetime.datetime.fromisoformat("%s.%s%s" % (m.group(1), frac, m.group(3)))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return dt.astimezone(datetime.timezone.utc)


def _days(delta):
    return round(delta.total_seconds() / 86400.0, 1)


def classify(key, now, declared=None, unused_days=None, older_than_days=None, expiring_within_days=None,
             alias_pattern=None):
    """(findings, details) of one key view."""
    findings, details = [], {}
    alias = key.get("logical_alias") or key.get("key_alias")
    if key.get("max_budget") is None and key.get("soft_budget") is None:
        findings.append("no_budget")
    created = _time(key.get("created_at"))
    last = _time(key.get("last_active")) or created
    if unused_days is not None and last is not None and now - last >= datetime.timedelta(days=unused_days):
        findings.append("unused")
        details["unused"] = "no activity for %s days" % _days(now - last)
    if older_than_days is not None and created is not None and now - created >= datetime.timedelta(days=older_than_days):
        findings.append("old")
        details["old"] = "%s days old" % _days(now - created)
    expires = _time(key.get("expires"))
    if expiring_within_days is not None and expires is not None \
            and expires - now <= datetime.timedelta(days=expiring_within_days):
        findings.append("expiring")
        details["expiring"] = ("expired %s days ago" % _days(now - expires)) if expires <= now \
            else "expires in %s days" % _days(expires - now)
    if key.get("blocked"):
        findings.append("blocked")
    missing = key.get("owner_missing") or []
    if missing:
        findings.append("orphaned")
        details["orphaned"] = ", ".join("%s %s is gone" % (kind, key.get(kind + "_id")) for kind in missing)
    if declared is not None and alias not in declared:
        findings.append("undeclared")
    if alias_pattern and not (alias and re.fullmatch(alias_pattern, alias)):
        findings.append("alias_pattern")
        details["alias_pattern"] = "alias %r does not match %s" % (alias, alias_pattern)
    return findings, details


def _cell(value):
    return str("" if value is None else value).replace("|", "\\|").replace("\n", " ")


def litellm_key_audit(keys, now, declared=None, unused_days=None, older_than_days=None, expiring_within_days=None,
                      alias_pattern=None):
    when = _time(now) or datetime.datetime.now(datetime.timezone.utc)
    entries = []
    for key in keys or []:
        findings, details = classify(key, when, declared, unused_days, older_than_days, expiring_within_days,
                                     alias_pattern or None)
        entries.append({
            "alias": key.get("key_alias"), "logical_alias": key.get("logical_alias") or key.get("key_alias"),
            "token": key.get("token"), "user_id": key.get("user_id"), "team_id": key.get("team_id"),
            "spend": key.get("spend"), "max_budget": key.get("max_budget"), "soft_budget": key.get("soft_budget"),
            "created_at": key.get("created_at"), "last_active": key.get("last_active"),
            "expires": key.get("expires"), "blocked": bool(key.get("blocked")),
            "rotation_state": key.get("rotation_state"), "findings": findings, "details": details,
        })
    entries.sort(key=lambda e: (str(e["logical_alias"]), str(e["token"])))
    summary = dict((kind, sum(1 for e in entries if kind in e["findings"])) for kind in KINDS)
    lines = [
        "# LiteLLM key audit",
        "",
        "Proxy time: %s. Keys: %d. Findings: %s." % (
            when.strftime("%Y-%m-%dT%H:%M:%SZ"), len(entries),
            ", ".join("%s %d" % (k, v) for k, v in summary.items() if v) or "none"),
        "",
        "| alias | token | user | team | spend | max budget | created | last active | expires | findings |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for e in entries:
        found = "; ".join(("%s (%s)" % (k, e["details"][k])) if k in e["details"] else k for k in e["findings"])
        lines.append("| %s |" % " | ".join(_cell(v) for v in (
            e["alias"], (e["token"] or "")[:12], e["user_id"], e["team_id"], e["spend"], e["max_budget"],
            e["created_at"], e["last_active"], e["expires"], found or "-")))
    return {"now": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "keys": entries, "summary": summary,
            "markdown": "\n".join(lines) + "\n"}


class FilterModule:
    def filters(self):
        return {"litellm_key_audit": litellm_key_audit}
