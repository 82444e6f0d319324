# -*- coding: utf-8 -*-

import json

import pytest

from ansible_collections.sacred_brain.llm_gateway.plugins.modules import litellm_key


def seed_openwebui(api):
    obj = api.load_fixture('key_openwebui.json')
    api.keys[obj['token']] = obj
    return obj


def no_key_values(data):
    text = json.dumps(data)
    return 'sk-' not in text.replace('sk-...', '')


def test_create_returns_the_key_once(api, run_module):
    rc, out = run_module(litellm_key.main, dict(key_alias='svc', models=['gpt-4o'], max_budget=10,
                                                metadata={'owner': 'me'}, duration='30d'), diff=True)
    assert rc == 0, out
    assert out['changed'] is True
    assert out['key'].startswith('sk-')
    assert out['token'] == api.sha256(out['key'])
    stored = api.keys[out['token']]
    assert stored['key_alias'] == 'svc'
    assert stored['models'] == ['gpt-4o']
    assert stored['max_budget'] == 10
    assert stored['metadata'] == {'owner': 'me', 'lifetime': '30d'}  # the declared lifetime, for rotations
    assert stored['expires'] is not None
    assert out['key_info']['key_alias'] == 'svc'
    assert no_key_values(out['diff']) and no_key_values(out['key_info'])
    generate = [c for c in api.calls if c[1] == '/key/generate'][0]
    assert generate[3]['key'] == out['key']  # chosen here, so a retry can be recognised


def test_unchanged_reports_no_change(api, run_module):
    seed_openwebui(api)
    rc, out = run_module(litellm_key.main, dict(key_alias='openwebui', models=['gpt-4o-mini'], max_budget=50,
                                                tpm_limit=100000, rpm_limit=120, budget_duration='30d',
                                                team_id='platform', metadata={'owner': 'platform'}))
    assert rc == 0, out
    assert out['changed'] is False
    assert 'key' not in out
    assert api.writes() == []
    assert [c[1] for c in api.calls] == ['/key/list']


def test_update_with_diff_never_shows_key_values(api, run_module):
    obj = seed_openwebui(api)
    rc, out = run_module(litellm_key.main, dict(key_alias='openwebui', max_budget=75, models=['gpt-4o-mini', 'o3'],
                                                metadata={'owner': 'ml'}), diff=True)
    assert rc == 0, out
    assert out['changed'] is True
    assert out['diff']['before']['max_budget'] == 50.0
    assert out['diff']['after']['max_budget'] == 75.0
    assert out['diff']['after']['metadata'] == {'owner': 'ml'}
    assert 'tags' not in out['diff']['after']['metadata']
    assert no_key_values(out) and obj['token'] not in json.dumps(out['diff'])
    update = api.writes()[0]
    assert update[1] == '/key/update'
    assert update[3]['key'] == obj['token']
    assert update[3]['max_budget'] == 75.0
    assert sorted(update[3]['models']) == ['gpt-4o-mini', 'o3']
    # metadata is merged and keeps what LiteLLM stores there (tags)
    assert update[3]['metadata'] == {'owner': 'ml', 'tags': ['rotate-monthly']}
    assert 'rpm_limit' not in update[3]  # unchanged settings are not sent
    assert api.keys[obj['token']]['max_budget'] == 75.0


def test_check_mode_makes_no_write_call(api, run_module):
    seed_openwebui(api)
    rc, out = run_module(litellm_key.main, dict(key_alias='openwebui', max_budget=1), check_mode=True, diff=True)
    assert rc == 0 and out['changed'] is True
    rc, out = run_module(litellm_key.main, dict(key_alias='new-one', max_budget=1), check_mode=True)
    assert rc == 0 and out['changed'] is True and 'key' not in out
    rc, out = run_module(litellm_key.main, dict(key_alias='openwebui', state='absent'), check_mode=True)
    assert rc == 0 and out['changed'] is True
    assert api.writes() == []


