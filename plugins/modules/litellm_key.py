#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, sacred_brain.llm_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: litellm_key
short_description: Manage a LiteLLM virtual key identified by its alias
version_added: 0.1.0
author:
  - Sacred Brain platform team (@sacred-brain)
description:
  - Create, update, block or delete one virtual key of a LiteLLM proxy through its admin API.
  - The key is identified by its O(key_alias), which LiteLLM keeps unique.
  - The module reads the key first and writes only what differs, so an unchanged input reports C(changed=false).
  - Options left unset are not managed; the key keeps whatever value it has.
  - A new key's value is returned once, in RV(key), at creation. LiteLLM stores only its hash and cannot show it again.
extends_documentation_fragment:
  - sacred_brain.llm_gateway.litellm
  - sacred_brain.llm_gateway.litellm.attributes
options:
  key_alias:
    description:
      - The alias that identifies the key.
      - Aliases ending in C(.next.) or C(.retiring.) and eight hex digits are used by
        M(sacred_brain.llm_gateway.litellm_key_rotate) for keys in flight and are refused here.
    type: str
    required: true
  state:
    description:
      - V(present) makes sure the key exists, has the given settings and is not blocked.
      - V(blocked) makes sure the key exists with the given settings and is blocked; predecessors of the key
        that are still in their rotation grace period are blocked too.
      - V(absent) deletes the key, with its rotation predecessors and any successor of an interrupted rotation.
    type: str
    choices: [present, absent, blocked]
    default: present
  models:
    description:
      - Model names the key may call. An empty list allows every model.
    type: list
    elements: str
  max_budget:
    description:
      - Maximum spend of the key in USD (within O(budget_duration) if set).
    type: float
  soft_budget:
    description:
      - Spend in USD at which LiteLLM alerts, without blocking.
    type: float
  budget_duration:
    description:
      - Period after which the key's spend is reset, for example V(30d), V(7d), V(1h).
    type: str
  tpm_limit:
    description: Tokens per minute the key may use.
    type: int
  rpm_limit:
    description: Requests per minute the key may send.
    type: int
  max_parallel_requests:
    description: Requests the key may have in flight at once.
    type: int
  duration:
    description:
      - Validity of a new key, for example V(90d). The key expires that long after its creation.
      - Without it the key never expires, even when the proxy's C(litellm_settings.default_key_generate_params)
        sets a C(duration) (see the notes).
      - Only used when the key is created. LiteLLM stores an absolute expiry, so applying a relative
        duration again on every run would never converge.
      - Recorded in C(metadata.lifetime) (V(never) without it), so that
        M(sacred_brain.llm_gateway.litellm_key_rotate) gives each successor the same lifetime afresh.
    type: str
  metadata:
    description:
      - Metadata of the key.
      - Merged into the current metadata unless O(purge_metadata=true).
      - Keys LiteLLM keeps in metadata itself (such as C(tags)) and the C(rotation) and C(retire_at) entries
        written by M(sacred_brain.llm_gateway.litellm_key_rotate) are never removed.
    type: dict
  purge_metadata:
    description:
      - Remove metadata entries that are not in O(metadata) (except the preserved ones described there).
    type: bool
    default: false
  tags:
    description:
      - Tags of the key, for spend tracking and tag-based routing. LiteLLM stores them in C(metadata.tags).
      - LiteLLM accepts tags on keys only with an Enterprise license.
    type: list
    elements: str
  team_id:
    description: The team the key belongs to.
    type: str
  user_id:
    description: The user the key belongs to.
    type: str
  aliases:
    description:
      - 'Model alias mapping for this key, for example C({"gpt-4": "gpt-4o"}).'
    type: dict
  permissions:
    description:
      - 'Key-specific permissions, for example C({"allow_pii_controls": true}).'
    type: dict
notes:
  - Creating a key chooses its value here (a random C(sk-) value of 256 bits) and sends it to C(/key/generate),
    so a creation that is retried after a timeout is recognised by its hash instead of creating a second key.
    When the proxy refuses custom key values (C(general_settings.disable_custom_api_keys)), LiteLLM picks the value.
  - "Register the result of a task that may create a key with C(no_log: true); see RV(key)."
  - "A key lives exactly as declared. LiteLLM applies C(litellm_settings.default_key_generate_params) and
    C(upperbound_key_generate_params) to keys generated with the master key too, filling an expiry, budgets and
    limits the request left unset. When it did, the module sets them back to none with one C(/key/update) right
    after the creation and lists them in RV(undeclared_removed). Declare a setting to keep it."
