"""Start/stop helpers for the LiteLLM admin-API stand-in, and a tiny HTTP client.

``run_standin()`` starts the stand-in in a background thread (default) or in a
subprocess (``subprocess=True``, runs ``python -m tests.standin``) on a free
port and yields a :class:`Standin`.  :class:`RemoteProxy` offers the same client
API for a real LiteLLM proxy (``LITELLM_TEST_URL``); its fault and clock
switches skip the calling test.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess as _subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

DEFAULT_MASTER_KEY = "sk-standin-master-0123456789abcdef"  # same value as server.DEFAULT_MASTER_KEY
REPO_ROOT = Path(__file__).resolve().parents[2]

_USE_MASTER = object()


class Reply:
    """An HTTP answer.  Unpacks as ``status, json_body``."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = dict(headers)
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def json(self) -> Any:
        """Decoded JSON body, or None when the body is not JSON."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    def __iter__(self) -> Iterator[Any]:
        yield self.status
        yield self.json

    def __repr__(self) -> str:
        return f"Reply(status={self.status}, body={self.text[:300]!r})"


class _Client:
    url: str
    master_key: str
    is_standin: bool = False

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        key: Any = _USE_MASTER,
        params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        raw_body: bytes | None = None,
        timeout: float = 30.0,
    ) -> Reply:
        """Send one request.  ``key``: the bearer key (default: master key; None: no auth header)."""
        url = self.url + path
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        data = raw_body
        hdrs = {"Accept": "application/json"}
        if body is not None and raw_body is None:
            data = json.dumps(body).encode()
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        if key is _USE_MASTER:
            key = self.master_key
        if key is not None:
            hdrs["Authorization"] = f"Bearer {key}"
        hdrs.update(headers or {})
        request = urllib.request.Request(url, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 - test helper, http only
                return Reply(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as err:
            return Reply(err.code, err.headers, err.read())

    def chat(self, key: str | None, model: str | None = None, content: str = "hello", **extra: Any) -> Reply:
        body = {"model": model or self.default_model, "messages": [{"role": "user", "content": content}], **extra}
        return self.call("POST", "/v1/chat/completions", body, key=key)

    default_model = "fake-model"


class Standin(_Client):
    """A running stand-in.  Attributes: ``url``, ``master_key``, ``db_path``, ``enterprise``."""

    is_standin = True

    def __init__(
        self,
        url: str,
        master_key: str,
        db_path: str,
        enterprise: bool,
        *,
        app: Any = None,
        stopper: Any = None,
    ) -> None:
        self.url = url
        self._master_key = master_key
        self.db_path = db_path
        self.enterprise = enterprise
        self.app = app  # StandinApp when running in-process, else None
        self._stopper = stopper
        self._stopped = False

    @property
    def master_key(self) -> str:
        return self.app.master_key if self.app is not None else self._master_key

    def _control(self, method: str, path: str, body: Any = None) -> Any:
        reply = self.call(method, path, body)
        if reply.status != 200:
            raise RuntimeError(f"stand-in control call {method} {path} failed: {reply}")
        return reply.json

    def set_faults(
        self,
        *,
        error_rate: float = 0.0,
        fail_next: int = 0,
        fail_status: int = 500,
        delay_seconds: float = 0.0,
        drop_next: int = 0,
        drop_after_next: int = 0,
        malformed_next: int = 0,
        skip_next: int = 0,
        path_prefix: str | None = None,
    ) -> dict[str, Any]:
        """Replace the fault configuration (unspecified switches go back to "off").  Returns the new state."""
        return self._control(
            "POST",
            "/__standin/faults",
            {
                "error_rate": error_rate,
                "fail_next": fail_next,
                "fail_status": fail_status,
                "delay_seconds": delay_seconds,
                "drop_next": drop_next,
                "drop_after_next": drop_after_next,
                "malformed_next": malformed_next,
                "skip_next": skip_next,
                "path_prefix": path_prefix,
            },
        )

    def clear_faults(self) -> dict[str, Any]:
        return self._control("DELETE", "/__standin/faults")

    @property
    def faults(self) -> dict[str, Any]:
        return self._control("GET", "/__standin/faults")

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        """Move the stand-in's clock forward (expiry, grace periods and budget resets follow it)."""
        return self._control("POST", "/__standin/clock", {"advance_seconds": seconds})

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            if self._stopper is not None:
                self._stopper()

    def __repr__(self) -> str:
        return f"Standin(url={self.url!r}, enterprise={self.enterprise})"


