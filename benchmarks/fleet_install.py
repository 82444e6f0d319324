#!/usr/bin/env python3
"""Benchmark: native-mode install of the pinned LiteLLM on three hosts from a
controller-built wheelhouse archive against from the package index, several
interleaved runs each, medians and their ratio.

    python benchmarks/fleet_install.py [--runs 3]

Each run starts from hosts without any venv, wheelhouse or pip cache; the
system packages (python3-venv) are installed once beforehand, for both.
Prints a Markdown table for docs/performance.md. Not a test.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("SACRED_BRAIN_CACHE", Path.home() / ".cache" / "sacred-brain-llm-gateway"))
VERSION = "1.108.7"
HOSTS = [f"litellm-bench-{i}" for i in (1, 2, 3)]
ENV = dict(os.environ, PATH=f"{ROOT}/.venv/bin:{os.environ['PATH']}", ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
           ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_ROLES_PATH=str(ROOT / "roles"))


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True, env=ENV, cwd=ROOT)


def start_hosts():
    for name in HOSTS:
        sh("docker", "rm", "-f", name, check=False)
        sh("docker", "run", "-d", "--name", name, "--cgroupns", "host", "--tmpfs", "/run", "--tmpfs", "/run/lock",
           "--security-opt", "seccomp=unconfined", "--cap-add", "SYS_ADMIN", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
           "sacred-brain/debian-systemd:bookworm", "/lib/systemd/systemd")
    for name in HOSTS:
        sh("docker", "exec", name, "sh", "-c",
           "systemctl is-system-running --wait; apt-get update -qq && "
           "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-packaging >/dev/null",
           check=False)


def reset_hosts():
    for name in HOSTS:
        sh("docker", "exec", name, "rm", "-rf", "/opt/sacred-brain", "/var/cache/sacred-brain", "/root/.cache/pip")


def wheelhouse_archive():
    archive = CACHE / f"wheelhouse-{VERSION}.tar"
    if not archive.exists():
        with tarfile.open(archive, "w") as tar:
            for wheel in sorted((CACHE / f"wheelhouse-{VERSION}").glob("*.whl")):
                tar.add(wheel, arcname=wheel.name)
    return archive


def run_install(inventory, extra):
    start = time.monotonic()
    result = sh("ansible-playbook", "-i", inventory, "benchmarks/install_venv.yml", "-e", json.dumps(extra), check=False)
    elapsed = time.monotonic() - start
    if result.returncode != 0:
        sys.exit(f"install failed:\n{result.stdout[-3000:]}")
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    archive = wheelhouse_archive()
    start_hosts()
    with tempfile.TemporaryDirectory() as tmp:
        inventory = Path(tmp) / "hosts.yml"
        inventory.write_text(
            "gateways:\n  hosts:\n" + "".join(f"    {h}:\n" for h in HOSTS)
            + "  vars:\n    ansible_connection: community.docker.docker\n    litellm_deploy_mode: venv\n"
            + "    litellm_env_provider_keys: {OPENAI_API_KEY: sk-benchmark-placeholder}\n")
        wheelhouse, index = [], []
        for _ in range(args.runs):  # interleaved
            reset_hosts()
            wheelhouse.append(run_install(str(inventory), {"litellm_venv_wheelhouse_archive": str(archive)}))
            reset_hosts()
            index.append(run_install(str(inventory), {}))
    for name in HOSTS:
        sh("docker", "rm", "-f", name, check=False)
    w, i = statistics.median(wheelhouse), statistics.median(index)
    print(f"| install of litellm[proxy]=={VERSION} on 3 hosts | median of {args.runs} |")
    print("| --- | --- |")
    print(f"| from the index (each host downloads) | {i:.1f} s (runs: {', '.join(f'{t:.1f}' for t in index)}) |")
    print(f"| from the controller's wheelhouse archive | {w:.1f} s (runs: {', '.join(f'{t:.1f}' for t in wheelhouse)}) |")
    print(f"| ratio index / wheelhouse | {i / w:.2f} (target >= 3) |")


if __name__ == "__main__":
    main()
