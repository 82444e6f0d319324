"""The shared gateway tests (resources/tests/test_gateway.py) on this scenario's hosts:
the gateway works as before with its database deployed beside it."""

from database_helpers import only_hosts
from test_gateway import *  # noqa: F401,F403
from test_gateway import test_proxy_comes_back_after_being_killed as _comes_back_after_being_killed


# A DB-backed native proxy killed and brought back by systemd is scaleout's
# test_killed_proxy_comes_back_by_itself; here the compose one (Docker's restart
# policy) only, which no other scenario kills on its database.
@only_hosts("litellm-db-compose")
def test_proxy_comes_back_after_being_killed(host, gateway):
    _comes_back_after_being_killed(host, gateway)