def test_absent_deletes_the_key_and_its_generations(api, run_module):
    obj = seed_openwebui(api)
    _unused, old = api.add_key(key_alias='openwebui.retiring.%s' % ('ab' * 4), metadata={
        'retire_at': '2099-01-01T00:00:00Z', 'rotation': {'alias': 'openwebui'}})
    api.keys[old]['key_alias'] = 'openwebui.retiring.%s' % old[:8]
    api.add_key(key_alias='openwebui-other')
    rc, out = run_module(litellm_key.main, dict(key_alias='openwebui', state='absent'))
    assert rc == 0 and out['changed'] is True
    assert out['token'] == obj['token']
    assert out['related_tokens'] == [old]
    assert sorted(api.writes()[0][3]['keys']) == sorted([obj['token'], old])
    assert [k['key_alias'] for k in api.keys.values()] == ['openwebui-other']
    rc, out = run_module(litellm_key.main, dict(key_alias='openwebui', state='absent'))
    assert rc == 0 and out['changed'] is False


def test_blocked_and_unblocked(api, run_module):
    obj = seed_openwebui(api)
    rc, out = run_module(litellm_key.main, dict(key_alias='openwebui', state='blocked'))
    assert rc == 0 and out['changed'] is True
    assert api.keys[obj['token']]['blocked'] is True
    assert ('POST', '/key/block') in [(c[0], c[1]) for c in api.calls]
    rc, out = run_module(litellm_key.main, dict(key_alias='openwebui', state='blocked'))
    assert out['changed'] is False
    rc, out = run_module(litellm_key.main, dict(key_alias='openwebui'))
    assert out['changed'] is True and api.keys[obj['token']]['blocked'] is False
    assert api.calls[-1][1] == '/key/unblock'


def test_create_blocked(api, run_module):
    rc, out = run_module(litellm_key.main, dict(key_alias='later', state='blocked'))
    assert rc == 0 and out['changed'] is True
    assert api.keys[out['token']]['blocked'] is True


def test_soft_budget_is_read_from_key_info(api, run_module):
    rc, out = run_module(litellm_key.main, dict(key_alias='svc', soft_budget=5))
    assert rc == 0 and out['changed']
    rc, out = run_module(litellm_key.main, dict(key_alias='svc', soft_budget=5))
    assert rc == 0 and out['changed'] is False, out
    assert api.calls[-1][1] == '/key/info'


def test_tags_are_compared_from_metadata(api, run_module):
    seed_openwebui(api)
    rc, out = run_module(litellm_key.main, dict(key_alias='openwebui', tags=['rotate-monthly']))
    assert out['changed'] is False
    rc, out = run_module(litellm_key.main, dict(key_alias='openwebui', tags=['rotate-weekly']))
    assert out['changed'] is True
    assert api.writes()[-1][3]['tags'] == ['rotate-weekly']


def test_custom_key_values_refused_falls_back(api, run_module):
    api.custom_keys = False
    rc, out = run_module(litellm_key.main, dict(key_alias='svc'))
    assert rc == 0, out
    assert out['token'] == api.sha256(out['key'])
    assert 'key' not in api.calls[-1][3]


def test_wrong_master_key(api, run_module):
    rc, out = run_module(litellm_key.main, dict(key_alias='svc', master_key='sk-not-the-master-key'))
    assert rc == 1
    assert out['failed'] is True
    assert out['msg'].startswith('the master key was rejected by http://127.0.0.1:4000 (HTTP 401')
    assert 'sk-not-the-master-key' not in json.dumps(out)


def test_missing_master_key(api, run_module, monkeypatch):
    monkeypatch.delenv('LITELLM_MASTER_KEY', raising=False)
    rc, out = run_module(litellm_key.main, dict(key_alias='svc', master_key=None))
    assert rc == 1
    assert 'master_key is required' in out['msg']


