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


def test_item1_retried_user_delete_whose_answer_was_lost_is_done(api, run_module):
    seed_alice(api)
    api.fault('POST', '/user/delete', api.RESET, after=True)  # committed, answer lost; the retry answers 404
    rc, out = run_module(litellm_user.main, dict(user_id='alice', state='absent'))
    assert rc == 0 and out['changed'] is True, out
    assert 'alice' not in api.users


def test_item2_a_user_id_with_a_space_is_found_again(api, run_module):
    rc, out = run_module(litellm_user.main, dict(user_id='it-a b-1', max_budget=5))
    assert rc == 0 and out['changed'] is True, out
    rc, out = run_module(litellm_user.main, dict(user_id='it-a b-1', max_budget=5))
    assert rc == 0 and out['changed'] is False, out
    assert [c[1] for c in api.writes()] == ['/user/new']


def test_item6_metadata_is_merged_keeping_entries_not_declared(api, run_module):
    seed_alice(api)
    api.users['alice']['metadata'] = {'dept': 'ml', 'cost_center': '42', 'guardrails': ['pii']}
    rc, out = run_module(litellm_user.main, dict(user_id='alice', metadata={'dept': 'ops'}))
    assert rc == 0 and out['changed'] is True, out
    assert api.users['alice']['metadata'] == {'dept': 'ops', 'cost_center': '42', 'guardrails': ['pii']}


def scim_alice(api):
    seed_alice(api)
    api.users['alice']['metadata'] = {
        'dept': 'ml', 'scim_metadata': {'givenName': 'Alice', 'familyName': 'A'}, 'scim_active': True,
        'scim_enterprise': {'department': 'R&D'}, 'scim_roles': [{'value': 'admin'}]}


def test_item6_scim_metadata_is_never_erased(api, run_module):
    scim_alice(api)
    before = dict(api.users['alice']['metadata'])
    for purge in (False, True):
        rc, out = run_module(litellm_user.main, dict(user_id='alice', metadata={'dept': 'ops'}, purge_metadata=purge))
        assert rc == 1 and 'provisioned by SCIM' in out['msg'] and 'nothing was changed' in out['msg'], out
    assert api.writes() == [] and api.users['alice']['metadata'] == before
    # settings other than metadata are still managed, and metadata is not sent along
    rc, out = run_module(litellm_user.main, dict(user_id='alice', max_budget=40, metadata={'dept': 'ml'}))
    assert rc == 0 and out['changed'] is True, out
    assert 'metadata' not in api.writes()[-1][3] and api.users['alice']['metadata'] == before


def test_item6_purge_keeps_what_litellm_keeps_there(api, run_module):
    seed_alice(api)
    api.users['alice']['metadata'] = {'dept': 'ml', 'old': 1, 'guardrails': ['pii']}
    rc, out = run_module(litellm_user.main, dict(user_id='alice', metadata={'dept': 'ml'}, purge_metadata=True))
    assert rc == 0 and api.users['alice']['metadata'] == {'dept': 'ml', 'guardrails': ['pii']}
