# -*- coding: utf-8 -*-
"""Fixtures for the module unit tests.

``patch_ansible_module`` feeds module arguments through
ansible.module_utils.testing.patch_module_args (ansible-core 2.19 and later;
on older releases, which lack it, the same context manager over
``basic._ANSIBLE_ARGS``, the way those releases read their arguments).

``api`` replaces ``OpenerDirector.open``, the HTTP layer under the collection's
client (an opener built once from ansible.module_utils.urls' TLS context and
redirect handler), with a small in-memory LiteLLM admin API seeded from the
JSON fixtures in ``fixtures/``. It answers with LiteLLM's shapes (``/key/info``
nesting under ``info``, ``/key/list`` paging, ``{"error": {...}}`` bodies), records
every call, and can inject faults (HTTP errors, dropped connections, non-JSON).
"""

import copy
import datetime
import email.message
import email.utils
import hashlib
import io
import json
import math
import os
import re
import secrets
import socket
import urllib.error
import urllib.request
import uuid
from unittest import mock
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from ansible.module_utils.common import warnings as _warnings
try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    import contextlib

    from ansible.module_utils import basic as _basic
    from ansible.module_utils.common.text.converters import to_bytes as _to_bytes

    @contextlib.contextmanager
    def patch_module_args(args):
        payload = _to_bytes(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
        with mock.patch.object(_basic, '_ANSIBLE_ARGS', payload):
            yield

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')
MASTER_KEY = 'sk-master-unit-test-0123456789abcdef'
API_URL = 'http://127.0.0.1:4000'


def load_fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return json.load(f)


def sha256(value):
    return hashlib.sha256(value.encode()).hexdigest()


def iso(dt):
    return dt.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def now():
    return datetime.datetime.now(datetime.timezone.utc)


class FakeResponse:
    def __init__(self, status, body, ctype='application/json', date=None):
        self.status = status
        self._body = body
        self.headers = {'content-type': ctype}
        if date is not None:
            self.headers['date'] = email.utils.format_datetime(date, usegmt=True)

    def read(self):
        return self._body

    def getcode(self):
        return self.status

    def close(self):
        pass


def http_error(url, status, payload, ctype='application/json'):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = email.message.Message()
    headers['content-type'] = ctype
    return urllib.error.HTTPError(url, status, 'error', headers, io.BytesIO(body))


def proxy_error(message, code, kind='bad_request_error'):
    return {'error': {'message': message, 'type': kind, 'param': 'None', 'code': str(code)}}


REFUSED = urllib.error.URLError(ConnectionRefusedError(111, 'Connection refused'))
TIMEOUT = urllib.error.URLError(socket.timeout('timed out'))


class FakeLiteLLM:
    """An in-memory stand-in for LiteLLM's admin API, for unit tests only."""

    REFUSED = REFUSED
    TIMEOUT = TIMEOUT
    RESET = ConnectionResetError(104, 'Connection reset by peer')
    sha256 = staticmethod(sha256)
    load_fixture = staticmethod(load_fixture)

    def __init__(self):
        self.keys = {}
        self.budgets = {}
        self.users = {}
        self.teams = {}
        self.calls = []
        self.faults = []
        self.enterprise = False
        self.custom_keys = True
        self.master_key = MASTER_KEY
        self.request_objects = set()
        self.clock_offset = None  # seconds; when set, answers carry a Date header that far from now
        self.deleted = {}  # token -> row, LiteLLM_DeletedVerificationToken
        self.alias_pattern = None  # litellm_settings.key_alias_pattern (a regex), when set
        self.database = True  # False: a proxy without DATABASE_URL
        # litellm_settings.default_key_generate_params: /key/generate fills these when the request leaves them None
        self.default_key_generate_params = None
        self.raw_query = ''

    # -- seeding -----------------------------------------------------------
    def add_key(self, value=None, **fields):
        """Seed a key as /key/list would return it; returns (value, token)."""
        value = value or 'sk-seed-' + secrets.token_hex(12)
        obj = load_fixture('key_openwebui.json')
        obj.update({'token': sha256(value), 'key_name': 'sk-...' + value[-4:], 'key_alias': None,
                    'metadata': {}, 'spend': 0.0, 'created_at': '2025-01-01T00:00:00Z'})
        obj.update(copy.deepcopy(fields))
        self.keys[obj['token']] = obj
        return value, obj['token']

    def key_by_alias(self, alias):
        found = [k for k in self.keys.values() if k.get('key_alias') == alias]
        return found[0] if found else None

    # -- faults --------------------------------------------------------------
    def fault(self, method, path, action, times=1, after=False):
        """Make the next ``times`` calls to (method, path-prefix) fail with ``action``.

        action: an exception to raise, an int HTTP status (with a LiteLLM error
        body), a (status, bytes, content-type) triple, or a FakeResponse.
        after=True applies the request first (the answer is lost on the way back).
        """
        self.faults.append(dict(method=method, path=path, action=action, times=times, after=after))

    def _take_fault(self, method, path):
        for f in self.faults:
            if f['times'] > 0 and f['method'] == method and path.startswith(f['path']):
                f['times'] -= 1
                return f
        return None

    # -- HTTP entry point ----------------------------------------------------
    def open(self, opener, request, data=None, timeout=None):
        method, url, data = request.get_method(), request.full_url, request.data
        parts = urlsplit(url)
        path = parts.path
        query = dict((k, v[-1]) for k, v in parse_qs(parts.query).items())
        body = json.loads(data) if data else None
        self.calls.append((method, path, query, copy.deepcopy(body)))
        self.request_objects.add(id(opener))
        if request.headers.get('Authorization') != 'Bearer %s' % self.master_key:
            raise http_error(url, 401, load_fixture('error_401.json'))
        fault = self._take_fault(method, path)
        if fault and not fault['after']:
            return self._fault_action(url, fault['action'])
        self.raw_query = parts.query
        if not self.database and path.startswith(('/key/', '/user/', '/team/')):
            # e.g. /key/list: Exception("Database not connected") through handle_exception_on_proxy
            raise http_error(url, 500, proxy_error('Database not connected', 500, 'internal_server_error'))
        status, payload = self.dispatch(method, path, query, body)
        if fault:
            return self._fault_action(url, fault['action'])
        if status >= 400:
            raise http_error(url, status, payload)
        date = None if self.clock_offset is None else now() + datetime.timedelta(seconds=self.clock_offset)
        return FakeResponse(status, json.dumps(payload).encode(), date=date)

    def _fault_action(self, url, action):
        if isinstance(action, BaseException):
            raise action
        if isinstance(action, int):
            raise http_error(url, action, proxy_error('injected fault', action, 'internal_server_error'))
        if isinstance(action, tuple):
            status, raw, ctype = action
            if status >= 300:
                raise http_error(url, status, raw, ctype)
            return FakeResponse(status, raw, ctype)
        return action

    def writes(self):
        return [c for c in self.calls if c[0] != 'GET']

    def dispatch(self, method, path, query, body):
        if method == 'GET' and path == '/key/list':
            return self.key_list(query)
        if method == 'GET' and path == '/key/info':
            return self.key_info(query)
        if method == 'POST' and path == '/key/generate':
            return self.key_generate(body)
        if method == 'POST' and path == '/key/update':
            return self.key_update(body)
        if method == 'POST' and path == '/key/delete':
            return self.key_delete(body)
        if method == 'POST' and path in ('/key/block', '/key/unblock'):
            return self.key_block(body, path == '/key/block')
        if method == 'POST' and path.startswith('/key/') and path.endswith('/regenerate'):
            return self.key_regenerate(unquote(path[len('/key/'):-len('/regenerate')]), body)
        if method == 'GET' and path == '/user/info':
            return self.user_info(query)
        if method == 'POST' and path == '/user/new':
            return self.user_new(body)
        if method == 'POST' and path == '/user/update':
            return self.user_update(body)
        if method == 'POST' and path == '/user/delete':
            for uid in body['user_ids']:  # LiteLLM checks every id before deleting any
                if uid not in self.users:
                    return 404, {'detail': {'error': 'User not found, passed user_id=%s' % uid}}
            for uid in body['user_ids']:
                self.users.pop(uid, None)
            return 200, {'deleted_users': body['user_ids']}
        if method == 'GET' and path == '/team/list':
            return 200, [copy.deepcopy(t) for t in self.teams.values()]
        if method == 'GET' and path == '/team/info':
            team = self.teams.get(query.get('team_id'))
            if team is None:
                return 404, proxy_error('Team not found, passed team id: %s.' % query.get('team_id'), 404)
            return 200, {'team_id': team['team_id'], 'team_info': copy.deepcopy(team), 'keys': []}
        if method == 'POST' and path == '/team/new':
            return self.team_new(body)
        if method == 'POST' and path == '/team/update':
            team = self.teams.get(body['team_id'])
            if team is None:
                return 404, proxy_error('Team not found', 404)
            team.update(copy.deepcopy(dict((k, v) for k, v in body.items() if k != 'team_id')))
            return 200, {'team_id': team['team_id'], 'data': copy.deepcopy(team)}
        if method == 'POST' and path == '/team/delete':
            for tid in body['team_ids']:
                if tid not in self.teams:
                    return 404, {'detail': {'error': 'Team not found, passed team_id=%s' % tid}}
            for tid in body['team_ids']:
                self.teams.pop(tid, None)
            return 200, {'deleted_teams': body['team_ids']}
        return 404, {'detail': 'Not Found'}

    # -- keys ----------------------------------------------------------------
    def _resolve(self, key):
        token = sha256(key) if key.startswith('sk-') else key
        return self.keys.get(token)

    def key_list(self, q):
        keys = list(self.keys.values())
        if q.get('key_alias') is not None:
            keys = [k for k in keys if k.get('key_alias') == q['key_alias']]
        for field in ('team_id', 'user_id'):
            if q.get(field) is not None:
                keys = [k for k in keys if k.get(field) == q[field]]
        if q.get('search'):
            s = q['search']
            keys = [k for k in keys if k['token'] == s or s.lower() in (k.get('key_alias') or '').lower()]
        size = int(q.get('size', 10))
        page = int(q.get('page', 1))
        total = len(keys)
        chunk = keys[(page - 1) * size:page * size]
        full = q.get('return_full_object') == 'true'
        return 200, {'keys': [copy.deepcopy(k) if full else k['token'] for k in chunk], 'total_count': total,
                     'current_page': page, 'total_pages': int(math.ceil(total / float(size)))}

    def key_info(self, q):
        obj = self._resolve(q.get('key', ''))
        if obj is None:
            key = q.get('key', '')
            archived = self.deleted.get(sha256(key) if key.startswith('sk-') else key)
            if archived is not None:  # LiteLLM serves deleted keys from its archive, with 200
                info = dict(copy.deepcopy(archived), deleted_at=iso(now()), deleted_by='default_user_id',
                            status='deleted')
                info.pop('token')
                return 200, {'key': key, 'info': info}
            return 404, proxy_error('Key not found in database', 404, 'not_found_error')
        info = copy.deepcopy(obj)
        info.pop('token')
        info['litellm_budget_table'] = copy.deepcopy(self.budgets.get(obj.get('budget_id')))
        return 200, {'key': q['key'], 'info': info}

    def _alias_taken(self, alias, token=None):
        return alias is not None and any(k.get('key_alias') == alias and k['token'] != token
                                         for k in self.keys.values())

    def _alias_refused(self, alias):
        """_validate_key_alias_format with a configured key_alias_pattern."""
        if alias is None or self.alias_pattern is None:
            return None
        if len(alias) <= 255 and re.fullmatch(self.alias_pattern, alias):
            return None
        return 400, proxy_error('Invalid key_alias format. Must be at most 255 characters and match the configured '
                                'key_alias_pattern: %s' % self.alias_pattern, 400)

    def _apply(self, obj, body):
        for field, value in body.items():
            if field in ('key', 'tags', 'soft_budget', 'duration', 'new_key', 'grace_period'):
                continue
            obj[field] = copy.deepcopy(value)
        if 'tags' in body:
            obj['metadata'] = dict(obj.get('metadata') or {}, tags=body['tags'])
        if body.get('soft_budget') is not None:
            budget_id = obj.get('budget_id') or 'budget-' + uuid.uuid4().hex[:8]
            self.budgets[budget_id] = {'budget_id': budget_id, 'soft_budget': body['soft_budget']}
            obj['budget_id'] = budget_id
        if 'duration' in body:
            d = body['duration']
            seconds = int(d[:-1]) * {'s': 1, 'm': 60, 'h': 3600, 'd': 86400}[d[-1]] if d else None
            obj['expires'] = iso(now() + datetime.timedelta(seconds=seconds)) if seconds else None

    def key_generate(self, body):
        value = body.get('key')
        refused = self._alias_refused(body.get('key_alias'))
        if refused:
            return refused
        if value is not None:
            if not self.custom_keys:
                return 403, load_fixture('error_custom_key_disabled.json')
            if not value.startswith('sk-') or len(value) < 16:
                return 400, proxy_error('Invalid key format.', 400)
        if self._alias_taken(body.get('key_alias')):
            return 400, proxy_error("Key with alias '%s' already exists. Unique key aliases across all keys "
                                    "are required." % body['key_alias'], 400)
        value = value or 'sk-' + secrets.token_urlsafe(16)
        body = dict(body)
        for field, default in (self.default_key_generate_params or {}).items():
            if body.get(field) is None:
                body[field] = default
        obj = load_fixture('key_openwebui.json')
        obj.update({'token': sha256(value), 'key_name': 'sk-...' + value[-4:], 'key_alias': None, 'metadata': {},
                    'models': [], 'spend': 0.0, 'max_budget': None, 'tpm_limit': None, 'rpm_limit': None,
                    'budget_duration': None, 'team_id': None, 'created_at': iso(now()), 'updated_at': iso(now())})
        self._apply(obj, body)
        obj['blocked'] = body.get('blocked')
        self.keys[obj['token']] = obj
        answer = copy.deepcopy(obj)
        answer.update(key=value, token=value, token_id=obj['token'])
        return 200, answer

    def key_update(self, body):
        if body.get('key'):
            obj = self._resolve(body['key'])
        else:
            obj = self.key_by_alias(body.get('key_alias'))
        if obj is None:
            return 404, proxy_error('Key not found.', 404, 'not_found_error')
        if 'key_alias' in body and body['key_alias'] != obj.get('key_alias'):
            refused = self._alias_refused(body['key_alias'])
            if refused:
                return refused
        if 'key_alias' in body and self._alias_taken(body['key_alias'], obj['token']):
            return 400, proxy_error("Key with alias '%s' already exists." % body['key_alias'], 400)
        self._apply(obj, body)
        obj['updated_at'] = iso(now())
        answer = copy.deepcopy(obj)
        answer['key'] = obj['token']
        return 200, answer

    def key_delete(self, body):
        deleted = []
        if body.get('keys') and not any(self._resolve(key) for key in body['keys']):
            # delete_verification_tokens: HTTPException(404) through handle_exception_on_proxy
            return 404, proxy_error("{'error': 'No keys found'}", 404, 'internal_server_error')
        for key in body.get('keys') or []:
            obj = self._resolve(key)
            if obj is not None:
                self.deleted[obj['token']] = copy.deepcopy(obj)
                del self.keys[obj['token']]
                deleted.append(key)
        for alias in body.get('key_aliases') or []:
            obj = self.key_by_alias(alias)
            if obj is not None:
                del self.keys[obj['token']]
                deleted.append(alias)
        return 200, {'deleted_keys': deleted}

    def key_block(self, body, blocked):
        obj = self._resolve(body['key'])
        if obj is None:
            return 404, proxy_error('Key not found.', 404, 'not_found_error')
        obj['blocked'] = blocked
        return 200, copy.deepcopy(obj)

    def key_regenerate(self, key, body):
        if not self.enterprise:
            return 500, load_fixture('error_regenerate_enterprise.json')
        if body.get('new_key') is not None and not self.custom_keys:
            return 403, load_fixture('error_custom_key_disabled.json')
        obj = self._resolve(key)
        if obj is None:
            return 404, proxy_error('Key %s not found.' % key, 404)
        value = body.get('new_key') or 'sk-' + secrets.token_urlsafe(16)
        del self.keys[obj['token']]
        obj['token'] = sha256(value)
        if body.get('metadata') is not None:
            obj['metadata'] = copy.deepcopy(body['metadata'])
        self.keys[obj['token']] = obj
        answer = copy.deepcopy(obj)
        answer.update(key=value, token_id=obj['token'])
        return 200, answer

    # -- users and teams -----------------------------------------------------
    def user_info(self, q):
        user_id = q.get('user_id')
        if user_id is not None and ' ' in user_id:
            # _normalize_user_info_user_id: re-read from the raw query with unquote, keeping '+'
            raw = [v for k, v in (p.split('=', 1) for p in self.raw_query.split('&') if '=' in p) if k == 'user_id']
            user_id = unquote(raw[-1])
        user = self.users.get(user_id)
        if user is None:
            return 404, proxy_error('User %s not found' % user_id, 404)
        info = copy.deepcopy(user)
        # _redact_scim_enterprise_metadata: SCIM directory attributes are not shown
        info['metadata'] = dict((k, v) for k, v in (info.get('metadata') or {}).items()
                                if k not in ('scim_enterprise', 'scim_entitlements', 'scim_roles'))
        return 200, {'user_id': user['user_id'], 'user_info': info, 'keys': [], 'teams': []}

    def user_new(self, body):
        if body['user_id'] in self.users:
            return 409, proxy_error('User with id=%s already exists' % body['user_id'], 409)
        user = load_fixture('user_info_alice.json')['user_info']
        user.update({'user_email': None, 'user_role': None, 'max_budget': None, 'budget_duration': None,
                     'models': [], 'metadata': {}, 'spend': 0.0})
        user.update(copy.deepcopy(dict((k, v) for k, v in body.items() if k != 'auto_create_key')))
        self.users[user['user_id']] = user
        return 200, dict(copy.deepcopy(user), key='sk-should-not-exist' if body.get('auto_create_key', True) else None)

    def user_update(self, body):
        user = self.users.get(body['user_id'])
        if user is None:
            return 404, proxy_error('User not found', 404)
        user.update(copy.deepcopy(body))
        return 200, copy.deepcopy(user)

    def team_new(self, body):
        team_id = body.get('team_id') or str(uuid.uuid4())
        if team_id in self.teams:
            return 400, proxy_error('Team id = %s already exists. Please use a different team id.' % team_id, 400)
        team = load_fixture('team_list.json')[0]
        team.update({'team_id': team_id, 'max_budget': None, 'budget_duration': None, 'models': [],
                     'tpm_limit': None, 'metadata': {}, 'spend': 0.0})
        team.update(copy.deepcopy(body))
        team['team_id'] = team_id
        self.teams[team_id] = team
        return 200, copy.deepcopy(team)


@pytest.fixture
def api():
    fake = FakeLiteLLM()
    with mock.patch.object(urllib.request.OpenerDirector, 'open', autospec=True, side_effect=fake.open):
        with mock.patch('time.sleep'):
            yield fake


@pytest.fixture
def patch_ansible_module(request):
    """Module arguments from ``request.param`` (use with indirect parametrization)."""
    args = dict(getattr(request, 'param', None) or {})
    args.setdefault('api_url', API_URL)
    args.setdefault('master_key', MASTER_KEY)
    with patch_module_args(args):
        yield args


@pytest.fixture
def run_module(capsys):
    """Run a module's main() with the given arguments; returns (exit code, result dict)."""

    def _run(main, args, check_mode=False, diff=False):
        args = dict(args)
        args.setdefault('api_url', API_URL)
        args.setdefault('master_key', MASTER_KEY)
        if args['master_key'] is None:
            del args['master_key']  # absent, as when a task leaves it out
        if check_mode:
            args['_ansible_check_mode'] = True
        if diff:
            args['_ansible_diff'] = True
        for name in ('_global_warnings', '_global_deprecations'):
            getattr(_warnings, name, {}).clear()  # module-global in ansible-core; keep tests apart
        with patch_module_args(args):
            with pytest.raises(SystemExit) as exc:
                main()
        out = capsys.readouterr().out
        return exc.value.code, json.loads(out)

    return _run
