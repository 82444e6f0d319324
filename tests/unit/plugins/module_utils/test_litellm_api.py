# -*- coding: utf-8 -*-
"""The private client: retries, error mapping, paging, helpers."""

import datetime
import hashlib
import json

import pytest

from ansible_collections.sacred_brain.llm_gateway.plugins.module_utils import _litellm_api as api_mod
from ansible_collections.sacred_brain.llm_gateway.plugins.module_utils._litellm_api import (
    LiteLLMAuthError,
    LiteLLMClient,
    LiteLLMError,
    LiteLLMNotFound,
    changed_settings,
    derive_key,
    hash_key,
    mask_secrets,
    parse_duration,
    parse_time,
    plan_metadata,
    rotation_role,
)

URL = 'http://litellm.test:4000'


@pytest.fixture
def client(api):
    return LiteLLMClient(URL, api.master_key, timeout=5, retries=3)


def test_one_opener_is_reused(api, client):
    api.add_key(key_alias='a')
    client.list_keys()
    client.post('/key/block', {'key': next(iter(api.keys))})
    client.list_keys()
    assert len(api.calls) == 3
    assert api.request_objects == set([id(client._opener)])


def test_wrong_master_key_is_explained(api):
    client = LiteLLMClient(URL, 'sk-wrong-master-key-000', retries=3)
    with pytest.raises(LiteLLMAuthError) as exc:
        client.get('/key/list')
    assert exc.value.msg.startswith('the master key was rejected by http://litellm.test:4000 (HTTP 401')
    assert 'sk-wrong-master-key-000' not in exc.value.msg
    assert len(api.calls) == 1  # 401 is not retried


def test_item4_403_is_a_refusal_not_a_rejected_master_key(api, client):
    api.fault('GET', '/key/list', 403)
    with pytest.raises(LiteLLMAuthError) as exc:
        client.get('/key/list')
    assert 'master key was rejected' not in exc.value.msg
    assert '%s refused GET /key/list for this master key (HTTP 403' % URL in exc.value.msg
    assert exc.value.msg.endswith(': injected fault')  # LiteLLM's own message
    assert exc.value.reason == 'forbidden'


def test_item4_enterprise_and_custom_key_refusals_say_so(api, client):
    api.custom_keys = False
    with pytest.raises(LiteLLMAuthError) as exc:
        client.post('/key/generate', {'key': 'sk-chosen-0123456789abcdef'})
    assert exc.value.reason == 'custom_key_refused' and 'master key was rejected' not in exc.value.msg
    assert 'disable_custom_api_keys' in exc.value.msg
    assert exc.value.msg.endswith(': Custom API key values are disabled by your administrator. '
                                  'Keys must be auto-generated.')  # unwrapped from "{'error': ...}"
    with pytest.raises(LiteLLMError) as exc:
        client.post('/key/%s/regenerate' % ('0' * 64), {})
    assert exc.value.reason == 'enterprise' and 'Enterprise feature' in exc.value.msg


def test_item3_f16_enterprise_500_is_not_retried(api, client):
    with pytest.raises(LiteLLMError) as exc:
        client.post('/key/%s/regenerate' % ('0' * 64), {})
    assert exc.value.status == 500 and not exc.value.ambiguous
    assert len(api.calls) == 1 and client.retried == 0


def test_item7_no_database_500_fails_at_once_and_says_so(api, client):
    api.database = False
    with pytest.raises(LiteLLMError) as exc:
        client.get('/key/list')
    assert len(api.calls) == 1 and client.retried == 0
    assert exc.value.reason == 'no_database' and not exc.value.ambiguous
    assert exc.value.msg.startswith('%s has no database connected (HTTP 500 on GET /key/list' % URL)
    assert 'DATABASE_URL' in exc.value.msg


