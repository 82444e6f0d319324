"""litellm-migrations-pending (litellm_service) reads the ledger through libpq
(psycopg), which refuses Prisma's own URL parameters: the translation of a
Prisma DATABASE_URL into a libpq URL, checked by libpq itself. Fast, no database."""

import importlib.machinery
import importlib.util
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import psycopg
import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "roles" / "litellm_service" / "files" / "litellm-migrations-pending"
_loader = importlib.machinery.SourceFileLoader("migrations_pending_url", str(SCRIPT))
_spec = importlib.util.spec_from_loader("migrations_pending_url", _loader)
pending = importlib.util.module_from_spec(_spec)
_loader.exec_module(pending)

BASE = "postgresql://litellm:p%40ss%2Fw0rd@db.example:6432/litellm"


def conninfo(url):
    """What libpq makes of a URL (raises psycopg.ProgrammingError on a parameter it refuses)."""
    return psycopg.conninfo.conninfo_to_dict(url)


@pytest.mark.parametrize("query", [
    "schema=litellm", "connection_limit=5", "pool_timeout=20", "socket_timeout=30", "pgbouncer=true",
    "statement_cache_size=0", "sslaccept=accept_invalid_certs", "sslidentity=client.p12&sslpassword=x",
])
def test_libpq_refuses_prisma_parameters_as_they_are(query):
    """What broke the check: psycopg passes the URL to libpq, which refuses them."""
    with pytest.raises(psycopg.ProgrammingError, match="invalid URI query parameter"):
        conninfo(f"{BASE}?{query}")


def test_prisma_only_parameters_are_dropped_and_the_rest_kept():
    url = pending.libpq_url(
        f"{BASE}?connection_limit=5&pool_timeout=20&socket_timeout=30&pgbouncer=true&statement_cache_size=0"
        "&sslmode=require&connect_timeout=7&application_name=gw&max_connection_lifetime=60"
        "&max_idle_connection_lifetime=30&sslidentity=c.p12&sslpassword=secret&unknown_to_libpq=1")
    info = conninfo(url)
    assert info == {"user": "litellm", "password": "p@ss/w0rd", "host": "db.example", "port": "6432",
                    "dbname": "litellm", "sslmode": "require", "connect_timeout": "7", "application_name": "gw"}


def test_a_url_without_parameters_is_unchanged():
    assert pending.libpq_url(BASE) == BASE
    assert pending.libpq_url("postgres://u:p@127.0.0.1/litellm") == "postgres://u:p@127.0.0.1/litellm"


@pytest.mark.parametrize("schema,option", [
    ("litellm", '-c search_path="litellm"'),
    ("Gateway Data", '-c search_path="Gateway\\ Data"'),
    ('we"ird', '-c search_path="we""ird"'),
])
def test_schema_becomes_the_search_path(schema, option):
    from urllib.parse import quote
    info = conninfo(pending.libpq_url(f"{BASE}?schema={quote(schema)}&connection_limit=3"))
    assert info["options"] == option
    assert "schema" not in info and "connection_limit" not in info


def test_schema_joins_options_already_given():
    info = conninfo(pending.libpq_url(f"{BASE}?options=-c%20statement_timeout%3D5000&schema=s1"))
    assert info["options"] == '-c statement_timeout=5000 -c search_path="s1"'


def test_an_empty_schema_is_the_default_search_path():
    assert "options" not in conninfo(pending.libpq_url(f"{BASE}?schema="))


def test_prisma_tls_default_accepts_any_certificate_as_libpq_require_does():
    info = conninfo(pending.libpq_url(f"{BASE}?sslmode=require&sslcert=/etc/ca.pem&sslaccept=accept_invalid_certs"))
    assert info["sslmode"] == "require"
    # Prisma's sslcert is the server's CA, unused unless strict; never libpq's client certificate.
    assert "sslcert" not in info and "sslrootcert" not in info and "sslaccept" not in info


def test_strict_tls_is_verify_full_against_the_given_ca_or_the_system_store():
    with_ca = conninfo(pending.libpq_url(f"{BASE}?sslmode=require&sslcert=/etc/ca.pem&sslaccept=strict"))
    assert (with_ca["sslmode"], with_ca["sslrootcert"]) == ("verify-full", "/etc/ca.pem")
    assert "sslcert" not in with_ca
    system = conninfo(pending.libpq_url(f"{BASE}?sslmode=require&sslaccept=strict"))
    assert (system["sslmode"], system["sslrootcert"]) == ("verify-full", "system")
    # Without TLS required, strict has nothing to verify (as in Prisma).
    assert "sslrootcert" not in conninfo(pending.libpq_url(f"{BASE}?sslmode=disable&sslaccept=strict"))


def test_the_translated_url_keeps_the_password_encoded():
    url = pending.libpq_url(f"{BASE}?schema=litellm")
    assert urlsplit(url).netloc == "litellm:p%40ss%2Fw0rd@db.example:6432"
    assert dict(parse_qsl(urlsplit(url).query)) == {"options": '-c search_path="litellm"'}


def test_the_ledger_is_read_through_the_translated_url(monkeypatch):
    seen = {}

    class Refused(psycopg.OperationalError):
        pass

    def connect(url, **kwargs):
        seen["info"], seen["kwargs"] = conninfo(url), kwargs
        raise Refused("connection refused")

    monkeypatch.setattr(pending.psycopg, "connect", connect)
    with pytest.raises(SystemExit, match="cannot read the migration ledger: Refused"):
        pending.applied_migrations(f"{BASE}?schema=litellm&connection_limit=1&pgbouncer=true")
    assert seen["info"]["options"] == '-c search_path="litellm"'
    assert "pgbouncer" not in seen["info"] and seen["kwargs"] == {"connect_timeout": 10}
    with pytest.raises(SystemExit):
        pending.applied_migrations(f"{BASE}?connect_timeout=3")
    assert seen["kwargs"] == {} and seen["info"]["connect_timeout"] == "3"
