"""The shared gateway tests (resources/tests/test_gateway.py) on this scenario's hosts:
the gateway works as before with its database deployed beside it."""

from test_gateway import *  # noqa: F401,F403