def test_master_key_from_environment(api, run_module, monkeypatch):
    monkeypatch.setenv('LITELLM_MASTER_KEY', api.master_key)
    rc, out = run_module(litellm_key.main, dict(key_alias='svc', master_key=None))
    assert rc == 0 and out['changed'] is True


def test_server_error_retried_then_success(api, run_module):
    seed_openwebui(api)
    api.fault('GET', '/key/list', 500, times=2)
    rc, out = run_module(litellm_key.main, dict(key_alias='openwebui', max_budget=50))
    assert rc == 0, out
    assert out['changed'] is False
    assert '2 requests to http://127.0.0.1:4000 had to be retried' in json.dumps(out.get('warnings'))


def test_malformed_answer(api, run_module):
    api.fault('GET', '/key/list', (200, b'not json at all', 'text/plain'))
    rc, out = run_module(litellm_key.main, dict(key_alias='svc'))
    assert rc == 1
    assert 'with something that is not JSON' in out['msg']


def test_connection_refused(api, run_module):
    api.fault('GET', '/key/list', api.REFUSED, times=10)
    rc, out = run_module(litellm_key.main, dict(key_alias='svc', retries=1))
    assert rc == 1
    assert out['msg'].startswith('cannot connect to http://127.0.0.1:4000: connection refused (after 2 attempts)')


def test_duplicate_aliases_are_refused(api, run_module):
    api.add_key(key_alias='dup')
    api.add_key(key_alias='dup')
    rc, out = run_module(litellm_key.main, dict(key_alias='dup', max_budget=1))
    assert rc == 1 and '2 keys share the alias' in out['msg']
    assert api.writes() == []


@pytest.mark.parametrize('args, message', [
    (dict(key_alias='svc', max_budget='lots'), 'max_budget'),
    (dict(key_alias='svc', colour='blue'), 'Unsupported parameters'),
    (dict(key_alias='svc', api_url='litellm:4000'), 'api_url must be an http:// or https:// URL'),
    (dict(key_alias='svc.retiring.0123abcd'), 'looks like a key that litellm_key_rotate has in flight'),
])
def test_bad_input(api, run_module, args, message):
    rc, out = run_module(litellm_key.main, args)
    assert rc == 1 and message in out['msg']
    assert api.calls == []


def test_purge_metadata_keeps_what_litellm_and_rotation_keep(api, run_module):
    obj = seed_openwebui(api)
    obj['metadata'] = {'owner': 'platform', 'stale': 1, 'tags': ['t'], 'rotation': {'generation': 2}}
    rc, out = run_module(litellm_key.main, dict(key_alias='openwebui', metadata={'owner': 'platform'},
                                                purge_metadata=True), diff=True)
    assert out['changed'] is True
    assert api.keys[obj['token']]['metadata'] == {'owner': 'platform', 'tags': ['t'], 'rotation': {'generation': 2}}
    assert out['diff']['before']['metadata'] == {'owner': 'platform', 'stale': 1}
    assert out['diff']['after']['metadata'] == {'owner': 'platform'}
    rc, out = run_module(litellm_key.main, dict(key_alias='openwebui', metadata={'owner': 'platform'},
                                                purge_metadata=True))
    assert out['changed'] is False


def test_unfinished_rotation_is_not_papered_over(api, run_module):
    _unused, old = api.add_key(key_alias='svc', metadata={'retire_at': '2099-01-01T00:00:00Z', 'rotation': {'alias': 'svc'}})
    api.keys[old]['key_alias'] = 'svc.retiring.' + old[:8]
    api.add_key(key_alias='svc.next.' + old[:8], metadata={'rotation': {'alias': 'svc', 'predecessor_token': old}})
    rc, out = run_module(litellm_key.main, dict(key_alias='svc'))
    assert rc == 1 and 'a rotation of' in out['msg'] and 'litellm_key_rotate' in out['msg']
    assert api.writes() == []


