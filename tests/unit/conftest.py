# -*- coding: utf-8 -*-
"""Make the checkout importable as ansible_collections.sacred_brain.llm_gateway.

.collections/ansible_collections/sacred_brain/llm_gateway links to the repository
root. site-packages also holds an ``ansible_collections`` namespace package (the
collections of the ``ansible`` package); both are portions of the same namespace,
so putting .collections first on sys.path is enough.
"""

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

_COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '.collections'))
if _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)


def _pg_bin():
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    pytest.fail("PostgreSQL's server programs are missing: apt-get install -y postgresql (make deps)")


@pytest.fixture(scope="module")
def cluster():
    """A throwaway PostgreSQL cluster on a free loopback port, password auth, bootstrap superuser postgres:
    its superuser URL (no database), port and password."""
    if not shutil.which("psql"):
        pytest.fail("psql is missing: apt-get install -y postgresql-client (make deps)")
    bin_dir = _pg_bin()
    # Not under pytest's 0700 tmp tree: the cluster's owner (nobody, when run as root) must reach it.
    base = Path(tempfile.mkdtemp(prefix="sacred-brain-pg-"))
    os.chmod(base, 0o711)
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    password = secrets.token_hex(12)
    pwfile = base / "pw"
    pwfile.write_text(password + "\n")
    run_as = []
    if os.geteuid() == 0:  # initdb refuses root
        run_as = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]
        for path in (base, sock, pwfile):
            shutil.chown(path, "nobody")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run(run_as + [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", f"--pwfile={pwfile}",
                             "--auth=scram-sha-256", "-E", "UTF8", "--no-sync"], check=True, capture_output=True)
    subprocess.run(run_as + [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "-t", "300",
                             "-o", f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                   check=True, capture_output=True)
    try:
        yield {"url": f"postgresql://postgres:{password}@127.0.0.1:{port}", "port": port, "password": password}
    finally:
        subprocess.run(run_as + [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)
