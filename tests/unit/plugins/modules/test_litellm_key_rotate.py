# -*- coding: utf-8 -*-

import copy
import datetime
import json

import pytest

from ansible_collections.sacred_brain.llm_gateway.plugins.module_utils._litellm_api import derive_key
from ansible_collections.sacred_brain.llm_gateway.plugins.modules import litellm_key_rotate

UTC = datetime.timezone.utc


def at(**delta):
    return (datetime.datetime.now(UTC) + datetime.timedelta(**delta)).strftime('%Y-%m-%dT%H:%M:%SZ')


def parse(text):
    return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=UTC)


def seed(api, alias='openwebui', **fields):
    """The fixture key (settings, spend 3.5, metadata with tags) under ``alias``."""
    obj = api.load_fixture('key_openwebui.json')
    obj.update(key_alias=alias, **fields)
    if alias != 'openwebui':
        obj['token'] = api.sha256('sk-seed-' + alias)
    api.keys[obj['token']] = obj
    return obj


def live(api, alias):
    return [k for k in api.keys.values() if k.get('key_alias') == alias]


def pending_and_retiring(api, alias):
    return sorted(k['key_alias'].split('.')[1] for k in api.keys.values()
                  if (k.get('key_alias') or '').startswith(alias + '.'))


# The key derivation secret the role would pass (never the master key: F18).
DERIVATION_SECRET = 'derivation-secret-unit-test-0123456789'


def rotate(run_module, **args):
    if args.get('key_derivation') is not False:
        args.setdefault('key_derivation_secret', DERIVATION_SECRET)
    return run_module(litellm_key_rotate.main, args, diff=True)


def test_rotation_moves_the_alias_and_carries_everything(api, run_module):
    old = seed(api)
    rc, out = rotate(run_module, key_alias='openwebui')
    assert rc == 0, out
    assert out['changed'] is True
    [entry] = out['rotated']
    assert entry['alias'] == 'openwebui' and entry['old_token'] == old['token']
    assert entry['new_token'] == api.sha256(entry['key'])
    assert entry['generation'] == 2 and entry['resumed'] is False and entry['method'] == 'community'

    [new] = live(api, 'openwebui')
    assert new['token'] == entry['new_token']
    for field in ('models', 'max_budget', 'tpm_limit', 'rpm_limit', 'budget_duration', 'team_id', 'key_type'):
        assert new[field] == old[field], field
    assert new['spend'] == 3.5  # a rotation never resets a budget
    assert new['metadata']['owner'] == 'platform' and new['metadata']['tags'] == ['rotate-monthly']
    rotation = new['metadata']['rotation']
    assert rotation['predecessor_token'] == old['token'] and rotation['generation'] == 2
    assert rotation['alias'] == 'openwebui' and 'retire_at' not in new['metadata']

    retiring = api.keys[old['token']]
    assert retiring['key_alias'] == 'openwebui.retiring.%s' % old['token'][:8]
    assert retiring['blocked'] in (None, False)  # still valid during the grace period
    retire_at = parse(retiring['metadata']['retire_at'])
    assert abs((retire_at - datetime.datetime.now(UTC)).total_seconds() - 86400) < 60
    assert retiring['metadata']['retire_at'] == entry['retire_at']
    assert retiring['metadata']['rotation']['successor_token'] == new['token']
    assert [c[1] for c in api.writes()] == ['/key/generate', '/key/update', '/key/update', '/key/update']
    assert rotation['handed_out'] is True  # step 4: marked once the alias moved
    # the successor was created under a temporary alias first
    assert api.writes()[0][3]['key_alias'] == 'openwebui.next.%s' % old['token'][:8]
    # the diff and everything but the documented `key` are free of key values
    text = json.dumps(dict((k, v) for k, v in out.items() if k != 'rotated'))
    assert entry['key'] not in text


def test_check_mode_reports_without_writing(api, run_module):
    old = seed(api)
    rc, out = run_module(litellm_key_rotate.main, dict(key_alias='openwebui'), check_mode=True)
    assert rc == 0 and out['changed'] is True
    [entry] = out['rotated']
    assert entry['old_token'] == old['token'] and entry['new_token'] is None and 'key' not in entry
    assert api.writes() == []


def test_selector_rotates_only_what_is_due(api, run_module):
    seed(api, 'a1', team_id='t', created_at=at(days=-40))
    seed(api, 'a2', team_id='t', created_at=at(days=-5))
    seed(api, 'b1', team_id='other', created_at=at(days=-40))
    seed(api, 'a3', team_id='t', created_at=at(days=-90), blocked=True)
    rc, out = rotate(run_module, team_id='t', older_than_days=30)
    assert rc == 0, out
    assert [e['alias'] for e in out['rotated']] == ['a1']
    assert out['not_due'] == 1
    assert [(s['alias'], s['reason']) for s in out['skipped_keys']] == [('a3', 'blocked')]
    # listed once, filtered by team on the proxy
    lists = [c for c in api.calls if c[1] == '/key/list']
    assert len(lists) == 1 and lists[0][2]['team_id'] == 't'


