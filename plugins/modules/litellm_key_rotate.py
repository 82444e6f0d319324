#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, sacred_brain.llm_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: litellm_key_rotate
short_description: Rotate LiteLLM virtual keys without downtime, and purge retired ones
version_added: 0.1.0
author:
  - Sacred Brain platform team (@sacred-brain)
description:
  - Rotates one key (O(key_alias)), a list of keys (O(key_aliases)) or every key matching a selector
    (O(team_id), O(user_id), O(tags), O(metadata), O(older_than_days)) in one invocation, over one
    connection setup, listing the keys once.
  - "The community method (default) works with LiteLLM's open-source proxy, which cannot change a key's value:
    1. create a successor with C(/key/generate) that carries every setting of the old key, its spend so far
    (a rotation never resets a budget) and C(metadata.rotation) linking the generations, under the temporary
    alias C(<alias>.next.<old token[:8]>);
    2. rename the old key to C(<alias>.retiring.<old token[:8]>) and record C(metadata.retire_at) = now + O(grace_period);
    3. give the successor the alias;
    4. mark the successor C(metadata.rotation.handed_out=true), then return its value.
    The old key keeps working until it is purged after C(retire_at), so clients switch over without errors."
  - "A successor that holds the alias but is not marked handed out (the answer to step 3 or 4 was lost, so
    the run failed without its value) is handed out by the next run: its value is derived again and returned
    in RV(rotated), or, when it cannot be, the successor is replaced by a new one before anybody uses it.
    Its predecessor is not purged until then."
  - "Every step can be interrupted and the module run again: it recognises a half-done rotation from the aliases
    and metadata above and finishes it, never creating a second successor and never revoking a key whose
    successor does not hold the alias."
  - "With O(key_derivation_secret), the successor's value is chosen here: an HMAC-SHA256 of the alias, the old
    token id and a random nonce stored in C(metadata.rotation.nonce), keyed with that secret. Nothing secret is
    stored, yet a resumed run can compute the value again, check it against the stored hash and return it.
    When it cannot (no secret, O(key_derivation=false), another secret, or the proxy refuses custom key values),
    an unfinished successor whose value nobody has ever received is deleted and created again."
  - "The master key is never used as the derivation secret: whoever holds an old master key and the key metadata
    (a database dump) could otherwise compute every derived key, even after the master key was changed."
  - "Concurrent runs (a second controller, a manual run beside the timer): a successor is created with a lease in
    C(metadata.rotation.lease) (C(owner), C(expires) = now + O(lease_ttl) on the proxy's clock), dropped when its
    value is handed out. Another run never deletes or replaces a successor whose lease is live, nor one that
    meanwhile took the alias or was handed out (it reads the key again first), and rotates a key only if it
    still holds the alias when read again just before. Such keys are listed in RV(skipped_keys) and the module
    fails with \"another rotation in progress\" once the other keys are done. A lease whose owner died expires, and
    the next run replaces that successor."
  - O(method=regenerate) uses LiteLLM Enterprise's C(/key/{key}/regenerate) instead, which changes the value in
    place and keeps the old value valid for O(grace_period) on the proxy side. Without an Enterprise licence
    LiteLLM answers it with HTTP 500 and an "Enterprise feature" message; the module fails at once and says so.
  - "When the proxy sets C(general_settings.disable_custom_api_keys), both methods let LiteLLM choose the
    new value (with a warning): an interrupted rotation then replaces its successor instead of resuming it."
  - "When the proxy validates aliases (C(litellm_settings.key_alias_pattern) or
    C(enable_key_alias_format_validation)), the aliases of keys in flight must pass too. If LiteLLM refuses
    one, the rotation of that key fails with LiteLLM's message and leaves nothing changed (a successor made
    for it is deleted again)."
  - "The result contains new key values. Register it under C(no_log: true)."
extends_documentation_fragment:
  - sacred_brain.llm_gateway.litellm
  - sacred_brain.llm_gateway.litellm.attributes
attributes:
  idempotent:
    support: partial
    details:
      - A key that was rotated less than O(grace_period) ago (its predecessor is still valid) is not rotated again
        unless O(force=true); with O(older_than_days) a key is rotated only when it is due.
      - A key named explicitly without O(older_than_days) is rotated on every run once its last rotation's grace has ended.
