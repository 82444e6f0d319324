"""The scaleout tests run once for the whole fleet; this fixture reaches every host."""

import os
from pathlib import Path

import pytest
import testinfra

from scaleout_helpers import HOSTS


@pytest.fixture(scope="session")
def fleet():
    inv = Path(os.environ["MOLECULE_INVENTORY_FILE"])
    return {name: testinfra.get_host(f"ansible://{name}?ansible_inventory={inv}") for name in HOSTS}
