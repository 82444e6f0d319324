# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sacred_brain.llm_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The processes listening on a TCP port where the proxy would (litellm_host_state's port_holders).

Lists every listening TCP socket on the port whose address overlaps the proxy's
(the same address, or either side a wildcard), with the process holding it, its
command line and the systemd unit whose cgroup it is in. A docker-proxy that
publishes the port for a container of the compose project is marked with that
project. Reads /proc only (as root, to see other users' processes); changes
nothing. LiteLLM, asked for port 4000 while something else holds it, quietly
binds a random port instead: the roles use this to refuse a port held by
anything other than the gateway, and to check who answered their health gate.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import os
import re

LISTEN = "0A"


def _address(hex_address):
    """The address of a /proc/net/tcp{,6} entry (little-endian 32-bit words)."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(words)


def listening_sockets(port, proc="/proc"):
    """{inode: address} of the TCP sockets listening on port."""
    found = {}
    for table in ("tcp", "tcp6"):
        try:
            with open(os.path.join(proc, "net", table)) as handle:
                lines = handle.read().splitlines()[1:]
        except (IOError, OSError):
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            address, dummy, hex_port = local.partition(":")
            if state == LISTEN and int(hex_port, 16) == port:
                found[inode] = str(_address(address))
    return found


def overlaps(listening, wanted):
    """Whether a listener on `listening` keeps the proxy from binding `wanted`."""
    try:
        a, b = ipaddress.ip_address(listening), ipaddress.ip_address(wanted)
    except ValueError:  # a host name: assume the worst
        return True
    if a.is_unspecified or b.is_unspecified:
        return True
    return (getattr(a, "ipv4_mapped", None) or a) == (getattr(b, "ipv4_mapped", None) or b)


def unit_of(cgroup_text):
    """The systemd unit (service or scope) named last in a /proc/PID/cgroup text."""
    units = re.findall(r"/([^/\n]+\.(?:service|scope))(?=/|$)", cgroup_text, re.MULTILINE)
    return units[-1] if units else None


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (IOError, OSError):
        return b""


def holders_of(inodes, proc="/proc"):
    """[(pid, inode)] of the processes whose file descriptors hold these socket inodes."""
    wanted = dict(("socket:[%s]" % inode, inode) for inode in inodes)
    found = []
    for pid in sorted((p for p in os.listdir(proc) if p.isdigit()), key=int):
        fd_dir = os.path.join(proc, pid, "fd")
        try:
            fds = os.listdir(fd_dir)
        except (IOError, OSError):
            continue
        for fd in fds:
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except (IOError, OSError):
                continue
            if target in wanted:
                found.append((int(pid), wanted[target]))
                break
    return found


def compose_publishes(run_command, project, port):
    """Whether a running container of the compose project publishes port on the host.

    run_command: AnsibleModule.run_command (or a stand-in returning rc, stdout, stderr)."""
    try:
        rc, out, dummy = run_command(["docker", "ps", "--filter", "label=com.docker.compose.project=%s" % project,
                                      "--format", "{{.Ports}}"])
    except (IOError, OSError):
        return False
    return rc == 0 and re.search(r":%d->" % port, out) is not None


def describe(holder):
    """One line naming a holder for an error message."""
    if holder["pid"] is None:
        return "a process not visible to this user (listening on %s)" % holder["address"]
    command = holder["command"] if len(holder["command"]) <= 120 else holder["command"][:117] + "..."
    where = ", unit %s" % holder["unit"] if holder["unit"] else ""
    return "pid %s (%s%s)" % (holder["pid"], command, where)


def port_holders(port, address, compose_project=None, proc="/proc", run_command=None):
    """The holders of port (overlapping address), each a dict with pid, address, command, unit,
    compose_project and text (describe()); pid None for a socket whose holder is not visible."""
    sockets = dict((inode, where) for inode, where in listening_sockets(port, proc).items() if overlaps(where, address))
    holders = []
    held = holders_of(sockets, proc)
    for pid, inode in held:
        command = _read(os.path.join(proc, str(pid), "cmdline")).replace(b"\0", b" ").decode("utf-8", "replace").strip()
        holder = {
            "pid": pid,
            "address": sockets[inode],
            "command": command or _read(os.path.join(proc, str(pid), "comm")).decode("utf-8", "replace").strip(),
            "unit": unit_of(_read(os.path.join(proc, str(pid), "cgroup")).decode("utf-8", "replace")),
            "compose_project": None,
        }
        if compose_project and run_command and "docker-proxy" in command \
                and compose_publishes(run_command, compose_project, port):
            holder["compose_project"] = compose_project
        holders.append(holder)
    # Sockets whose holder could not be seen (another user's, without root).
    seen = set(inode for dummy, inode in held)
    holders += [{"pid": None, "address": where, "command": "", "unit": None, "compose_project": None}
                for inode, where in sockets.items() if inode not in seen]
    for holder in holders:
        holder["text"] = describe(holder)
    return holders
