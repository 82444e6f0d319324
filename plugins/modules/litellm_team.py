#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, sacred_brain.llm_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: litellm_team
short_description: Manage a LiteLLM team, with budgets and limits
version_added: 0.1.0
author:
  - Sacred Brain platform team (@sacred-brain)
description:
  - Create, update or delete one team of a LiteLLM proxy through its admin API.
  - The team is identified by O(team_alias); give O(team_id) too when several teams share an alias
    or to choose the id of a new team.
  - Reads first and writes only what differs; options left unset are not managed.
  - Team members are not managed by this module.
extends_documentation_fragment:
  - sacred_brain.llm_gateway.litellm
  - sacred_brain.llm_gateway.litellm.attributes
options:
  team_alias:
    description: The team's name, used to find it.
    type: str
    required: true
  team_id:
    description:
      - The team's id. When set, the team is looked up by id (and renamed to O(team_alias) if needed).
      - For a new team without O(team_id), a random UUID is chosen here so that a retried creation
        is recognised instead of creating a second team.
    type: str
  state:
    description: Whether the team should exist.
    type: str
    choices: [present, absent]
    default: present
  models:
    description: Models the team's keys may call. An empty list allows every model.
    type: list
    elements: str
  max_budget:
    description: Maximum spend of the team in USD (within O(budget_duration) if set).
    type: float
  budget_duration:
    description: Period after which the team's spend is reset, for example V(30d).
    type: str
  tpm_limit:
    description: Tokens per minute for all keys of the team together.
    type: int
  rpm_limit:
    description: Requests per minute for all keys of the team together.
    type: int
  metadata:
    description:
      - Metadata of the team, merged into the current metadata unless O(purge_metadata=true).
    type: dict
  purge_metadata:
    description: Remove metadata entries that are not in O(metadata), except those LiteLLM keeps there itself.
    type: bool
    default: false
seealso:
  - module: sacred_brain.llm_gateway.litellm_user
  - module: sacred_brain.llm_gateway.litellm_key
'''

EXAMPLES = r'''
- name: Research team with a shared monthly budget
  sacred_brain.llm_gateway.litellm_team:
    api_url: http://127.0.0.1:4000
    master_key: "{{ litellm_master_key }}"
    team_alias: research
    team_id: research
    max_budget: 500
    budget_duration: 30d
    models: [gpt-4o, claude-3-5-sonnet]
    tpm_limit: 400000
    metadata:
      cost_center: "4711"

- name: Remove a team
  sacred_brain.llm_gateway.litellm_team:
    api_url: http://127.0.0.1:4000
    master_key: "{{ litellm_master_key }}"
    team_alias: old-project
    state: absent
'''

RETURN = r'''
team:
  description: The team's settings after the run (before, for O(state=absent)).
  returned: when the team exists or existed
  type: dict
  sample:
    team_id: research
    team_alias: research
    max_budget: 500.0
    budget_duration: 30d
    models: [gpt-4o, claude-3-5-sonnet]
    tpm_limit: 400000
    rpm_limit: null
    spend: 12.0
    blocked: false
    metadata: {cost_center: "4711"}
'''

import uuid

from ansible_collections.sacred_brain.llm_gateway.plugins.module_utils._litellm_api import (
    LITELLM_METADATA_FIELDS,
    EntitySpec,
    LiteLLMError,
    LiteLLMModule,
    ensure_entity,
    read_info,
)

KINDS = dict(team_alias='str', models='set', max_budget='num', budget_duration='str', tpm_limit='int', rpm_limit='int')
# LiteLLM keeps these in a team's metadata itself; purge_metadata never removes them.
PRESERVED_METADATA = LITELLM_METADATA_FIELDS | frozenset(('team_member_budget_id',))
VIEW_FIELDS = ('team_id', 'spend', 'blocked', 'budget_reset_at', 'created_at', 'updated_at', 'organization_id') + tuple(KINDS)


def view(obj):
    out = dict((f, obj.get(f)) for f in VIEW_FIELDS)
    out['models'] = list(obj.get('models') or [])
    out['blocked'] = bool(obj.get('blocked'))
    out['metadata'] = dict(obj.get('metadata') or {})
    return out


def read_team_by_id(client, team_id):
    return read_info(client, '/team/info', 'team_info', 'team_id', team_id)


def find_teams_by_alias(client, alias):
    answer = client.get('/team/list')
    if isinstance(answer, dict):  # some versions wrap the list
        answer = answer.get('teams', answer.get('data'))
    if not isinstance(answer, list):
        raise LiteLLMError('%s answered GET /team/list with an unexpected shape (no list of teams)' % client.api_url,
                           method='GET', path='/team/list', reason='malformed')
    return [t for t in answer if isinstance(t, dict) and t.get('team_alias') == alias]


def main():
    argspec = LiteLLMModule.generate_argspec(
        team_alias=dict(type='str', required=True),
        team_id=dict(type='str'),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        models=dict(type='list', elements='str'),
        max_budget=dict(type='float'),
        budget_duration=dict(type='str'),
        tpm_limit=dict(type='int'),
        rpm_limit=dict(type='int'),
        metadata=dict(type='dict'),
        purge_metadata=dict(type='bool', default=False),
    )
    module = LiteLLMModule(argument_spec=argspec, supports_check_mode=True)
    client = module.client
    params = module.params
    alias = params['team_alias']
    try:
        if params['team_id']:
            current = read_team_by_id(client, params['team_id'])
        else:
            found = find_teams_by_alias(client, alias)
            if len(found) > 1:
                module.fail_json(msg='%d teams are named %r; give team_id to say which one is meant'
                                     % (len(found), alias), team_ids=[t.get('team_id') for t in found])
            current = found[0] if found else None
    except LiteLLMError as exc:
        module.fail_api(exc, team_alias=alias)
    spec = EntitySpec('team', 'team_id', KINDS, PRESERVED_METADATA, view, read_team_by_id,
                      created_matches=lambda created: created.get('team_alias') == alias)
    ensure_entity(module, spec, current, params['team_id'] or str(uuid.uuid4()), context={'team_alias': alias})


if __name__ == '__main__':
    main()
