# -*- coding: utf-8 -*-
# Copyright: (c) 2025, sacred_brain.llm_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE TO THIS COLLECTION.
# This file is the one HTTP client of sacred_brain.llm_gateway's LiteLLM modules.
# Its interfaces are meant for the modules of this collection only and may change
# in any release, even a bugfix release. Do not import it from elsewhere.

"""Client for LiteLLM's admin API (``/key/*``, ``/user/*``, ``/team/*``).

Only ``ansible.module_utils.urls`` and the standard library are used, so the
modules need no extra Python package on the host that runs them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ast
import base64
import copy
import datetime
import email.utils
import hashlib
import hmac
import http.client
import ipaddress
import json
import re
import secrets
import socket
import ssl
import time
import urllib.error
import urllib.request
from urllib.parse import quote, urlencode, urlsplit

from ansible.module_utils.basic import AnsibleModule, env_fallback
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import SSLValidationError, make_context

try:
    from ansible.module_utils.urls import HTTPRedirectHandler
except ImportError:  # ansible-core 2.16 has the factory only (the class is 2.17 and later)
    from ansible.module_utils.urls import RedirectHandlerFactory

    def HTTPRedirectHandler(follow_redirects):  # pylint: disable=invalid-name
        return RedirectHandlerFactory(follow_redirects=follow_redirects)()


USER_AGENT = 'sacred_brain.llm_gateway'

CONNECTION_ARGSPEC = dict(
    api_url=dict(type='str', default='http://127.0.0.1:4000'),
    master_key=dict(type='str', no_log=True, fallback=(env_fallback, ['LITELLM_MASTER_KEY'])),
    timeout=dict(type='float', default=30),
    validate_certs=dict(type='bool', default=True),
    ca_path=dict(type='path'),
    # None: honour the proxy environment variables except for a loopback api_url.
    use_proxy=dict(type='bool'),
    allow_insecure_http=dict(type='bool', default=False),
    retries=dict(type='int', default=3),
)


def is_loopback_url(url):
    """Whether ``url`` names this host itself: ``localhost``, 127.0.0.0/8 or ::1 (no name is resolved)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    if not host:
        return False
    if host.rstrip('.').lower() == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def connection_problems(url, validate_certs, allow_insecure_http):
    """(errors, warnings) about how the master key would travel to ``url``."""
    errors, warnings = [], []
    if not re.match(r'^https?://[^/]', url or ''):
        return ['api_url must be an http:// or https:// URL, got %r' % url], warnings
    scheme = urlsplit(url).scheme.lower()
    if scheme == 'http' and not is_loopback_url(url):
        if not allow_insecure_http:
            errors.append(
                'api_url %s is plain http:// to another host: the master key would cross the network in '
                'cleartext. Use https:// (with ca_path), reach the proxy on 127.0.0.1 from the gateway itself, '
                'or set allow_insecure_http=true for a network you trust' % url)
        else:
            warnings.append('api_url %s is plain http:// to another host (allow_insecure_http=true): the master key '
                            'crosses the network in cleartext' % url)
    if scheme == 'https' and not validate_certs:
        warnings.append('validate_certs=false: the TLS certificate of %s is not verified, so anyone on the path can '
                        'pose as the proxy and receive the master key; give the CA in ca_path instead' % url)
    return errors, warnings


# Metadata keys that LiteLLM itself keeps inside an object's ``metadata``
# (proxy/_types.py: LiteLLM_ManagementEndpoint_MetadataFields, ..._Premium and
# LiteLLM_Reserved_Metadata_Fields). They are set through their own request
# fields, so the ``metadata`` option of the modules never removes them.
LITELLM_METADATA_FIELDS = frozenset((
    'model_rpm_limit', 'model_tpm_limit', 'model_itpm_limit', 'model_otpm_limit',
    'default_estimated_output_tokens', 'default_estimated_output_tokens_per_model',
    'mcp_rpm_limit', 'tag_rpm_limit', 'rpm_limit_type', 'tpm_limit_type',
    'enforced_params', 'temp_budget_increase', 'temp_budget_expiry',
    'allowed_vector_store_indexes', 'enforced_batch_output_expires_after',
    'enforced_file_expires_after', 'throttle_on_budget_exceeded',
    'enable_prompt_caching', 'end_user_budget_id', 'require_trace_id',
    'disable_global_guardrails', 'guardrails', 'policies', 'tags',
    'team_member_key_duration', 'prompts', 'logging', 'secret_manager_settings',
    'allowed_passthrough_routes', 'denied_passthrough_routes',
    'service_account_id',
))

# Metadata keys LiteLLM's SCIM provisioning keeps in a user's metadata
# (management_endpoints/scim/scim_v2.py: _build_scim_metadata). /user/info and
# /user/list hide the last three (_redact_scim_enterprise_metadata).
SCIM_METADATA_FIELDS = frozenset(('scim_metadata', 'scim_active', 'scim_enterprise', 'scim_entitlements', 'scim_roles'))
SCIM_HIDDEN_METADATA_FIELDS = frozenset(('scim_enterprise', 'scim_entitlements', 'scim_roles'))

# Metadata keys written by litellm_key_rotate to link key generations, and by
# litellm_key to record the lifetime a key was declared with (see LIFETIME_FIELD).
ROTATION_METADATA_FIELDS = frozenset(('rotation', 'retire_at', 'lifetime'))

