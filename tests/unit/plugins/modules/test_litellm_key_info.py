# -*- coding: utf-8 -*-

import datetime
import json

from ansible_collections.sacred_brain.llm_gateway.plugins.modules import litellm_key_info


def days_ago(n):
    dt = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=n)
    return dt.strftime('%Y-%m-%dT%H:%M:%SZ')


def aliases(out):
    return sorted(k['key_alias'] for k in out['virtual_keys'])


def test_lists_every_page_without_key_values(api, run_module):
    values = [api.add_key(key_alias='k%03d' % i)[0] for i in range(230)]
    rc, out = run_module(litellm_key_info.main, dict())
    assert rc == 0 and out['changed'] is False
    assert out['count'] == 230
    assert [c[2]['page'] for c in api.calls] == ['1', '2', '3']
    text = json.dumps(out)
    assert not any(v in text for v in values)
    assert 'sk-...' not in text  # not even LiteLLM's abbreviated key_name
    for key in out['virtual_keys']:
        assert 'key_name' not in key and 'api_key' not in key and 'key' not in key
        assert len(key['token']) == 64


def test_filters(api, run_module):
    api.add_key(key_alias='old-team-a', team_id='a', created_at=days_ago(100), metadata={'owner': 'x', 'tags': ['t1']})
    api.add_key(key_alias='new-team-a', team_id='a', created_at=days_ago(1), metadata={'owner': 'y'})
    api.add_key(key_alias='blocked-b', team_id='b', created_at=days_ago(50), blocked=True)
    api.add_key(key_alias='expiring-b', team_id='b', created_at=days_ago(5), expires=days_ago(-3))
    api.add_key(key_alias='expired-b', team_id='b', created_at=days_ago(5), expires=days_ago(2))

    assert aliases(run_module(litellm_key_info.main, dict(team_id='a'))[1]) == ['new-team-a', 'old-team-a']
    assert api.calls[-1][2]['team_id'] == 'a'  # filtered by the proxy
    assert aliases(run_module(litellm_key_info.main, dict(older_than_days=30))[1]) == ['blocked-b', 'old-team-a']
    assert aliases(run_module(litellm_key_info.main, dict(metadata={'owner': 'x'}))[1]) == ['old-team-a']
    assert aliases(run_module(litellm_key_info.main, dict(tags=['t1']))[1]) == ['old-team-a']
    assert aliases(run_module(litellm_key_info.main, dict(blocked=True))[1]) == ['blocked-b']
    assert aliases(run_module(litellm_key_info.main, dict(expires_within_days=7))[1]) == ['expired-b', 'expiring-b']
    out = run_module(litellm_key_info.main, dict(key_alias='expired-b'))[1]
    assert out['virtual_keys'][0]['status'] == 'expired'
    assert api.calls[-1][2]['key_alias'] == 'expired-b'


def test_in_flight_keys_are_marked(api, run_module):
    _unused, old = api.add_key(key_alias='svc', metadata={'retire_at': days_ago(-1), 'rotation': {'alias': 'svc'}})
    api.keys[old]['key_alias'] = 'svc.retiring.%s' % old[:8]
    api.add_key(key_alias='svc', metadata={'rotation': {'alias': 'svc', 'predecessor_token': old}})
    out = run_module(litellm_key_info.main, dict())[1]
    states = dict((k['key_alias'], (k['rotation_state'], k['logical_alias'])) for k in out['virtual_keys'])
    assert states == {'svc': ('active', 'svc'), 'svc.retiring.%s' % old[:8]: ('retiring', 'svc')}
    out = run_module(litellm_key_info.main, dict(include_in_flight=False))[1]
    assert aliases(out) == ['svc']


def test_check_mode_is_read_only(api, run_module):
    api.add_key(key_alias='a')
    rc, out = run_module(litellm_key_info.main, dict(), check_mode=True)
    assert rc == 0 and out['count'] == 1


def test_unreachable(api, run_module):
    api.fault('GET', '/key/list', api.REFUSED, times=5)
    rc, out = run_module(litellm_key_info.main, dict(retries=0))
    assert rc == 1 and 'connection refused' in out['msg']


def test_check_owners_marks_keys_whose_user_or_team_is_gone(api, run_module):
    api.users['alice'] = {'user_id': 'alice', 'metadata': {}}
    api.teams['red'] = {'team_id': 'red', 'team_alias': 'red'}
    api.add_key(key_alias='ok', user_id='alice', team_id='red')
    api.add_key(key_alias='no-user', user_id='bob', team_id='red')
    api.add_key(key_alias='no-team', user_id='alice', team_id='blue')
    api.add_key(key_alias='no-user-2', user_id='bob', team_id=None)
    rc, out = run_module(litellm_key_info.main, dict(check_owners=True))
    assert rc == 0, out
    missing = dict((k['key_alias'], k['owner_missing']) for k in out['virtual_keys'])
    assert missing == {'ok': [], 'no-user': ['user'], 'no-team': ['team'], 'no-user-2': ['user']}
    owner_reads = [c for c in api.calls if c[1] in ('/user/info', '/team/info')]
    assert len(owner_reads) == 4  # one per distinct user and team
    assert out['now'].endswith('Z')


def test_owners_are_not_checked_unless_asked(api, run_module):
    api.add_key(key_alias='k', user_id='bob')
    rc, out = run_module(litellm_key_info.main, dict())
    assert rc == 0 and 'owner_missing' not in out['virtual_keys'][0]
    assert [c[1] for c in api.calls] == ['/key/list']
