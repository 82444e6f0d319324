#!/usr/bin/env python3
"""Benchmark: the cost of rolling a config change through 1, 2 and 4 native
gateways with playbooks/rollout.yml, at the default serial (1) and with the
whole limit in one batch, beside the floor play on the same hosts; several
interleaved runs, medians.

    python benchmarks/fleet_rollout.py [--runs 2] [--sizes 1,2,4] [--keep] [--reuse]

Starts four plain sacred-brain/debian-systemd:bookworm containers
(litellm-fleetbench-1..4; only these are ever removed), converges them once
with site.yml in venv mode from the wheelhouse, then, per run and per N,
rolls a different mock_response text through the first N hosts (--limit), so
that every host restarts and passes its health gate and smoke checks. A run
counts only when the play succeeded, the recap shows a change on every host
of the limit, and every one of them answers the new text. Per configuration
it records where the time goes (ansible.posix.profile_tasks), the CPU time of
the controller and of the four hosts, and the machine's busy share
(/proc/stat). Prints Markdown tables for docs/performance.md. Not a test:
nothing here asserts a time.
"""

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("SACRED_BRAIN_CACHE", Path.home() / ".cache" / "sacred-brain-llm-gateway"))
VERSION = "1.108.7"
HOSTS = [f"litellm-fleetbench-{i}" for i in (1, 2, 3, 4)]
ENV = dict(os.environ, PATH=f"{ROOT}/.venv/bin:{os.environ['PATH']}", ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
           ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_ROLES_PATH=str(ROOT / "roles"),
           ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
           # Time per task, summed over the batches: where a host's share goes.
           ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks", PROFILE_TASKS_SUMMARY_ONLY="true",
           PROFILE_TASKS_TASK_OUTPUT_LIMIT="1000")
# The gateways' variables, as the Molecule scenarios set them (.config/molecule/config.yml,
# molecule/venv/molecule.yml): a real proxy, no provider, mock_response answers.
INVENTORY_VARS = {
    "ansible_connection": "community.docker.docker",
    "litellm_deploy_mode": "venv",
    "litellm_venv_wheelhouse": "/srv/wheelhouse",
    "litellm_env_provider_keys": {"OPENAI_API_KEY": "sk-fleetbench-openai-0123456789abcdef"},
    "litellm_env_extra": {"LITELLM_LOCAL_MODEL_COST_MAP": "True"},
    # Four proxies starting at once on a shared 2-core machine: a generous deadline, not a verdict.
    "litellm_health_timeout": 600,
}


def sh(*cmd, check=True, stdin=None):
    return subprocess.run(cmd, check=check, capture_output=True, text=True, env=ENV, cwd=ROOT, input=stdin)


def models(text):
    return {"litellm_config_model_list": [{"model_name": "gpt-4o-mini", "litellm_params": {
        "model": "openai/gpt-4o-mini", "api_key": "os.environ/OPENAI_API_KEY", "mock_response": text}}]}


def start_hosts():
    for name in HOSTS:
        sh("docker", "rm", "-f", name, check=False)
        sh("docker", "run", "-d", "--name", name, "--cgroupns", "host", "--tmpfs", "/run", "--tmpfs", "/run/lock",
           "--tmpfs", "/tmp", "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
           # The unit's sandboxing (user namespaces among others) needs what the Molecule instances get.
           "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN", "--cap-add", "SYS_PTRACE", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
           "-v", f"{CACHE}/wheelhouse-{VERSION}:/srv/wheelhouse:ro",
           "sacred-brain/debian-systemd:bookworm", "/lib/systemd/systemd")
    for name in HOSTS:
        # As molecule/resources/prepare.yml: booted, package lists fresh.
        sh("docker", "exec", name, "sh", "-c", "systemctl is-system-running --wait; apt-get update -qq")


def remove_hosts():
    for name in HOSTS:
        sh("docker", "rm", "-f", name, check=False)


def container_ids():
    return {name: sh("docker", "inspect", "-f", "{{.Id}}", name).stdout.strip() for name in HOSTS}