def test_age_counts_from_the_last_rotation(api, run_module):
    seed(api, 'a1', created_at=at(days=-40))
    rc, out = rotate(run_module, key_aliases=['a1'], older_than_days=30, grace_period='0s')
    assert len(out['rotated']) == 1
    rc, out = rotate(run_module, key_aliases=['a1'], older_than_days=30, grace_period='0s')
    assert out['rotated'] == [] and out['not_due'] == 1 and out['changed'] is False


def test_tags_and_metadata_selectors(api, run_module):
    seed(api, 'm1', metadata={'tags': ['rotate-monthly'], 'env': 'prod'})
    seed(api, 'm2', metadata={'tags': ['rotate-weekly'], 'env': 'prod'})
    seed(api, 'm3', metadata={'tags': ['rotate-monthly'], 'env': 'dev'})
    rc, out = rotate(run_module, tags=['rotate-monthly'], metadata={'env': 'prod'})
    assert [e['alias'] for e in out['rotated']] == ['m1']


def test_a_selection_is_required(api, run_module):
    rc, out = rotate(run_module)
    assert rc == 1 and 'say which keys to rotate' in out['msg']


def test_resume_after_successor_created(api, run_module):
    """Interrupted after step 1: the successor exists under its temporary alias."""
    old = seed(api)
    api.fault('POST', '/key/update', api.REFUSED, times=10)
    rc, out = rotate(run_module, key_alias='openwebui', retries=0)
    assert rc == 1 and "while rotating 'openwebui' (retire old key)" in out['msg']
    assert pending_and_retiring(api, 'openwebui') == ['next']
    api.faults = []

    rc, out = rotate(run_module, key_alias='openwebui')
    assert rc == 0, out
    [entry] = out['rotated']
    assert entry['resumed'] is True and 'replaced_token' not in entry
    assert [c[1] for c in api.writes()].count('/key/generate') == 1  # no duplicate successor
    [new] = live(api, 'openwebui')
    assert new['token'] == entry['new_token'] == api.sha256(entry['key'])
    assert pending_and_retiring(api, 'openwebui') == ['retiring']
    assert api.keys[old['token']]['metadata']['rotation']['successor_token'] == new['token']
    assert len(api.keys) == 2


def test_resume_after_old_key_retired(api, run_module):
    """Interrupted after step 2: no key holds the alias, the old one is retiring."""
    old = seed(api)
    # step 2 succeeds, step 3 is refused
    calls = {'n': 0}
    real_dispatch = api.dispatch

    def dispatch(method, path, query, body):
        if path == '/key/update':
            calls['n'] += 1
            if calls['n'] == 2:
                raise api.REFUSED
        return real_dispatch(method, path, query, body)

    api.dispatch = dispatch
    rc, out = rotate(run_module, key_alias='openwebui', retries=0)
    assert rc == 1 and '(move alias)' in out['msg']
    api.dispatch = real_dispatch
    assert live(api, 'openwebui') == []
    assert pending_and_retiring(api, 'openwebui') == ['next', 'retiring']
    first_retire_at = api.keys[old['token']]['metadata']['retire_at']

    rc, out = rotate(run_module, key_alias='openwebui')
    assert rc == 0, out
    [entry] = out['rotated']
    assert entry['resumed'] is True
    assert [c[1] for c in api.writes()].count('/key/generate') == 1
    [new] = live(api, 'openwebui')
    assert new['token'] == api.sha256(entry['key'])
    assert pending_and_retiring(api, 'openwebui') == ['retiring']
    # the grace period counts from the run that handed the key out
    assert api.keys[old['token']]['metadata']['retire_at'] >= first_retire_at


def test_unrecoverable_successor_is_replaced(api, run_module):
    """A successor whose value cannot be derived was never handed out: delete it and create again."""
    old = seed(api)
    api.fault('POST', '/key/update', api.REFUSED, times=10)
    rc, out = rotate(run_module, key_alias='openwebui', retries=0, key_derivation=False)
    assert rc == 1
    api.faults = []
    [unconfirmed] = [k for k in api.keys.values() if '.next.' in (k.get('key_alias') or '')]

    api.clock_offset = 31 * 60  # its lease (F16) has expired: the run that made it is gone
    rc, out = rotate(run_module, key_alias='openwebui', key_derivation=False)
    assert rc == 0, out
    [entry] = out['rotated']
    assert entry['replaced_token'] == unconfirmed['token']
    assert unconfirmed['token'] not in api.keys
    assert api.sha256(entry['key']) == entry['new_token']
    assert len(api.keys) == 2 and api.keys[old['token']]['key_alias'].startswith('openwebui.retiring.')


