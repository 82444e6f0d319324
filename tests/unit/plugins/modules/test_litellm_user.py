# -*- coding: utf-8 -*-

from ansible_collections.sacred_brain.llm_gateway.plugins.modules import litellm_user


def seed_alice(api):
    api.users['alice'] = api.load_fixture('user_info_alice.json')['user_info']


def test_create_without_a_key(api, run_module):
    rc, out = run_module(litellm_user.main, dict(user_id='bob', max_budget=5, models=['gpt-4o-mini'],
                                                 user_role='internal_user', metadata={'dept': 'ops'}), diff=True)
    assert rc == 0 and out['changed'] is True, out
    new = [c for c in api.calls if c[1] == '/user/new'][0][3]
    assert new['auto_create_key'] is False
    assert api.users['bob']['max_budget'] == 5
    assert 'sk-' not in str(out)
    assert out['diff']['after']['max_budget'] == 5


def test_unchanged(api, run_module):
    seed_alice(api)
    rc, out = run_module(litellm_user.main, dict(user_id='alice', user_email='alice@example.org', max_budget=25,
                                                 budget_duration='30d', models=['gpt-4o-mini'],
                                                 user_role='internal_user', metadata={'dept': 'ml'}))
    assert rc == 0 and out['changed'] is False
    assert api.writes() == []


def test_update_with_diff(api, run_module):
    seed_alice(api)
    rc, out = run_module(litellm_user.main, dict(user_id='alice', max_budget=40, tpm_limit=1000), diff=True)
    assert rc == 0 and out['changed'] is True
    assert out['diff']['before']['max_budget'] == 25.0 and out['diff']['after']['max_budget'] == 40.0
    body = api.writes()[0][3]
    assert body == {'user_id': 'alice', 'max_budget': 40.0, 'tpm_limit': 1000}


def test_check_mode_and_absent(api, run_module):
    seed_alice(api)
    rc, out = run_module(litellm_user.main, dict(user_id='alice', max_budget=1), check_mode=True)
    assert out['changed'] is True
    rc, out = run_module(litellm_user.main, dict(user_id='alice', state='absent'), check_mode=True)
    assert out['changed'] is True
    assert api.writes() == []
    rc, out = run_module(litellm_user.main, dict(user_id='alice', state='absent'))
    assert out['changed'] is True and 'alice' not in api.users
    rc, out = run_module(litellm_user.main, dict(user_id='alice', state='absent'))
    assert out['changed'] is False
