#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, sacred_brain.llm_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: litellm_key_info
short_description: List and filter the virtual keys of a LiteLLM proxy
version_added: 0.1.0
author:
  - Sacred Brain platform team (@sacred-brain)
description:
  - Lists the virtual keys of a LiteLLM proxy through C(GET /key/list), following its pages, and filters them.
  - Returns settings and token ids (the hashes LiteLLM stores) only, never a key value.
  - Filters on alias, team and user are applied by the proxy; the others here.
extends_documentation_fragment:
  - sacred_brain.llm_gateway.litellm
  - sacred_brain.llm_gateway.litellm.info_module
options:
  key_alias:
    description: Only the key with exactly this alias.
    type: str
  team_id:
    description: Only keys of this team.
    type: str
  user_id:
    description: Only keys of this user.
    type: str
  metadata:
    description:
      - Only keys whose metadata contains every given entry with the same value.
    type: dict
  tags:
    description: Only keys that carry every given tag (C(metadata.tags)).
    type: list
    elements: str
  older_than_days:
    description: Only keys created more than this many days ago.
    type: float
  expires_within_days:
    description:
      - Only keys with an expiry date no later than this many days from now (keys already expired included).
    type: float
  blocked:
    description:
      - V(true) lists only blocked keys, V(false) only keys that are not blocked. Unset lists both.
    type: bool
  include_in_flight:
    description:
      - Whether to list the keys that M(sacred_brain.llm_gateway.litellm_key_rotate) has in flight
        (predecessors in their grace period and successors of an unfinished rotation).
    type: bool
    default: true
  check_owners:
    description:
      - Also check that the user and the team each key names still exist (one C(/user/info) or C(/team/info) per
        distinct id), and report the missing ones in C(owner_missing).
    type: bool
    default: false
  page_size:
    description: Keys asked for per page (LiteLLM allows 1 to 100).
    type: int
    default: 100
seealso:
  - module: sacred_brain.llm_gateway.litellm_key
  - module: sacred_brain.llm_gateway.litellm_key_rotate
'''

EXAMPLES = r'''
- name: Keys of the research team older than 80 days
  sacred_brain.llm_gateway.litellm_key_info:
    api_url: http://127.0.0.1:4000
    master_key: "{{ litellm_master_key }}"
    team_id: research
    older_than_days: 80
  register: old_keys

- name: Show their aliases
  ansible.builtin.debug:
    msg: "{{ old_keys.virtual_keys | map(attribute='key_alias') | list }}"

- name: Keys expiring within two weeks that are not blocked
  sacred_brain.llm_gateway.litellm_key_info:
    master_key: "{{ litellm_master_key }}"
    expires_within_days: 14
    blocked: false
  register: expiring

- name: Keys owned by the platform team, by metadata
  sacred_brain.llm_gateway.litellm_key_info:
    master_key: "{{ litellm_master_key }}"
    metadata:
      owner: platform
  register: platform_keys
'''

RETURN = r'''
virtual_keys:
  description:
    - The matching keys, without key values.
    - Named so because C(result.keys) would be the dictionary method in Jinja.
  returned: always
  type: list
  elements: dict
  contains:
    token:
      description: Token id (SHA-256 hash of the key value); not a secret.
      type: str
    key_alias:
      description: Alias of the key.
      type: str
    team_id:
      description: Team of the key.
      type: str
    user_id:
      description: User of the key.
      type: str
    models:
      description: Models the key may call (empty = all).
      type: list
      elements: str
    spend:
      description: Spend in USD.
      type: float
    max_budget:
      description: Maximum spend in USD.
      type: float
    soft_budget:
      description: Alerting threshold in USD, when known.
      type: float
    budget_duration:
      description: Budget reset period.
      type: str
    tpm_limit:
      description: Tokens per minute.
      type: int
    rpm_limit:
      description: Requests per minute.
      type: int
    max_parallel_requests:
      description: Requests in flight at once.
      type: int
    expires:
      description: Expiry (ISO 8601) or null.
      type: str
    blocked:
      description: Whether the key is blocked.
      type: bool
    status:
      description: V(active), V(blocked) or V(expired).
      type: str
    metadata:
      description: Metadata of the key.
      type: dict
    tags:
      description: Tags of the key.
      type: list
      elements: str
    created_at:
      description: Creation time (ISO 8601).
      type: str
    age_days:
      description: Days since creation, when known.
      type: float
    rotation_state:
      description:
        - V(active) for a key in use under its alias, V(retiring) for a rotation predecessor in its grace
          period, V(pending) for the successor of an unfinished rotation.
      type: str
    logical_alias:
      description: The alias a retiring or pending key belongs to (its own alias for active keys).
      type: str
    retire_at:
      description: End of the grace period of a retiring key (ISO 8601).
      type: str
    last_active:
      description: When the key was last used (ISO 8601), as LiteLLM records it (in batches), or null.
      type: str
    owner_missing:
      description: With O(check_owners=true), V(user) and/or V(team) when the user or team the key names is gone.
      type: list
      elements: str
  sample:
    - token: 5e1b3c4f9d2a7b8c6e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d
      key_alias: research-batch
      team_id: research
      models: []
      spend: 12.5
      max_budget: 100.0
      expires: "2026-03-01T00:00:00Z"
      blocked: false
      status: active
      metadata: {owner: research}
      tags: []
      age_days: 85.2
      rotation_state: active
      logical_alias: research-batch
      retire_at: null
