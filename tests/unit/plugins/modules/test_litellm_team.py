# -*- coding: utf-8 -*-

from ansible_collections.sacred_brain.llm_gateway.plugins.modules import litellm_team


def seed_research(api):
    team = api.load_fixture('team_list.json')[0]
    api.teams[team['team_id']] = team


def test_create_chooses_the_team_id(api, run_module):
    rc, out = run_module(litellm_team.main, dict(team_alias='ops', max_budget=100, models=['gpt-4o']))
    assert rc == 0 and out['changed'] is True, out
    new = [c for c in api.calls if c[1] == '/team/new'][0][3]
    assert new['team_id'] == out['team']['team_id'] and len(new['team_id']) == 36
    rc, out = run_module(litellm_team.main, dict(team_alias='ops', max_budget=100, models=['gpt-4o']))
    assert out['changed'] is False


def test_unchanged_by_alias(api, run_module):
    seed_research(api)
    rc, out = run_module(litellm_team.main, dict(team_alias='research', max_budget=500, budget_duration='30d',
                                                 models=['gpt-4o'], tpm_limit=400000, metadata={'cost_center': '4711'}))
    assert rc == 0 and out['changed'] is False
    assert api.writes() == []


def test_update_by_id_renames(api, run_module):
    seed_research(api)
    rc, out = run_module(litellm_team.main, dict(team_alias='research-lab', team_id='research', rpm_limit=60),
                         diff=True)
    assert rc == 0 and out['changed'] is True
    body = api.writes()[0][3]
    assert body == {'team_id': 'research', 'team_alias': 'research-lab', 'rpm_limit': 60}
    assert out['diff']['before']['team_alias'] == 'research'


def test_retried_creation_is_recognised(api, run_module):
    api.fault('POST', '/team/new', api.RESET, after=True)
    rc, out = run_module(litellm_team.main, dict(team_alias='ops', team_id='ops'))
    assert rc == 0 and out['changed'] is True, out
    assert list(api.teams) == ['ops']


def test_absent_and_check_mode(api, run_module):
    seed_research(api)
    rc, out = run_module(litellm_team.main, dict(team_alias='research', state='absent'), check_mode=True)
    assert out['changed'] is True and api.writes() == []
    rc, out = run_module(litellm_team.main, dict(team_alias='research', state='absent'))
    assert out['changed'] is True and api.teams == {}
    rc, out = run_module(litellm_team.main, dict(team_alias='research', state='absent'))
    assert out['changed'] is False


def test_ambiguous_alias(api, run_module):
    seed_research(api)
    api.teams['research-2'] = dict(api.teams['research'], team_id='research-2')
    rc, out = run_module(litellm_team.main, dict(team_alias='research', max_budget=1))
    assert rc == 1 and 'give team_id' in out['msg']


def test_item1_retried_team_delete_whose_answer_was_lost_is_done(api, run_module):
    seed_research(api)
    api.fault('POST', '/team/delete', api.RESET, after=True)  # committed, answer lost; the retry answers 404
    rc, out = run_module(litellm_team.main, dict(team_alias='research', state='absent'))
    assert rc == 0 and out['changed'] is True, out
    assert api.teams == {}
