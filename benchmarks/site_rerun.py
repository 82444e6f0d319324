#!/usr/bin/env python3
"""Benchmark: an idempotent re-run of site.yml against a floor play (facts +
ping) on the same converged Molecule instance, several runs each, medians and
their ratio; plus first-converge time and service start to healthy.

    python benchmarks/site_rerun.py [--scenario venv|compose] [--runs 5]
        [--reuse] [--keep] [--baseline CHECKOUT]

--reuse measures the scenario's instance as it is (converged, not destroyed
first), --keep leaves it up after; --baseline runs the site.yml of another
checkout (e.g. a clone at an earlier commit) interleaved with this one's
and the floor, on the same host, so that "before" and "after" share the
machine's load. Hold the scenario's lock while this runs
(flock -s /tmp/molecule.lock flock /tmp/molecule.lock.venv ...).

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


def env_of(root):
    return dict(ENV, PATH=f"{root}/.venv/bin:{os.environ['PATH']}", ANSIBLE_CONFIG=str(root / "ansible.cfg"),
                ANSIBLE_COLLECTIONS_PATH=str(root / ".collections"), ANSIBLE_ROLES_PATH=str(root / "roles"))


def run(cmd, check=True, root=ROOT):
    return subprocess.run(cmd, cwd=root, env=env_of(root), check=check, capture_output=True, text=True)


def load():
    return os.getloadavg()[0]


def timed(cmd, root=ROOT):
    start = time.monotonic()
    result = run(cmd, check=False, root=root)
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
    parser.add_argument("--reuse", action="store_true", help="measure the converged instance as it is")
    parser.add_argument("--keep", action="store_true", help="leave the instance up")
    parser.add_argument("--baseline", type=Path, help="another checkout whose site.yml runs interleaved")
    args = parser.parse_args()
    instance = f"litellm-{args.scenario}"
    unit = "litellm.service" if args.scenario == "venv" else "litellm-compose.service"

    first = None
    if not args.reuse:
        run(["molecule", "destroy", "-s", args.scenario])
        run(["molecule", "create", "-s", args.scenario])
        run(["molecule", "prepare", "-s", args.scenario])
        first, _ = timed(["molecule", "converge", "-s", args.scenario])
    inv = inventory(args.scenario)
    site = ["ansible-playbook", "-i", inv, "molecule/resources/converge.yml"]
    floor = ["ansible-playbook", "-i", inv, "benchmarks/floor.yml"]
    timed(site)  # warm-up
    if args.baseline:
        timed(site, root=args.baseline)

    times = {"site": [], "baseline": [], "floor": []}
    loads = []
    for _ in range(args.runs):  # interleaved, so drift hits all alike
        loads.append(load())
        for name, root in (("site", ROOT), ("baseline", args.baseline)):
            if root is None:
                continue
            elapsed, out = timed(site, root=root)
            if "changed=0" not in out:
                sys.exit(f"site.yml re-run ({name}) was not idempotent:\n" + out[-2000:])
            times[name].append(elapsed)
        times["floor"].append(timed(floor)[0])
    healthy = [time_to_healthy(instance, unit) for _ in range(3)]
    if not args.keep:
        run(["molecule", "destroy", "-s", args.scenario])

    def row(label, values):
        return f"| {label} | {statistics.median(values):.1f} s (runs: {', '.join(f'{t:.1f}' for t in values)}) |"

    floor_median = statistics.median(times["floor"])
    print(f"| scenario | {args.scenario} ({args.runs} interleaved runs each, load average {min(loads):.1f} to {max(loads):.1f}) |")
    print("| --- | --- |")
    if first is not None:
        print(f"| first converge (site.yml on a fresh instance) | {first:.1f} s |")
    if args.baseline:
        print(row(f"idempotent site.yml re-run, baseline ({args.baseline}), median", times["baseline"]))
        print(f"| ratio baseline / floor | {statistics.median(times['baseline']) / floor_median:.2f} |")
    print(row("idempotent site.yml re-run, median", times["site"]))
    print(row("floor play (facts + ping), median", times["floor"]))
    print(f"| ratio re-run / floor | {statistics.median(times['site']) / floor_median:.2f} (target <= 3) |")
    print(f"| service start to /health/liveliness 200, median of 3 | {statistics.median(healthy):.1f} s |")


if __name__ == "__main__":
    main()