# metadata.lifetime: the duration a key was declared with ("90d"), or NO_EXPIRY.
# A rotation gives the successor this lifetime afresh, counted from the rotation.
LIFETIME_FIELD = 'lifetime'
NO_EXPIRY = 'never'

# Settings that LiteLLM 1.108.7 fills on /key/generate when the request leaves them
# unset, from litellm_settings.default_key_generate_params and then
# upperbound_key_generate_params (key_management_endpoints.py:
# _common_key_generation_helper, _enforce_upperbound_key_params(fill_defaults=True)),
# even for requests made with the master key. /key/update fills nothing.
FILLED_ON_GENERATE = ('max_budget', 'budget_duration', 'tpm_limit', 'rpm_limit', 'max_parallel_requests')

PRESERVED_METADATA_FIELDS = LITELLM_METADATA_FIELDS | ROTATION_METADATA_FIELDS

# Infixes of the aliases litellm_key_rotate gives to keys in flight.
PENDING_INFIX = '.next.'
RETIRING_INFIX = '.retiring.'

_SECRET_RE = re.compile(r'sk-[A-Za-z0-9_\-]{4,}')
_DURATION_RE = re.compile(r'^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$')
_DURATION_UNITS = {'': 1, 's': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}
_DERIVATION_LABEL = b'sacred_brain.llm_gateway/key-rotation/v1'


class LiteLLMError(Exception):
    """An answer (or the lack of one) that the caller cannot use.

    ``status`` is the HTTP status when the server answered, ``attempts`` how
    many times the request was sent, ``ambiguous`` whether the request may have
    been applied although no usable answer came back (timeouts, 5xx, resets).
    """

    def __init__(self, msg, status=None, method=None, path=None, attempts=1, ambiguous=False, reason=None,
                 detail=None):
        super(LiteLLMError, self).__init__(msg)
        self.detail = detail  # LiteLLM's own message (secrets masked), when it sent one
        self.msg = msg
        self.status = status
        self.method = method
        self.path = path
        self.attempts = attempts
        self.ambiguous = ambiguous
        self.reason = reason


class LiteLLMNotFound(LiteLLMError):
    """HTTP 404: the caller decides whether that is an error."""

    def object_missing(self):
        """Whether LiteLLM said the object is missing ("No keys found", "User not found, ..."),
        rather than that the route itself does not exist (FastAPI's bare "Not Found")."""
        return bool(self.detail) and self.detail.strip().lower() != 'not found'


class LiteLLMAuthError(LiteLLMError):
    """HTTP 401 (the master key was rejected) or 403 (refused for this key).

    ``reason`` tells them apart: ``auth`` for 401; for 403 ``custom_key_refused``
    (general_settings.disable_custom_api_keys), ``enterprise`` or ``forbidden``.
    """


# LiteLLM answers a proxy without a database with HTTP 500 (or 503) and one of
# several messages, depending on the endpoint ("No db connected", "Database not
# connected", "DB not connected. prisma_client is None", "Not connected to DB!",
# CommonProxyErrors.db_not_connected_error, ...). None of them heals by retrying.
_NO_DATABASE_RE = re.compile(
    r'no (?:connected )?db\b|\bdb not connected|database not (?:connected|available)|not connected to db'
    r'|no db connected', re.I)
# Enterprise-only features: CommonProxyErrors.not_premium_user, "... is an Enterprise feature".
_ENTERPRISE_RE = re.compile(r'enterprise feature|litellm enterprise user|premium user', re.I)
# _check_custom_key_allowed: a chosen key value when general_settings.disable_custom_api_keys is set.
_CUSTOM_KEY_REFUSED_RE = re.compile(r'custom api key values are disabled', re.I)
# _validate_key_alias_format: key_alias_pattern / enable_key_alias_format_validation.
_ALIAS_FORMAT_RE = re.compile(r'invalid key_alias', re.I)


def encode_query(query):
    """A query string with spaces as %20, not '+'.

    LiteLLM's /user/info re-reads a user_id that contains a space from the raw
    query with ``unquote`` (not ``unquote_plus``), to keep plus-addressed emails
    intact: a user_id "a b" sent as "a+b" is looked up as "a+b" and never found.
    """
    return urlencode([(k, v) for k, v in query.items() if v is not None], doseq=True, quote_via=quote)


def mask_secrets(text, extra=()):
    """Replace anything that looks like a LiteLLM key (and the given strings) in ``text``."""
    text = to_text(text)
    for value in extra:
        if value:
            text = text.replace(value, '********')
    return _SECRET_RE.sub('sk-********', text)


def _unwrap_repr(text):
    """LiteLLM turns HTTPException details into ``str(dict)``: "{'error': 'No keys found'}" -> "No keys found"."""
    if text.startswith('{') and text.endswith('}'):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return text
        if isinstance(value, dict) and value.get('error'):
            return to_text(value['error'])
    return text


def _server_message(payload):
    """The human part of a LiteLLM error body, whatever its shape."""
    return _unwrap_repr(_raw_server_message(payload).strip())