@pytest.mark.parametrize('payload', [
    {'detail': {'error': 'No db connected'}},
    {'error': {'message': 'DB not connected. prisma_client is None', 'type': 'internal_server_error', 'code': '500'}},
    {'error': {'message': "{'error': 'DB not connected. This endpoint needs a database; set DATABASE_URL to a "
                          "PostgreSQL connection string'}", 'type': 'internal_server_error', 'code': '500'}},
    {'error': {'message': 'Not connected to DB!', 'type': 'internal_server_error', 'code': '500'}},
])
def test_item7_every_no_database_message_is_recognised(api, client, payload):
    api.fault('POST', '/user/delete', (500, json.dumps(payload).encode(), 'application/json'))
    with pytest.raises(LiteLLMError) as exc:
        client.post('/user/delete', {'user_ids': ['x']})
    assert exc.value.reason == 'no_database' and len(api.calls) == 1


def test_item1_f17_retried_key_delete_whose_answer_was_lost_is_done(api, client):
    _unused, token = api.add_key(key_alias='gone')
    api.fault('POST', '/key/delete', api.RESET, after=True)  # committed, answer lost; the retry gets 404
    client.delete_keys([token])
    assert token not in api.keys
    assert [c[1] for c in api.calls] == ['/key/delete', '/key/delete']


def test_item1_a_missing_delete_route_is_still_an_error(api, client):
    api.fault('POST', '/key/delete', (404, b'{"detail": "Not Found"}', 'application/json'))
    with pytest.raises(LiteLLMNotFound):
        client.delete_keys(['0' * 64])


def test_f15_key_info_of_a_deleted_key_is_none(api, client):
    _unused, token = api.add_key(key_alias='gone')
    client.delete_keys([token])
    assert client.get('/key/info', key=token)['info']['deleted_at']  # LiteLLM answers 200 ...
    assert client.key_info(token) is None  # ... for a key that no longer exists


def test_item2_query_strings_encode_spaces_as_percent_20(api, client):
    assert client.get_or_none('/user/info', user_id='it-a b+c') is None
    assert api.raw_query == 'user_id=it-a%20b%2Bc'


def test_404_is_not_found(api, client):
    with pytest.raises(LiteLLMNotFound) as exc:
        client.get('/key/info', key='0' * 64)
    assert exc.value.status == 404
    assert client.get_or_none('/key/info', key='0' * 64) is None
    assert client.key_info('0' * 64) is None


def test_5xx_is_retried_then_succeeds(api, client):
    api.add_key(key_alias='a')
    api.fault('GET', '/key/list', 503, times=2)
    keys = client.list_keys()
    assert [k['key_alias'] for k in keys] == ['a']
    assert len(api.calls) == 3
    assert client.retried == 2


def test_5xx_gives_up_after_retries(api, client):
    api.fault('GET', '/key/list', 502, times=10)
    with pytest.raises(LiteLLMError) as exc:
        client.get('/key/list')
    assert len(api.calls) == 4
    assert 'answered HTTP 502 to GET /key/list after 4 attempts' in exc.value.msg
    assert exc.value.ambiguous


def test_backoff_is_exponential(api):
    slept = []
    client = LiteLLMClient(URL, api.master_key, retries=3, sleep=slept.append)
    api.fault('GET', '/key/list', api.REFUSED, times=3)
    client.get('/key/list')
    assert slept == [0.5, 1.0, 2.0]


def test_connection_refused_message(api, client):
    api.fault('GET', '/key/list', api.REFUSED, times=10)
    with pytest.raises(LiteLLMError) as exc:
        client.get('/key/list')
    assert exc.value.msg == ('cannot connect to http://litellm.test:4000: connection refused (after 4 attempts). '
                             'Is the LiteLLM proxy running and listening there?')
    assert not exc.value.ambiguous


def test_timeout_message(api):
    client = LiteLLMClient(URL, api.master_key, timeout=2.5, retries=0)
    api.fault('GET', '/key/list', api.TIMEOUT)
    with pytest.raises(LiteLLMError) as exc:
        client.get('/key/list')
    assert 'no answer from http://litellm.test:4000 to GET /key/list within 2.5 seconds' in exc.value.msg
    assert exc.value.ambiguous


