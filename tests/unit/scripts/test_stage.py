"""scripts/stage.sh: the stages of make check / make test are timed, and the
table at the end lists every stage, also a failed one and one never run."""

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
STAGE = ROOT / "scripts" / "stage.sh"
BASH = shutil.which("bash")


def stage(tmp_path, *args):
    env = {"PATH": "/usr/bin:/bin", "STAGE_TIMES": str(tmp_path / "times")}
    return subprocess.run([BASH, str(STAGE), *args], capture_output=True, text=True, env=env, check=False)


def test_stages_are_recorded_and_summarised(tmp_path):
    assert stage(tmp_path, "reset").returncode == 0
    ok = stage(tmp_path, "run", "lint", "true")
    assert ok.returncode == 0
    assert "stage lint: ok in" in ok.stdout
    failed = stage(tmp_path, "run", "unit", "sh", "-c", "exit 3")
    assert failed.returncode == 3
    assert "stage unit: FAILED in" in failed.stdout

    summary = stage(tmp_path, "summary", "lint", "unit", "molecule-venv")
    assert summary.returncode == 1
    rows = {line.split()[0]: line.split()[1:] for line in summary.stdout.splitlines() if line.strip()}
    assert rows["lint"][0] == "ok" and rows["lint"][-1] == "s"
    assert rows["unit"][0] == "FAILED"
    assert rows["molecule-venv"][:2] == ["not", "run"]
    assert "sum" in rows  # "sum of the stages"
    assert "elapsed" in rows  # the wall clock since reset: stages run in parallel lanes


def test_all_stages_ok_summarise_to_success(tmp_path):
    stage(tmp_path, "reset")
    for name in ("lint", "syntax"):
        assert stage(tmp_path, "run", name, "true").returncode == 0
    summary = stage(tmp_path, "summary", "lint", "syntax")
    assert summary.returncode == 0, summary.stdout
    assert "FAILED" not in summary.stdout


def test_reset_forgets_earlier_runs(tmp_path):
    stage(tmp_path, "run", "lint", "false")
    stage(tmp_path, "reset")
    assert "not run" in stage(tmp_path, "summary", "lint").stdout


def test_summary_reports_the_machines_cpu_over_the_run(tmp_path):
    """The stages' CPU column leaves containers out; the machine's line does not."""
    stage(tmp_path, "reset")
    assert stage(tmp_path, "run", "lint", "sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done").returncode == 0
    line = next(line for line in stage(tmp_path, "summary", "lint").stdout.splitlines() if line.startswith("machine CPU"))
    busy = int(line.split("%")[0].split()[-1])
    assert 0 < busy <= 100, line
    assert line.rstrip().endswith("CPUs busy, containers included"), line