def _raw_server_message(payload):
    if isinstance(payload, dict):
        err = payload.get('error')
        if isinstance(err, dict):
            return to_text(err.get('message') or err)
        if err:
            return to_text(err)
        detail = payload.get('detail')
        if isinstance(detail, list):  # FastAPI validation errors
            parts = []
            for item in detail:
                if isinstance(item, dict):
                    loc = '.'.join(to_text(x) for x in item.get('loc', ()) if x != 'body')
                    parts.append('%s: %s' % (loc, item.get('msg')) if loc else to_text(item.get('msg')))
                else:
                    parts.append(to_text(item))
            return '; '.join(parts)
        if isinstance(detail, dict):
            return to_text(detail.get('error') or detail.get('message') or detail)
        if detail:
            return to_text(detail)
        if payload.get('message'):
            return to_text(payload['message'])
    return to_text(payload)


class LiteLLMClient:
    """One connection setup (opener, TLS context, headers) reused by every call.

    ansible.module_utils.urls provides the TLS context (make_context: CA bundle,
    validate_certs) and the redirect policy. The opener is built from them once:
    urls.Request.open builds a new opener (and a cookie jar) on every call, which
    costs about half a millisecond per request, too much for rotating thousands
    of keys in one run. Connections are not kept alive, like urls.Request.
    """

    BACKOFF = 0.5  # seconds; doubled on every retry

    def __init__(self, api_url, master_key, timeout=30, validate_certs=True, ca_path=None,
                 use_proxy=True, retries=3, sleep=None):
        self.api_url = api_url.rstrip('/')
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.retried = 0
        self.calls = 0
        self._sleep = sleep
        self._master_key = master_key
        self._server_clock = None  # (server time from the Date header, local monotonic time then)
        self._headers = {
            'Authorization': 'Bearer %s' % master_key,
            'Content-Type': 'application/json',
            'Accept': 'application/json',
            'User-Agent': USER_AGENT,
        }
        handlers = [
            urllib.request.HTTPSHandler(context=make_context(cafile=ca_path, validate_certs=validate_certs)),
            # The master key must never follow a redirect to another address.
            HTTPRedirectHandler(follow_redirects='none'),
        ]
        if not use_proxy:
            handlers.insert(0, urllib.request.ProxyHandler({}))
        self._opener = urllib.request.build_opener(*handlers)

    # -- transport ---------------------------------------------------------
    def _mask(self, text):
        return mask_secrets(text, extra=(self._master_key,))

    def _backoff(self, attempt):
        self.retried += 1
        (self._sleep or time.sleep)(self.BACKOFF * (2 ** (attempt - 1)))

    def request(self, method, path, query=None, body=None):
        """Send one request, retrying connection errors, timeouts and 5xx answers.

        Returns the decoded JSON answer (None for an empty body). Raises
        LiteLLMNotFound on 404, LiteLLMAuthError on 401/403 and LiteLLMError
        for everything else that is not a usable answer.
        """
        url = self.api_url + path
        if query:
            url += '?' + encode_query(query)
        data = None if body is None else json.dumps(body).encode('utf-8')
        where = '%s %s' % (method, path)
        attempt = 0
        while True:
            attempt += 1
            self.calls += 1
            try:
                req = urllib.request.Request(url, data=data, headers=self._headers, method=method)
                resp = self._opener.open(req, timeout=self.timeout)
                try:
                    status = getattr(resp, 'status', None) or resp.getcode()
                    raw = resp.read()
                    ctype = resp.headers.get('content-type', '') if resp.headers else ''
                    self._note_date(resp.headers.get('date') if resp.headers else None)
                finally:
                    resp.close()
            except urllib.error.HTTPError as exc:
                status = exc.code
                try:
                    raw = exc.read()
                except Exception:
                    raw = b''
                ctype = exc.headers.get('content-type', '') if exc.headers else ''
                error = self._http_error(method, path, status, raw, ctype, attempt)
                # A 5xx is retried unless LiteLLM said why, and that reason does not pass
                # (no database, an Enterprise-only feature).
                if status >= 500 and error.ambiguous and attempt <= self.retries:
                    self._backoff(attempt)
                    continue
                raise error from exc
            except (SSLValidationError, ssl.SSLCertVerificationError) as exc:
                raise LiteLLMError(
                    'TLS certificate verification failed for %s: %s. Give the CA bundle that signed '
                    'the proxy certificate in ca_path (or set validate_certs=false for a test proxy).'
                    % (self.api_url, self._mask(exc)),
                    method=method, path=path, attempts=attempt, reason='tls') from exc
            except (urllib.error.URLError, UrlsConnectionError, http.client.HTTPException,
                    socket.timeout, OSError) as exc:
                kind, text = self._classify(exc)
                if kind == 'tls':
                    raise LiteLLMError(
                        'TLS error talking to %s: %s. Check api_url, ca_path and validate_certs.'
                        % (self.api_url, text), method=method, path=path, attempts=attempt, reason='tls') from exc
                if attempt <= self.retries:
                    self._backoff(attempt)
                    continue
                tries = 'after %d attempt%s' % (attempt, '' if attempt == 1 else 's')
                if kind == 'timeout':
                    raise LiteLLMError(
                        'no answer from %s to %s within %s seconds (%s); raise timeout or check the proxy'
                        % (self.api_url, where, self.timeout, tries),
                        method=method, path=path, attempts=attempt, ambiguous=True, reason='timeout') from exc
                if kind == 'refused':
                    raise LiteLLMError(
                        'cannot connect to %s: connection refused (%s). Is the LiteLLM proxy running and '
                        'listening there?' % (self.api_url, tries),
                        method=method, path=path, attempts=attempt, reason='refused') from exc
                raise LiteLLMError(
                    'cannot talk to %s (%s): %s (%s)' % (self.api_url, where, text, tries),
                    method=method, path=path, attempts=attempt, ambiguous=kind != 'dns', reason=kind) from exc
            return self._decode(method, path, status, raw, ctype, attempt)

    def _note_date(self, value):
        if not value:
            return
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return
        if when is None:
            return
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        # The header has whole seconds, truncated: the midpoint is the best guess.
        self._server_clock = (when + datetime.timedelta(milliseconds=500), time.monotonic())

    def now(self):
        """The proxy's idea of now (from the Date header of its last answer), else the local clock.

        Expiry, created_at and retire_at are judged against the proxy's clock, so
        a controller whose clock is off does not purge or rotate early.
        """
        if self._server_clock is None:
            return utcnow()
        when, seen = self._server_clock
        return when + datetime.timedelta(seconds=time.monotonic() - seen)

    def _classify(self, exc):
        reason = getattr(exc, 'reason', exc)
        text = self._mask(reason)
        if isinstance(reason, (socket.timeout, TimeoutError)) or 'timed out' in text.lower():
            return 'timeout', text
        if isinstance(reason, ConnectionRefusedError) or 'refused' in text.lower():
            return 'refused', text
        if isinstance(reason, ssl.SSLError):
            return 'tls', text
        if isinstance(reason, socket.gaierror):
            return 'dns', text
        return 'connection', text

    def _decode(self, method, path, status, raw, ctype, attempt):
        if not raw or not raw.strip():
            return None
        try:
            return json.loads(to_text(raw, errors='surrogate_or_replace'))
        except ValueError as exc:
            excerpt = self._mask(to_text(raw[:120], errors='surrogate_or_replace')).replace('\n', ' ')
            raise LiteLLMError(
                '%s answered %s %s with something that is not JSON (HTTP %s, content-type %r): %r. '
                'Is api_url pointing at the LiteLLM proxy itself?'
                % (self.api_url, method, path, status, ctype or 'none', excerpt),
                status=status, method=method, path=path, attempts=attempt, reason='malformed') from exc

    def _http_error(self, method, path, status, raw, ctype, attempt):
        """The LiteLLMError for an HTTP error answer, with LiteLLM's own message in it."""
        try:
            payload = json.loads(to_text(raw, errors='surrogate_or_replace')) if raw else None
            detail = _server_message(payload) if payload is not None else ''
        except ValueError:
            detail = to_text(raw[:120], errors='surrogate_or_replace').replace('\n', ' ')
        detail = self._mask(detail)
        suffix = (': %s' % detail) if detail else ''
        where = '%s %s' % (method, path)
        common = dict(status=status, method=method, path=path, attempts=attempt, detail=detail)
        if status == 401:
            return LiteLLMAuthError(
                'the master key was rejected by %s (HTTP 401 on %s)%s' % (self.api_url, where, suffix),
                reason='auth', **common)
        if _NO_DATABASE_RE.search(detail) and (status >= 500 or status == 400):
            return LiteLLMError(
                '%s has no database connected (HTTP %s on %s%s). Virtual keys, users and teams are kept in '
                "LiteLLM's database: give the proxy a PostgreSQL DATABASE_URL before managing them"
                % (self.api_url, status, where, suffix), reason='no_database', **common)
        if _ENTERPRISE_RE.search(detail) and status >= 400:
            cls = LiteLLMAuthError if status == 403 else LiteLLMError
            return cls(
                '%s refused %s: this is a LiteLLM Enterprise feature and the proxy has no Enterprise licence '
                '(HTTP %s)%s' % (self.api_url, where, status, suffix), reason='enterprise', **common)
        if status == 403:
            if _CUSTOM_KEY_REFUSED_RE.search(detail):
                return LiteLLMAuthError(
                    '%s refused a chosen key value on %s (HTTP 403; general_settings.disable_custom_api_keys '
                    'is set)%s' % (self.api_url, where, suffix), reason='custom_key_refused', **common)
            return LiteLLMAuthError(
                '%s refused %s for this master key (HTTP 403: not allowed, the key itself was accepted)%s'
                % (self.api_url, where, suffix), reason='forbidden', **common)
        if 300 <= status < 400:
            return LiteLLMError(
                '%s answered %s with a redirect (HTTP %s); redirects are not followed so that the master '
                'key stays with api_url: set api_url to the address the proxy answers on'
                % (self.api_url, where, status), reason='redirect', **common)
        if status == 404:
            return LiteLLMNotFound('not found: %s answered HTTP 404%s' % (where, suffix), reason='not_found', **common)
        if status >= 500:
            return LiteLLMError(
                '%s answered HTTP %s to %s after %d attempt%s%s'
                % (self.api_url, status, where, attempt, '' if attempt == 1 else 's', suffix),
                ambiguous=True, reason='server', **common)
        if status == 400 and _ALIAS_FORMAT_RE.search(detail):
            return LiteLLMError('%s refused %s (HTTP 400)%s' % (self.api_url, where, suffix),
                                reason='alias_format', **common)
        return LiteLLMError('%s refused %s (HTTP %s)%s' % (self.api_url, where, status, suffix),
                            reason='refused_request', **common)

    # -- convenience -------------------------------------------------------
    def get(self, path, **query):
        return self.request('GET', path, query=query or None)

    def post(self, path, body=None):
        return self.request('POST', path, body=body if body is not None else {})

    def get_or_none(self, path, **query):
        try:
            return self.get(path, **query)
        except LiteLLMNotFound:
            return None

    # -- keys --------------------------------------------------------------
    def iter_keys(self, page_size=100, **filters):
        """Every key matching the server-side filters, as full objects, page by page."""
        query = dict(filters)
        query['return_full_object'] = 'true'
        query['size'] = page_size
        page = 1
        seen = set()
        while True:
            query['page'] = page
            answer = self.get('/key/list', **query)
            if not isinstance(answer, dict) or not isinstance(answer.get('keys'), list):
                raise LiteLLMError(
                    '%s answered GET /key/list with an unexpected shape (no "keys" list)' % self.api_url,
                    method='GET', path='/key/list', reason='malformed')
            keys = answer['keys']
            fresh = 0
            for item in keys:
                if not isinstance(item, dict):
                    raise LiteLLMError(
                        '%s answered GET /key/list with key hashes instead of full objects: '
                        'return_full_object=true was ignored' % self.api_url,
                        method='GET', path='/key/list', reason='malformed')
                token = item.get('token')
                if token in seen:
                    continue
                seen.add(token)
                fresh += 1
                yield item
            total_pages = answer.get('total_pages')
            if not fresh or (total_pages is not None and page >= int(total_pages)) \
                    or (total_pages is None and len(keys) < page_size):
                return  # fresh == 0 also stops a server that ignores "page"
            page += 1

    def list_keys(self, **filters):
        return list(self.iter_keys(**filters))

    def find_keys_by_alias(self, alias):
        """Keys whose alias is exactly ``alias`` (LiteLLM matches exactly by default)."""
        return [k for k in self.iter_keys(key_alias=alias) if k.get('key_alias') == alias]

    def key_info(self, token):
        answer = self.get_or_none('/key/info', key=token)
        if answer is None:
            return None
        info = answer.get('info') if isinstance(answer, dict) else None
        if not isinstance(info, dict):
            raise LiteLLMError('%s answered GET /key/info without an "info" object' % self.api_url,
                               method='GET', path='/key/info', reason='malformed')
        if info.get('deleted_at') or info.get('status') == 'deleted':
            # LiteLLM answers 200 for a deleted key, from its deleted-keys archive.
            return None
        info = dict(info)
        info.setdefault('token', token)
        return info

    def generate_key(self, body):
        """POST /key/generate; safe to retry when the key value was chosen here.

        When the request fails in a way that may have been applied (timeout,
        reset, 5xx, or "alias exists" after a retry), the key is looked up by
        alias and accepted if its hash is the hash of the value we sent.
        """
        try:
            answer = self.post('/key/generate', body)
        except LiteLLMAuthError:
            raise
        except LiteLLMError as exc:
            value, alias = body.get('key'), body.get('key_alias')
            if not (value and alias) or not (exc.ambiguous or exc.attempts > 1 or exc.status == 400):
                raise
            try:
                found = self.find_keys_by_alias(alias)
            except LiteLLMError:
                raise exc from None
            wanted = hash_key(value)
            match = [k for k in found if k.get('token') == wanted]
            if not match:
                raise exc
            answer = dict(match[0])
            answer['key'] = value
        if not isinstance(answer, dict) or not answer.get('key'):
            raise LiteLLMError('%s answered POST /key/generate without a key' % self.api_url,
                               method='POST', path='/key/generate', reason='malformed')
        answer = dict(answer)
        answer['token'] = hash_key(answer['key'])
        return answer

    def regenerate_key(self, token, body):
        return self.post('/key/%s/regenerate' % quote(token, safe=''), body)

    def update_key(self, token, body):
        payload = dict(body)
        payload['key'] = token
        return self.post('/key/update', payload)

    def delete_keys(self, tokens):
        """Delete keys by token; keys already gone count as deleted.

        LiteLLM deletes those of a batch that exist and answers 404 ("No keys
        found") only when none does, which is what a retried delete whose first
        attempt committed (its answer lost) gets back.
        """
        tokens = list(tokens)
        for start in range(0, len(tokens), 100):
            self.post_delete('/key/delete', {'keys': tokens[start:start + 100]})

    def post_delete(self, path, body):
        """POST a delete request (/key/delete, /user/delete, /team/delete); 404 for the object = already done."""
        try:
            return self.post(path, body)
        except LiteLLMNotFound as exc:
            if not exc.object_missing():
                raise
            return None

    def block_key(self, token):
        return self.post('/key/block', {'key': token})

    def unblock_key(self, token):
        return self.post('/key/unblock', {'key': token})


