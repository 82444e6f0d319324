"""The venv's hash-locked requirements (F9): every requirement pinned with
sha256 hashes, naming the LiteLLM and Prisma versions the role installs, and
the role installs it with pip --require-hashes. Fast, without a host; the
venv scenario shows a tampered wheel refused."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
ROLE = ROOT / "roles" / "litellm_venv"


def _defaults():
    return yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())


def _requirements(text):
    """name==version -> hashes, from a pip-compile --generate-hashes file."""
    found, current = {}, None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("--hash="):
            found[current].append(stripped.split("=", 1)[1].rstrip(" \\"))
        else:
            current = stripped.rstrip(" \\").split(";")[0].strip()
            found[current] = []
    return found


def test_the_shipped_lock_pins_what_the_role_installs():
    defaults = _defaults()
    lock = ROLE / "files" / f"requirements-{defaults['litellm_venv_version']}.txt"
    requirements = _requirements(lock.read_text())
    assert f"litellm=={defaults['litellm_venv_version']}" in requirements
    assert defaults["litellm_venv_prisma_requirement"] in requirements
    assert len(requirements) > 100
    for requirement, hashes in requirements.items():
        assert re.match(r"^[A-Za-z0-9._-]+==[0-9][^ ]*$", requirement), requirement
        assert hashes and all(re.match(r"^sha256:[0-9a-f]{64}$", h) for h in hashes), requirement
    assert "--index-url" not in lock.read_text() and "--find-links" not in lock.read_text()


def test_pip_runs_with_require_hashes_by_default():
    variables = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())
    assert _defaults()["litellm_venv_require_hashes"] is True
    assert "'PIP_REQUIRE_HASHES': '1'" in variables["_litellm_venv_pip_env"]
    tasks = yaml.safe_load((ROLE / "tasks" / "install.yml").read_text())
    pip = next(t for t in tasks if "ansible.builtin.pip" in t)["ansible.builtin.pip"]
    assert "_litellm_venv_lock_on_host" in pip["requirements"]
