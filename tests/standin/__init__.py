"""LiteLLM admin-API stand-in (test code, never shipped in the built collection).

See README.md in this directory.  Quick use::

    from tests.standin import run_standin

    with run_standin() as proxy:
        status, body = proxy.call("POST", "/key/generate", {"key_alias": "demo"})
"""

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from .fixture import (  # noqa: E402
    DEFAULT_MASTER_KEY,
    RemoteProxy,
    Reply,
    Standin,
    run_standin,
)

__all__ = ["DEFAULT_MASTER_KEY", "RemoteProxy", "Reply", "Standin", "run_standin"]