def test_changed_derivation_secret_replaces_the_successor(api, run_module):
    seed(api)
    api.fault('POST', '/key/update', api.REFUSED, times=10)
    rotate(run_module, key_alias='openwebui', retries=0, key_derivation_secret='first-secret')
    api.faults = []
    api.clock_offset = 31 * 60  # past the first run's lease (F16)
    rc, out = rotate(run_module, key_alias='openwebui', key_derivation_secret='second-secret')
    assert rc == 0 and 'replaced_token' in out['rotated'][0]
    assert len(api.keys) == 2


def test_lost_answer_of_generate_creates_no_duplicate(api, run_module):
    seed(api)
    api.fault('POST', '/key/generate', api.RESET, after=True)
    rc, out = rotate(run_module, key_alias='openwebui')
    assert rc == 0, out
    assert len(api.keys) == 2
    assert live(api, 'openwebui')[0]['token'] == out['rotated'][0]['new_token']


def test_recent_rotation_is_not_repeated_unless_forced(api, run_module):
    seed(api)
    rc, first = rotate(run_module, key_alias='openwebui')
    rc, out = rotate(run_module, key_alias='openwebui')
    assert rc == 0 and out['changed'] is False
    assert 'rotated recently' in out['skipped_keys'][0]['reason']
    rc, out = rotate(run_module, key_alias='openwebui', redeliver=True)
    assert out['changed'] is False
    assert out['redelivered'] == [dict(alias='openwebui', token=first['rotated'][0]['new_token'],
                                       key=first['rotated'][0]['key'], retire_at=first['rotated'][0]['retire_at'])]
    rc, out = rotate(run_module, key_alias='openwebui', force=True)
    assert out['changed'] is True and out['rotated'][0]['generation'] == 3
    assert pending_and_retiring(api, 'openwebui') == ['retiring', 'retiring']


def test_purge_only_past_grace_with_a_successor(api, run_module):
    _unused, holder = api.add_key(key_alias='svc', metadata={'rotation': {'alias': 'svc', 'generation': 3}})
    _unused, done = api.add_key(metadata={'retire_at': at(hours=-1), 'rotation': {'alias': 'svc', 'successor_token': holder}})
    api.keys[done]['key_alias'] = 'svc.retiring.' + done[:8]
    _unused, chained = api.add_key(metadata={'retire_at': at(days=-3), 'rotation': {'alias': 'svc', 'successor_token': done}})
    api.keys[chained]['key_alias'] = 'svc.retiring.' + chained[:8]
    _unused, in_grace = api.add_key(metadata={'retire_at': at(hours=5), 'rotation': {'alias': 'svc', 'successor_token': holder}})
    api.keys[in_grace]['key_alias'] = 'svc.retiring.' + in_grace[:8]
    _unused, orphan = api.add_key(metadata={'retire_at': at(hours=-2), 'rotation': {'alias': 'svc', 'successor_token': 'f' * 64}})
    api.keys[orphan]['key_alias'] = 'svc.retiring.' + orphan[:8]

    rc, out = run_module(litellm_key_rotate.main, dict(state='purged'), check_mode=True)
    assert rc == 0 and sorted(p['token'] for p in out['purged']) == sorted([done, chained])
    assert api.writes() == []

    rc, out = run_module(litellm_key_rotate.main, dict(state='purged'))
    assert rc == 0, out
    assert sorted(p['token'] for p in out['purged']) == sorted([done, chained])
    assert api.keys[done]['blocked'] is True and api.keys[chained]['blocked'] is True
    assert not api.keys[in_grace].get('blocked')
    assert not api.keys[orphan].get('blocked')  # its successor does not exist: never revoked
    assert [s['token'] for s in out['skipped_keys']] == [orphan]
    assert not api.keys[holder].get('blocked')

    rc, out = run_module(litellm_key_rotate.main, dict(state='purged'))
    assert out['changed'] is False  # already blocked

    rc, out = run_module(litellm_key_rotate.main, dict(state='purged', purge_action='delete'))
    assert sorted(p['token'] for p in out['purged']) == sorted([done, chained])
    deletes = [c for c in api.writes() if c[1] == '/key/delete']
    assert len(deletes) == 1 and sorted(deletes[0][3]['keys']) == sorted([done, chained])
    assert done not in api.keys and chained not in api.keys and in_grace in api.keys


def test_rotate_and_purge_in_one_run(api, run_module):
    seed(api)
    rc, out = rotate(run_module, key_alias='openwebui', grace_period='0s', purge=True)
    assert rc == 0, out
    assert len(out['rotated']) == 1 and len(out['purged']) == 1
    assert out['purged'][0]['token'] == out['rotated'][0]['old_token']
    assert api.keys[out['rotated'][0]['old_token']]['blocked'] is True
    assert not live(api, 'openwebui')[0].get('blocked')