def test_connection_reset_is_retried(api, client):
    api.fault('GET', '/key/list', api.RESET)
    assert client.get('/key/list')['keys'] == []


def test_malformed_answer_message(api, client):
    api.fault('GET', '/key/list', (200, b'<html><body>Welcome to nginx</body></html>', 'text/html'))
    with pytest.raises(LiteLLMError) as exc:
        client.get('/key/list')
    assert exc.value.msg.startswith(
        'http://litellm.test:4000 answered GET /key/list with something that is not JSON (HTTP 200, '
        "content-type 'text/html'")
    assert 'Welcome to nginx' in exc.value.msg
    assert len(api.calls) == 1


def test_secrets_in_error_bodies_are_masked(api, client):
    api.fault('POST', '/key/generate', (400, json.dumps(
        {'error': {'message': 'bad key sk-abcdefghijklmnop and %s' % api.master_key}}).encode(), 'application/json'))
    with pytest.raises(LiteLLMError) as exc:
        client.post('/key/generate', {})
    assert 'sk-abcdefghijklmnop' not in exc.value.msg
    assert api.master_key not in exc.value.msg
    assert 'refused POST /key/generate (HTTP 400)' in exc.value.msg


def test_validation_errors_are_readable(api, client):
    api.fault('POST', '/key/update', (422, json.dumps({'detail': [
        {'loc': ['body', 'max_budget'], 'msg': 'Input should be a valid number', 'type': 'float_parsing'}]}).encode(),
        'application/json'))
    with pytest.raises(LiteLLMError) as exc:
        client.post('/key/update', {'key': 'x', 'max_budget': 'lots'})
    assert exc.value.msg.endswith('(HTTP 422): max_budget: Input should be a valid number')


def test_paging_follows_total_pages(api, client):
    for i in range(25):
        api.add_key(key_alias='k%02d' % i)
    keys = list(client.iter_keys(page_size=10))
    assert len(keys) == 25
    assert [c[2]['page'] for c in api.calls] == ['1', '2', '3']
    assert all(c[2]['return_full_object'] == 'true' for c in api.calls)


def test_list_without_full_objects_is_refused(api, client):
    api.add_key(key_alias='a')
    api.fault('GET', '/key/list', (200, json.dumps({'keys': ['abc'], 'total_pages': 1}).encode(), 'application/json'))
    with pytest.raises(LiteLLMError) as exc:
        client.list_keys()
    assert 'return_full_object=true was ignored' in exc.value.msg


def test_generate_retried_after_lost_answer_is_recognised(api, client):
    # The first attempt is applied but its answer is lost; the retry hits "alias exists".
    api.fault('POST', '/key/generate', api.RESET, after=True)
    answer = client.generate_key({'key_alias': 'svc', 'key': 'sk-chosen-value-0123456789'})
    assert answer['token'] == hash_key('sk-chosen-value-0123456789')
    assert answer['key'] == 'sk-chosen-value-0123456789'
    assert len(api.keys) == 1


def test_generate_conflict_with_another_key_is_an_error(api, client):
    api.add_key(key_alias='svc')
    with pytest.raises(LiteLLMError) as exc:
        client.generate_key({'key_alias': 'svc', 'key': 'sk-chosen-value-0123456789'})
    assert "Key with alias 'svc' already exists" in exc.value.msg


def test_tls_errors_are_not_retried(api, client):
    import ssl
    import urllib.error
    api.fault('GET', '/key/list', urllib.error.URLError(ssl.SSLCertVerificationError(1, 'certificate verify failed')))
    with pytest.raises(LiteLLMError) as exc:
        client.get('/key/list')
    assert 'TLS' in exc.value.msg and 'ca_path' in exc.value.msg
    assert len(api.calls) == 1