def test_item1_retried_key_delete_whose_answer_was_lost_is_done(api, run_module):
    obj = seed_openwebui(api)
    api.fault('POST', '/key/delete', api.RESET, after=True)  # committed, answer lost; the retry answers 404
    rc, out = run_module(litellm_key.main, dict(key_alias=obj['key_alias'], state='absent'))
    assert rc == 0, out
    assert out['changed'] is True and out['token'] == obj['token']
    assert api.keys == {}


def test_item4_a_403_reports_litellms_reason_not_a_rejected_master_key(api, run_module):
    api.fault('GET', '/key/list', (403, json.dumps({'error': {
        'message': 'Only proxy admins can list keys', 'type': 'auth_error', 'param': 'None',
        'code': '403'}}).encode(), 'application/json'))
    rc, out = run_module(litellm_key.main, dict(key_alias='svc'))
    assert rc == 1 and 'master key was rejected' not in out['msg']
    assert 'HTTP 403' in out['msg'] and out['msg'].endswith(': Only proxy admins can list keys')


def test_item7_a_proxy_without_database_fails_at_once(api, run_module):
    api.database = False
    rc, out = run_module(litellm_key.main, dict(key_alias='svc', retries=4))
    assert rc == 1 and 'has no database connected' in out['msg'], out
    assert len(api.calls) == 1  # not retried as transient
    assert 'warnings' not in out or not any('retried' in w for w in out['warnings'])


# -- keys live exactly as declared (issue 15): the proxy's default_key_generate_params are taken back --------

PROXY_DEFAULTS = {'duration': '90d', 'max_budget': 5.0, 'budget_duration': '30d', 'tpm_limit': 1000}


def test_key_without_duration_never_expires_although_the_proxy_has_defaults(api, run_module):
    api.default_key_generate_params = dict(PROXY_DEFAULTS)
    rc, out = run_module(litellm_key.main, dict(key_alias='svc', rpm_limit=5))
    assert rc == 0, out
    stored = api.keys[out['token']]
    assert stored['expires'] is None
    assert stored['max_budget'] is None and stored['budget_duration'] is None and stored['tpm_limit'] is None
    assert stored['rpm_limit'] == 5  # declared: kept
    assert stored['metadata'] == {'lifetime': 'never'}
    assert out['undeclared_removed'] == ['budget_duration', 'duration', 'max_budget', 'tpm_limit']
    assert out['key_info']['expires'] is None and out['key_info']['max_budget'] is None
    [update] = [c for c in api.calls if c[1] == '/key/update']
    assert update[3] == {'key': out['token'], 'duration': None, 'max_budget': None, 'budget_duration': None,
                         'tpm_limit': None}
    assert out['key'] not in json.dumps(update[3])
    # and the next run sees nothing to change
    rc, again = run_module(litellm_key.main, dict(key_alias='svc', rpm_limit=5))
    assert rc == 0 and again['changed'] is False, again


def test_declared_duration_and_budget_are_kept_only_undeclared_ones_go(api, run_module):
    api.default_key_generate_params = dict(PROXY_DEFAULTS)
    rc, out = run_module(litellm_key.main, dict(key_alias='svc', duration='7d', max_budget=2))
    assert rc == 0, out
    stored = api.keys[out['token']]
    assert stored['expires'] is not None and stored['max_budget'] == 2
    assert stored['metadata'] == {'lifetime': '7d'}
    assert out['undeclared_removed'] == ['budget_duration', 'tpm_limit']


def test_no_defaults_no_extra_request(api, run_module):
    rc, out = run_module(litellm_key.main, dict(key_alias='svc'))
    assert rc == 0, out
    assert out['undeclared_removed'] == []
    assert [c[1] for c in api.writes()] == ['/key/generate']


def test_check_mode_shows_the_expiry_and_changes_nothing(api, run_module):
    rc, out = run_module(litellm_key.main, dict(key_alias='svc'), check_mode=True, diff=True)
    assert rc == 0 and out['changed'] is True, out
    assert out['diff']['after']['expires'] == 'never'
    assert api.writes() == []