def test_regenerate_method(api, run_module):
    api.enterprise = True
    old_token = seed(api)['token']
    rc, out = rotate(run_module, key_alias='openwebui', method='regenerate', grace_period='2h')
    assert rc == 0, out
    [entry] = out['rotated']
    assert entry['method'] == 'regenerate' and entry['new_token'] == api.sha256(entry['key'])
    call = api.writes()[0]
    assert call[1] == '/key/%s/regenerate' % old_token
    assert call[3]['grace_period'] == '7200s' and call[3]['new_key'] == entry['key']
    [new] = live(api, 'openwebui')
    assert new['spend'] == 3.5 and new['metadata']['rotation']['method'] == 'regenerate'


def test_regenerate_refused_by_open_source_proxy(api, run_module):
    seed(api)
    rc, out = rotate(run_module, key_alias='openwebui', method='regenerate', retries=0)
    assert rc == 1
    assert 'Enterprise feature' in out['msg'] and 'openwebui' in out['msg']


def test_item3_f16_regenerate_without_licence_is_not_retried(api, run_module):
    seed(api)
    rc, out = rotate(run_module, key_alias='openwebui', method='regenerate', retries=3)
    assert rc == 1
    assert len([c for c in api.calls if c[1].endswith('/regenerate')]) == 1
    assert 'LiteLLM Enterprise feature' in out['msg'] and 'method=community works' in out['msg']
    assert 'retried' not in json.dumps(out.get('warnings', []))
    assert len(api.writes()) == 1  # nothing else was attempted


def test_item3_regenerate_falls_back_when_custom_key_values_are_disabled(api, run_module):
    api.enterprise, api.custom_keys = True, False
    seed(api)
    rc, out = rotate(run_module, key_alias='openwebui', method='regenerate')
    assert rc == 0, out
    calls = [c[3] for c in api.writes()]
    assert 'new_key' in calls[0] and 'new_key' not in calls[1]
    [entry] = out['rotated']
    assert entry['new_token'] == api.sha256(entry['key']) == live(api, 'openwebui')[0]['token']
    assert 'disable_custom_api_keys' in json.dumps(out['warnings'])
    assert 'nonce' not in live(api, 'openwebui')[0]['metadata']['rotation']


def test_item5_refused_retiring_alias_leaves_nothing_changed(api, run_module):
    old = seed(api)
    before = json.dumps(api.keys, sort_keys=True)
    api.alias_pattern = r'[a-z0-9-]+(\.next\.[0-9a-f]{8})?'  # accepts <alias>.next.<x>, not .retiring.
    rc, out = rotate(run_module, key_alias='openwebui')
    assert rc == 1, out
    assert "(retire old key)" in out['msg'] and 'Invalid key_alias format' in out['msg']
    assert 'key_alias_pattern' in out['msg'] and 'Nothing was changed.' in out['msg']
    assert json.dumps(api.keys, sort_keys=True) == before  # the successor was removed again
    assert live(api, 'openwebui') == [old]
    assert out['rotated'] == []


def test_item5_refused_successor_alias_changes_nothing(api, run_module):
    seed(api)
    before = json.dumps(api.keys, sort_keys=True)
    api.alias_pattern = r'[a-z0-9-]+'
    rc, out = rotate(run_module, key_alias='openwebui')
    assert rc == 1 and '(create successor)' in out['msg'] and 'Nothing was changed.' in out['msg'], out
    assert json.dumps(api.keys, sort_keys=True) == before
    assert [c[1] for c in api.writes()] == ['/key/generate']


def test_item5_an_alias_the_pattern_refuses_itself_is_explained(api, run_module):
    seed(api)
    api.alias_pattern = r'[a-z]+\.(next|retiring)\.[0-9a-f]{8}'  # created before the pattern: openwebui fails
    rc, out = rotate(run_module, key_alias='openwebui')
    assert rc == 1 and '(move alias)' in out['msg'] and "refuses the alias 'openwebui' itself" in out['msg'], out


def lose_answer_of_update(api, number):
    """The ``number``-th /key/update is applied, then its answer is lost."""
    calls = {'n': 0}
    real_dispatch = api.dispatch

    def dispatch(method, path, query, body):
        answer = real_dispatch(method, path, query, body)
        if path == '/key/update':
            calls['n'] += 1
            if calls['n'] == number:
                raise api.RESET
        return answer

    api.dispatch = dispatch
    return lambda: setattr(api, 'dispatch', real_dispatch)