seealso:
  - module: sacred_brain.llm_gateway.litellm_key_info
  - module: sacred_brain.llm_gateway.litellm_key_rotate
  - module: sacred_brain.llm_gateway.litellm_team
  - module: sacred_brain.llm_gateway.litellm_user
  - name: LiteLLM virtual keys
    description: LiteLLM's documentation of virtual keys, budgets and limits.
    link: https://docs.litellm.ai/docs/proxy/virtual_keys
'''

EXAMPLES = r'''
- name: Key for the OpenWebUI front end, with a monthly budget
  sacred_brain.llm_gateway.litellm_key:
    api_url: http://127.0.0.1:4000
    master_key: "{{ litellm_master_key }}"
    key_alias: openwebui
    models: [gpt-4o-mini, claude-3-5-haiku]
    max_budget: 50
    budget_duration: 30d
    rpm_limit: 120
    metadata:
      owner: platform
  register: openwebui_key
  no_log: true

- name: Store the new key where its client reads it (only returned at creation)
  ansible.builtin.copy:
    dest: /etc/openwebui/litellm.env
    content: "OPENAI_API_KEY={{ openwebui_key.key }}\n"
    mode: "0600"
  when: openwebui_key.key is defined
  no_log: true

- name: Several keys with shared connection settings
  module_defaults:
    group/sacred_brain.llm_gateway.litellm:
      api_url: http://127.0.0.1:4000
      master_key: "{{ litellm_master_key }}"
  block:
    - name: Team key with an expiry
      sacred_brain.llm_gateway.litellm_key:
        key_alias: research-batch
        team_id: research
        duration: 90d
        tpm_limit: 200000
      no_log: true

    - name: Stop a key from being used, keeping its record
      sacred_brain.llm_gateway.litellm_key:
        key_alias: old-integration
        state: blocked

    - name: Remove a key and its rotation predecessors
      sacred_brain.llm_gateway.litellm_key:
        key_alias: decommissioned-bot
        state: absent
'''

RETURN = r'''
key:
  description:
    - The value of the key, returned only when this run created it. LiteLLM cannot show it again.
    - "This is a secret. Register the result under C(no_log: true) and store it at once."
  returned: when the key was created (not in check mode)
  type: str
  sample: sk-REDACTED
token:
  description: The key's token id (the SHA-256 hash LiteLLM stores), not a secret.
  returned: when the key exists or existed
  type: str
  sample: 5e1b3c4f9d2a7b8c6e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d
key_info:
  description: Settings of the key after the run (before, for O(state=absent)); never the key value.
  returned: when the key exists or existed
  type: dict
  contains:
    key_alias:
      description: Alias of the key.
      type: str
    models:
      description: Models the key may call.
      type: list
      elements: str
    max_budget:
      description: Maximum spend in USD.
      type: float
    spend:
      description: Spend so far in USD.
      type: float
    blocked:
      description: Whether the key is blocked.
      type: bool
    expires:
      description: When the key stops working (ISO 8601), or null.
      type: str
    metadata:
      description: Metadata of the key.
      type: dict
    status:
      description: One of V(active), V(blocked), V(expired).
      type: str
  sample:
    key_alias: openwebui
    models: [gpt-4o-mini]
    max_budget: 50.0
    budget_duration: 30d
    spend: 1.25
    blocked: false
    expires: null
    metadata: {owner: platform}
    status: active
undeclared_removed:
  description:
    - Settings the proxy gave the new key from its default or upper-bound key parameters although they were
      not declared, which the module set back to none (V(duration) stands for the expiry).
  returned: when the key was created (not in check mode)
  type: list
  elements: str
  sample: [duration, max_budget]
related_tokens:
  description: Token ids of rotation predecessors or unfinished successors that were deleted or blocked with the key.
  returned: when O(state=absent) or O(state=blocked)
  type: list
  elements: str
