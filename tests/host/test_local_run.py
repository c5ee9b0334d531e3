"""`make run`'s process tree: moto + gunicorn on 127.0.0.1, seeded secret, and Ctrl-C leaves nothing."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from host.local import free_port, wait_until
from tests import http
from tests.factories import ROOT


def processes_mentioning(text: str, where: str = "cmdline") -> list[int]:
    """Live processes whose command line (or environment) contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                content = (entry / where).read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in content:
                found.append(int(entry.name))
    return found


def test_run_serves_the_seeded_secret_and_ctrl_c_stops_everything():
    port, aws_port = free_port(), free_port()
    environment = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}:{ROOT / 'layers' / 'shared'}",
        "LOCAL_SECRET": "a-local-secret-for-this-test-99",
    }
    runner = subprocess.Popen(
        [sys.executable, "-m", "host.local", "--port", str(port), "--aws-port", str(aws_port)],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until(f"http://127.0.0.1:{port}/healthcheck", 60, runner)
        body = http.send(http.session(), "GET", f"http://127.0.0.1:{port}/secret", timeout=10).text
        assert '"Name":"/simple-api/dev/secret"' in body and '"Value":"********99"' in body
        assert processes_mentioning(f"-p {aws_port}"), "moto is not running"
        assert len(processes_mentioning(f"HOST_BIND=127.0.0.1:{port}", "environ")) >= 2, "gunicorn is not running"
        runner.send_signal(signal.SIGINT)  # what Ctrl-C sends
        output = runner.communicate(timeout=30)[0].decode()
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait()
    assert runner.returncode == 0
    assert f"curl -i http://127.0.0.1:{port}/sleep/hello" in output
    assert "a-local-secret-for-this-test-99" not in output
    time.sleep(0.2)
    assert processes_mentioning(f"-p {aws_port}") == []
    assert processes_mentioning(f"HOST_BIND=127.0.0.1:{port}", "environ") == []