def test_item11_alias_moved_answer_lost_rerun_hands_the_value_out(api, run_module):
    old = seed(api)
    restore = lose_answer_of_update(api, 2)  # 1: retire, 2: move alias
    rc, out = rotate(run_module, key_alias='openwebui', retries=0)
    restore()
    assert rc == 1 and '(move alias)' in out['msg'] and out['rotated'] == []
    [holder] = live(api, 'openwebui')  # the move landed ...
    assert holder['metadata']['rotation']['handed_out'] is False  # ... its value never left the module

    rc, out = rotate(run_module, key_alias='openwebui')  # no redeliver: a plain re-run
    assert rc == 0 and out['changed'] is True, out
    [entry] = out['rotated']
    assert entry['resumed'] is True and entry['old_token'] == old['token'] and 'replaced_token' not in entry
    assert entry['new_token'] == holder['token'] == api.sha256(entry['key'])
    assert live(api, 'openwebui')[0]['metadata']['rotation']['handed_out'] is True
    assert [c[1] for c in api.writes()].count('/key/generate') == 1

    rc, out = rotate(run_module, key_alias='openwebui')
    assert rc == 0 and out['changed'] is False and 'rotated recently' in out['skipped_keys'][0]['reason']


def test_item11_without_derivation_the_unhanded_successor_is_replaced(api, run_module):
    old = seed(api)
    restore = lose_answer_of_update(api, 2)
    rc, out = rotate(run_module, key_alias='openwebui', retries=0, key_derivation=False)
    restore()
    assert rc == 1
    [unhanded] = live(api, 'openwebui')

    api.clock_offset = 31 * 60  # past the first run's lease (F16)
    rc, out = rotate(run_module, key_alias='openwebui', key_derivation=False)
    assert rc == 0, out
    [entry] = out['rotated']
    assert entry['replaced_token'] == unhanded['token'] and unhanded['token'] not in api.keys
    [holder] = live(api, 'openwebui')
    assert holder['token'] == entry['new_token'] == api.sha256(entry['key'])
    assert holder['metadata']['rotation']['handed_out'] is True
    assert sorted(api.keys) == sorted([old['token'], holder['token']])
    assert api.keys[old['token']]['metadata']['rotation']['successor_token'] == holder['token']


def test_item11_the_predecessor_of_an_unhanded_successor_is_not_purged(api, run_module):
    old = seed(api)
    restore = lose_answer_of_update(api, 2)
    rotate(run_module, key_alias='openwebui', retries=0, grace_period='0s')
    restore()
    rc, out = run_module(litellm_key_rotate.main, dict(state='purged'))
    assert rc == 0 and out['purged'] == []
    assert 'never handed out' in out['skipped_keys'][0]['reason']
    assert not api.keys[old['token']].get('blocked')


def test_item11_a_lost_answer_of_the_hand_out_mark_is_read_back(api, run_module):
    seed(api)
    restore = lose_answer_of_update(api, 3)  # 3: the hand-out mark
    rc, out = rotate(run_module, key_alias='openwebui', retries=0)
    restore()
    assert rc == 0, out
    [entry] = out['rotated']
    assert entry['new_token'] == api.sha256(entry['key']) == live(api, 'openwebui')[0]['token']


def test_custom_key_values_refused_falls_back(api, run_module):
    api.custom_keys = False
    seed(api)
    rc, out = rotate(run_module, key_alias='openwebui')
    assert rc == 0, out
    assert 'refuses custom key values' in json.dumps(out['warnings'])
    entry = out['rotated'][0]
    assert api.sha256(entry['key']) == entry['new_token']
    assert 'nonce' not in live(api, 'openwebui')[0]['metadata']['rotation']


def test_partial_failure_returns_what_was_rotated(api, run_module):
    for i in range(3):
        seed(api, 'k%d' % i)
    real_dispatch = api.dispatch

    def dispatch(method, path, query, body):
        if path == '/key/generate' and body['key_alias'].startswith('k2.'):
            return 400, {'error': {'message': 'budget exceeds team budget'}}
        return real_dispatch(method, path, query, body)

    api.dispatch = dispatch
    rc, out = rotate(run_module, key_aliases=['k0', 'k1', 'k2'])
    assert rc == 1 and out['failed_alias'] == 'k2' and 'budget exceeds team budget' in out['msg']
    assert [e['alias'] for e in out['rotated']] == ['k0', 'k1']
    assert all(api.sha256(e['key']) == e['new_token'] for e in out['rotated'])


def test_missing_alias_is_reported(api, run_module):
    rc, out = rotate(run_module, key_aliases=['nope'])
    assert rc == 0 and out['skipped_keys'] == [dict(alias='nope', token=None, reason='no key with this alias')]


def test_successor_value_is_derived_from_public_metadata(api, run_module):
    seed(api)
    rc, out = rotate(run_module, key_alias='openwebui')
    [new] = live(api, 'openwebui')
    rotation = new['metadata']['rotation']
    assert derive_key(DERIVATION_SECRET, 'openwebui', rotation['predecessor_token'], rotation['nonce']) == \
        out['rotated'][0]['key']


