"""_port_holders (litellm_host_state's port_holders, read by the preflight and
the health gate): who listens on the proxy's port, read from /proc. Against
real sockets of this test process, and against /proc texts for the cgroup
layouts systemd uses. Fast, no host."""

import contextlib
import json
import os
import socket

import pytest

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19 (the matrix's oldest): the same, over basic._ANSIBLE_ARGS
    from unittest import mock

    from ansible.module_utils import basic

    @contextlib.contextmanager
    def patch_module_args(args):
        with mock.patch.object(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()):
            yield

from ansible_collections.sacred_brain.llm_gateway.plugins.module_utils import _port_holders as holders
from ansible_collections.sacred_brain.llm_gateway.plugins.modules import litellm_host_state


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


def _host_state(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            litellm_host_state.main()
    return json.loads(capsys.readouterr().out)


def test_the_host_read_reports_the_holders_as_the_roles_read_them(listener, capsys):
    result = _host_state(capsys, {"port": listener, "listen_address": "127.0.0.1", "compose_project": "litellm"})
    found = result["port_holders"]
    assert [h["pid"] for h in found] == [os.getpid()]
    assert set(found[0]) == {"pid", "address", "command", "unit", "compose_project", "text"}
    assert result["changed"] is False


def test_the_host_read_without_a_port_reports_no_holders(listener, capsys):
    assert _host_state(capsys, {"paths": []})["port_holders"] is None


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
    calls = []

    def docker_ps(argv):
        calls.append(argv)
        project = argv[argv.index("--filter") + 1].split("=", 2)[2]
        return 0, ("127.0.0.1:4000->4000/tcp\n" if project == "litellm" else ""), ""

    run = docker_ps
    assert holders.port_holders(4000, "127.0.0.1", "litellm", proc=proc, run_command=run)[0]["compose_project"] \
        == "litellm"
    assert holders.port_holders(4000, "127.0.0.1", "other", proc=proc, run_command=run)[0]["compose_project"] is None
    assert holders.port_holders(4000, "127.0.0.1", proc=proc, run_command=run)[0]["compose_project"] is None
    assert calls[0][:3] == ["docker", "ps", "--filter"]


def test_a_docker_ps_that_fails_marks_no_project():
    assert holders.compose_publishes(lambda argv: (1, "", "Cannot connect to the Docker daemon"), "litellm", 4000) \
        is False
    assert holders.compose_publishes(lambda argv: (0, "0.0.0.0:14000->4000/tcp", ""), "litellm", 4000) is False


@pytest.mark.parametrize("os_release,debian_version,expected", [
    ('PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\nVERSION_ID="13"\nVERSION_CODENAME=trixie\n', "13.2\n",
     {"distribution": "Debian", "distribution_release": "trixie", "distribution_major_version": "13",
      "distribution_version": "13.2"}),
    ('ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n', "12.11\n",
     {"distribution": "Debian", "distribution_release": "bookworm", "distribution_major_version": "12",
      "distribution_version": "12.11"}),
    # testing/sid name no VERSION_ID, another distribution is not Debian: setup gathers them
    ('ID=debian\nVERSION_CODENAME=forky\n', "forky/sid\n", {}),
    ('ID=ubuntu\nVERSION_ID="24.04"\nVERSION_CODENAME=noble\n', "trixie/sid\n", {}),
    ("", "", {}),
])
def test_distribution_facts_as_setup_gives_them_on_debian(tmp_path, os_release, debian_version, expected):
    (tmp_path / "os-release").write_text(os_release)
    (tmp_path / "debian_version").write_text(debian_version)
    assert litellm_host_state.distribution_facts(str(tmp_path)) == expected