class LiteLLMModule(AnsibleModule):
    """AnsibleModule with the connection options and a ready client in ``self.client``."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault('supports_check_mode', True)
        super(LiteLLMModule, self).__init__(*args, **kwargs)
        url = self.params['api_url']
        errors, warnings = connection_problems(url, self.params['validate_certs'], self.params['allow_insecure_http'])
        if errors:
            self.fail_json(msg=errors[0])
        for warning in warnings:
            self.warn(warning)
        use_proxy = self.params['use_proxy']
        if use_proxy is None:
            # A proxy cannot reach this host's loopback, and Python sends even 127.0.0.1 through
            # http_proxy when no_proxy does not list it: the master key would go to the proxy.
            use_proxy = not is_loopback_url(url)
        if not self.params.get('master_key'):
            self.fail_json(msg='master_key is required: set the option or the LITELLM_MASTER_KEY environment variable')
        if self.params['retries'] < 0:
            self.fail_json(msg='retries must be 0 or more, got %s' % self.params['retries'])
        if self.params['timeout'] <= 0:
            self.fail_json(msg='timeout must be more than 0 seconds, got %s' % self.params['timeout'])
        self.client = LiteLLMClient(
            api_url=url,
            master_key=self.params['master_key'],
            timeout=self.params['timeout'],
            validate_certs=self.params['validate_certs'],
            ca_path=self.params['ca_path'],
            use_proxy=use_proxy,
            retries=self.params['retries'],
        )

    @classmethod
    def generate_argspec(cls, **module_options):
        spec = copy.deepcopy(CONNECTION_ARGSPEC)
        spec.update(module_options)
        return spec

    def _retry_warning(self):
        client = getattr(self, 'client', None)
        if client is not None and client.retried:
            self.warn('%d request%s to %s had to be retried' % (
                client.retried, '' if client.retried == 1 else 's', client.api_url))

    def exit_json(self, **kwargs):
        self._retry_warning()
        super(LiteLLMModule, self).exit_json(**kwargs)

    def fail_json(self, msg, **kwargs):
        self._retry_warning()
        super(LiteLLMModule, self).fail_json(msg=msg, **kwargs)

    def fail_api(self, exc, **kwargs):
        if exc.status is not None:
            kwargs.setdefault('status', exc.status)
        self.fail_json(msg=exc.msg, **kwargs)


# -- comparison and diff helpers ---------------------------------------------

def normalize(value, kind):
    """A comparable form of a setting. kinds: set, num, int, str, dict, bool, raw."""
    if value is None:
        return None
    if kind == 'set':
        return sorted(set(to_text(v) for v in value))
    if kind == 'num':
        return float(value)
    if kind == 'int':
        return int(value)
    if kind == 'str':
        return to_text(value)
    if kind == 'bool':
        return bool(value)
    return value


def changed_settings(current, desired, kinds):
    """Settings in ``desired`` (None = not managed) that differ from ``current``.

    ``current`` and ``desired`` map setting names to values, ``kinds`` maps
    names to a normalize() kind. Returns {name: desired value}.
    """
    changes = {}
    for name, want in desired.items():
        if want is None:
            continue
        kind = kinds.get(name, 'raw')
        have = current.get(name)
        if kind == 'set' and have is None:
            have = []
        if kind in ('dict',) and have is None:
            have = {}
        if normalize(have, kind) != normalize(want, kind):
            changes[name] = want
    return changes


def plan_metadata(current, desired, purge=False, preserved=PRESERVED_METADATA_FIELDS):
    """(changed, new_metadata) for the ``metadata`` option.

    Without purge the desired keys are merged into the current metadata; with
    purge the keys not in ``desired`` are dropped, except those LiteLLM and
    litellm_key_rotate keep there (``preserved``).
    """
    current = dict(current or {})
    if desired is None:
        return False, current
    if purge:
        new = dict((k, v) for k, v in current.items() if k in preserved)
    else:
        new = dict(current)
    for k, v in desired.items():
        new[k] = v
    return new != current, new


def user_metadata(metadata):
    """Metadata without the keys LiteLLM and key rotation keep there (for diffs)."""
    return dict((k, v) for k, v in (metadata or {}).items() if k not in PRESERVED_METADATA_FIELDS)


def read_info(client, path, wrapper, id_field, id_value):
    """One user or team from its /info endpoint, or None when it does not exist."""
    answer = client.get_or_none(path, **{id_field: id_value})
    if not isinstance(answer, dict):
        return None
    info = answer.get(wrapper)
    if not isinstance(info, dict) or not info:
        return None
    info = dict(info)
    info.setdefault(id_field, id_value)
    return info


def settings_diff_view(settings, metadata, preserved, **identity):
    """What a diff shows of a user or team: set settings, identity, user metadata."""
    out = dict((k, v) for k, v in settings.items() if v not in (None, [], {}))
    out.update(identity)
    out['metadata'] = dict((k, v) for k, v in (metadata or {}).items() if k not in preserved)
    return out


def make_diff(before, after):
    """A diff of settings dicts for Ansible's --diff (never pass key values here)."""
    return {'before': before, 'after': after}


