#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sacred_brain.llm_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: litellm_host_state
short_description: Read, in one call, the state of everything the gateway roles manage on a host
version_added: 0.3.0
author:
  - Sacred Brain platform team (@sacred-brain)
description:
  - Reports, for each path, whether it exists and its type, link target, mode, owner, group and (for a regular
    file) its SHA-1; the entries of a directory matching a pattern; whether Debian packages are installed;
    system users and groups; and the state of systemd units.
  - The gateway roles read it once per run and skip a task whose target already holds what the task would write,
    so that an idempotent run costs one round trip to the host instead of one per file. A task whose target
    differs, or that this module did not look at, runs as before.
  - With O(port), also who listens where the proxy would (so that the preflight refuses a port held by another
    process in the same round trip); with O(distribution), the distribution facts the compose roles read.
  - Changes nothing; returns a file's content only when O(contents) names it, otherwise its checksum.
options:
  paths:
    description: Paths to look at (not followed when a link).
    type: list
    elements: path
    default: []
  contents:
    description:
      - Small files whose content to return, base64-encoded (as M(ansible.builtin.slurp) does), for example
        the keys a role keeps on the host. Run the task with C(no_log) when they hold secrets.
    type: list
    elements: path
    default: []
  globs:
    description: Shell patterns (C(fnmatch)) of directory entries, for example C(/opt/litellm/litellm-*).
    type: list
    elements: str
    default: []
  packages:
    description: Debian package names whose install state to report (C(dpkg-query)).
    type: list
    elements: str
    default: []
  users:
    description: System users to look up.
    type: list
    elements: str
    default: []
  groups:
    description: System groups to look up.
    type: list
    elements: str
    default: []
  units:
    description: systemd units whose state to report (C(systemctl show)).
    type: list
    elements: str
    default: []
  docker_images:
    description:
      - Image references whose presence to report, with the Docker Engine's and Compose's versions
        (nothing when empty, or when Docker does not answer).
    type: list
    elements: str
    default: []
  docker_repositories:
    description: Image repositories whose tagged images to count.
    type: list
    elements: str
    default: []
  port:
    description:
      - A TCP port whose listeners to report in RV(port_holders) (read from C(/proc); run as root to see every
        process).
    type: int
  listen_address:
    description: The address the proxy listens on; a listener on this port overlapping it (the same address, or a
      wildcard either side) is reported.
    type: str
    default: 127.0.0.1
  compose_project:
    description: A Compose project whose published port marks a C(docker-proxy) listener as that project's.
    type: str
  distribution:
    description:
      - Return the distribution facts (C(distribution), C(distribution_release), C(distribution_major_version),
        C(distribution_version)) as M(ansible.builtin.setup) does, read from C(/etc/os-release) on Debian; on
        another distribution none (gather them with M(ansible.builtin.setup)).
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
    support: full
    details:
      - This module does not modify state.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
    support: N/A
    details:
      - This module does not modify state.
'''

EXAMPLES = r'''
- name: Read the host's state once
  sacred_brain.llm_gateway.litellm_host_state:
    paths: [/etc/litellm/config.yaml, /etc/litellm]
    packages: [python3-yaml]
    users: [litellm]
    units: [litellm.service]
  register: host_state
'''

RETURN = r'''
paths:
  description: Path to its state; C(exists) is false for a missing path.
  returned: always
  type: dict
  sample: {"/etc/litellm/config.yaml": {"exists": true, "isreg": true, "isdir": false, "islnk": false,
           "mode": "0644", "owner": "root", "group": "root", "checksum": "da39a3ee5e6b4b0d3255bfef95601890afd80709"}}
contents:
  description: Path to its content, base64-encoded, or null when it cannot be read.
  returned: always
  type: dict
  sample: {"/etc/litellm/keys.env": "TElURUxMTV9NQVNURVJfS0VZPS4uLgo="}
globs:
  description: Pattern to the matching paths, each with its modification time and whether it is a directory.
  returned: always
  type: dict
  sample: {"/opt/litellm/litellm-*": [{"path": "/opt/litellm/litellm-1.108.7", "mtime": 1764750000.0, "isdir": true}]}
packages:
  description: Package name to whether it is installed.
  returned: always
  type: dict
  sample: {"python3-yaml": true}