def test_helpers():
    assert hash_key('sk-1234') == hashlib.sha256(b'sk-1234').hexdigest()
    assert parse_duration('24h') == 86400
    assert parse_duration('90m') == 5400
    assert parse_duration('2d') == 172800
    assert parse_duration('45') == 45
    with pytest.raises(ValueError):
        parse_duration('soon')
    assert parse_time('2025-01-01T00:00:00Z') == datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    assert parse_time('2025-01-01T00:00:00.123+00:00').microsecond == 123000
    assert parse_time('2025-01-01T00:00:00') .tzinfo is not None
    assert parse_time(None) is None
    assert mask_secrets('key sk-abcdEFGH1234 end') == 'key sk-******** end'
    value = derive_key('secret', 'svc', 'ab' * 32, 'n1')
    assert value.startswith('sk-') and len(value) > 40
    assert value == derive_key('secret', 'svc', 'ab' * 32, 'n1')
    assert value != derive_key('other', 'svc', 'ab' * 32, 'n1')
    assert value != derive_key('secret', 'svc', 'ab' * 32, 'n2')


def test_changed_settings_normalises():
    current = dict(models=['b', 'a'], max_budget=10, tpm_limit=None, team_id='t', tags=None)
    desired = dict(models=['a', 'b'], max_budget=10.0, tpm_limit=5, team_id=None, tags=[])
    kinds = dict(models='set', max_budget='num', tpm_limit='int', team_id='str', tags='set')
    assert changed_settings(current, desired, kinds) == {'tpm_limit': 5}


def test_plan_metadata_merge_and_purge():
    current = {'owner': 'a', 'extra': 1, 'tags': ['x'], 'rotation': {'generation': 2}}
    assert plan_metadata(current, None) == (False, current)
    assert plan_metadata(current, {'owner': 'a'}) == (False, current)
    changed, new = plan_metadata(current, {'owner': 'b'})
    assert changed and new['extra'] == 1 and new['owner'] == 'b'
    changed, new = plan_metadata(current, {'owner': 'a'}, purge=True)
    assert changed and new == {'owner': 'a', 'tags': ['x'], 'rotation': {'generation': 2}}


def test_rotation_role():
    token = 'ab' * 32
    assert rotation_role({'key_alias': 'svc', 'token': token}) == ('active', 'svc')
    pending = {'key_alias': 'svc.next.cdcdcdcd', 'token': token,
               'metadata': {'rotation': {'alias': 'svc', 'predecessor_token': 'cd' * 32}}}
    assert rotation_role(pending) == ('pending', 'svc')
    retiring = {'key_alias': 'svc.retiring.abababab', 'token': token,
                'metadata': {'retire_at': '2025-01-01T00:00:00Z', 'rotation': {'alias': 'svc'}}}
    assert rotation_role(retiring) == ('retiring', 'svc')
    # A key merely named like that, without the metadata, is an ordinary key.
    assert rotation_role({'key_alias': 'svc.retiring.abababab', 'token': token}) == ('active', 'svc.retiring.abababab')


def test_module_utils_file_says_it_is_private():
    with open(api_mod.__file__) as f:
        head = f.read(600)
    assert 'PRIVATE' in head


def test_redirects_are_not_followed(api, client):
    api.fault('GET', '/key/list', (301, b'', 'text/html'))
    with pytest.raises(LiteLLMError) as exc:
        client.get('/key/list')
    assert 'with a redirect (HTTP 301)' in exc.value.msg
    assert len(api.calls) == 1


def test_use_proxy_false_bypasses_environment_proxies(api, monkeypatch):
    monkeypatch.setenv('http_proxy', 'http://corporate-proxy.example:3128')
    with_proxy = LiteLLMClient(URL, api.master_key, use_proxy=True)
    without = LiteLLMClient(URL, api.master_key, use_proxy=False)
    assert any(hasattr(h, 'http_open') and getattr(h, 'proxies', {}).get('http') for h in with_proxy._opener.handlers)
    assert not any(getattr(h, 'proxies', {}) for h in without._opener.handlers)


def test_server_clock_comes_from_the_date_header(api, client):
    api.clock_offset = 7200
    client.get('/key/list')
    skew = (client.now() - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    assert 7198 < skew < 7202