'''

import re

from ansible_collections.sacred_brain.llm_gateway.plugins.module_utils._litellm_api import (
    LiteLLMAuthError,
    LiteLLMError,
    LiteLLMModule,
    LIFETIME_FIELD,
    NO_EXPIRY,
    changed_settings,
    key_metadata,
    key_soft_budget,
    key_tags,
    key_view,
    make_diff,
    plan_metadata,
    random_key,
    rotation_role,
    undeclared_fills,
    user_metadata,
)

RESERVED_ALIAS = re.compile(r'\.(next|retiring)\.[0-9a-f]{8}$')
KINDS = dict(
    models='set', max_budget='num', soft_budget='num', budget_duration='str',
    tpm_limit='int', rpm_limit='int', max_parallel_requests='int',
    team_id='str', user_id='str', aliases='dict', permissions='dict', tags='set',
)


def current_settings(obj):
    settings = dict((name, obj.get(name)) for name in KINDS)
    settings['soft_budget'] = key_soft_budget(obj)
    settings['tags'] = key_tags(obj)
    settings['models'] = list(obj.get('models') or [])
    return settings


def diff_view(alias, settings, metadata, blocked):
    view = dict((k, v) for k, v in settings.items() if v not in (None, [], {}))
    view['key_alias'] = alias
    view['metadata'] = user_metadata(metadata)
    view['blocked'] = bool(blocked)
    return view


def related_generations(client, alias, holder_token):
    """Keys of this alias in flight: rotation predecessors and unfinished successors."""
    related = []
    for obj in client.iter_keys(search=alias):
        if obj.get('token') == holder_token:
            continue
        role, logical = rotation_role(obj)
        if role in ('pending', 'retiring') and logical == alias:
            related.append(obj)
    return related


def create(module, alias, desired, state):
    client = module.client
    params = module.params
    body = dict((k, v) for k, v in desired.items() if v is not None)
    body['key_alias'] = alias
    body['metadata'] = dict(params['metadata'] or {})
    # The declared lifetime, so that a rotation gives the successor the same lifetime afresh.
    body['metadata'][LIFETIME_FIELD] = params['duration'] or NO_EXPIRY
    if params['duration']:
        body['duration'] = params['duration']
    if state == 'blocked':
        body['blocked'] = True
    after = diff_view(alias, desired, body['metadata'], state == 'blocked')
    after['expires'] = 'in %s' % params['duration'] if params['duration'] else 'never'
    diff = make_diff({'state': 'absent'}, after)
    if module.check_mode:
        module.exit_json(changed=True, diff=diff)
    body['key'] = random_key()
    try:
        try:
            answer = client.generate_key(body)
        except LiteLLMAuthError as exc:
            if exc.reason != 'custom_key_refused':
                raise
            # general_settings.disable_custom_api_keys: let LiteLLM choose the value. Only a retry of
            # this creation that lost its answer cannot then recognise the key it made.
            del body['key']
            answer = client.generate_key(body)
    except LiteLLMError as exc:
        module.fail_api(exc, key_alias=alias)
    info = dict(body)
    info.update(dict((k, v) for k, v in answer.items() if k in ('expires', 'created_at', 'spend')))
    info['token'] = answer['token']
    info.pop('key', None)
    # litellm_settings.default_key_generate_params / upperbound_key_generate_params: LiteLLM fills an
    # expiry, budgets and limits the declaration left unset, even for the master key. Take them back.
    fix = undeclared_fills(body, answer)
    if fix:
        try:
            client.update_key(answer['token'], fix)
        except LiteLLMError as exc:
            module.warn('the proxy gave the new key %r settings it was not declared with (%s, from '
                        'litellm_settings.default_key_generate_params or upperbound_key_generate_params) and '
                        'removing them failed: %s. Remove them from the proxy config, or declare them.'
                        % (alias, ', '.join(sorted(fix)), exc.msg))
            for name in fix:
                info[name] = answer.get(name)
        else:
            info.update(fix)
            if 'duration' in fix:
                info['expires'] = None
    module.exit_json(changed=True, key=answer['key'], token=answer['token'],
                     key_info=key_view(info), diff=diff, undeclared_removed=sorted(fix))


def main():
    argspec = LiteLLMModule.generate_argspec(
        key_alias=dict(type='str', required=True, no_log=False),  # a name, not a secret
        state=dict(type='str', default='present', choices=['present', 'absent', 'blocked']),
        models=dict(type='list', elements='str'),
        max_budget=dict(type='float'),
        soft_budget=dict(type='float'),
        budget_duration=dict(type='str'),
        tpm_limit=dict(type='int'),
        rpm_limit=dict(type='int'),
        max_parallel_requests=dict(type='int'),
        duration=dict(type='str'),
        metadata=dict(type='dict'),
        purge_metadata=dict(type='bool', default=False),
        tags=dict(type='list', elements='str'),
        team_id=dict(type='str'),
        user_id=dict(type='str'),
        aliases=dict(type='dict'),
        permissions=dict(type='dict'),
    )
    module = LiteLLMModule(argument_spec=argspec, supports_check_mode=True)
    client = module.client
    params = module.params
    alias = params['key_alias']
    state = params['state']
    desired = dict((name, params[name]) for name in KINDS)
    if RESERVED_ALIAS.search(alias):
        module.fail_json(msg='key_alias %r looks like a key that litellm_key_rotate has in flight '
                             '(<alias>.next.<8 hex> or <alias>.retiring.<8 hex>); use the alias without that suffix'
                             % alias)

    try:
        found = client.find_keys_by_alias(alias)
    except LiteLLMError as exc:
        module.fail_api(exc, key_alias=alias)
    if len(found) > 1:
        module.fail_json(msg='%d keys share the alias %r; LiteLLM expects aliases to be unique. '
                             'Remove the extra keys (see litellm_key_info) and run again.' % (len(found), alias),
                         tokens=[k.get('token') for k in found])
    current = found[0] if found else None

    if state == 'absent':
        try:
            related = related_generations(client, alias, current.get('token') if current else None)
        except LiteLLMError as exc:
            module.fail_api(exc, key_alias=alias)
        tokens = [k['token'] for k in related]
        if current is None and not tokens:
            module.exit_json(changed=False, related_tokens=[])
        before = diff_view(alias, current_settings(current), key_metadata(current),
                           current.get('blocked')) if current else {'key_alias': alias}
        diff = make_diff(before, {'state': 'absent'})
        result = dict(changed=True, related_tokens=tokens, diff=diff)
        if current:
            result['token'] = current['token']
            result['key_info'] = key_view(current)
        if not module.check_mode:
            try:
                client.delete_keys(([current['token']] if current else []) + tokens)
            except LiteLLMError as exc:
                module.fail_api(exc, key_alias=alias)
        module.exit_json(**result)

    if current is None:
        try:
            unfinished = [k for k in related_generations(client, alias, None) if rotation_role(k)[0] == 'pending']
        except LiteLLMError as exc:
            module.fail_api(exc, key_alias=alias)
        if unfinished:
            module.fail_json(msg='a rotation of %r is unfinished (its successor %s does not hold the alias yet): run '
                                 'sacred_brain.llm_gateway.litellm_key_rotate with key_alias=%s to finish it instead of '
                                 'creating another key' % (alias, unfinished[0]['token'], alias))
        create(module, alias, desired, state)

    token = current['token']
    try:
        if params['soft_budget'] is not None and key_soft_budget(current) is None:
            # /key/list does not join the budget table; /key/info does.
            info = client.key_info(token)
            if info:
                current = dict(current, litellm_budget_table=info.get('litellm_budget_table'),
                               soft_budget=key_soft_budget(info))
        related = related_generations(client, alias, token) if state == 'blocked' else []
    except LiteLLMError as exc:
        module.fail_api(exc, key_alias=alias)

    have = current_settings(current)
    changes = changed_settings(have, desired, KINDS)
    meta_changed, new_meta = plan_metadata(key_metadata(current), params['metadata'], params['purge_metadata'])
    want_blocked = state == 'blocked'
    block_change = bool(current.get('blocked')) != want_blocked
    to_block = [k['token'] for k in related if not k.get('blocked')]

    after_settings = dict(have)
    after_settings.update(changes)
    before = diff_view(alias, have, key_metadata(current), current.get('blocked'))
    after = diff_view(alias, after_settings, new_meta, want_blocked)
    changed = bool(changes or meta_changed or block_change or to_block)

    final = dict(current)
    final.update(changes)
    if 'tags' in changes:
        new_meta = dict(new_meta, tags=changes['tags'])
    final['metadata'] = new_meta
    final['blocked'] = want_blocked
    result = dict(changed=changed, token=token, key_info=key_view(final))
    if state == 'blocked':
        result['related_tokens'] = to_block
    if changed:
        result['diff'] = make_diff(before, after)
    if changed and not module.check_mode:
        try:
            if changes or meta_changed:
                body = dict(changes)
                if meta_changed:
                    body['metadata'] = new_meta
                client.update_key(token, body)
            if block_change:
                if want_blocked:
                    client.block_key(token)
                else:
                    client.unblock_key(token)
            for other in to_block:
                client.block_key(other)
        except LiteLLMError as exc:
            module.fail_api(exc, key_alias=alias, token=token)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