users:
  description: User name to its group, home and shell, or null when there is no such user.
  returned: always
  type: dict
  sample: {"litellm": {"group": "litellm", "home": "/var/lib/litellm", "shell": "/usr/sbin/nologin"}}
groups:
  description: Group name to whether it exists.
  returned: always
  type: dict
  sample: {"litellm": true}
docker:
  description:
    - The Docker Engine's version (V(server_version)), Compose v2's (V(compose_version)), each image asked for to its
      id or null (V(images)), and each repository asked for to its number of tagged images (V(repositories)).
    - Empty when no image or repository was asked for, or when the docker command is missing.
  returned: always
  type: dict
  sample: {"server_version": "26.1.5", "compose_version": "2.26.1", "images": {"litellm:1.108.7": "sha256:0a1b"},
           "repositories": {"litellm": 1}}
port_holders:
  description:
    - The processes listening on O(port) where the proxy would, each with its C(pid) (null when not visible),
      C(address), C(command), systemd C(unit), C(compose_project) (when a C(docker-proxy) publishes the port for
      O(compose_project)) and C(text), one line naming it. Null without O(port).
  returned: always
  type: list
  elements: dict
  sample: [{"pid": 812, "address": "127.0.0.1", "command": "/opt/sacred-brain/.venv/bin/python litellm",
            "unit": "litellm.service", "compose_project": null,
            "text": "pid 812 (/opt/sacred-brain/.venv/bin/python litellm, unit litellm.service)"}]
ansible_facts:
  description: With O(distribution) on Debian, the distribution facts M(ansible.builtin.setup) would gather.
  returned: when O(distribution) is true and the host is Debian
  type: dict
  sample: {"distribution": "Debian", "distribution_release": "trixie", "distribution_major_version": "13",
           "distribution_version": "13.2"}
units:
  description: Unit name to C(ActiveState), C(UnitFileState) and C(NeedDaemonReload) as C(systemctl show) gives them.
  returned: always
  type: dict
  sample: {"litellm.service": {"ActiveState": "active", "UnitFileState": "enabled", "NeedDaemonReload": "no"}}