class EntitySpec:
    """How litellm_user and litellm_team differ in the flow they share (ensure_entity)."""

    def __init__(self, name, id_field, kinds, preserved_metadata, view, read_by_id,
                 create_extra=None, created_matches=None, metadata_blocker=None):
        self.name = name                      # 'user' -> /user/new, /user/update, /user/delete
        self.id_field = id_field              # 'user_id'; the delete body lists 'user_ids'
        self.kinds = kinds                    # setting -> kind, for changed_settings()
        self.preserved_metadata = preserved_metadata
        self.view = view                      # what the module returns of an entity
        self.read_by_id = read_by_id          # (client, id) -> entity or None
        self.create_extra = create_extra or {}
        self.created_matches = created_matches or (lambda created: True)
        # (current entity) -> why its metadata must not be rewritten here, or None
        self.metadata_blocker = metadata_blocker or (lambda current: None)

    def diff_view(self, settings, metadata, entity_id):
        return settings_diff_view(settings, metadata, self.preserved_metadata, **{self.id_field: entity_id})


def ensure_entity(module, spec, current, entity_id, context):
    """Bring a user or team (current: as read, or None) to the module's state.

    entity_id names a new entity; context goes into every error. Exits the module.
    """
    params, client = module.params, module.client
    path = '/' + spec.name
    desired = dict((k, params[k]) for k in spec.kinds)

    def fail(exc, **more):
        details = dict(context)
        details.update(more)
        module.fail_api(exc, **details)

    if params['state'] == 'absent':
        if current is None:
            module.exit_json(changed=False)
        entity_id = current[spec.id_field]
        have = dict((k, current.get(k)) for k in spec.kinds)
        diff = make_diff(spec.diff_view(have, current.get('metadata'), entity_id), {'state': 'absent'})
        if not module.check_mode:
            try:
                # Already gone (a retry whose first attempt committed) is done: the delete was intended.
                client.post_delete(path + '/delete', {spec.id_field + 's': [entity_id]})
            except LiteLLMError as exc:
                fail(exc, **{spec.id_field: entity_id})
        module.exit_json(changed=True, diff=diff, **{spec.name: spec.view(current)})

    if current is None:
        body = dict((k, v) for k, v in desired.items() if v is not None)
        body[spec.id_field] = entity_id
        body['metadata'] = dict(params['metadata'] or {})
        diff = make_diff({'state': 'absent'}, spec.diff_view(desired, body['metadata'], entity_id))
        if not module.check_mode:
            try:
                client.post(path + '/new', dict(body, **spec.create_extra))
            except LiteLLMError as exc:
                # A retried creation may have been applied by an earlier attempt.
                try:
                    created = spec.read_by_id(client, entity_id) if (exc.ambiguous or exc.attempts > 1) else None
                except LiteLLMError:
                    created = None
                if created is None or not spec.created_matches(created):
                    fail(exc)
        module.exit_json(changed=True, diff=diff, **{spec.name: spec.view(body)})

    entity_id = current[spec.id_field]
    have = dict((k, current.get(k)) for k in spec.kinds)
    changes = changed_settings(have, desired, spec.kinds)
    meta_changed, new_meta = plan_metadata(current.get('metadata'), params['metadata'], params['purge_metadata'],
                                           preserved=spec.preserved_metadata)
    final = dict(current)
    final.update(changes)
    final['metadata'] = new_meta
    if not changes and not meta_changed:
        module.exit_json(changed=False, **{spec.name: spec.view(final)})
    blocker = spec.metadata_blocker(current) if meta_changed else None
    if blocker:
        module.fail_json(msg='%s; nothing was changed' % blocker, **context)
    after = dict(have)
    after.update(changes)
    diff = make_diff(spec.diff_view(have, current.get('metadata'), entity_id),
                     spec.diff_view(after, new_meta, entity_id))
    if not module.check_mode:
        body = dict(changes)
        body[spec.id_field] = entity_id
        if meta_changed:
            body['metadata'] = new_meta
        try:
            client.post(path + '/update', body)
        except LiteLLMError as exc:
            fail(exc, **{spec.id_field: entity_id})
    module.exit_json(changed=True, diff=diff, **{spec.name: spec.view(final)})