options:
  key_alias:
    description: Alias of the one key to rotate.
    type: str
  key_aliases:
    description: Aliases of the keys to rotate.
    type: list
    elements: str
  team_id:
    description: Select the keys of this team.
    type: str
  user_id:
    description: Select the keys of this user.
    type: str
  tags:
    description: Select the keys that carry every one of these tags (C(metadata.tags)).
    type: list
    elements: str
  metadata:
    description: Select the keys whose metadata contains every given entry with the same value.
    type: dict
  older_than_days:
    description:
      - Rotate only keys whose current generation is older than this many days, counted from its last
        rotation (C(metadata.rotation.rotated_at)) or else its creation.
      - Applies to every selection, so a scheduled job rotates only what is due. V(0) selects every key.
    type: float
    aliases: [rotate_if_older_than_days]
  renew_within_days:
    description:
      - Renew keys that expire within this many days, by rotating them (the successor gets a fresh lifetime).
      - With O(older_than_days) a key is due when either applies; alone, only keys expiring within the window are
        rotated. Renewed keys are marked C(renewed=true) in RV(rotated).
      - Keys that have already expired are not renewed; they are listed in RV(skipped_keys).
    type: float
  state:
    description:
      - V(rotated) rotates the selected keys (and purges them too when O(purge=true)).
      - V(purged) only purges; without a selection it purges every retiring key of the proxy.
    type: str
    choices: [rotated, purged]
    default: rotated
  method:
    description:
      - V(community) rotates with a successor key as described above; works with every LiteLLM proxy.
      - V(regenerate) calls the Enterprise endpoint C(/key/{key}/regenerate) with O(grace_period).
        The open-source proxy refuses it.
      - Unfinished community rotations are always finished with the community method.
    type: str
    choices: [community, regenerate]
    default: community
  grace_period:
    description:
      - How long the old key keeps working after a rotation, for example V(24h), V(2d), V(90m) or seconds.
      - Clients must pick up the new key within this time.
    type: str
    default: 24h
  purge:
    description:
      - Also purge, in the same run, the retiring keys of the selection whose C(retire_at) has passed.
      - A retiring key is purged only when its successor (or a later generation) holds the alias.
    type: bool
    default: false
  purge_action:
    description:
      - V(block) blocks retired keys (they stay listed, with their spend, and answer 401).
      - V(delete) deletes them (LiteLLM keeps them in its deleted-keys archive).
    type: str
    choices: [block, delete]
    default: block
  force:
    description:
      - Rotate even keys rotated less than O(grace_period) ago (their predecessor is still valid).
    type: bool
    default: false
  key_derivation:
    description:
      - Choose successor values here so that a resumed run can return them (see the description).
      - Not set, values are derived when O(key_derivation_secret) is given. V(true) without a secret fails;
        with V(false) LiteLLM chooses the values and an interrupted rotation's successor is replaced.
    type: bool
  key_derivation_secret:
    description:
      - Secret the successor values are derived from, dedicated to that purpose (the role
        M(sacred_brain.llm_gateway.litellm_keys) generates one on the gateway host).
      - If not set, the value of the E(LITELLM_KEY_DERIVATION_SECRET) environment variable is used.
      - Must not be the master key. Without a secret, successor values are not derived.
      - When it changes between an interruption and the re-run, the unfinished successor is replaced.
    type: str
  lease_ttl:
    description:
      - How long a successor's lease (see the description) protects it from other runs, for example V(30m).
      - It covers one key's steps from creating its successor to handing out its value; make it longer than
        the requests of those steps can take with O(timeout) and O(retries).
    type: str
    default: 30m
  lease_owner:
    description:
      - Name recorded as the holder of the leases this run takes (shown to other runs).
      - A run with the same name may take over such a lease at once; give one only to runs that cannot
        overlap (one controller whose runs share a lock).
      - Default is the name of the host the module runs on and a random id, unique to the run.
    type: str
  redeliver:
    description:
      - Also return, in RV(redelivered), the current value of keys rotated earlier whose predecessor is
        still in its grace period, when the value can be derived again.
      - Lets a scheduled job deliver again after its delivery step failed, before the old key stops working.
    type: bool
    default: false
notes:
  - "Returned per key: alias, old and new token ids, C(retire_at) and the new key value. The token ids are hashes,
    not secrets; the values are."
  - When the run fails part way, the result still lists the keys rotated so far, with their values, so that a
    C(rescue) block can deliver them; running the module again finishes the interrupted key.
  - LiteLLM recomputes C(budget_reset_at) for the successor; the spend carried over counts against the new window.
  - "The successor gets a fresh lifetime: the C(duration) the key was declared with (C(metadata.lifetime), written
    by M(sacred_brain.llm_gateway.litellm_key)), counted from the rotation; a key declared without one never
    expires, and neither does its successor. For a key without that record, the length of its own lifetime
    (C(expires) - C(created_at)) is used."
  - "Expiry and budgets the proxy adds to a successor from C(default_key_generate_params) or
    C(upperbound_key_generate_params) beyond what the old key had are set back to none right after its creation."
  - Ages, expiry and C(retire_at) are judged by the proxy's clock (the C(Date) header of its answers) when it
    sends one, so a controller whose clock is off neither purges early nor rotates too soon.
  - Blocked and expired keys, and keys without an alias, are not rotated; they are listed in RV(skipped_keys).
seealso:
  - module: sacred_brain.llm_gateway.litellm_key
  - module: sacred_brain.llm_gateway.litellm_key_info
'''

EXAMPLES = r'''
- name: Rotate one key now
  sacred_brain.llm_gateway.litellm_key_rotate:
    api_url: http://127.0.0.1:4000
    master_key: "{{ litellm_master_key }}"
    key_alias: openwebui
  register: rotation
  no_log: true

- name: Give OpenWebUI its new key (the old one works for 24 more hours)
  ansible.builtin.lineinfile:
    path: /etc/openwebui/litellm.env
    regexp: '^OPENAI_API_KEY='
    line: "OPENAI_API_KEY={{ rotation.rotated[0].key }}"
    mode: "0600"
  when: rotation.rotated | length > 0
  no_log: true

- name: Scheduled job - rotate what is due, purge what has expired, re-deliver what may have been missed
  sacred_brain.llm_gateway.litellm_key_rotate:
    api_url: http://127.0.0.1:4000
    master_key: "{{ litellm_master_key }}"
    tags: [rotate-monthly]
    older_than_days: 30
    renew_within_days: 14   # and renew keys about to expire, whatever their age
    grace_period: 48h
    purge: true
    purge_action: block
    redeliver: true
  register: scheduled
  no_log: true

- name: Report without secrets
  ansible.builtin.debug:
    msg: >-
      rotated {{ scheduled.rotated | map(attribute='alias') | list }},
      purged {{ scheduled.purged | map(attribute='token') | list }}

- name: Rotate every key of a team with the Enterprise regenerate endpoint
  sacred_brain.llm_gateway.litellm_key_rotate:
    api_url: http://127.0.0.1:4000
    master_key: "{{ litellm_master_key }}"
    team_id: research
    method: regenerate
    grace_period: 2h
  register: regenerated
  no_log: true

- name: Purge only, deleting retired keys of the whole proxy
  sacred_brain.llm_gateway.litellm_key_rotate:
    api_url: http://127.0.0.1:4000
    master_key: "{{ litellm_master_key }}"
    state: purged
    purge_action: delete
