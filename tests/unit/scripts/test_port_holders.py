"""litellm-port-holders (role litellm, used by the preflight and the health
gate): who listens on the proxy's port, read from /proc. Against real sockets
of this test process, and against /proc texts for the cgroup layouts systemd
uses. Fast, no host."""

import importlib.machinery
import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "roles" / "litellm" / "files" / "litellm-port-holders"
_loader = importlib.machinery.SourceFileLoader("port_holders", str(SCRIPT))
_spec = importlib.util.spec_from_loader("port_holders", _loader)
holders = importlib.util.module_from_spec(_spec)
_loader.exec_module(holders)


@pytest.fixture
def listener():
    """A socket of this process listening on a free loopback port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock.getsockname()[1]
    sock.close()


def test_a_listener_is_named_with_its_pid_and_command(listener):
    found = holders.port_holders(listener, "127.0.0.1")
    assert [h["pid"] for h in found] == [os.getpid()]
    assert found[0]["address"] == "127.0.0.1"
    assert "pytest" in found[0]["command"] or "python" in found[0]["command"]
    assert found[0]["text"].startswith(f"pid {os.getpid()} (")


def test_the_script_prints_json_as_the_roles_read_it(listener):
    result = subprocess.run([sys.executable, str(SCRIPT), str(listener), "127.0.0.1", "litellm"],
                            capture_output=True, text=True, check=True)
    found = json.loads(result.stdout)
    assert [h["pid"] for h in found] == [os.getpid()]
    assert set(found[0]) == {"pid", "address", "command", "unit", "compose_project", "text"}


def test_a_free_port_has_no_holder(listener):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    free = sock.getsockname()[1]
    sock.close()
    assert holders.port_holders(free, "127.0.0.1") == []


def test_only_listeners_that_overlap_the_address_count(listener):
    assert holders.port_holders(listener, "127.0.0.2") == []
    assert [h["pid"] for h in holders.port_holders(listener, "0.0.0.0")] == [os.getpid()]


def test_a_connected_socket_is_not_a_listener(listener):
    client = socket.create_connection(("127.0.0.1", listener))
    try:
        # The client's own (ephemeral) port is not listening.
        assert holders.port_holders(client.getsockname()[1], "127.0.0.1") == []
    finally:
        client.close()


@pytest.mark.parametrize("listening,wanted,expected", [
    ("127.0.0.1", "127.0.0.1", True),
    ("0.0.0.0", "127.0.0.1", True),
    ("127.0.0.1", "0.0.0.0", True),
    ("::", "127.0.0.1", True),
    ("::ffff:127.0.0.1", "127.0.0.1", True),
    ("10.0.0.5", "127.0.0.1", False),
    ("::1", "127.0.0.1", False),
    ("127.0.0.1", "localhost", True),
])
def test_address_overlap(listening, wanted, expected):
    assert holders.overlaps(listening, wanted) is expected


@pytest.mark.parametrize("cgroup,unit", [
    ("0::/system.slice/litellm.service\n", "litellm.service"),
    # cgroup v1 inside a container sharing the host's cgroup namespace
    ("12:pids:/docker/0123abcd/system.slice/litellm.service\n1:name=systemd:/docker/0123abcd/system.slice/litellm.service\n",
     "litellm.service"),
    ("0::/system.slice/docker.service\n", "docker.service"),
    ("0::/user.slice/user-0.slice/session-3.scope\n", "session-3.scope"),
    ("0::/system.slice/litellm.service/worker\n", "litellm.service"),
    ("0::/docker/0123abcd\n", None),
    ("", None),
])
def test_unit_of_a_cgroup(cgroup, unit):
    assert holders.unit_of(cgroup) == unit


def fake_proc(tmp_path, tcp="", tcp6="", processes=()):
    proc = tmp_path / "proc"
    (proc / "net").mkdir(parents=True)
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    (proc / "net" / "tcp").write_text(header + tcp)
    (proc / "net" / "tcp6").write_text(header + tcp6)
    for pid, inode, cmdline, cgroup in processes:
        (proc / str(pid) / "fd").mkdir(parents=True)
        os.symlink(f"socket:[{inode}]", proc / str(pid) / "fd" / "7")
        (proc / str(pid) / "cmdline").write_bytes(cmdline.replace(" ", "\0").encode() + b"\0")
        (proc / str(pid) / "cgroup").write_text(cgroup)
    return str(proc)


TCP_LISTEN_4000 = "   0: 0100007F:0FA0 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 4242 1\n"
TCP_ESTABLISHED_4000 = "   1: 0100007F:0FA0 0100007F:D431 01 00000000:00000000 00:00000000 00000000   999        0 4343 1\n"
TCP6_ANY_4000 = ("   0: 00000000000000000000000000000000:0FA0 00000000000000000000000000000000:0000 0A "
                 "00000000:00000000 00:00000000 00000000     0        0 4444 1\n")


def test_proc_tables_name_the_unit_of_the_holder(tmp_path):
    proc = fake_proc(tmp_path, tcp=TCP_LISTEN_4000 + TCP_ESTABLISHED_4000, processes=[
        (812, 4242, "/opt/sacred-brain/.venv/bin/python /opt/sacred-brain/.venv/bin/litellm --port 4000",
         "0::/system.slice/litellm.service\n"),
    ])
    found = holders.port_holders(4000, "127.0.0.1", proc=proc)
    assert found == [{
        "pid": 812, "address": "127.0.0.1", "unit": "litellm.service", "compose_project": None,
        "command": "/opt/sacred-brain/.venv/bin/python /opt/sacred-brain/.venv/bin/litellm --port 4000",
        "text": "pid 812 (/opt/sacred-brain/.venv/bin/python /opt/sacred-brain/.venv/bin/litellm --port 4000, "
                "unit litellm.service)",
    }]


def test_a_wildcard_ipv6_listener_blocks_the_loopback_port(tmp_path):
    proc = fake_proc(tmp_path, tcp6=TCP6_ANY_4000, processes=[
        (77, 4444, "nc -l -p 4000", "0::/user.slice/user-0.slice/session-3.scope\n")])
    found = holders.port_holders(4000, "127.0.0.1", proc=proc)
    assert [(h["pid"], h["address"], h["unit"]) for h in found] == [(77, "::", "session-3.scope")]


def test_a_holder_that_cannot_be_seen_is_still_reported(tmp_path):
    proc = fake_proc(tmp_path, tcp=TCP_LISTEN_4000)
    found = holders.port_holders(4000, "127.0.0.1", proc=proc)
    assert [(h["pid"], h["text"]) for h in found] == [
        (None, "a process not visible to this user (listening on 127.0.0.1)")]


def test_docker_proxy_of_the_compose_project_is_marked(tmp_path, monkeypatch):
    proc = fake_proc(tmp_path, tcp=TCP_LISTEN_4000, processes=[
        (900, 4242, "/usr/bin/docker-proxy -proto tcp -host-ip 127.0.0.1 -host-port 4000 -container-ip 172.18.0.2 "
         "-container-port 4000", "0::/system.slice/docker.service\n")])
    monkeypatch.setattr(holders, "compose_publishes", lambda project, port: (project, port) == ("litellm", 4000))
    assert holders.port_holders(4000, "127.0.0.1", "litellm", proc=proc)[0]["compose_project"] == "litellm"
    assert holders.port_holders(4000, "127.0.0.1", "other", proc=proc)[0]["compose_project"] is None
    assert holders.port_holders(4000, "127.0.0.1", proc=proc)[0]["compose_project"] is None


def test_usage():
    with pytest.raises(SystemExit, match="Usage: litellm-port-holders PORT ADDRESS"):
        holders.main(["litellm-port-holders"])