# -- keys --------------------------------------------------------------------

def hash_key(value):
    """LiteLLM's token id of a key value: the SHA-256 hex digest."""
    return hashlib.sha256(to_text(value).encode('utf-8')).hexdigest()


def random_key():
    """A new key value chosen here (LiteLLM accepts "sk-" + at least 13 characters)."""
    return 'sk-' + secrets.token_urlsafe(32)


def derive_key(secret, alias, predecessor_token, nonce):
    """The value of a rotation successor, re-computable from non-secret metadata.

    HMAC-SHA256 keyed with ``secret`` (a secret of its own, never the master
    key) over the alias, the predecessor's token id and a random nonce stored
    in the successor's metadata. Nothing secret is stored anywhere.
    """
    msg = b'\0'.join((_DERIVATION_LABEL, to_text(alias).encode('utf-8'),
                      to_text(predecessor_token).encode('utf-8'), to_text(nonce).encode('utf-8')))
    digest = hmac.new(to_text(secret).encode('utf-8'), msg, hashlib.sha256).digest()
    return 'sk-' + base64.urlsafe_b64encode(digest).decode('ascii').rstrip('=')


def new_nonce():
    return secrets.token_hex(16)


def key_metadata(obj):
    meta = obj.get('metadata') if isinstance(obj, dict) else None
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except ValueError:
            meta = {}
    return meta if isinstance(meta, dict) else {}


