# Copyright: Sacred Brain platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a task must run, given the host state litellm_host_state read."""

from __future__ import annotations

DOCUMENTATION = r"""
name: litellm_host_differs
short_description: Tell whether a path on the host differs from what a task would make of it
version_added: 0.3.0
description:
  - Takes the result of M(sacred_brain.llm_gateway.litellm_host_state) and a path, and returns V(false) only
    when that state shows the path already as asked (type, owner, group, mode, checksum, link target); V(true)
    otherwise, and whenever the state is missing or did not look at the path, so that the task runs as before.
options:
  _input:
    description: The registered result of M(sacred_brain.llm_gateway.litellm_host_state), or nothing.
    type: dict
    required: true
  path:
    description: The path the task manages.
    type: str
    required: true
  state:
    description: What the task makes of it.
    type: str
    choices: [file, directory, link, absent]
    default: file
  owner:
    description: Owner name asked for; not compared when unset.
    type: str
  group:
    description: Group name asked for; not compared when unset.
    type: str
  mode:
    description: Mode asked for, as an octal string (V(0644)); not compared when unset.
    type: str
  checksum:
    description: SHA-1 of the content asked for (a regular file); not compared when unset.
    type: str
  src:
    description: Link target asked for (O(state=link)).
    type: str
"""

EXAMPLES = r"""
- name: Write config.yaml
  ansible.builtin.template:
    src: config.yaml.j2
    dest: /etc/litellm/config.yaml
    mode: "0644"
  when: >-
    __litellm_host_state | default({}) | sacred_brain.llm_gateway.litellm_host_differs('/etc/litellm/config.yaml',
    mode='0644', checksum=lookup('ansible.builtin.template', 'config.yaml.j2') | hash('sha1'))
"""

RETURN = r"""
_value:
  description: V(true) when the task must run.
  type: bool
"""


def _mode(value):
    if value is None:
        return None
    return "%04o" % int(str(value), 8)


def litellm_host_differs(host_state, path, state="file", owner=None, group=None, mode=None, checksum=None, src=None):
    """True unless host_state shows path already as asked."""
    found = ((host_state or {}).get("paths") or {}).get(path)
    if not found:
        return True
    if state == "absent":
        return bool(found.get("exists"))
    if not found.get("exists"):
        return True
    kind = {"file": "isreg", "directory": "isdir", "link": "islnk"}[state]
    if not found.get(kind):
        return True
    if state == "link":
        return found.get("lnk_target") != src
    if owner is not None and found.get("owner") != str(owner):
        return True
    if group is not None and found.get("group") != str(group):
        return True
    if mode is not None and found.get("mode") != _mode(mode):
        return True
    if checksum is not None and found.get("checksum") != checksum:
        return True
    return False


class FilterModule:
    """Filters of the host state the roles read once per run."""

    def filters(self):
        return {"litellm_host_differs": litellm_host_differs}
