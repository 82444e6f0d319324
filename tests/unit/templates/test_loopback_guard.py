"""F7: litellm-loopback-guard.service (litellm_compose_loopback_guard) drops,
in iptables' raw table before Docker's DNAT, packets for 127.0.0.0/8 and for
the container networks that do not arrive on lo or a Docker bridge; the
engine check accepts Docker before 28 only with it or the acknowledgement."""

import subprocess
from pathlib import Path

import yaml
from test_database_templates import render

ROOT = Path(__file__).resolve().parents[3]
UNIT = ROOT / "roles" / "litellm_compose" / "templates" / "litellm-loopback-guard.service.j2"
GUARD_VARS = {"_litellm_compose_iptables": "/usr/sbin/iptables", "_litellm_compose_guard_chain": "LITELLM-GUARD"}


def _rules(text):
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith("ExecStart=")]


def test_the_guard_drops_loopback_and_container_addresses_from_outside():
    text = render(UNIT, **GUARD_VARS, litellm_compose_loopback_guard_networks=["172.16.0.0/12", "10.99.0.0/16"])
    ipt = "/usr/sbin/iptables -w -t raw"
    assert _rules(text) == [
        f"-{ipt} -N LITELLM-GUARD",
        f"{ipt} -F LITELLM-GUARD",
        f"{ipt} -A LITELLM-GUARD -i lo -j RETURN",
        f"{ipt} -A LITELLM-GUARD -i docker0 -j RETURN",
        f"{ipt} -A LITELLM-GUARD -i br-+ -j RETURN",
        f"{ipt} -A LITELLM-GUARD -d 127.0.0.0/8 -j DROP",
        f"{ipt} -A LITELLM-GUARD -d 172.16.0.0/12 -j DROP",
        f"{ipt} -A LITELLM-GUARD -d 10.99.0.0/16 -j DROP",
        f"/bin/sh -c '{ipt} -C PREROUTING -j LITELLM-GUARD 2>/dev/null || {ipt} -I PREROUTING -j LITELLM-GUARD'",
    ]
    assert "Before=docker.service" in text and "WantedBy=multi-user.target docker.service" in text
    verify = subprocess.run(["bash", "-n", "-c", _rules(text)[-1].split(" -c ", 1)[1].strip("'")],
                            capture_output=True, text=True, check=False)
    assert verify.returncode == 0, verify.stderr


def test_the_engine_check_accepts_an_old_engine_only_with_the_guard_or_the_acknowledgement():
    tasks = yaml.safe_load((ROOT / "roles" / "litellm_compose" / "tasks" / "engine.yml").read_text())
    check = next(t for t in tasks if t["name"] == "Refuse a Docker Engine that exposes loopback-published ports")
    that = " ".join(check["ansible.builtin.assert"]["that"].split())
    assert "is version('28.0', '>=')" in that
    assert "or litellm_compose_allow_docker_before_28 | bool or litellm_compose_loopback_guard | bool" in that
    guard = next(t for t in tasks if t["name"] == "Drop packets from the network for loopback and container addresses")
    assert guard["when"] == "litellm_compose_loopback_guard | bool"
    assert tasks.index(guard) < tasks.index(check)
