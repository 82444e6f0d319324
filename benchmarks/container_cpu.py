#!/usr/bin/env python3
"""Where a command's CPU goes: each Docker container's CPU time, beside the
command's own processes and the whole machine's, while the command runs.

    python benchmarks/container_cpu.py [--interval 10] [--json FILE] -- make test

A stage's own CPU (scripts/stage.sh's table) counts the processes it waits
for: ansible-playbook, pytest, Molecule. What runs inside the instances (the
modules Ansible sends, the proxies, PostgreSQL, systemd) is charged to the
containers' cgroups instead. This samples every running container's
cpuacct.usage (cgroup v1, Docker's cgroupfs driver; nested containers, such as
the compose scenario's, are inside their instance's cgroup) every --interval
seconds and keeps the last value seen per container, so a container destroyed
between two samples loses at most one interval of its CPU. Prints a Markdown
table, largest first. Not a test: nothing here asserts a time.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup/cpuacct")


def read_ns(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


def running_containers() -> dict[str, str]:
    out = subprocess.run(["docker", "ps", "--no-trunc", "--format", "{{.ID}} {{.Names}}"],
                         capture_output=True, text=True, check=False).stdout
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def sample(seen: dict[str, dict], stop: threading.Event, interval: float) -> None:
    while True:
        for cid, name in running_containers().items():
            usage = read_ns(CGROUP / "docker" / cid / "cpuacct.usage")
            if usage is not None:
                entry = seen.setdefault(cid, {"name": name, "base": 0, "ns": 0})
                entry["ns"] = max(usage - entry["base"], entry["ns"])
        if stop.wait(interval):
            return


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command after --")

    # Containers already running count from now on, not from their start.
    seen: dict[str, dict] = {cid: {"name": name, "base": usage, "ns": 0}
                             for cid, name in running_containers().items()
                             if (usage := read_ns(CGROUP / "docker" / cid / "cpuacct.usage")) is not None}
    stop = threading.Event()
    sampler = threading.Thread(target=sample, args=(seen, stop, args.interval), daemon=True)
    machine_before = read_ns(CGROUP / "cpuacct.usage") or 0
    started = time.monotonic()
    sampler.start()
    rc = subprocess.run(command, check=False).returncode
    stop.set()
    sampler.join()
    elapsed = time.monotonic() - started
    machine = ((read_ns(CGROUP / "cpuacct.usage") or 0) - machine_before) / 1e9
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = children.ru_utime + children.ru_stime

    by_name: dict[str, float] = {}
    for entry in seen.values():  # a name reused by a later container adds up
        by_name[entry["name"]] = by_name.get(entry["name"], 0.0) + entry["ns"] / 1e9
    containers = sum(by_name.values())
    print(f"\n| where | CPU (s) | share of the machine's |\n| --- | ---: | ---: |")
    for name, seconds in sorted(by_name.items(), key=lambda item: -item[1]):
        print(f"| container {name} | {seconds:.0f} | {100 * seconds / max(machine, 1e-9):.0f} % |")
    print(f"| all containers | {containers:.0f} | {100 * containers / machine:.0f} % |")
    print(f"| the command's own processes (reaped) | {own:.0f} | {100 * own / machine:.0f} % |")
    print(f"| machine (cpuacct root), {elapsed:.0f} s elapsed on {os.cpu_count()} CPUs | {machine:.0f} | 100 % |")
    if args.json:
        args.json.write_text(json.dumps({"elapsed": elapsed, "machine": machine, "own": own,
                                         "containers": by_name, "rc": rc}, indent=1))
    return rc


if __name__ == "__main__":
    sys.exit(main())
