"""A PostgreSQL server that goes silent under a connection (its host lost, a failover, a
cut network: no FIN, no RST, packets dropped): the pool's statement is not left hanging
for the kernel's ~15 minutes of retransmissions. libpq's TCP settings find the dead
connection (``harness.journal.postgres.connect.LIVENESS``, here shortened through the URL,
which keeps its own), and a read is made again on a new connection.

The silence is real: the server and the pool run in a network namespace of their own
(`unshare -n`), where iptables drops that one connection's packets; new connections
still get through, as after a failover."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pg import unavailable

ROOT = Path(__file__).resolve().parents[2]
CHILD = r"""
import json, shutil, subprocess, sys, tempfile, time
from pathlib import Path
from harness.journal.postgres.pool import Pool
from tests.pg import PgServer, find_bin

subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
base = Path(tempfile.mkdtemp(prefix="harness-pg-silent-"))
server = PgServer(find_bin(), base, address="127.0.0.1")
server.init()
server.start()
try:
    fast = "tcp_user_timeout=1000&keepalives_idle=1&keepalives_interval=1&keepalives_count=1"
    url = f"{server.url()}&{fast}"
    pool = Pool(url, 2, name="silent")
    sql = pool.sql(url)
    port = sql.execute("SELECT inet_client_port()").fetchone()[0]
    for side in ("--sport", "--dport"):  # this connection's packets, both ways
        subprocess.run(["iptables", "-I", "INPUT", "-p", "tcp", side, str(port), "-j", "DROP"],
                       check=True)
    began = time.monotonic()
    rows = sql.execute("SELECT 7, inet_client_port()").fetchall()
    print(json.dumps({"n": rows[0][0], "port": port, "again": rows[0][1],
                      "s": time.monotonic() - began}))
    pool.close()
finally:
    server.stop("immediate")
    shutil.rmtree(base, ignore_errors=True)
"""


def _why_not() -> str | None:
    reason = unavailable()
    if reason is not None:
        return reason
    if os.geteuid() != 0:
        return "needs root: a network namespace and iptables rules of its own"
    for tool in ("unshare", "iptables", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


@pytest.mark.slow  # 1.2 CPU-s, 4 s
def test_a_read_on_a_connection_gone_silent_is_made_again_on_a_new_one() -> None:
    reason = _why_not()
    if reason is not None:
        pytest.skip(reason)
    done = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", CHILD],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,  # a hang's bound only (before: ~15 minutes of retransmissions)
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if done.returncode != 0 and "Operation not permitted" in done.stderr:
        pytest.skip(f"no network namespace here: {done.stderr.strip()[-200:]}")
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["n"] == 7
    assert found["again"] != found["port"]  # on a new connection