def test_f18_the_master_key_never_keys_the_derivation(api, run_module, monkeypatch):
    """F18: with only master_key set, derive_key is never called with it; successors are not derived."""
    seen = []
    real = litellm_key_rotate.derive_key
    monkeypatch.setattr(litellm_key_rotate, 'derive_key', lambda secret, *rest: seen.append(secret) or real(secret, *rest))
    monkeypatch.delenv('LITELLM_KEY_DERIVATION_SECRET', raising=False)
    old = seed(api)
    rc, out = run_module(litellm_key_rotate.main, dict(key_alias='openwebui', redeliver=True))
    assert rc == 0, out
    assert api.master_key not in seen and seen == []
    [generate] = [c for c in api.writes() if c[1] == '/key/generate']
    assert 'key' not in generate[3]  # the proxy chose the value
    assert 'nonce' not in generate[3]['metadata']['rotation']
    [new] = live(api, 'openwebui')
    assert new['token'] == out['rotated'][0]['new_token'] != old['token']

    # With a secret of its own, that secret (and only it) keys the derivation.
    seed(api, 'other')
    rc, out = rotate(run_module, key_alias='other')
    assert rc == 0, out
    assert seen and set(seen) == {DERIVATION_SECRET}


def test_f18_the_master_key_is_refused_as_derivation_secret(api, run_module):
    seed(api)
    rc, out = run_module(litellm_key_rotate.main, dict(key_alias='openwebui', key_derivation_secret=api.master_key))
    assert rc == 1 and 'must not be the master key' in out['msg']
    assert api.master_key not in json.dumps(out)
    rc, out = run_module(litellm_key_rotate.main, dict(key_alias='openwebui', key_derivation=True))
    assert rc == 1 and 'needs key_derivation_secret' in out['msg']
    assert api.writes() == []


@pytest.mark.parametrize('count', [60])
def test_one_listing_and_four_writes_per_key(api, run_module, count):
    for i in range(count):
        seed(api, 'bulk%03d' % i, created_at=at(days=-100))
    rc, out = rotate(run_module, older_than_days=90)
    assert rc == 0 and len(out['rotated']) == count
    reads = [c for c in api.calls if c[0] == 'GET']
    assert len([c for c in reads if c[1] == '/key/list']) == 1  # 60 keys fit in one page of 100
    # F16: each key is read again just before its rotation (does it still hold the alias?)
    assert len([c for c in reads if c[1] == '/key/info']) == count and len(reads) == 1 + count
    assert len(api.writes()) == 4 * count  # create, retire, move, hand out
    assert len(api.keys) == 2 * count


def test_purge_judges_grace_by_the_proxy_clock(api, run_module):
    """retire_at is compared with the proxy's clock (Date header), not the controller's."""
    _unused, holder = api.add_key(key_alias='svc', metadata={'rotation': {'alias': 'svc'}})
    _unused, old = api.add_key(metadata={'retire_at': at(hours=2), 'rotation': {'alias': 'svc', 'successor_token': holder}})
    api.keys[old]['key_alias'] = 'svc.retiring.' + old[:8]
    rc, out = run_module(litellm_key_rotate.main, dict(state='purged'))
    assert out['purged'] == []
    api.clock_offset = 3 * 3600
    rc, out = run_module(litellm_key_rotate.main, dict(state='purged'))
    assert [p['token'] for p in out['purged']] == [old]


def test_retire_at_follows_the_proxy_clock(api, run_module):
    seed(api)
    api.clock_offset = 10 * 86400
    rc, out = rotate(run_module, key_alias='openwebui', grace_period='1h')
    retire_at = parse(out['rotated'][0]['retire_at'])
    expected = datetime.datetime.now(UTC) + datetime.timedelta(days=10, hours=1)
    assert abs((retire_at - expected).total_seconds()) < 60


def test_zero_days_selects_every_key(api, run_module):
    seed(api, 'fresh', created_at=at(seconds=1))  # even one stamped a moment ahead by the proxy
    rc, out = rotate(run_module, older_than_days=0)
    assert [e['alias'] for e in out['rotated']] == ['fresh']


def test_successor_body_carries_settings_and_drops_defaults():
    now = datetime.datetime.now(UTC)
    old = {
        'token': 'ab' * 32, 'key_alias': 'svc', 'models': ['m'], 'max_budget': 5.0, 'spend': 1.25,
        'budget_duration': '30d', 'tpm_limit': 10, 'rpm_limit': None, 'aliases': {}, 'config': {},
        'permissions': {'allow_pii_controls': True}, 'allowed_routes': [], 'auto_rotate': False,
        'team_id': 't', 'org_id': 'org-1', 'budget_id': 'b-1', 'soft_budget': 2.0,
        'router_settings': '{"num_retries": 2}',
        'object_permission': {'object_permission_id': 'op-1', 'vector_stores': ['vs'], 'mcp_servers': None},
        'budget_limits': [{'budget_duration': '1d', 'max_budget': 1.0, 'reset_at': '2025-01-01T00:00:00Z'}],
        'created_at': (now - datetime.timedelta(hours=1)).isoformat(),
        'expires': (now + datetime.timedelta(hours=2)).isoformat(),
    }
    body = litellm_key_rotate.successor_body(old, now)
    assert body == {
        'models': ['m'], 'max_budget': 5.0, 'budget_duration': '30d', 'tpm_limit': 10,
        'permissions': {'allow_pii_controls': True}, 'team_id': 't', 'organization_id': 'org-1',
        'budget_id': 'b-1',  # the shared budget row carries the soft budget
        'router_settings': {'num_retries': 2},
        'object_permission': {'vector_stores': ['vs']},
        'budget_limits': [{'budget_duration': '1d', 'max_budget': 1.0}],
        'spend': 1.25, 'duration': '10800s',  # no metadata.lifetime: the length of its own lifetime, afresh
    }


