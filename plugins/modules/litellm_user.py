#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, sacred_brain.llm_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: litellm_user
short_description: Manage a LiteLLM internal user, with budgets and limits
version_added: 0.1.0
author:
  - Sacred Brain platform team (@sacred-brain)
description:
  - Create, update or delete one user of a LiteLLM proxy through its admin API, identified by O(user_id).
  - Reads first and writes only what differs; options left unset are not managed.
  - Users are created without a key (LiteLLM would otherwise create one); manage keys with
    M(sacred_brain.llm_gateway.litellm_key) and O(sacred_brain.llm_gateway.litellm_key#module:user_id).
extends_documentation_fragment:
  - sacred_brain.llm_gateway.litellm
  - sacred_brain.llm_gateway.litellm.attributes
options:
  user_id:
    description: The user's id in LiteLLM.
    type: str
    required: true
  state:
    description: Whether the user should exist.
    type: str
    choices: [present, absent]
    default: present
  user_email:
    description: The user's email address.
    type: str
  user_alias:
    description: A display name for the user.
    type: str
  user_role:
    description: The user's role on the proxy.
    type: str
    choices: [proxy_admin, proxy_admin_viewer, internal_user, internal_user_viewer]
  models:
    description: Models the user may call. An empty list allows every model.
    type: list
    elements: str
  max_budget:
    description: Maximum spend of the user in USD (within O(budget_duration) if set).
    type: float
  budget_duration:
    description: Period after which the user's spend is reset, for example V(30d).
    type: str
  tpm_limit:
    description: Tokens per minute for the user.
    type: int
  rpm_limit:
    description: Requests per minute for the user.
    type: int
  max_parallel_requests:
    description: Requests the user may have in flight at once.
    type: int
  metadata:
    description:
      - Metadata of the user, merged into the current metadata unless O(purge_metadata=true).
      - Only the entries given here are set; every other entry is kept.
      - "The metadata of a user provisioned by SCIM (C(scim_metadata)) is not changed: LiteLLM hides its SCIM
        directory attributes from the admin API and replaces metadata as a whole, so a change made here
        would erase them. The module fails instead, before changing anything."
    type: dict
  purge_metadata:
    description:
      - Remove metadata entries that are not in O(metadata), except those LiteLLM keeps there itself
        (its own settings and the SCIM fields).
    type: bool
    default: false
seealso:
  - module: sacred_brain.llm_gateway.litellm_team
  - module: sacred_brain.llm_gateway.litellm_key
'''

EXAMPLES = r'''
- name: A user with a monthly budget
  sacred_brain.llm_gateway.litellm_user:
    api_url: http://127.0.0.1:4000
    master_key: "{{ litellm_master_key }}"
    user_id: alice
    user_email: alice@example.org
    user_role: internal_user
    max_budget: 25
    budget_duration: 30d
    models: [gpt-4o-mini]

- name: Remove a user
  sacred_brain.llm_gateway.litellm_user:
    api_url: http://127.0.0.1:4000
    master_key: "{{ litellm_master_key }}"
    user_id: bob
    state: absent
'''

RETURN = r'''
user:
  description: The user's settings after the run (before, for O(state=absent)).
  returned: when the user exists or existed
  type: dict
  sample:
    user_id: alice
    user_email: alice@example.org
    user_role: internal_user
    max_budget: 25.0
    budget_duration: 30d
    models: [gpt-4o-mini]
    spend: 0.0
    metadata: {}
'''

from ansible_collections.sacred_brain.llm_gateway.plugins.module_utils._litellm_api import (
    LITELLM_METADATA_FIELDS,
    SCIM_HIDDEN_METADATA_FIELDS,
    SCIM_METADATA_FIELDS,
    EntitySpec,
    LiteLLMError,
    LiteLLMModule,
    ensure_entity,
    read_info,
)

KINDS = dict(
    user_email='str', user_alias='str', user_role='str', models='set', max_budget='num',
    budget_duration='str', tpm_limit='int', rpm_limit='int', max_parallel_requests='int',
)
# LiteLLM and its SCIM provisioning keep these in a user's metadata; purge_metadata never removes them.
PRESERVED_METADATA = LITELLM_METADATA_FIELDS | SCIM_METADATA_FIELDS
VIEW_FIELDS = ('user_id', 'spend', 'teams', 'created_at', 'updated_at', 'budget_reset_at') + tuple(KINDS)


def view(obj):
    out = dict((f, obj.get(f)) for f in VIEW_FIELDS)
    out['models'] = list(obj.get('models') or [])
    out['metadata'] = dict(obj.get('metadata') or {})
    return out


def scim_blocker(current):
    """Why the metadata of this user cannot be rewritten without losing data, or None.

    LiteLLM's /user/update replaces metadata as a whole, and /user/info hides the
    SCIM directory attributes (scim_enterprise, scim_entitlements, scim_roles):
    metadata written back from what /user/info shows would erase them. A user
    provisioned by SCIM always carries the visible scim_metadata.
    """
    metadata = current.get('metadata') or {}
    if not isinstance(metadata, dict) or not set(metadata) & SCIM_METADATA_FIELDS:
        return None
    return ('user %r was provisioned by SCIM: LiteLLM hides its SCIM directory attributes (%s) from /user/info '
            'and replaces metadata as a whole on /user/update, so changing its metadata here would erase them. '
            'Change it through the identity provider, or leave the metadata option unset for this user'
            % (current.get('user_id'), ', '.join(sorted(SCIM_HIDDEN_METADATA_FIELDS))))


def read_user(client, user_id):
    return read_info(client, '/user/info', 'user_info', 'user_id', user_id)


def main():
    argspec = LiteLLMModule.generate_argspec(
        user_id=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        user_email=dict(type='str'),
        user_alias=dict(type='str'),
        user_role=dict(type='str', choices=['proxy_admin', 'proxy_admin_viewer', 'internal_user', 'internal_user_viewer']),
        models=dict(type='list', elements='str'),
        max_budget=dict(type='float'),
        budget_duration=dict(type='str'),
        tpm_limit=dict(type='int'),
        rpm_limit=dict(type='int'),
        max_parallel_requests=dict(type='int'),
        metadata=dict(type='dict'),
        purge_metadata=dict(type='bool', default=False),
    )
    module = LiteLLMModule(argument_spec=argspec, supports_check_mode=True)
    user_id = module.params['user_id']
    try:
        current = read_user(module.client, user_id)
    except LiteLLMError as exc:
        module.fail_api(exc, user_id=user_id)
    # auto_create_key: LiteLLM would otherwise make a key for every new user.
    spec = EntitySpec('user', 'user_id', KINDS, PRESERVED_METADATA, view, read_user,
                      create_extra={'auto_create_key': False}, metadata_blocker=scim_blocker)
    ensure_entity(module, spec, current, user_id, context={'user_id': user_id})


if __name__ == '__main__':
    main()