class RemoteProxy(_Client):
    """A real LiteLLM proxy (``LITELLM_TEST_URL`` / ``LITELLM_TEST_MASTER_KEY``)."""

    is_standin = False
    db_path = None
    app = None

    def __init__(self, url: str, master_key: str, enterprise: bool = False) -> None:
        self.url = url.rstrip("/")
        self.master_key = master_key
        self.enterprise = enterprise

    @staticmethod
    def _skip(what: str) -> None:
        message = f"{what} needs the LiteLLM stand-in; LITELLM_TEST_URL points at a real proxy"
        try:
            import pytest
        except ImportError as exc:  # pragma: no cover
            raise RuntimeError(message) from exc
        pytest.skip(message)

    def set_faults(self, **_: Any) -> dict[str, Any]:
        self._skip("fault injection (set_faults)")
        return {}

    def clear_faults(self) -> dict[str, Any]:
        return {}

    @property
    def faults(self) -> dict[str, Any]:
        self._skip("fault injection (faults)")
        return {}

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        self._skip("moving the proxy clock (advance_clock)")
        return {}

    def stop(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"RemoteProxy(url={self.url!r})"


def _wait_healthy(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/health/liveliness", timeout=2) as resp:  # noqa: S310
                if resp.status == 200:
                    return
        except Exception as exc:  # noqa: BLE001 - keep polling
            last = exc
        time.sleep(0.05)
    raise RuntimeError(f"stand-in at {url} did not become healthy: {last!r}")


@contextlib.contextmanager
def run_standin(
    db_path: str | os.PathLike[str] | None = None,
    master_key: str = DEFAULT_MASTER_KEY,
    enterprise: bool = False,
    port: int = 0,
    *,
    host: str = "127.0.0.1",
    cost_per_request: float = 0.001,
    models: Sequence[str] | None = None,
    subprocess: bool = False,
    verbose: bool = False,
    startup_timeout: float = 30.0,
    key_alias_format_validation: bool = False,
    disable_custom_api_keys: bool = False,
    default_key_generate_params: Mapping[str, Any] | None = None,
    upperbound_key_generate_params: Mapping[str, Any] | None = None,
    database: bool = True,
) -> Iterator[Standin]:
    """Run a stand-in for the duration of the ``with`` block.

    ``db_path=None`` uses a fresh SQLite file in a temporary directory that is
    removed afterwards.  ``port=0`` picks a free port.  ``subprocess=True``
    runs ``python -m tests.standin`` instead of a thread.  ``disable_custom_api_keys``,
    ``default_key_generate_params`` and ``upperbound_key_generate_params`` behave
    like the LiteLLM settings of the same names; ``database=False`` like a proxy
    without DATABASE_URL.
    """
    tmpdir = None
    if db_path is None:
        tmpdir = tempfile.mkdtemp(prefix="litellm-standin-")
        db_path = os.path.join(tmpdir, "standin.db")
    db_path = os.fspath(db_path)
    model_list = tuple(models) if models is not None else None
    options = {
        "db_path": db_path,
        "master_key": master_key,
        "enterprise": enterprise,
        "port": port,
        "host": host,
        "cost": cost_per_request,
        "models": model_list,
        "verbose": verbose,
        "timeout": startup_timeout,
        "alias_validation": key_alias_format_validation,
        "policies": {
            "disable_custom_api_keys": disable_custom_api_keys,
            "default_key_generate_params": default_key_generate_params,
            "upperbound_key_generate_params": upperbound_key_generate_params,
            "database": database,
        },
    }
    handle: Standin | None = None
    try:
        handle = _start_subprocess(**options) if subprocess else _start_thread(**options)
        yield handle
    finally:
        if handle is not None:
            handle.stop()
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)


def _start_thread(
    db_path, master_key, enterprise, port, host, cost, models, verbose, timeout, alias_validation, policies
) -> Standin:  # noqa: ANN001
    from .server import DEFAULT_MODELS, StandinApp, StandinHTTPServer

    app = StandinApp(
        db_path,
        master_key,
        enterprise=enterprise,
        cost_per_request=cost,
        models=models or DEFAULT_MODELS,
        key_alias_format_validation=alias_validation,
        **policies,
    )
    httpd = StandinHTTPServer((host, port), app, verbose=verbose)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="litellm-standin", daemon=True
    )
    thread.start()

    def stop() -> None:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
        app.close()

    try:
        _wait_healthy(httpd.url, timeout)
    except BaseException:
        stop()
        raise
    return Standin(httpd.url, master_key, db_path, enterprise, app=app, stopper=stop)


def _start_subprocess(
    db_path, master_key, enterprise, port, host, cost, models, verbose, timeout, alias_validation, policies
) -> Standin:  # noqa: ANN001
    cmd = [
        sys.executable,
        "-m",
        "tests.standin",
        "--host",
        host,
        "--port",
        str(port),
        "--db",
        db_path,
        "--master-key",
        master_key,
        "--cost-per-request",
        str(cost),
    ]
    if enterprise:
        cmd.append("--enterprise")
    if models:
        cmd += ["--models", ",".join(models)]
    if alias_validation:
        cmd.append("--enable-key-alias-format-validation")
    if policies["disable_custom_api_keys"]:
        cmd.append("--disable-custom-api-keys")
    if not policies["database"]:
        cmd.append("--no-database")
    for name in ("default_key_generate_params", "upperbound_key_generate_params"):
        if policies[name] is not None:
            cmd += ["--" + name.replace("_", "-"), json.dumps(dict(policies[name]))]
    if verbose:
        cmd.append("--verbose")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    proc = _subprocess.Popen(
        cmd, cwd=REPO_ROOT, stdout=_subprocess.PIPE, stderr=None if verbose else _subprocess.DEVNULL, text=True, env=env
    )

    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except _subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    url = None
    deadline = time.monotonic() + timeout
    try:
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("LITELLM STAND-IN listening on "):
                url = line.split(" on ", 1)[1].strip()
                break
        if url is None:
            raise RuntimeError(f"stand-in subprocess did not start (exit code {proc.poll()})")
        _wait_healthy(url, max(1.0, deadline - time.monotonic()))
    except BaseException:
        stop()
        raise
    return Standin(url, master_key, db_path, enterprise, stopper=stop)


def remote_proxy_from_env() -> RemoteProxy | None:
    """A RemoteProxy when ``LITELLM_TEST_URL`` and ``LITELLM_TEST_MASTER_KEY`` are both set, else None."""
    url = os.environ.get("LITELLM_TEST_URL")
    key = os.environ.get("LITELLM_TEST_MASTER_KEY")
    if not url or not key:
        return None
    enterprise = os.environ.get("LITELLM_TEST_ENTERPRISE", "").lower() in ("1", "true", "yes")
    return RemoteProxy(url, key, enterprise=enterprise)