'''

import base64
import fnmatch
import grp
import hashlib
import os
import pwd
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sacred_brain.llm_gateway.plugins.module_utils._port_holders import port_holders


def _owner(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def path_state(path):
    """The state of one path, not followed when a link."""
    try:
        info = os.lstat(path)
    except OSError:
        return {"exists": False}
    result = {
        "exists": True,
        "isreg": stat.S_ISREG(info.st_mode),
        "isdir": stat.S_ISDIR(info.st_mode),
        "islnk": stat.S_ISLNK(info.st_mode),
        "mode": "%04o" % stat.S_IMODE(info.st_mode),
        "owner": _owner(info.st_uid),
        "group": _group(info.st_gid),
    }
    if result["islnk"]:
        result["lnk_source"] = os.path.realpath(path)
        result["lnk_target"] = os.readlink(path)
    elif result["isreg"]:
        digest = hashlib.sha1()
        try:
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(65536), b""):
                    digest.update(block)
            result["checksum"] = digest.hexdigest()
        except OSError:
            pass
    return result


def content_of(path):
    try:
        with open(path, "rb") as handle:
            return base64.b64encode(handle.read()).decode("ascii")
    except OSError:
        return None


def glob_state(pattern):
    directory, name = os.path.split(pattern)
    try:
        entries = sorted(os.listdir(directory))
    except OSError:
        return []
    found = []
    for entry in fnmatch.filter(entries, name):
        path = os.path.join(directory, entry)
        try:
            info = os.lstat(path)
            found.append({"path": path, "mtime": info.st_mtime, "isdir": stat.S_ISDIR(info.st_mode)})
        except OSError:
            continue
    return found


def user_state(name):
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return {"group": _group(entry.pw_gid), "home": entry.pw_dir, "shell": entry.pw_shell}


def group_state(name):
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def package_states(module, names):
    if not names:
        return {}
    states = dict.fromkeys(names, False)
    dpkg_query = module.get_bin_path("dpkg-query")
    if dpkg_query is None:
        return states
    # rc 1 when a name is unknown: the others are still listed.
    dummy, out, dummy = module.run_command([dpkg_query, "-W", "-f", "${Package} ${db:Status-Abbrev}\\n"] + names)
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].split(":")[0] in states:
            states[parts[0].split(":")[0]] = parts[1].startswith("ii")
    return states


def unit_states(module, names):
    if not names:
        return {}
    states = dict((name, {}) for name in names)
    systemctl = module.get_bin_path("systemctl")
    if systemctl is None:
        return states
    rc, out, dummy = module.run_command(
        [systemctl, "show", "--property=Id,ActiveState,UnitFileState,NeedDaemonReload"] + names)
    if rc != 0:
        return states
    # One block per unit, in the order asked, separated by an empty line.
    for name, block in zip(names, out.strip().split("\n\n")):
        states[name] = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
    return states


def docker_state(module, images, repositories):
    if not images and not repositories:
        return {}
    docker = module.get_bin_path("docker")
    if docker is None:
        return {}
    result = {"images": {}, "repositories": {}}
    rc, out, dummy = module.run_command([docker, "version", "--format", "{{.Server.Version}}"])
    if rc != 0:
        return {}
    result["server_version"] = out.strip()
    rc, out, dummy = module.run_command([docker, "compose", "version", "--short"])
    result["compose_version"] = out.strip() if rc == 0 else None
    for image in images:
        rc, out, dummy = module.run_command([docker, "image", "inspect", "--format", "{{.Id}}", image])
        result["images"][image] = out.strip() if rc == 0 else None
    for repository in repositories:
        rc, out, dummy = module.run_command([docker, "image", "ls", "--format", "{{.Tag}}", repository])
        result["repositories"][repository] = len([tag for tag in out.split() if tag != "<none>"]) if rc == 0 else None
    return result


def _key_values(text):
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def distribution_facts(etc="/etc"):
    """setup's distribution facts on Debian (os-release and debian_version), else {}: setup must gather them."""
    os_release = _key_values(content_text(os.path.join(etc, "os-release")))
    if os_release.get("ID") != "debian" or not os_release.get("VERSION_ID", "").isdigit() \
            or not os_release.get("VERSION_CODENAME"):
        return {}
    version = content_text(os.path.join(etc, "debian_version")).strip()
    return {
        "distribution": "Debian",
        "distribution_release": os_release["VERSION_CODENAME"],
        "distribution_major_version": os_release["VERSION_ID"],
        "distribution_version": version if version.split(".")[0] == os_release["VERSION_ID"] else os_release["VERSION_ID"],
    }


def content_text(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return ""


def main():
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(type="list", elements="path", default=[]),
            contents=dict(type="list", elements="path", default=[]),
            globs=dict(type="list", elements="str", default=[]),
            packages=dict(type="list", elements="str", default=[]),
            users=dict(type="list", elements="str", default=[]),
            groups=dict(type="list", elements="str", default=[]),
            units=dict(type="list", elements="str", default=[]),
            docker_images=dict(type="list", elements="str", default=[]),
            docker_repositories=dict(type="list", elements="str", default=[]),
            port=dict(type="int"),
            listen_address=dict(type="str", default="127.0.0.1"),
            compose_project=dict(type="str"),
            distribution=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    params = module.params
    facts = distribution_facts() if params["distribution"] else {}
    docker = module.get_bin_path("docker")

    def run_docker(argv):
        return module.run_command([docker] + argv[1:]) if docker else (1, "", "no docker command")

    module.exit_json(
        changed=False,
        ansible_facts=facts,
        port_holders=None if params["port"] is None else port_holders(
            params["port"], params["listen_address"], params["compose_project"], run_command=run_docker),
        paths=dict((path, path_state(path)) for path in params["paths"]),
        contents=dict((path, content_of(path)) for path in params["contents"]),
        globs=dict((pattern, glob_state(pattern)) for pattern in params["globs"]),
        packages=package_states(module, params["packages"]),
        users=dict((name, user_state(name)) for name in params["users"]),
        groups=dict((name, group_state(name)) for name in params["groups"]),
        units=unit_states(module, params["units"]),
        docker=docker_state(module, params["docker_images"], params["docker_repositories"]),
    )


if __name__ == "__main__":
    main()
