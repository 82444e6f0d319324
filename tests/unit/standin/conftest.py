"""Helpers for the stand-in's own tests."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def uniq() -> str:
    """A short unique suffix, so aliases/ids never clash (also on a real, persistent proxy)."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def only_standin(standin):
    """Skip when the ``standin`` fixture points at a real proxy (LITELLM_TEST_URL)."""
    if not getattr(standin, "is_standin", False):
        pytest.skip("checks stand-in internals; LITELLM_TEST_URL points at a real proxy")
    return standin