def hosts_cpu(ids):
    """CPU seconds the four containers have used (cgroup v1 cpuacct, else v2 cpu.stat; None if neither)."""
    total = 0.0
    for cid in ids.values():
        v1 = Path(f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage")
        v2 = Path(f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/cpu.stat")
        if v1.exists():
            total += int(v1.read_text()) / 1e9
        elif v2.exists():
            total += int(re.search(r"usage_usec (\d+)", v2.read_text()).group(1)) / 1e6
        else:
            return None
    return total


def controller_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_jiffies():
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def recaps(output):
    section = output.rsplit("PLAY RECAP", 1)[-1]
    return {m.group(1): (int(m.group(2)), int(m.group(3)))
            for m in re.finditer(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", section, re.M)}


def in_role(task, role):
    """Whether a task name is one of role's (named "role : task", the role with or without its collection)."""
    return re.match(rf"^(\S+\.)?{role} : ", task) is not None


# Where a rollout's time goes, from ansible.posix.profile_tasks (each task's time summed over the
# batches; a task's time is the wall time of the whole batch on it): task names -> part.
PARTS = (
    ("restart + health gate", lambda t: re.search("reports? live", t) is not None or "Restart the LiteLLM proxy" in t
     or "Look for the proxy's unit" in t),
    ("smoke checks", lambda t: in_role(t, "litellm_smoke")),
    ("preflight and host read (litellm role)", lambda t: in_role(t, "litellm")),
    ("snapshot (litellm_rollout role)", lambda t: in_role(t, "litellm_rollout")),
    ("fact gathering", lambda t: t == "Gathering Facts"),
)


def parts(output):
    section = output.rsplit("TASKS RECAP", 1)[-1].split("ROLES RECAP", 1)[0]
    found = dict.fromkeys([name for name, _ in PARTS], 0.0)
    for m in re.finditer(r"^(.+?) -+ (\d+\.\d+)s$", section, re.M):
        name = next((part for part, matches in PARTS if matches(m.group(1))), None)
        if name:
            found[name] += float(m.group(2))
    return found


def answers(name):
    """The gateway's chat completion text; the master key goes to curl on stdin, never in argv."""
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
    script = ("sed -n 's/^LITELLM_MASTER_KEY=/Authorization: Bearer /p' /etc/litellm/keys.env | "
              "curl -sS -m 120 -H @- -H 'Content-Type: application/json' --data-binary @/tmp/fleetbench-body "
              "http://127.0.0.1:4000/v1/chat/completions")
    sh("docker", "exec", "-i", name, "sh", "-c", "cat > /tmp/fleetbench-body", stdin=body)
    out = sh("docker", "exec", name, "sh", "-c", script, check=False).stdout
    try:
        return json.loads(out)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        return f"no answer: {out[:300]}"


def playbook(inventory, play, limit, extra=None):
    cmd = ["ansible-playbook", "-i", inventory, play, "--limit", ",".join(limit)]
    if extra is not None:
        cmd += ["-e", json.dumps(extra)]
    return sh(*cmd, check=False)


def measured(ids, run):
    """Wall time, CPU of the controller and hosts, machine busy share and load average around run()."""
    load = os.getloadavg()[0]
    busy0, total0 = machine_jiffies()
    ctl0, hosts0 = controller_cpu(), hosts_cpu(ids)
    start = time.monotonic()
    result = run()
    wall = time.monotonic() - start
    busy1, total1 = machine_jiffies()
    hosts1 = hosts_cpu(ids)
    ctl, hosts = controller_cpu() - ctl0, (hosts1 - hosts0 if hosts0 is not None else 0.0)
    return result, {"wall": wall, "cpu": ctl + hosts, "cpu_controller": ctl, "cpu_hosts": hosts,
                    "busy": (busy1 - busy0) / max(total1 - total0, 1), "load": max(load, os.getloadavg()[0])}


def rollout(inventory, ids, limit, serial, text):
    extra = dict(models(text), litellm_rollout_serial=serial)
    result, figures = measured(ids, lambda: playbook(inventory, "playbooks/rollout.yml", limit, extra))
    out = result.stdout + result.stderr
    counters = recaps(out)
    if result.returncode != 0 or set(counters) != set(limit) or any(c == 0 or f for c, f in counters.values()):
        sys.exit(f"rollout on {limit} (serial {serial}) did not change every host:\n{counters}\n{out[-4000:]}")
    wrong = {name: got for name in limit if (got := answers(name)) != text}
    if wrong:
        sys.exit(f"after the rollout (serial {serial}) these gateways do not answer {text!r}: {wrong}")
    figures["parts"] = parts(out)
    return figures


def floor(inventory, ids, limit):
    result, figures = measured(ids, lambda: playbook(inventory, "benchmarks/floor.yml", limit))
    if result.returncode != 0:
        sys.exit(f"floor play failed:\n{result.stdout[-3000:]}")
    return figures


def measure(args, sizes):
    with tempfile.TemporaryDirectory() as tmp:
        inventory = Path(tmp) / "hosts.yml"
        inventory.write_text(json.dumps({"gateways": {"hosts": {h: {} for h in HOSTS}, "vars": INVENTORY_VARS}}))
        inventory.chmod(0o600)
        running = sh("docker", "ps", "-q", *[f"--filter=name=^{h}$" for h in HOSTS]).stdout.split()
        reused = args.reuse and len(running) == len(HOSTS)
        if not reused:
            start_hosts()
        ids = container_ids()
        converge, figures = measured(ids, lambda: playbook(str(inventory), "site.yml", HOSTS,
                                                           models("fleetbench: converged")))
        if converge.returncode != 0:
            sys.exit(f"site.yml failed:\n{converge.stdout[-4000:]}")
        data = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "runs": args.runs, "sizes": sizes,
                "converge": dict(figures, reused=reused), "results": {}}
        print(f"site.yml: {figures['wall']:.1f} s", file=sys.stderr)
        results = data["results"]  # "N/serial" -> list of figures; serial 0 is the floor
        for run in range(args.runs):  # interleaved, the order turned round every run
            for n in sizes if run % 2 == 0 else sizes[::-1]:
                limit = HOSTS[:n]
                serials = [1] if n == 1 else ([1, n] if run % 2 == 0 else [n, 1])
                for serial in serials:
                    text = f"fleetbench run {run} hosts {n} serial {serial}"
                    results.setdefault(f"{n}/{serial}", []).append(rollout(str(inventory), ids, limit, serial, text))
                    print(f"run {run}: {n} hosts, serial {serial}: {results[f'{n}/{serial}'][-1]['wall']:.1f} s",
                          file=sys.stderr)
                results.setdefault(f"{n}/0", []).append(floor(str(inventory), ids, limit))
                # Kept as it grows: a failure later, or in the report, loses no measurement.
                args.results.write_text(json.dumps(data, indent=1))
        if not args.keep:
            remove_hosts()
    return data


def report(data):
    results, sizes = data["results"], data["sizes"]

    def med(key, field):
        return statistics.median(f[field] for f in results[key])

    everything = [f for figures in results.values() for f in figures]
    converge = data["converge"]
    print(f"Started {data['started']}, {data['runs']} interleaved runs, ansible forks 10, "
          f"load average {min(f['load'] for f in everything):.1f} to {max(f['load'] for f in everything):.1f}, "
          f"machine CPUs busy {min(f['busy'] for f in everything):.0%} to {max(f['busy'] for f in everything):.0%}; "
          f"site.yml on the {len(HOSTS)} hosts first ({'converged before' if converge['reused'] else 'fresh'}): "
          f"{converge['wall']:.1f} s.")
    print()
    print("| hosts | serial | median wall | runs | per host | speed-up over serial 1 | floor (median) "
          "| rollout / floor | CPU used (cores busy) | machine busy |")
    print("| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    configs = [(n, serial) for n in sizes for serial in ((1, n) if n > 1 else (1,))]
    for n, serial in configs:
        key = f"{n}/{serial}"
        wall, fl = med(key, "wall"), med(f"{n}/0", "wall")
        speedup = f"{med(f'{n}/1', 'wall') / wall:.2f}" if serial > 1 else ""
        runs = ", ".join(f"{f['wall']:.1f}" for f in results[key])
        print(f"| {n} | {serial} | {wall:.1f} s | {runs} | {wall / n:.1f} s | {speedup} | {fl:.1f} s "
              f"| {wall / fl:.1f} | {med(key, 'cpu') / wall:.2f} | {med(key, 'busy'):.0%} |")
    print()
    names = [name for name, _ in PARTS]
    print("| hosts | serial | " + " | ".join(names) + " | the rest |")
    print("| ---: | ---: | " + " | ".join("---:" for _ in names) + " | ---: |")
    for n, serial in configs:
        key = f"{n}/{serial}"
        cells = [statistics.median(f["parts"][name] for f in results[key]) for name in names]
        rest = med(key, "wall") - sum(cells)
        print(f"| {n} | {serial} | " + " | ".join(f"{c:.1f} s" for c in cells) + f" | {rest:.1f} s |")
    if all("cpu_controller" in f for f in everything):
        # What a batch of k costs the controller (k times this) bounds how wide a batch helps.
        print()
        print("| hosts | serial | CPU s per rolled host, controller (ansible-playbook and its forks) "
              "| CPU s per rolled host, the four hosts (idle proxies included) |")
        print("| ---: | ---: | ---: | ---: |")
        for n, serial in configs:
            key = f"{n}/{serial}"
            print(f"| {n} | {serial} | {med(key, 'cpu_controller') / n:.1f} | {med(key, 'cpu_hosts') / n:.1f} |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--sizes", default="1,2,4", help="how many hosts each rollout limits to (at most 4)")
    parser.add_argument("--keep", action="store_true", help="leave the hosts up")
    parser.add_argument("--reuse", action="store_true", help="the hosts a --keep run left up, converged again")
    parser.add_argument("--results", type=Path, default=Path(tempfile.gettempdir()) / "fleet_rollout.json",
                        help="where the measurements are kept")
    parser.add_argument("--report", action="store_true", help="print the tables of --results, measure nothing")
    args = parser.parse_args()
    data = json.loads(args.results.read_text()) if args.report else measure(args, [int(n) for n in args.sizes.split(",")])
    report(data)


if __name__ == "__main__":
    main()