'''

RETURN = r'''
rotated:
  description:
    - One entry per key rotated (or, in check mode, that would be rotated).
    - Contains the new key value in C(key). Register the result under C(no_log).
  returned: always
  type: list
  elements: dict
  contains:
    alias:
      description: The key's alias, now held by the successor.
      type: str
    old_token:
      description: Token id (hash) of the previous key, now retiring.
      type: str
    new_token:
      description: Token id (hash) of the new key; null in check mode.
      type: str
    key:
      description: The new key value. A secret; absent in check mode.
      type: str
    retire_at:
      description: When the previous key stops being valid (ISO 8601, UTC).
      type: str
    generation:
      description: Generation number of the new key (the first key is generation 1).
      type: int
    method:
      description: V(community) or V(regenerate).
      type: str
    resumed:
      description: Whether this finished a rotation an earlier run had started.
      type: bool
    renewed:
      description: Whether the key was rotated because it expires within O(renew_within_days).
      type: bool
    expires:
      description: When the rotated key would have expired (ISO 8601, UTC), or null.
      type: str
    replaced_token:
      description: Token id of an unfinished successor that was deleted and created again because its value could not be recovered.
      type: str
  sample:
    - alias: openwebui
      old_token: 0c6f1e5a1b2d3c4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6
      new_token: 9a8b7c6d5e4f30211f2e3d4c5b6a79880f1e2d3c4b5a69788796a5b4c3d2e1f0
      key: sk-REDACTED
      retire_at: "2025-06-02T10:00:00Z"
      generation: 2
      method: community
      resumed: false
skipped_keys:
  description:
    - Selected keys that were not rotated, and retiring keys past their grace that were not purged, with the reason
      (blocked, expired, rotated recently, not found, no successor holds the alias, ...).
    - Not named C(skipped), which Ansible would read as the task having been skipped.
  returned: always
  type: list
  elements: dict
  sample:
    - alias: old-integration
      token: 77aa0c6f1e5a1b2d3c4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071829321
      reason: blocked
not_due:
  description: Number of selected keys not rotated because they are younger than O(older_than_days).
  returned: always
  type: int
  sample: 12
purged:
  description: Retiring keys blocked or deleted (or, in check mode, that would be) because their grace period ended.
  returned: always
  type: list
  elements: dict
  sample:
    - alias: openwebui.retiring.0c6f1e5a
      token: 0c6f1e5a1b2d3c4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6
      retire_at: "2025-06-02T10:00:00Z"
      action: block
redelivered:
  description:
    - With O(redeliver=true), keys rotated earlier whose predecessor is still valid, with their current value in C(key).
    - A secret, like RV(rotated).
  returned: always
  type: list
  elements: dict
  sample:
    - alias: openwebui
      token: 9a8b7c6d5e4f30211f2e3d4c5b6a79880f1e2d3c4b5a69788796a5b4c3d2e1f0
      key: sk-REDACTED
      retire_at: "2025-06-02T10:00:00Z"
