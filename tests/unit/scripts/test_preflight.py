"""scripts/preflight.sh and scripts/deps.sh: a missing system package is named
with the command that installs it, from the one list in deps.sh; the make
targets and CI use them."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PREFLIGHT = ROOT / "scripts" / "preflight.sh"
DEPS = ROOT / "scripts" / "deps.sh"
BASH = shutil.which("bash")


def entries():
    """(package, check, needed by) of every line of deps.sh's list."""
    out = subprocess.run([BASH, str(DEPS), "--list"], capture_output=True, text=True, check=True).stdout
    return [tuple(line.split()[:3]) for line in out.splitlines() if line.strip()]


def stub_path(tmp_path, leave_out=()):
    """A directory of stub commands, one for every command the list checks, except leave_out."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for _unused, check, _unused in entries():
        command = "python3" if check.startswith("py:") else check.split(":", 1)[1]
        if command in leave_out:
            continue
        stub = bin_dir / command
        stub.write_text("#!/bin/sh\nexit 0\n")
        stub.chmod(0o755)
    return str(bin_dir)


def preflight(target, path):
    return subprocess.run([BASH, str(PREFLIGHT), target], capture_output=True, text=True, env={"PATH": path},
                          check=False)


def test_the_list_holds_what_the_make_targets_need():
    packages = {package for package, _unused, _unused in entries()}
    assert {"docker.io", "debootstrap", "python3-venv", "curl", "postgresql", "nodejs", "npm",
            "stress-ng"} <= packages


@pytest.mark.parametrize("target", ["images", "demo", "test"])
def test_a_missing_debootstrap_is_named_with_the_command_that_installs_it(tmp_path, target):
    result = preflight(target, stub_path(tmp_path, leave_out={"debootstrap"}))
    assert result.returncode == 1, result
    assert f"make {target} needs system packages that are not installed" in result.stderr
    assert "- debootstrap: " in result.stderr
    assert "debootstrap not found" in result.stderr
    assert "sudo make deps" in result.stderr
    assert "sudo apt-get install -y debootstrap\n" in result.stderr, result.stderr
    # Only what is missing is named.
    assert "docker.io" not in result.stderr


def test_everything_there_passes_silently(tmp_path):
    result = preflight("test", stub_path(tmp_path))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_each_target_asks_only_for_what_it_needs(tmp_path):
    # make check runs no container: docker.io and debootstrap are not its business.
    path = stub_path(tmp_path, leave_out={"docker", "dockerd", "debootstrap", "stress-ng"})
    assert preflight("check", path).returncode == 0
    result = preflight("test", path)
    assert result.returncode == 1
    assert "sudo apt-get install -y docker.io debootstrap\n" in result.stderr, result.stderr
    assert "stress-ng" not in result.stderr
    assert "stress-ng" in preflight("load", path).stderr


def test_python_without_venv_support_is_named(tmp_path):
    path = stub_path(tmp_path)
    (Path(path) / "python3").write_text("#!/bin/sh\nexit 1\n")  # `import ensurepip` fails: no python3-venv
    result = preflight("check", path)
    assert result.returncode == 1
    assert "- python3-venv: " in result.stderr and "apt-get install -y python3-venv" in result.stderr


def test_an_unknown_target_is_a_usage_error(tmp_path):
    result = preflight("nonsense", stub_path(tmp_path))
    assert result.returncode == 2
    assert "unknown target 'nonsense'" in result.stderr


def _recipe(makefile, target):
    match = re.search(rf"^{re.escape(target)}:[^\n]*\n((?:\t[^\n]*\n)+)", makefile, re.M)
    assert match, f"no target {target} in the Makefile"
    return match.group(1).splitlines()


@pytest.mark.parametrize("target", ["images", "demo", "test", "check"])
def test_the_make_targets_run_the_preflight_first(target, tmp_path):
    # make -n prints the recipe as make would run it (macros expanded). It
    # still runs the lines that call $(MAKE), stage.sh among them: their
    # records go to tmp_path, not to a make test that may be running this.
    env = {**os.environ, "STAGE_TIMES": str(tmp_path / "stage-times")}
    planned = subprocess.run(["make", "-n", "--no-print-directory", "-C", str(ROOT), target],
                             capture_output=True, text=True, check=False, env=env)
    assert planned.stdout.splitlines()[0] == f"scripts/preflight.sh {target}", planned.stdout[:500]


def test_the_venv_is_created_after_its_preflight():
    recipe = _recipe((ROOT / "Makefile").read_text(), "$(VENV)/.installed")
    assert recipe[0].strip().lstrip("@") == "scripts/preflight.sh venv"


def test_make_deps_and_ci_install_from_the_one_list():
    makefile = (ROOT / "Makefile").read_text()
    assert _recipe(makefile, "deps") == ["\tscripts/deps.sh"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/deps.sh" in ci
    assert "apt-get" not in ci  # no second list