# -- a rotated successor gets a fresh lifetime; renewal of keys about to expire (issue 15) --------------------

def test_successor_lifetime_is_the_declared_one_afresh():
    now = datetime.datetime.now(UTC)
    soon = (now + datetime.timedelta(days=2)).isoformat()
    born = (now - datetime.timedelta(days=28)).isoformat()
    lifetime = litellm_key_rotate.successor_lifetime
    assert lifetime({'metadata': {'lifetime': '30d'}, 'expires': soon, 'created_at': born}) == '30d'
    assert lifetime({'metadata': {'lifetime': 'never'}, 'expires': soon, 'created_at': born}) is None
    assert lifetime({'metadata': {}, 'expires': soon, 'created_at': born}) == '%ds' % (30 * 86400)
    assert lifetime({'metadata': {}, 'expires': None, 'created_at': born}) is None


def test_rotation_of_a_key_without_expiry_takes_back_the_proxy_default(api, run_module):
    seed(api, metadata={'lifetime': 'never'}, expires=None, max_budget=None, budget_duration=None)
    api.default_key_generate_params = {'duration': '90d', 'max_budget': 5.0}
    rc, out = rotate(run_module, key_alias='openwebui')
    assert rc == 0, out
    [new] = live(api, 'openwebui')
    assert new['expires'] is None and new['max_budget'] is None
    assert new['metadata']['lifetime'] == 'never'


def test_renewal_rotates_keys_expiring_within_the_window_only(api, run_module):
    seed(api, 'soon', metadata={'lifetime': '30d'}, created_at=at(days=-27), expires=at(days=3))
    seed(api, 'later', metadata={'lifetime': '30d'}, created_at=at(days=-5), expires=at(days=25))
    seed(api, 'forever', metadata={'lifetime': 'never'}, created_at=at(days=-400), expires=None)
    seed(api, 'gone', metadata={'lifetime': '30d'}, created_at=at(days=-31), expires=at(days=-1))
    rc, out = rotate(run_module, key_aliases=['soon', 'later', 'forever', 'gone'], renew_within_days=7)
    assert rc == 0, out
    assert [(e['alias'], e['renewed']) for e in out['rotated']] == [('soon', True)]
    assert out['rotated'][0]['expires'] is not None
    assert out['not_due'] == 2
    assert [(s['alias'], s['reason']) for s in out['skipped_keys']] == [('gone', 'expired')]
    [new] = live(api, 'soon')
    left = parse(new['expires'][:19] + 'Z') - datetime.datetime.now(UTC)
    assert datetime.timedelta(days=29) < left <= datetime.timedelta(days=30)  # a fresh 30 days, not 3
    # the renewed key is not due again on the next run
    rc, again = rotate(run_module, key_aliases=['soon', 'later', 'forever'], renew_within_days=7)
    assert rc == 0 and again['rotated'] == [], again


def test_renewal_or_age_whichever_comes_first(api, run_module):
    seed(api, 'old', metadata={'lifetime': 'never'}, created_at=at(days=-40), expires=None)
    seed(api, 'soon', metadata={'lifetime': '30d'}, created_at=at(days=-1), expires=at(days=1))
    rc, out = rotate(run_module, key_aliases=['old', 'soon'], older_than_days=30, renew_within_days=7)
    assert rc == 0, out
    assert sorted((e['alias'], e['renewed']) for e in out['rotated']) == [('old', False), ('soon', True)]


@pytest.mark.parametrize('name', ['renew_within_days', 'older_than_days'])
def test_negative_windows_are_refused(api, run_module, name):
    rc, out = rotate(run_module, key_alias='openwebui', **{name: -1})
    assert rc == 1 and name in out['msg'], out
    assert api.calls == []


# -- F16: concurrent runs --------------------------------------------------------
def stale_listing(monkeypatch, api, listed):
    """Make the next runs list ``listed`` (a copy of api.keys taken earlier), as a run that listed then would."""
    real_load = litellm_key_rotate.Rotator.load

    def load(self):
        current = api.keys
        api.keys = copy.deepcopy(listed)
        try:
            real_load(self)
        finally:
            api.keys = current

    monkeypatch.setattr(litellm_key_rotate.Rotator, 'load', load)


