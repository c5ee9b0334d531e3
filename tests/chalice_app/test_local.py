"""`make chalice-run`'s process tree: moto + chalice local on 127.0.0.1 only, seeded secret, Ctrl-C
leaves nothing. (The contract suite runs against the same server: tests/contract, target chalice-local.)"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from host.local import free_port, wait_until
from tests import http
from tests.factories import ROOT
from tests.host.test_local_run import processes_mentioning


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on ``port`` (IPv4 and IPv6), from /proc/net."""
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if int(hex_port, 16) == port and state == "0A":  # LISTEN
                found.add(address)
    return found


def test_chalice_run_binds_loopback_serves_the_seeded_secret_and_ctrl_c_stops_everything():
    port, aws_port = free_port(), free_port()
    runner = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "chalice_local.py"), "--port", str(port), "--aws-port", str(aws_port)],
        cwd=ROOT,
        env={**os.environ, "LOCAL_SECRET": "a-local-secret-for-chalice-77"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until(f"http://127.0.0.1:{port}/healthcheck", 60, runner)
        body = http.send(http.session(), "GET", f"http://127.0.0.1:{port}/secret", timeout=10).text
        assert '"Name":"/simple-api/dev/secret"' in body and '"Value":"********77"' in body
        assert listening_addresses(port) == {"0100007F"}, "chalice local must listen on 127.0.0.1 only"
        assert processes_mentioning(f"--port {port} --stage dev --no-autoreload"), "chalice local is not running"
        runner.send_signal(signal.SIGINT)  # what Ctrl-C sends
        output = runner.communicate(timeout=30)[0].decode()
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait()
    assert runner.returncode == 0
    assert f"curl -i http://127.0.0.1:{port}/sleep/hello" in output and "stopped." in output
    assert "a-local-secret-for-chalice-77" not in output
    time.sleep(0.2)
    assert processes_mentioning(f"-p {aws_port}") == []
    assert processes_mentioning(f"--port {port} --stage dev") == []
    assert listening_addresses(port) == set()
