"""The key audit's findings (plugins/filter/litellm_key_audit.py), fast."""

import importlib.util
import json

from preflight_loader import ROOT

_spec = importlib.util.spec_from_file_location("litellm_key_audit", ROOT / "plugins" / "filter" / "litellm_key_audit.py")
audit_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(audit_module)
audit = audit_module.FilterModule().filters()["litellm_key_audit"]

NOW = "2026-06-30T00:00:00Z"


def key(alias, **fields):
    base = {"key_alias": alias, "logical_alias": alias, "token": alias.ljust(64, "0"), "max_budget": 5.0,
            "created_at": "2026-06-29T00:00:00Z", "last_active": None, "expires": None, "blocked": False,
            "owner_missing": []}
    base.update(fields)
    return base


OPTIONS = dict(now=NOW, declared=["clean", "nobudget", "soft", "idle", "old", "soon", "gone", "blocked", "orphan",
                                  "Bad Alias", "inflight"],
               unused_days=30, older_than_days=90, expiring_within_days=14, alias_pattern="[a-z]+")


def findings(*keys, **options):
    result = audit(list(keys), **dict(OPTIONS, **options))
    return {e["alias"]: e["findings"] for e in result["keys"]}, result


def test_each_kind_is_flagged_and_nothing_else():
    found, result = findings(
        key("clean"),
        key("nobudget", max_budget=None),
        key("soft", max_budget=None, soft_budget=1.0),
        key("idle", created_at="2026-05-01T00:00:00Z", last_active="2026-05-15T00:00:00Z"),
        key("old", created_at="2026-01-01T00:00:00Z", last_active="2026-06-29T00:00:00Z"),
        key("soon", expires="2026-07-05T00:00:00Z"),
        key("gone", expires="2026-06-01T00:00:00Z"),
        key("blocked", blocked=True),
        key("orphan", user_id="u1", owner_missing=["user"]),
        key("stray"),
        key("Bad Alias"),
        key("inflight.retiring.abcdef12", logical_alias="inflight"),
    )
    assert found == {
        "clean": [], "nobudget": ["no_budget"], "soft": [], "idle": ["unused"], "old": ["old"],
        "soon": ["expiring"], "gone": ["expiring"], "blocked": ["blocked"], "orphan": ["orphaned"],
        "stray": ["undeclared"], "Bad Alias": ["alias_pattern"], "inflight.retiring.abcdef12": [],
    }
    assert result["summary"] == {"no_budget": 1, "unused": 1, "old": 1, "expiring": 2, "blocked": 1, "orphaned": 1,
                                 "undeclared": 1, "alias_pattern": 1}
    details = {e["alias"]: e["details"] for e in result["keys"]}
    assert details["gone"]["expiring"] == "expired 29.0 days ago"
    assert details["soon"]["expiring"] == "expires in 5.0 days"
    assert details["orphan"]["orphaned"] == "user u1 is gone"


def test_checks_that_are_not_asked_for_are_not_made():
    found, _result = findings(key("stray", max_budget=None, created_at="2020-01-01T00:00:00Z"), declared=None,
                              unused_days=None, older_than_days=None, expiring_within_days=None, alias_pattern="")
    assert found == {"stray": ["no_budget"]}


def test_markdown_table_escapes_and_never_holds_more_than_the_token_prefix():
    _found, result = findings(key("a|b"))
    md = result["markdown"]
    assert "| a\\|b | " in md and "a|b".ljust(64, "0") not in md
    assert md.splitlines()[0] == "# LiteLLM key audit"
    json.dumps(result)  # serialisable for the JSON report