now:
  description: The proxy's time (from the C(Date) header of its answer), by which ages and expiry were judged.
  returned: always
  type: str
  sample: "2026-01-01T00:00:00Z"
count:
  description: Number of keys returned.
  returned: always
  type: int
  sample: 1
'''

import datetime

from ansible_collections.sacred_brain.llm_gateway.plugins.module_utils._litellm_api import (
    LiteLLMError,
    LiteLLMModule,
    key_metadata,
    key_tags,
    format_time,
    key_view,
    parse_time,
    read_info,
)


def matches(obj, view, params, now):
    if params['key_alias'] is not None and obj.get('key_alias') != params['key_alias']:
        return False
    if params['team_id'] is not None and obj.get('team_id') != params['team_id']:
        return False
    if params['user_id'] is not None and obj.get('user_id') != params['user_id']:
        return False
    if params['metadata']:
        meta = key_metadata(obj)
        if any(k not in meta or meta[k] != v for k, v in params['metadata'].items()):
            return False
    if params['tags']:
        tags = set(key_tags(obj))
        if not set(params['tags']) <= tags:
            return False
    if params['blocked'] is not None and view['blocked'] != params['blocked']:
        return False
    if params['older_than_days'] is not None:
        created = parse_time(obj.get('created_at'))
        if created is None or created > now - datetime.timedelta(days=params['older_than_days']):
            return False
    if params['expires_within_days'] is not None:
        expires = parse_time(obj.get('expires'))
        if expires is None or expires > now + datetime.timedelta(days=params['expires_within_days']):
            return False
    if not params['include_in_flight'] and view['rotation_state'] != 'active':
        return False
    return True


def main():
    argspec = LiteLLMModule.generate_argspec(
        key_alias=dict(type='str', no_log=False),  # a name, not a secret
        team_id=dict(type='str'),
        user_id=dict(type='str'),
        metadata=dict(type='dict'),
        tags=dict(type='list', elements='str'),
        older_than_days=dict(type='float'),
        expires_within_days=dict(type='float'),
        blocked=dict(type='bool'),
        include_in_flight=dict(type='bool', default=True),
        check_owners=dict(type='bool', default=False),
        page_size=dict(type='int', default=100),
    )
    module = LiteLLMModule(argument_spec=argspec, supports_check_mode=True)
    params = module.params
    if not 1 <= params['page_size'] <= 100:
        module.fail_json(msg='page_size must be between 1 and 100, got %s' % params['page_size'])

    server_filters = dict((k, params[k]) for k in ('key_alias', 'team_id', 'user_id') if params[k] is not None)
    try:
        listed = module.client.list_keys(page_size=params['page_size'], **server_filters)
    except LiteLLMError as exc:
        module.fail_api(exc)
    now = module.client.now()
    keys = []
    for obj in listed:
        view = key_view(obj, now=now)
        if not matches(obj, view, params, now):
            continue
        created = parse_time(obj.get('created_at'))
        view['age_days'] = round((now - created).total_seconds() / 86400.0, 3) if created else None
        keys.append(view)
    if params['check_owners']:
        try:
            mark_missing_owners(module.client, keys)
        except LiteLLMError as exc:
            module.fail_api(exc)
    module.exit_json(changed=False, virtual_keys=keys, count=len(keys), now=format_time(now))


def mark_missing_owners(client, keys):
    """owner_missing = ['user'] / ['team'] / both, for keys whose user or team no longer exists."""
    exists = {}
    for view in keys:
        view['owner_missing'] = []
        for kind, path, wrapper in (('user', '/user/info', 'user_info'), ('team', '/team/info', 'team_info')):
            owner = view.get(kind + '_id')
            if not owner:
                continue
            if (kind, owner) not in exists:
                exists[(kind, owner)] = read_info(client, path, wrapper, kind + '_id', owner) is not None
            if not exists[(kind, owner)]:
                view['owner_missing'].append(kind)


if __name__ == '__main__':
    main()
