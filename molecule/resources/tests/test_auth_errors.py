"""Requests with a missing, malformed or wrong key on a gateway without a
database: LiteLLM's auth error handlers import `prisma`, so the venv holds it
even without a database; without it these answer 500 text/plain."""

import pytest
from gateway_helpers import _quote

CHAT = '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}'
ENDPOINTS = {"models": ("GET", "/v1/models", None), "chat": ("POST", "/v1/chat/completions", CHAT)}


@pytest.fixture(autouse=True)
def _native_only(gateway):
    if gateway["mode"] != "venv":
        # The compose scenario runs tests/images' image, built without prisma
        # (LiteLLM's official images ship it).
        pytest.skip("the venv role's packages are under test; the compose test image has no prisma")


def call(host, endpoint, header=None):
    """(status, content type, JSON body or text) of a request made on the host."""
    method, path, body = ENDPOINTS[endpoint]
    cmd = ["curl", "-sS", "-o", "/tmp/litellm-auth-body", "-w", "%{http_code} %{content_type}", "-m", "30", "-X", method]
    if header:
        cmd += ["-H", header]
    if body:
        cmd += ["-H", "Content-Type: application/json", "-d", body]
    result = host.run(" ".join(_quote(c) for c in cmd + [f"http://127.0.0.1:4000{path}"]))
    status, _, content_type = result.stdout.strip().partition(" ")
    text = host.file("/tmp/litellm-auth-body").content_string
    return int(status or 0), content_type, text


@pytest.mark.parametrize("header", [None, "Authorization: not-a-bearer-key", "Authorization: Bearer "],
                         ids=["no-key", "malformed", "empty"])
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_a_missing_or_malformed_key_is_401_json(host, endpoint, header):
    status, content_type, text = call(host, endpoint, header)
    assert (status, content_type) == (401, "application/json"), text[:500]
    assert '"type":"auth_error"' in text.replace(" ", ""), text[:500]


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_a_wrong_key_is_refused_with_json(host, endpoint):
    """LiteLLM without a database cannot look a non-master key up and says so
    (400 no_db_connection, its own answer); never a 500 or a success."""
    status, content_type, text = call(host, endpoint, "Authorization: Bearer sk-not-the-master-key-0000000000000")
    assert content_type == "application/json", (status, text[:500])
    assert status in (400, 401), text[:500]
    assert '"error"' in text, text[:500]


def test_the_venv_holds_the_pinned_prisma_ungenerated(host):
    version = host.run("/opt/sacred-brain/.venv/bin/python -c 'import prisma; print(prisma.__version__)'")
    assert version.stdout.strip() == "0.11.0", version.stderr
    # No database here: the client is not generated (nor Node.js installed for it).
    assert not host.file("/opt/sacred-brain/.venv/.sacred-brain-prisma-client").exists
