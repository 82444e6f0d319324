# -*- coding: utf-8 -*-
"""F19 (security review 2026-12): how the master key travels to the proxy.

validate_certs=false warns, a plain http:// api_url to another host fails unless
allow_insecure_http is set, and a loopback api_url never goes through http_proxy.
"""

import http.server
import json
import threading

import pytest

from ansible_collections.sacred_brain.llm_gateway.plugins.module_utils._litellm_api import (
    connection_problems,
    is_loopback_url,
)
from ansible_collections.sacred_brain.llm_gateway.plugins.modules import litellm_key_info


def warnings_of(out):
    return json.dumps(out.get('warnings') or [])


@pytest.mark.parametrize('url, loopback', [
    ('http://127.0.0.1:4000', True), ('http://127.9.8.7', True), ('http://localhost:4000', True),
    ('http://[::1]:4000', True), ('http://LOCALHOST.', True), ('http://10.0.0.5:4000', False),
    ('http://gateway.example:4000', False), ('http://127.0.0.1.evil.example', False), ('http://[::2]', False),
])
def test_loopback_is_told_from_the_address_alone(url, loopback):
    assert is_loopback_url(url) is loopback


def test_validate_certs_false_warns(api, run_module):
    rc, out = run_module(litellm_key_info.main, dict(api_url='https://127.0.0.1:4000', validate_certs=False))
    assert rc == 0, out
    assert 'validate_certs=false' in warnings_of(out) and 'not verified' in warnings_of(out)
    rc, out = run_module(litellm_key_info.main, dict(api_url='https://127.0.0.1:4000'))
    assert 'validate_certs' not in warnings_of(out)


def test_plain_http_to_another_host_fails_before_any_request(api, run_module):
    rc, out = run_module(litellm_key_info.main, dict(api_url='http://10.0.0.5:4000'))
    assert rc == 1 and out['failed'] is True
    assert 'cleartext' in out['msg'] and 'allow_insecure_http' in out['msg']
    assert api.calls == []  # the master key was never sent
    rc, out = run_module(litellm_key_info.main, dict(api_url='http://10.0.0.5:4000', allow_insecure_http=True))
    assert rc == 0, out
    assert 'cleartext' in warnings_of(out)
    for url in ('http://127.0.0.1:4000', 'https://10.0.0.5:4000'):
        rc, out = run_module(litellm_key_info.main, dict(api_url=url))
        assert rc == 0 and 'cleartext' not in warnings_of(out), (url, out)


def test_connection_problems_never_contain_the_master_key():
    errors, warnings = connection_problems('http://10.0.0.5:4000', True, False)
    assert len(errors) == 1 and warnings == []
    assert connection_problems('ftp://x', True, False)[0] == ["api_url must be an http:// or https:// URL, got 'ftp://x'"]


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every GET like an empty /key/list and records the request line."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.server.seen.append(self.requestline)
        body = json.dumps({'keys': [], 'total_count': 0, 'current_page': 1, 'total_pages': 1}).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def servers():
    started = []

    def start():
        server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Recorder)
        server.seen = []
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        started.append((server, thread))
        return server

    yield start
    for server, thread in started:
        server.shutdown()
        server.server_close()
        thread.join()


def test_loopback_api_url_never_goes_through_http_proxy(servers, run_module, monkeypatch):
    """Real sockets: an http_proxy without no_proxy must not receive the Bearer master key."""
    gateway, proxy = servers(), servers()
    for name in ('no_proxy', 'NO_PROXY'):
        monkeypatch.delenv(name, raising=False)
    for name in ('http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY'):
        monkeypatch.setenv(name, 'http://127.0.0.1:%d' % proxy.server_address[1])
    url = 'http://127.0.0.1:%d' % gateway.server_address[1]
    rc, out = run_module(litellm_key_info.main, dict(api_url=url, retries=0))
    assert rc == 0, out
    assert proxy.seen == []
    assert len(gateway.seen) == 1 and gateway.seen[0].startswith('GET /key/list?')
    # An explicit use_proxy=true is still honoured.
    rc, out = run_module(litellm_key_info.main, dict(api_url=url, retries=0, use_proxy=True))
    assert rc == 0, out
    assert len(proxy.seen) == 1 and proxy.seen[0].startswith('GET %s/key/list?' % url)
