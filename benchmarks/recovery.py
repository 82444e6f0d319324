#!/usr/bin/env python3
"""Benchmark: how long a converged gateway takes to answer again, beside the
proxy's own start, warm and cold, on a Molecule instance (venv or compose).

    python benchmarks/recovery.py [--scenario venv|compose] [--runs 3] [--no-cold]

For the scenario's converged instance (litellm-venv or litellm-compose; hold
the scenario's lock: flock -s /tmp/molecule.lock flock /tmp/molecule.lock.venv
...), each run measures, from the event to the first 200 of
/health/liveliness (polled every 0.1 s inside the instance):

- start: the unit stopped cleanly, then started (the proxy's own start:
  interpreter, imports, first answer; the floor the others are held to);
- crash: the proxy's process killed (SIGKILL), brought back by systemd
  (native: Restart=on-failure) or by Docker's restart policy (compose);
- restart: the instance stopped and started again (a host reboot: systemd
  boots, then the unit, or Docker and the compose project, start).

Warm: page cache as the previous run left it. Cold: the host's page cache
dropped first (echo 1 > /proc/sys/vm/drop_caches, needs root on the Docker
host), so the interpreter reads LiteLLM's modules from disk again.

Prints a Markdown table (medians, runs, each beside start + 2 s) for
docs/performance.md. Not a test: nothing here asserts a time.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

URL = "http://127.0.0.1:4000/health/liveliness"
# Polls inside the instance, so that docker exec's own cost is paid once.
POLL = f"until curl -sf -o /dev/null --max-time 2 {URL}; do sleep 0.1; done"
DEADLINE = 600


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=DEADLINE)


def wait_live(instance, start):
    sh("docker", "exec", instance, "timeout", str(DEADLINE), "sh", "-c", POLL)
    return time.monotonic() - start


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w", encoding="ascii") as handle:
        handle.write("1\n")


def proxy_pid(instance, mode):
    if mode == "compose":
        return sh("docker", "exec", instance, "docker", "inspect", "-f", "{{.State.Pid}}", "litellm-litellm-1").stdout.strip()
    return sh("docker", "exec", instance, "systemctl", "show", "-p", "MainPID", "--value", "litellm.service").stdout.strip()


def measure_start(instance, unit, cold):
    sh("docker", "exec", instance, "systemctl", "stop", unit)
    if cold:
        drop_caches()
    start = time.monotonic()
    sh("docker", "exec", instance, "systemctl", "start", "--no-block", unit)
    return wait_live(instance, start)


def measure_crash(instance, mode, cold):
    wait_live(instance, time.monotonic())
    pid = proxy_pid(instance, mode)
    if not pid or pid == "0":
        sys.exit(f"no proxy process in {instance}")
    if cold:
        drop_caches()
    start = time.monotonic()
    sh("docker", "exec", instance, "kill", "-9", pid)
    # The old process is gone once the port stops answering (at once, for SIGKILL).
    return wait_live(instance, start)


def measure_restart(instance, cold):
    sh("docker", "stop", instance)
    if cold:
        drop_caches()
    start = time.monotonic()
    sh("docker", "start", instance)
    return wait_live(instance, start)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", default="venv", choices=["venv", "compose"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-cold", action="store_true", help="skip the cold runs (no root on the Docker host)")
    args = parser.parse_args()
    instance = f"litellm-{args.scenario}"
    unit = "litellm.service" if args.scenario == "venv" else "litellm-compose.service"
    temperatures = ["warm"] if args.no_cold else ["warm", "cold"]

    results = {}
    loads = []
    for _ in range(args.runs):  # interleaved, so drift hits every figure alike
        for temperature in temperatures:
            cold = temperature == "cold"
            loads.append(os.getloadavg()[0])
            results.setdefault(("start", temperature), []).append(measure_start(instance, unit, cold))
            results.setdefault(("crash", temperature), []).append(measure_crash(instance, args.scenario, cold))
            results.setdefault(("restart", temperature), []).append(measure_restart(instance, cold))

    print(f"| {args.scenario}, {args.runs} interleaved runs, load average {min(loads):.1f} to {max(loads):.1f} "
          "| median (s) | runs (s) | start + 2 s | within |")
    print("| --- | ---: | --- | ---: | --- |")
    for temperature in temperatures:
        bound = statistics.median(results[("start", temperature)]) + 2
        for event, label in (("start", "unit start (the proxy's own start)"), ("crash", "crash (SIGKILL) to healthy"),
                             ("restart", "host restart to healthy")):
            values = results[(event, temperature)]
            median = statistics.median(values)
            within = "" if event == "start" else ("yes" if median <= bound else "**no**")
            print(f"| {label}, {temperature} | {median:.1f} | {', '.join(f'{v:.1f}' for v in values)} "
                  f"| {'' if event == 'start' else f'{bound:.1f}'} | {within} |")


if __name__ == "__main__":
    main()
