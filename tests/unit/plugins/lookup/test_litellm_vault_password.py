# -*- coding: utf-8 -*-
"""F13 (security review 2026-12): the vault password behind a password file, resolved as Ansible does.

The lookup runs in a child Python: loading controller-side plugins sets up
ansible-core's controller display, which would then take the module tests'
warnings in the same worker.
"""

import json
import os
import subprocess
import sys

PASSWORD = 'the-real-vault-password'


def _collections_root():
    """The directory that holds ``ansible_collections``: the tree ansible-test runs in, or the checkout's .collections."""
    parts = os.path.abspath(__file__).split(os.sep)
    if 'ansible_collections' in parts:
        return os.sep.join(parts[:len(parts) - 1 - parts[::-1].index('ansible_collections')]) or os.sep
    return os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', '.collections'))


COLLECTIONS = _collections_root()
CHILD = r'''
import json, sys
sys.path.insert(0, sys.argv[1])
from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.parsing.dataloader import DataLoader
from ansible.utils.plugin_docs import read_docstring
from ansible_collections.sacred_brain.llm_gateway.plugins.lookup import litellm_vault_password as plugin

name = 'sacred_brain.llm_gateway.litellm_vault_password'
# What the plugin loader does for a lookup: its documented options become its configuration.
C.config.initialize_plugin_configuration_definitions('lookup', name, read_docstring(plugin.__file__)['doc']['options'])
lookup = plugin.LookupModule(loader=DataLoader())
lookup._load_name = name
try:
    print(json.dumps({'result': lookup.run([sys.argv[2]], variables={})}))
except AnsibleError as exc:
    print(json.dumps({'error': str(exc)}))
'''


def lookup(path):
    proc = subprocess.run([sys.executable, '-c', CHILD, COLLECTIONS, str(path)], capture_output=True, text=True,
                          check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_an_executable_password_file_is_run(tmp_path):
    script = tmp_path / 'vault-pass'
    script.write_text("#!/bin/sh\necho '%s'\n" % PASSWORD)
    script.chmod(0o700)
    assert lookup(script) == {'result': [PASSWORD]}


def test_a_plain_password_file_is_read_and_stripped(tmp_path):
    plain = tmp_path / 'vault-pass'
    plain.write_text('  %s \n' % PASSWORD)
    plain.chmod(0o600)
    assert lookup(plain) == {'result': [PASSWORD]}


def test_a_failing_script_stops_without_showing_its_output(tmp_path):
    script = tmp_path / 'vault-pass'
    script.write_text("#!/bin/sh\necho '%s'\nexit 3\n" % PASSWORD)
    script.chmod(0o700)
    error = lookup(script)['error']
    assert 'cannot get the vault password from %s' % script in error
    assert PASSWORD not in error


def test_a_missing_file_is_named(tmp_path):
    assert 'not found' in lookup(tmp_path / 'nope')['error']
