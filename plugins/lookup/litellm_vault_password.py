# -*- coding: utf-8 -*-
# Copyright: (c) 2025, sacred_brain.llm_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: litellm_vault_password
author:
  - Sacred Brain platform team (@sacred-brain)
version_added: 0.2.0
short_description: The password a vault password file stands for, resolved the way Ansible resolves it
description:
  - "Returns the vault password of a vault password file on the controller, the way C(ansible-playbook
    --vault-password-file) reads it: an executable file is run (a password script, or a client script whose
    name ends in C(-client)) and its output is the password; any other file is read and its surrounding
    whitespace removed."
  - Reading an executable file as text would give the script's source, which is not a secret.
  - The result is a secret; use it only in tasks with C(no_log).
options:
  _terms:
    description: Path of the vault password file (one).
    required: true
    type: list
    elements: path
  vault_id:
    description: Vault id label passed to a client script.
    type: str
    default: default
'''

EXAMPLES = r'''
- name: Encrypt a document for a vault file with the password behind a script
  ansible.builtin.copy:
    content: "{{ doc | to_nice_yaml | ansible.builtin.vault(lookup('sacred_brain.llm_gateway.litellm_vault_password', pass_file)) }}"
    dest: /srv/keys.vault.yml
    mode: "0600"
  vars:
    pass_file: /etc/ansible/vault-pass-client.py
  no_log: true
'''

RETURN = r'''
_raw:
  description: The vault password (one element).
  type: list
  elements: str
'''

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.parsing.vault import get_file_vault_secret
from ansible.plugins.lookup import LookupBase


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        if len(terms) != 1:
            raise AnsibleError('litellm_vault_password takes exactly one vault password file, got %d' % len(terms))
        path = to_native(terms[0])
        try:
            secret = get_file_vault_secret(filename=path, vault_id=self.get_option('vault_id'), loader=self._loader)
            secret.load()
        except AnsibleError as exc:
            # Ansible's messages name the file, never the password.
            raise AnsibleError('cannot get the vault password from %s: %s' % (path, to_native(exc)))
        return [to_text(secret.bytes, errors='surrogate_or_strict')]