def key_tags(obj):
    tags = key_metadata(obj).get('tags')
    if tags is None:
        tags = obj.get('tags')
    return list(tags) if isinstance(tags, list) else []


def key_soft_budget(obj):
    if obj.get('soft_budget') is not None:
        return obj.get('soft_budget')
    table = obj.get('litellm_budget_table')
    if isinstance(table, dict):
        return table.get('soft_budget')
    return None


def key_rotation(obj):
    rotation = key_metadata(obj).get('rotation')
    return rotation if isinstance(rotation, dict) else {}


def pending_alias(alias, predecessor_token):
    return '%s%s%s' % (alias, PENDING_INFIX, predecessor_token[:8])


def retiring_alias(alias, token):
    return '%s%s%s' % (alias, RETIRING_INFIX, token[:8])


def rotation_role(obj):
    """('pending'|'retiring'|'active', logical alias) of a key.

    A successor not yet given its alias carries ``<alias>.next.<pred8>`` and
    metadata.rotation.predecessor_token; a predecessor in its grace period
    carries ``<alias>.retiring.<token8>`` and metadata.retire_at.
    """
    alias = obj.get('key_alias')
    token = obj.get('token') or ''
    rotation = key_rotation(obj)
    logical = rotation.get('alias')
    if alias and logical:
        pred = rotation.get('predecessor_token')
        if pred and alias == pending_alias(logical, pred):
            return 'pending', logical
        if key_metadata(obj).get('retire_at') and alias == retiring_alias(logical, token):
            return 'retiring', logical
    return 'active', alias