def interrupted_after_create(api, run_module, secret):
    """Run A: creates its successor SA, then loses the proxy before renaming anything."""
    api.fault('POST', '/key/update', api.REFUSED, times=10)
    rc, out = rotate(run_module, key_alias='openwebui', retries=0, key_derivation_secret=secret)
    assert rc == 1, out
    api.faults = []
    [sa] = [k for k in api.keys.values() if '.next.' in (k.get('key_alias') or '')]
    return sa


def test_f16_a_second_run_never_deletes_a_successor_another_run_hands_out(api, run_module, monkeypatch):
    """Two runs with different secrets list the same keys; A finishes first; B must not delete SA."""
    old = seed(api)
    sa = interrupted_after_create(api, run_module, 'secret-of-run-a')
    listed = copy.deepcopy(api.keys)  # what B lists: O holds the alias, SA unfinished

    rc, out = rotate(run_module, key_alias='openwebui', key_derivation_secret='secret-of-run-a')  # A finishes
    assert rc == 0, out
    assert out['rotated'][0]['new_token'] == sa['token']

    stale_listing(monkeypatch, api, listed)
    rc, out = rotate(run_module, key_alias='openwebui', key_derivation_secret='secret-of-run-b')  # B, stale
    assert rc == 1 and 'another rotation in progress' in out['msg'], out
    assert sa['token'] in api.keys and sa['token'] not in api.deleted
    assert live(api, 'openwebui')[0]['token'] == sa['token']
    assert api.keys[old['token']]['key_alias'].startswith('openwebui.retiring.')
    assert [c[1] for c in api.writes()].count('/key/generate') == 1  # B created nothing either
    assert out['rotated'] == [] and out['skipped_keys'][0]['alias'] == 'openwebui'
    # A's lease was recorded with SA (owner, expiry on the proxy's clock) and dropped once SA was handed out.
    lease = listed[sa['token']]['metadata']['rotation']['lease']
    assert lease['owner'] and parse(lease['expires']) > datetime.datetime.now(UTC)
    assert 'lease' not in api.keys[sa['token']]['metadata']['rotation']


def test_f16_a_live_lease_protects_an_unfinished_successor_until_it_expires(api, run_module):
    """B cannot recover SA's value: while A's lease is live B leaves SA alone; once it expired, B replaces it."""
    seed(api)
    sa = interrupted_after_create(api, run_module, 'secret-of-run-a')
    rc, out = rotate(run_module, key_alias='openwebui', key_derivation_secret='secret-of-run-b')
    assert rc == 1 and 'another rotation in progress' in out['msg'] and 'leased to' in out['msg'], out
    assert sa['token'] in api.keys and api.deleted == {}

    api.clock_offset = 31 * 60  # the proxy's clock, past the default lease_ttl of 30m: A is gone
    rc, out = rotate(run_module, key_alias='openwebui', key_derivation_secret='secret-of-run-b')
    assert rc == 0, out
    assert out['rotated'][0]['replaced_token'] == sa['token'] and sa['token'] in api.deleted


def test_f16_a_stale_holder_is_not_rotated_twice(api, run_module, monkeypatch):
    """B listed O as the holder before A rotated it completely: B must not start a second rotation of O."""
    seed(api)
    listed = copy.deepcopy(api.keys)
    rc, out = rotate(run_module, key_alias='openwebui', key_derivation_secret='secret-of-run-a')
    assert rc == 0, out
    sa = out['rotated'][0]['new_token']
    writes = len(api.writes())
    stale_listing(monkeypatch, api, listed)
    rc, out = rotate(run_module, key_alias='openwebui', key_derivation_secret='secret-of-run-b')
    assert rc == 1 and 'another rotation in progress' in out['msg'], out
    assert len(api.writes()) == writes  # nothing was changed
    assert live(api, 'openwebui')[0]['token'] == sa


def test_f16_lease_settings_are_checked(api, run_module):
    seed(api)
    rc, out = rotate(run_module, key_alias='openwebui', lease_ttl='soon')
    assert rc == 1 and out['msg'].startswith('lease_ttl:')
    rc, out = rotate(run_module, key_alias='openwebui', lease_ttl='0s')
    assert rc == 1 and 'lease_ttl must be more than 0' in out['msg']


def test_older_than_days_zero_rotates_every_key_even_with_renew_within_days(api, run_module):
    """rotate_keys -e litellm_keys_rotation_older_than_days=0 (the role also passes renew_within_days) rotates
    every selected key: the remedy docs/key-management.md gives after a master-key change (F18)."""
    seed(api, 'young', created_at=at(days=-1), expires=None)
    rc, out = rotate(run_module, key_aliases=['young'], older_than_days=0, renew_within_days=14)
    assert rc == 0, out
    assert [e['alias'] for e in out['rotated']] == ['young'] and out['not_due'] == 0