'''

import copy
import datetime
import json
import math
import socket
import uuid

from ansible.module_utils.basic import env_fallback

from ansible_collections.sacred_brain.llm_gateway.plugins.module_utils._litellm_api import (
    LiteLLMAuthError,
    LiteLLMError,
    LiteLLMModule,
    NO_EXPIRY,
    declared_lifetime,
    derive_key,
    format_time,
    hash_key,
    key_metadata,
    key_rotation,
    key_soft_budget,
    key_tags,
    new_nonce,
    parse_duration,
    parse_time,
    pending_alias,
    retiring_alias,
    rotation_role,
    undeclared_fills,
    utcnow,
)

# Settings of a key that a successor carries over (GenerateKeyRequest fields).
CARRIED_FIELDS = (
    'models', 'max_budget', 'budget_duration', 'tpm_limit', 'rpm_limit', 'tpd_limit',
    'max_parallel_requests', 'user_id', 'team_id', 'agent_id', 'project_id', 'aliases', 'config',
    'permissions', 'model_max_budget', 'budget_fallbacks', 'allowed_cache_controls', 'allowed_routes',
    'budget_id', 'key_type', 'access_group_ids', 'router_settings', 'auto_rotate', 'rotation_interval',
)
OBJECT_PERMISSION_FIELDS = (
    'mcp_servers', 'mcp_access_groups', 'mcp_tool_permissions', 'mcp_toolsets', 'blocked_tools',
    'vector_stores', 'agents', 'agent_access_groups', 'models', 'search_tools', 'mcp_tool_search_enabled', 'skills',
)
# Up to this many aliases are looked up one by one (GET /key/list?search=); more list every key once.
SEARCH_LIMIT = 20
DERIVATION = 'hmac-sha256-v1'


class RotationFailed(Exception):
    def __init__(self, exc, alias, step):
        super(RotationFailed, self).__init__(exc.msg)
        self.exc = exc
        self.alias = alias
        self.step = step


class RotationInProgress(Exception):
    """Another run is rotating this alias: leave it alone (nothing of it was changed here)."""

    def __init__(self, alias, why):
        super(RotationInProgress, self).__init__(why)
        self.alias = alias
        self.why = why


class Group:
    """All keys of one logical alias: the holder, unfinished successors, retiring predecessors."""

    def __init__(self, alias):
        self.alias = alias
        self.holder = None
        self.extra_holders = []
        self.pending = []
        self.retiring = []

    def representative(self):
        if self.holder is not None:
            return self.holder
        return (self.pending or self.retiring or [None])[0]


def successor_body(old, now):
    """A /key/generate body carrying every setting of ``old``, its spend and its remaining validity."""
    body = {}
    for field in CARRIED_FIELDS:
        value = old.get(field)
        # None, {}, [] and False are LiteLLM's defaults: leave them out of the request.
        if value is not None and value != {} and value != [] and value is not False:
            body[field] = copy.deepcopy(value)
    if isinstance(body.get('router_settings'), str):  # some rows hold it serialised
        try:
            body['router_settings'] = json.loads(body['router_settings'])
        except ValueError:
            body.pop('router_settings')
        if not body.get('router_settings'):
            body.pop('router_settings', None)
    org = old.get('organization_id', old.get('org_id'))
    if org:
        body['organization_id'] = org
    soft = key_soft_budget(old)
    if soft is not None and not old.get('budget_id'):
        body['soft_budget'] = soft
    perm = old.get('object_permission')
    if isinstance(perm, dict):
        perm = dict((k, copy.deepcopy(v)) for k, v in perm.items() if k in OBJECT_PERMISSION_FIELDS and v is not None)
        if perm:
            body['object_permission'] = perm
    limits = old.get('budget_limits')
    if isinstance(limits, list) and limits:
        body['budget_limits'] = [dict(budget_duration=w.get('budget_duration'), max_budget=w.get('max_budget'))
                                 for w in limits if isinstance(w, dict)]
    body['spend'] = float(old.get('spend') or 0.0)
    lifetime = successor_lifetime(old)
    if lifetime is not None:
        body['duration'] = lifetime
    return body


def successor_lifetime(old):
    """The ``duration`` of a successor: the lifetime ``old`` was declared with, afresh (None: never expires).

    litellm_key records the declared lifetime in metadata.lifetime. A key made without
    that record keeps the length of its own lifetime (expires - created_at), counted
    again from the rotation; a key without an expiry gets none.
    """
    declared = declared_lifetime(old)
    if declared == NO_EXPIRY:
        return None
    if declared:
        return declared
    expires = parse_time(old.get('expires'))
    if expires is None:
        return None
    born = parse_time(old.get('created_at'))
    if born is None or expires <= born:
        return None
    return '%ds' % max(1, int(math.ceil((expires - born).total_seconds())))


def clean_metadata(meta):
    meta = copy.deepcopy(meta or {})
    meta.pop('retire_at', None)
    meta.pop('rotation', None)
    return meta


def generation_of(obj):
    try:
        return int(key_rotation(obj).get('generation') or 1)
    except (TypeError, ValueError):
        return 1


def subset(small, big):
    return all(k in big and big[k] == v for k, v in small.items())


class Rotator:

    def __init__(self, module):
        self.module = module
        self.client = module.client
        self.params = p = module.params
        self.check = module.check_mode
        self.now = utcnow()
        try:
            self.grace = parse_duration(p['grace_period'])
        except ValueError as exc:
            module.fail_json(msg='grace_period: %s' % exc)
        if self.grace < 0:
            module.fail_json(msg='grace_period must not be negative')
        for name in ('older_than_days', 'renew_within_days'):
            if p[name] is not None and (p[name] < 0 or p[name] != p[name]):
                module.fail_json(msg='%s must be 0 or more days, got %s' % (name, p[name]))
        self.secret = p['key_derivation_secret'] or None
        if self.secret is not None and self.secret == p['master_key']:
            module.fail_json(msg='key_derivation_secret must not be the master key: give a secret of its own, so that '
                                 'an old master key cannot compute rotated key values')
        if p['key_derivation'] and self.secret is None:
            module.fail_json(msg='key_derivation=true needs key_derivation_secret (or LITELLM_KEY_DERIVATION_SECRET); '
                                 'the master key is not used to derive key values')
        self.derive = self.secret is not None and p['key_derivation'] is not False
        try:
            self.lease_ttl = parse_duration(p['lease_ttl'])
        except ValueError as exc:
            module.fail_json(msg='lease_ttl: %s' % exc)
        if self.lease_ttl <= 0:
            module.fail_json(msg='lease_ttl must be more than 0 seconds')
        self.owner = p['lease_owner'] or '%s/%s' % (socket.gethostname(), uuid.uuid4().hex[:12])
        self.in_progress = []
        self.aliases = None
        if p['key_alias']:
            self.aliases = [p['key_alias']]
        elif p['key_aliases'] is not None:
            self.aliases = list(dict.fromkeys(p['key_aliases']))
        self.rotated = []
        self.skipped_keys = []
        self.purged = []
        self.redelivered = []
        self.not_due = 0
        self.renewing = {}  # alias -> expiry, of the keys rotated because they expire soon
        self.groups = {}
        self.unaliased = []

    # -- reading -----------------------------------------------------------
    def has_selector(self):
        p = self.params
        return self.aliases is not None or any(
            p[k] is not None for k in ('team_id', 'user_id', 'tags', 'metadata', 'older_than_days',
                                       'renew_within_days'))

    def load(self):
        p = self.params
        if self.aliases is not None and len(self.aliases) <= SEARCH_LIMIT:
            objs = []
            for alias in self.aliases:
                objs.extend(self.client.iter_keys(search=alias))
        else:
            filters = dict((k, p[k]) for k in ('team_id', 'user_id') if p[k] is not None)
            objs = self.client.list_keys(**filters)
        seen = set()
        for obj in objs:
            token = obj.get('token')
            if not token or token in seen:
                continue
            seen.add(token)
            role, logical = rotation_role(obj)
            if not logical:
                self.unaliased.append(obj)
                continue
            group = self.groups.get(logical)
            if group is None:
                group = self.groups[logical] = Group(logical)
            if role == 'pending':
                group.pending.append(obj)
            elif role == 'retiring':
                group.retiring.append(obj)
            elif group.holder is None:
                group.holder = obj
            else:
                group.extra_holders.append(obj)

    def selected(self, group):
        p = self.params
        if self.aliases is not None and group.alias not in self.aliases:
            return False
        rep = group.representative()
        if p['team_id'] is not None and rep.get('team_id') != p['team_id']:
            return False
        if p['user_id'] is not None and rep.get('user_id') != p['user_id']:
            return False
        if p['tags'] and not set(p['tags']) <= set(key_tags(rep)):
            return False
        if p['metadata'] and not subset(p['metadata'], key_metadata(rep)):
            return False
        return True

    # -- values ------------------------------------------------------------
    def recover(self, obj):
        """The value of a key created by a rotation, if it can be derived and matches its hash."""
        rotation = key_rotation(obj)
        nonce = rotation.get('nonce')
        if not (self.derive and nonce and rotation.get('alias') and rotation.get('predecessor_token')):
            return None
        value = derive_key(self.secret, rotation['alias'], rotation['predecessor_token'], nonce)
        return value if hash_key(value) == obj.get('token') else None

    def grace_end(self, group, holder):
        """When the predecessor of ``holder`` stops working, if it still works now."""
        rotation = key_rotation(holder)
        if rotation.get('method') == 'regenerate':
            end = parse_time(rotation.get('retire_at'))
            return end if end is not None and end > self.now else None
        pred = rotation.get('predecessor_token')
        for old in group.retiring:
            if old.get('token') == pred and not old.get('blocked'):
                end = parse_time(key_metadata(old).get('retire_at'))
                if end is not None and end > self.now:
                    return end
        return None

    # -- planning ----------------------------------------------------------
    def unhanded_predecessor(self, group, holder):
        """The retiring predecessor of ``holder`` if its value was never handed out, else None.

        A successor is created with C(metadata.rotation.handed_out=false) and marked
        true once the alias moved to it, just before the module returns its value.
        When the move's answer is lost, the alias moved but the mark did not: the
        run failed without the value, and only this re-run can hand it out.
        """
        rotation = key_rotation(holder)
        if rotation.get('handed_out') is not False:
            return None  # handed out, or made before the mark existed
        pred = rotation.get('predecessor_token')
        for old in group.retiring:
            if old.get('token') == pred and not old.get('blocked'):
                return old
        return None

    def pending_of(self, group, old):
        for succ in group.pending:
            if key_rotation(succ).get('predecessor_token') == old.get('token'):
                return succ
        return None

    def plan(self, group):
        """('skip', reason) | ('not_due',) | ('rotate', old, pending, old_is_retiring[, unhanded holder])."""
        p = self.params
        holder = group.holder
        retiring = dict((k['token'], k) for k in group.retiring)
        if group.extra_holders:
            return ('skip', '%d keys share this alias' % (1 + len(group.extra_holders)))
        if holder is not None:
            if holder.get('blocked'):
                return ('skip', 'blocked')
            pending = [k for k in group.pending if key_rotation(k).get('predecessor_token') == holder['token']]
            if pending:
                return ('rotate', holder, pending[0], False)
            old = self.unhanded_predecessor(group, holder)
            if old is not None:
                # The alias moved to this successor but its value never left the module.
                return ('rotate', old, self.pending_of(group, old), True, holder)
            expires = parse_time(holder.get('expires'))
            if expires is not None and expires <= self.now:
                return ('skip', 'expired')
            if not p['force']:
                end = self.grace_end(group, holder)
                if end is not None:
                    return ('skip', 'rotated recently; its predecessor is valid until %s (force=true rotates anyway)'
                            % format_time(end))
            if p['renew_within_days'] is not None and expires is not None \
                    and expires - self.now <= datetime.timedelta(days=p['renew_within_days']):
                self.renewing[group.alias] = format_time(expires)
                return ('rotate', holder, None, False)
            if p['older_than_days'] is not None:
                # older_than_days=0 makes every selected key due, renewal window or not.
                if p['older_than_days'] > 0:
                    born = parse_time(key_rotation(holder).get('rotated_at')) or parse_time(holder.get('created_at'))
                    if born is None:
                        return ('skip', 'age unknown (no created_at)')
                    if self.now - born < datetime.timedelta(days=p['older_than_days']):
                        return ('not_due',)
            elif p['renew_within_days'] is not None:
                return ('not_due',)
            return ('rotate', holder, None, False)
        for succ in group.pending:
            old = retiring.get(key_rotation(succ).get('predecessor_token'))
            if old is not None:
                return ('rotate', old, succ, True)
        if group.pending:
            return ('skip', 'an unfinished successor (%s) has no predecessor and no key holds the alias; '
                            'inspect it with litellm_key_info' % group.pending[0]['token'])
        return ('skip', 'no key holds this alias (only retiring keys)')

    # -- rotating ----------------------------------------------------------
    def create_successor(self, old, alias):
        """Step 1: a successor with every setting of ``old``, under the temporary alias."""
        now = format_time(self.now)
        # handed_out=false until the alias has moved and the value is about to be returned (step 4).
        rotation = dict(generation=generation_of(old) + 1, predecessor_token=old['token'],
                        rotated_at=now, alias=alias, method='community', handed_out=False,
                        lease=dict(owner=self.owner,
                                   expires=format_time(self.now + datetime.timedelta(seconds=self.lease_ttl))))
        body = successor_body(old, self.now)
        body['key_alias'] = pending_alias(alias, old['token'])
        metadata = clean_metadata(key_metadata(old))
        if self.derive:
            rotation['nonce'] = new_nonce()
            rotation['derivation'] = DERIVATION
            body['key'] = derive_key(self.secret, alias, old['token'], rotation['nonce'])
        metadata['rotation'] = rotation
        body['metadata'] = metadata
        try:
            answer = self.client.generate_key(body)
        except LiteLLMAuthError as exc:
            if not (self.derive and exc.reason == 'custom_key_refused'):
                raise
            self.refuse_custom_values()
            for name in ('nonce', 'derivation'):
                rotation.pop(name, None)
            body.pop('key', None)
            answer = self.client.generate_key(body)
        succ = dict(body)
        succ.pop('key', None)
        succ['token'] = answer['token']
        succ['blocked'] = False
        # The proxy's default/upper-bound key parameters filled what the old key did not have: take it back.
        fix = undeclared_fills(body, answer)
        if fix:
            self.client.update_key(answer['token'], fix)
            succ.update(fix)
        return succ, answer['key']

    def refuse_custom_values(self):
        """general_settings.disable_custom_api_keys: from now on LiteLLM chooses successor values."""
        self.derive = False
        self.module.warn('%s refuses custom key values (general_settings.disable_custom_api_keys); LiteLLM '
                         'chooses successor values, so a rotation interrupted before it finishes will replace '
                         'its successor' % self.client.api_url)

    def choose_successor(self, entry, pending, unhanded):
        """(successor, value, stale keys) of a resumed rotation.

        An unfinished successor (``pending``) or a successor that holds the alias
        but was never handed out (``unhanded``) is kept when its value can be
        derived again; otherwise nobody knows its value, so it is replaced.
        """
        succ, value, stale = None, None, []
        for candidate in (unhanded, pending):
            if candidate is None:
                continue
            recovered = self.recover(candidate) if succ is None else None
            if recovered is not None:
                succ, value = candidate, recovered
                entry['generation'] = generation_of(candidate)
            else:
                stale.append(candidate)
        if stale:
            entry['replaced_token'] = stale[0]['token']
        return succ, value, stale

    def live_lease(self, obj):
        """(owner, expires) of another run's live lease on ``obj``, or None."""
        lease = key_rotation(obj).get('lease')
        if not isinstance(lease, dict) or lease.get('owner') == self.owner:
            return None
        expires = parse_time(lease.get('expires'))
        if expires is None or expires <= self.now:
            return None
        return lease.get('owner'), expires

    def check_replaceable(self, alias, stale):
        """Read an unfinished successor again before replacing it; raise RotationInProgress if another run has it.

        ``stale`` is the key as listed. Returns the key as read now, or None when it is gone.
        """
        try:
            fresh = self.client.key_info(stale['token'])
        except LiteLLMError as exc:
            raise RotationFailed(exc, alias, 'read unfinished successor') from exc
        if fresh is None:
            return None
        for obj in (stale, fresh):
            lease = self.live_lease(obj)
            if lease is not None:
                raise RotationInProgress(alias, 'another rotation in progress: its successor %s is leased to %s '
                                                'until %s' % (stale['token'], lease[0], format_time(lease[1])))
        if key_rotation(fresh).get('handed_out') is True or \
                (fresh.get('key_alias') == alias and stale.get('key_alias') != alias):
            raise RotationInProgress(alias, 'another rotation in progress: the successor %s was handed out since '
                                            'it was listed' % stale['token'])
        return fresh

    def check_still_holder(self, alias, old):
        """Compare before acting: the key to rotate must still hold the alias when read again."""
        try:
            fresh = self.client.key_info(old['token'])
        except LiteLLMError as exc:
            raise RotationFailed(exc, alias, 'read the key again') from exc
        if fresh is None or fresh.get('key_alias') != alias or key_metadata(fresh).get('retire_at'):
            raise RotationInProgress(alias, 'another rotation in progress: %s no longer holds the alias as listed'
                                            % old['token'])

    def rotate_community(self, group, old, pending, old_is_retiring, unhanded=None):
        alias = group.alias
        entry = dict(alias=alias, old_token=old['token'], new_token=None, method='community',
                     resumed=pending is not None or old_is_retiring, generation=generation_of(old) + 1)
        succ, value, stale = self.choose_successor(entry, pending, unhanded)
        retire_at = self.retire_at(old, old_is_retiring)
        entry['retire_at'] = format_time(retire_at)
        if self.check:
            self.rotated.append(entry)
            return

        # Another run may be handing out what this run's listing shows as unfinished: read it again.
        stale = [k for k in stale if self.check_replaceable(alias, k) is not None or k is group.holder]
        if succ is None and not stale and pending is None and not old_is_retiring and unhanded is None:
            self.check_still_holder(alias, old)
        # An unfinished successor nobody has the value of frees its temporary alias for the new one.
        for key in [k for k in stale if k is not group.holder]:
            self.step(alias, 'delete unconfirmed successor', self.client.delete_keys, [key['token']])
            group.pending.remove(key)
        if succ is None:
            succ, value = self.step_create(alias, old)
            group.pending.append(succ)
        self.retire(group, old, succ, retire_at)
        # A holder whose value nobody received goes just before its alias moves to the replacement.
        for key in [k for k in stale if k is group.holder]:
            self.step(alias, 'delete unconfirmed successor', self.client.delete_keys, [key['token']])
            group.holder = None
        if succ.get('key_alias') != alias:
            self.move_alias(alias, succ)
        if succ in group.pending:
            group.pending.remove(succ)
        group.holder = succ
        self.hand_out(alias, succ)
        entry.update(new_token=succ['token'], key=value)
        self.rotated.append(entry)

    def retire_at(self, old, old_is_retiring):
        """When ``old`` stops working: now + grace, never earlier than a resumed rotation recorded."""
        target_end = self.now + datetime.timedelta(seconds=self.grace)
        recorded = parse_time(key_metadata(old).get('retire_at')) if old_is_retiring else None
        return max(recorded, target_end) if recorded is not None else target_end

    def step_create(self, alias, old):
        """Step 1; an alias the proxy's key_alias format refuses is explained (nothing changed yet)."""
        try:
            return self.create_successor(old, alias)
        except LiteLLMError as exc:
            if exc.reason == 'alias_format':
                exc.msg = self.alias_format_message(alias, exc, changed=False)
            raise RotationFailed(exc, alias, 'create successor') from exc

    def retire(self, group, old, succ, retire_at):
        """Step 2: rename ``old`` to <alias>.retiring.<token8> and record retire_at and its successor."""
        alias = group.alias
        old_meta = key_metadata(old)
        rotation = dict(key_rotation(old))
        rotation.setdefault('generation', generation_of(old))
        rotation.update(alias=alias, successor_token=succ['token'])
        rotation.setdefault('retired_at', format_time(self.now))
        new_meta = copy.deepcopy(old_meta)
        new_meta['retire_at'] = format_time(retire_at)
        new_meta['rotation'] = rotation
        new_alias = retiring_alias(alias, old['token'])
        if old.get('key_alias') != new_alias or new_meta != old_meta:
            try:
                self.client.update_key(old['token'], {'key_alias': new_alias, 'metadata': new_meta})
            except LiteLLMError as exc:
                if exc.reason == 'alias_format' and succ in group.pending:
                    exc.msg = self.undo_successor(alias, succ, exc)
                    group.pending.remove(succ)
                raise RotationFailed(exc, alias, 'retire old key') from exc
        old['key_alias'], old['metadata'] = new_alias, new_meta
        if group.holder is old:
            group.holder = None
            group.retiring.append(old)

    def undo_successor(self, alias, succ, exc):
        """The retiring alias was refused: delete the successor nobody has received, so nothing changed."""
        try:
            self.client.delete_keys([succ['token']])
        except LiteLLMError as undo:
            return '%s; deleting the unfinished successor %s failed too (%s): a re-run retries it' % (
                self.alias_format_message(alias, exc, changed=True), succ['token'], undo.msg)
        return self.alias_format_message(alias, exc, changed=False)

    def alias_format_message(self, alias, exc, changed):
        return ('%s. A rotation gives keys in flight the aliases %s and %s: configure LiteLLM\'s key_alias_pattern '
                '(litellm_settings) to accept them, or rotate with method=regenerate. %s'
                % (exc.msg, pending_alias(alias, '<old token>')[:-8] + '<8 hex>',
                   retiring_alias(alias, '<old token>')[:-8] + '<8 hex>',
                   'The unfinished successor is still there.' if changed else 'Nothing was changed.'))

    def move_alias(self, alias, succ):
        """Step 3: give the successor the alias (LiteLLM validates the alias again: it changes for this key)."""
        try:
            self.client.update_key(succ['token'], {'key_alias': alias})
        except LiteLLMError as exc:
            if exc.reason == 'alias_format':
                exc.msg = ('%s. The proxy refuses the alias %r itself (it predates the configured key_alias '
                           'pattern): the old key keeps working under its retiring alias until it is purged; '
                           'rename the key to an accepted alias or change the pattern, then run again'
                           % (exc.msg, alias))
            raise RotationFailed(exc, alias, 'move alias') from exc
        succ['key_alias'] = alias

    def hand_out(self, alias, succ):
        """Step 4: mark the successor handed out, so that a re-run knows its value left the module.

        Without this mark a re-run could not tell "alias moved, answer lost" (the
        value never left) from a finished rotation. If the mark's own answer is
        lost, the successor is read back: the mark may have landed.
        """
        rotation = key_rotation(succ)
        if rotation.get('handed_out') is not False:
            return
        meta = copy.deepcopy(key_metadata(succ))
        meta['rotation'] = dict(rotation, handed_out=True)
        meta['rotation'].pop('lease', None)  # handed out: no run may replace it any more
        try:
            self.client.update_key(succ['token'], {'metadata': meta})
        except LiteLLMError as exc:
            if not exc.ambiguous:
                raise RotationFailed(exc, alias, 'hand out successor') from exc
            try:
                landed = key_rotation(self.client.key_info(succ['token']) or {}).get('handed_out') is True
            except LiteLLMError:
                landed = False
            if not landed:
                raise RotationFailed(exc, alias, 'hand out successor') from exc
        succ['metadata'] = meta

    def step(self, alias, name, func, *args):
        try:
            return func(*args)
        except LiteLLMError as exc:
            raise RotationFailed(exc, alias, name) from exc

    def regenerate(self, token, body, rotation):
        """/key/{token}/regenerate; without new_key when the proxy refuses chosen values."""
        try:
            return self.client.regenerate_key(token, body)
        except LiteLLMAuthError as exc:
            if not ('new_key' in body and exc.reason == 'custom_key_refused'):
                raise
        self.refuse_custom_values()
        body.pop('new_key')
        for name in ('nonce', 'derivation'):
            rotation.pop(name, None)
        return self.client.regenerate_key(token, body)

    def rotate_regenerate(self, group, old):
        alias = group.alias
        retire_at = format_time(self.now + datetime.timedelta(seconds=self.grace))
        entry = dict(alias=alias, old_token=old['token'], new_token=None, method='regenerate', resumed=False,
                     generation=generation_of(old) + 1, retire_at=retire_at)
        if self.check:
            self.rotated.append(entry)
            return
        rotation = dict(generation=entry['generation'], predecessor_token=old['token'],
                        rotated_at=format_time(self.now), alias=alias, method='regenerate', retire_at=retire_at)
        body = {'grace_period': '%ds' % int(self.grace)}
        value = None
        if self.derive:
            rotation['nonce'] = new_nonce()
            rotation['derivation'] = DERIVATION
            value = derive_key(self.secret, alias, old['token'], rotation['nonce'])
            body['new_key'] = value
        metadata = clean_metadata(key_metadata(old))
        metadata['rotation'] = rotation
        body['metadata'] = metadata
        try:
            answer = self.regenerate(old['token'], body, rotation)
        except LiteLLMError as exc:
            answer = None
            value = body.get('new_key')
            if value is not None and (exc.ambiguous or exc.attempts > 1):
                try:
                    found = self.client.find_keys_by_alias(alias)
                except LiteLLMError:
                    found = []
                if any(k.get('token') == hash_key(value) for k in found):
                    answer = {'key': value}
            if answer is None:
                raise RotationFailed(exc, alias, 'regenerate') from exc
        if not isinstance(answer, dict) or not answer.get('key'):
            raise RotationFailed(LiteLLMError('%s answered the regenerate request without a key' % self.client.api_url),
                                 alias, 'regenerate')
        new = dict(old)
        new.update(token=hash_key(answer['key']), metadata=metadata)
        group.holder = new
        entry.update(new_token=new['token'], key=answer['key'])
        self.rotated.append(entry)

    # -- purging -----------------------------------------------------------
    def successor_holds_alias(self, group, old):
        by_token = dict((k['token'], k) for k in group.retiring)
        token = key_rotation(old).get('successor_token')
        seen = set()
        while token and token not in seen:
            if group.holder is not None and group.holder.get('token') == token:
                return True
            seen.add(token)
            nxt = by_token.get(token)
            if nxt is None:
                return False
            token = key_rotation(nxt).get('successor_token')
        return False

    def purge(self, groups):
        action = self.params['purge_action']
        due = []
        for group in groups:
            # Decide on the whole group first: a chain may pass through keys purged in this run.
            for old in group.retiring:
                end = parse_time(key_metadata(old).get('retire_at'))
                if end is None or end > self.now:
                    continue
                if action == 'block' and old.get('blocked'):
                    continue
                entry = dict(alias=old.get('key_alias'), token=old['token'], retire_at=format_time(end))
                if group.holder is not None and self.unhanded_predecessor(group, group.holder) is old:
                    entry['reason'] = ('grace over, but the value of its successor was never handed out: not purged; '
                                       'rotate %r again to hand it out' % group.alias)
                    self.skipped_keys.append(entry)
                    continue
                if not self.successor_holds_alias(group, old):
                    entry['reason'] = 'grace over, but no successor holds the alias %r: not purged' % group.alias
                    self.skipped_keys.append(entry)
                    continue
                entry['action'] = action
                due.append((group, old, entry))
        if action == 'delete':
            if due and not self.check:
                self.step(None, 'delete retired keys', self.client.delete_keys, [old['token'] for _unused, old, _unused in due])
            for group, old, entry in due:
                group.retiring.remove(old)
                self.purged.append(entry)
            return
        for group, old, entry in due:
            if not self.check:
                self.step(group.alias, 'block retired key', self.client.block_key, old['token'])
                old['blocked'] = True
            self.purged.append(entry)

    # -- run ---------------------------------------------------------------
    def run(self):
        p = self.params
        if p['state'] == 'rotated' and not self.has_selector():
            self.module.fail_json(msg='say which keys to rotate: key_alias, key_aliases, or a selector '
                                      '(team_id, user_id, tags, metadata, older_than_days, renew_within_days; '
                                      'older_than_days=0 selects all)')
        try:
            self.load()
        except LiteLLMError as exc:
            self.module.fail_api(exc)
        self.now = self.client.now()

        if self.aliases is not None:
            for alias in self.aliases:
                if alias not in self.groups:
                    self.skipped_keys.append(dict(alias=alias, token=None, reason='no key with this alias'))
                    self.module.warn('no key with the alias %r' % alias)
        chosen = [g for g in self.groups.values() if self.selected(g)]
        if p['state'] == 'rotated' and self.aliases is None:
            for obj in self.unaliased:
                if self.selected_unaliased(obj):
                    self.skipped_keys.append(dict(alias=None, token=obj['token'], reason='no key_alias, cannot be rotated'))

        try:
            if p['state'] == 'rotated':
                for group in chosen:
                    decision = self.plan(group)
                    if decision[0] == 'skip':
                        rep = group.representative()
                        self.skipped_keys.append(dict(alias=group.alias, token=rep.get('token'), reason=decision[1]))
                    elif decision[0] == 'not_due':
                        self.not_due += 1
                    else:
                        old, pending, old_is_retiring = decision[1:4]
                        unhanded = decision[4] if len(decision) > 4 else None
                        try:
                            if p['method'] == 'regenerate' and pending is None and not old_is_retiring:
                                self.rotate_regenerate(group, old)
                            else:
                                self.rotate_community(group, old, pending, old_is_retiring, unhanded)
                        except RotationInProgress as busy:
                            self.in_progress.append(busy)
                            self.skipped_keys.append(dict(alias=group.alias, token=old.get('token'), reason=busy.why))
                            continue
                        if self.rotated and self.rotated[-1]['alias'] == group.alias:
                            self.rotated[-1]['renewed'] = group.alias in self.renewing
                            self.rotated[-1]['expires'] = self.renewing.get(group.alias) or (
                                format_time(parse_time(old.get('expires'))) if old.get('expires') else None)
                if p['redeliver']:
                    self.redeliver(chosen)
            if p['state'] == 'purged' or p['purge']:
                self.purge(chosen)
        except RotationFailed as failure:
            where = ('while rotating %r (%s)' % (failure.alias, failure.step)) if failure.alias else failure.step
            if failure.exc.reason == 'enterprise':
                failure.exc.msg += ' (method=community works with the open-source proxy)'
            kwargs = self.result()
            kwargs.pop('changed')
            self.module.fail_json(
                msg='%s: %s. Keys rotated before the failure are in "rotated"; run again to finish.'
                    % (where, failure.exc.msg),
                changed=bool(self.rotated or self.purged), failed_alias=failure.alias, **kwargs)
        if self.in_progress:
            kwargs = self.result()
            kwargs.pop('changed')
            self.module.fail_json(
                msg='another rotation in progress for %s; these keys were left alone (the others are done): %s. '
                    'Run again once the other run has finished.'
                    % (', '.join(repr(b.alias) for b in self.in_progress), '; '.join(b.why for b in self.in_progress)),
                changed=bool(self.rotated or self.purged), failed_alias=self.in_progress[0].alias, **kwargs)
        self.module.exit_json(**self.result())

    def selected_unaliased(self, obj):
        p = self.params
        if p['team_id'] is not None and obj.get('team_id') != p['team_id']:
            return False
        if p['user_id'] is not None and obj.get('user_id') != p['user_id']:
            return False
        if p['tags'] and not set(p['tags']) <= set(key_tags(obj)):
            return False
        if p['metadata'] and not subset(p['metadata'], key_metadata(obj)):
            return False
        return True

    def redeliver(self, groups):
        done = set(entry['alias'] for entry in self.rotated)
        for group in groups:
            holder = group.holder
            if holder is None or group.alias in done or holder.get('blocked'):
                continue
            end = self.grace_end(group, holder)
            if end is None:
                continue
            value = self.recover(holder)
            if value is not None:
                self.redelivered.append(dict(alias=group.alias, token=holder['token'], key=value,
                                             retire_at=format_time(end)))

    def diff(self):
        before, after = {}, {}
        for entry in self.rotated:
            before[entry['alias']] = dict(token=entry['old_token'])
            after[entry['alias']] = dict(token=entry['new_token'] or '(new key)', previous_token=entry['old_token'],
                                         previous_valid_until=entry['retire_at'])
        for entry in self.purged:
            before[entry['alias']] = dict(token=entry['token'], retire_at=entry['retire_at'])
            after[entry['alias']] = dict(token=entry['token'], retire_at=entry['retire_at'],
                                         purged=('deleted' if entry['action'] == 'delete' else 'blocked'))
        return dict(before=before, after=after)

    def result(self):
        result = dict(changed=bool(self.rotated or self.purged), rotated=self.rotated, skipped_keys=self.skipped_keys,
                      purged=self.purged, redelivered=self.redelivered, not_due=self.not_due)
        if result['changed'] and self.module._diff:
            result['diff'] = self.diff()
        return result


def main():
    argspec = LiteLLMModule.generate_argspec(
        key_alias=dict(type='str', no_log=False),  # a name, not a secret
        key_aliases=dict(type='list', elements='str', no_log=False),
        team_id=dict(type='str'),
        user_id=dict(type='str'),
        tags=dict(type='list', elements='str'),
        metadata=dict(type='dict'),
        older_than_days=dict(type='float', aliases=['rotate_if_older_than_days']),
        renew_within_days=dict(type='float'),
        state=dict(type='str', default='rotated', choices=['rotated', 'purged']),
        method=dict(type='str', default='community', choices=['community', 'regenerate']),
        grace_period=dict(type='str', default='24h'),
        purge=dict(type='bool', default=False),
        purge_action=dict(type='str', default='block', choices=['block', 'delete']),
        force=dict(type='bool', default=False),
        key_derivation=dict(type='bool'),
        key_derivation_secret=dict(type='str', no_log=True, fallback=(env_fallback, ['LITELLM_KEY_DERIVATION_SECRET'])),
        redeliver=dict(type='bool', default=False),
        lease_ttl=dict(type='str', default='30m'),
        lease_owner=dict(type='str'),
    )
    module = LiteLLMModule(argument_spec=argspec, supports_check_mode=True,
                           mutually_exclusive=[('key_alias', 'key_aliases')])
    Rotator(module).run()


if __name__ == '__main__':
    main()