def undeclared_fills(body, answer):
    """A /key/update body that takes back what the proxy added on /key/generate beyond ``body``.

    ``answer`` is /key/generate's answer, which echoes the request after LiteLLM
    applied its default and upper-bound parameters. An expiry the request did not
    ask for (``duration``) and limits or budgets it left unset are set back to null
    (LiteLLM's /key/update takes an explicit null as "none"), and default models to
    "all". Returns {} when the proxy added nothing.
    """
    fix = {}
    if not isinstance(answer, dict):
        return fix
    for name in FILLED_ON_GENERATE:
        if body.get(name) is None and answer.get(name) is not None:
            fix[name] = None
    if body.get('duration') is None and answer.get('expires') is not None:
        fix['duration'] = None
    if not body.get('models') and answer.get('models'):
        fix['models'] = []
    return fix


def declared_lifetime(obj):
    """The lifetime a key was declared with: a duration string, NO_EXPIRY, or None when unknown."""
    value = key_metadata(obj).get(LIFETIME_FIELD)
    return to_text(value) if isinstance(value, str) and value else None


def parse_time(value):
    """An aware UTC datetime from LiteLLM's ISO strings (or None)."""
    if value in (None, ''):
        return None
    if isinstance(value, datetime.datetime):
        dt = value
    else:
        text = to_text(value).strip()
        if text.endswith('Z'):
            text = text[:-1] + '+00:00'
        try:
            dt = datetime.datetime.fromisoformat(text)
        except ValueError:
            # fromisoformat before 3.11 does not take every fraction length
            m = re.match(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(.*)$', text)
            if not m:
                return None
            frac = (m.group(2) or '.0')[1:7].ljust(6, '0')
            try:
                dt = datetime.datetime.fromisoformat('%s.%s%s' % (m.group(1), frac, m.group(3)))
            except ValueError:
                return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return dt.astimezone(datetime.timezone.utc)


def format_time(dt):
    return dt.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def parse_duration(value):
    """Seconds in "30s", "15m", "24h", "7d", "2w" or a plain number of seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    m = _DURATION_RE.match(to_text(value or ''))
    if not m:
        raise ValueError('%r is not a duration such as 90s, 30m, 24h, 7d or 2w' % (value,))
    return float(m.group(1)) * _DURATION_UNITS[m.group(2)]


KEY_VIEW_FIELDS = (
    'token', 'key_alias', 'team_id', 'user_id', 'models', 'spend', 'max_budget',
    'budget_duration', 'budget_reset_at', 'tpm_limit', 'rpm_limit', 'tpd_limit',
    'max_parallel_requests', 'expires', 'blocked', 'aliases', 'permissions',
    'budget_id', 'key_type', 'created_at', 'updated_at', 'created_by', 'last_active',
)


def key_view(obj, now=None):
    """What the modules return about a key: settings and the token id, never the key value."""
    now = now or utcnow()
    view = dict((f, obj.get(f)) for f in KEY_VIEW_FIELDS)
    meta = key_metadata(obj)
    view['organization_id'] = obj.get('organization_id', obj.get('org_id'))
    view['soft_budget'] = key_soft_budget(obj)
    view['metadata'] = copy.deepcopy(meta)
    view['tags'] = key_tags(obj)
    view['models'] = list(obj.get('models') or [])
    view['blocked'] = bool(obj.get('blocked'))
    role, logical = rotation_role(obj)
    view['rotation_state'] = role
    view['logical_alias'] = logical
    view['retire_at'] = meta.get('retire_at')
    expires = parse_time(obj.get('expires'))
    if view['blocked']:
        view['status'] = 'blocked'
    elif expires is not None and expires <= now:
        view['status'] = 'expired'
    else:
        view['status'] = 'active'
    return view
