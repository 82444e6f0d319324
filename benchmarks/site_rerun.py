#!/usr/bin/env python3
"""Benchmark: an idempotent re-run of site.yml against a floor play (facts +
ping) on the same converged Molecule instance, several runs each, medians and
their ratio; plus first-converge time and service start to healthy.

    python benchmarks/site_rerun.py [--scenario venv|compose] [--runs 5]

Prints a Markdown table for docs/performance.md. Not a test: nothing here
asserts a time.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PATH=f"{ROOT}/.venv/bin:{os.environ['PATH']}", ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
           ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_ROLES_PATH=str(ROOT / "roles"))
ENV.setdefault("SACRED_BRAIN_CACHE", str(Path.home() / ".cache" / "sacred-brain-llm-gateway"))


def run(cmd, check=True):
    return subprocess.run(cmd, cwd=ROOT, env=ENV, check=check, capture_output=True, text=True)


def timed(cmd):
    start = time.monotonic()
    result = run(cmd, check=False)
    elapsed = time.monotonic() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}")
    return elapsed, result.stdout


def inventory(scenario):
    # One ephemeral directory per checkout (clones too): the one just converged is the newest.
    matches = [p for p in Path.home().glob(f".ansible/tmp/molecule.*.{scenario}/inventory") if (p / "host_vars").is_dir()]
    if not matches:
        sys.exit("no molecule inventory found")
    return str(max(matches, key=lambda p: (p / "ansible_inventory.yml").stat().st_mtime))


def time_to_healthy(instance, unit):
    run(["docker", "exec", instance, "systemctl", "stop", unit])
    start = time.monotonic()
    run(["docker", "exec", instance, "systemctl", "start", unit])
    while time.monotonic() - start < 300:
        probe = run(["docker", "exec", instance, "curl", "-sf", "-o", "/dev/null",
                     "http://127.0.0.1:4000/health/liveliness"], check=False)
        if probe.returncode == 0:
            return time.monotonic() - start
        time.sleep(0.2)
    sys.exit("the proxy did not become healthy within 300 s")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", default="venv", choices=["venv", "compose"])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    instance = f"litellm-{args.scenario}"
    unit = "litellm.service" if args.scenario == "venv" else "litellm-compose.service"

    run(["molecule", "destroy", "-s", args.scenario])
    run(["molecule", "create", "-s", args.scenario])
    run(["molecule", "prepare", "-s", args.scenario])
    first, _ = timed(["molecule", "converge", "-s", args.scenario])
    inv = inventory(args.scenario)
    site = ["ansible-playbook", "-i", inv, "molecule/resources/converge.yml"]
    floor = ["ansible-playbook", "-i", inv, "benchmarks/floor.yml"]
    timed(site)  # warm-up

    site_times, floor_times = [], []
    for _ in range(args.runs):  # interleaved, so drift hits both alike
        elapsed, out = timed(site)
        if "changed=0" not in out:
            sys.exit("site.yml re-run was not idempotent:\n" + out[-2000:])
        site_times.append(elapsed)
        floor_times.append(timed(floor)[0])
    healthy = [time_to_healthy(instance, unit) for _ in range(3)]
    run(["molecule", "destroy", "-s", args.scenario])

    site_median, floor_median = statistics.median(site_times), statistics.median(floor_times)
    print(f"| scenario | {args.scenario} ({args.runs} runs each) |")
    print("| --- | --- |")
    print(f"| first converge (site.yml on a fresh instance) | {first:.1f} s |")
    print(f"| idempotent site.yml re-run, median | {site_median:.1f} s (runs: {', '.join(f'{t:.1f}' for t in site_times)}) |")
    print(f"| floor play (facts + ping), median | {floor_median:.1f} s (runs: {', '.join(f'{t:.1f}' for t in floor_times)}) |")
    print(f"| ratio re-run / floor | {site_median / floor_median:.2f} (target <= 3) |")
    print(f"| service start to /health/liveliness 200, median of 3 | {statistics.median(healthy):.1f} s |")


if __name__ == "__main__":
    main()
