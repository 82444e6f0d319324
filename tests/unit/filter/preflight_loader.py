"""Loads the preflight filter and the gateway roles' argument specs for the fast tests."""

import importlib.util
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location(
    "litellm_preflight_problems", ROOT / "plugins" / "filter" / "litellm_preflight_problems.py")
preflight = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(preflight)


def merged_options(*roles):
    """The argument-spec options of these roles, merged as the preflight merges them."""
    merged = {}
    for role in roles:
        spec = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
        merged.update(spec["argument_specs"]["main"]["options"])
    return merged
