"""`make run`'s process tree: moto + gunicorn on 127.0.0.1, seeded secret, and Ctrl-C leaves nothing;
the secret in no child's environment; busy ports refused in one line; private run directories."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from host.local import running, wait_until
from scripts.emulator import children as emulator_children
from tests import http
from tests.factories import ROOT

SECRET = "a-local-secret-for-this-test-99"


def children(pid: int) -> dict[int, str]:
    """Every live descendant of ``pid`` (scripts.emulator.children): its command line."""
    found = {}
    for child in emulator_children(pid):
        try:
            found[child] = (Path("/proc") / str(child) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # gone meanwhile
    return found


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


def environ_of(pid: int) -> bytes:
    return (Path("/proc") / str(pid) / "environ").read_bytes()


def start(*arguments: str, **environment: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "host.local", *arguments],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'layers' / 'shared'}", **environment},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def reap(runner: subprocess.Popen[bytes]) -> None:
    if runner.poll() is None:
        os.killpg(runner.pid, signal.SIGKILL)
        runner.wait()


def listening() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def test_run_serves_the_seeded_secret_keeps_it_out_of_every_child_and_ctrl_c_stops_everything():
    with listening() as api, listening() as aws:  # two free ports, released just before the run
        port, aws_port = api.getsockname()[1], aws.getsockname()[1]
    runner = start("--port", str(port), "--aws-port", str(aws_port), LOCAL_SECRET=SECRET)
    try:
        wait_until(f"http://127.0.0.1:{port}/healthcheck", 60, runner)
        body = http.send(http.session(), "GET", f"http://127.0.0.1:{port}/secret", timeout=10).text
        assert '"Name":"/simple-api/dev/secret"' in body and '"Value":"********99"' in body
        tree = children(runner.pid)
        assert any("host.local_aws" in line for line in tree.values()), f"moto is not running: {tree}"
        assert sum("gunicorn" in line for line in tree.values()) >= 3, f"gunicorn master + 2 workers: {tree}"
        for pid, line in tree.items():  # moto, the gunicorn master and its workers
            environment = environ_of(pid)
            assert SECRET.encode() not in environment and b"LOCAL_SECRET" not in environment, line
        runner.send_signal(signal.SIGINT)  # what Ctrl-C sends
        output = runner.communicate(timeout=30)[0].decode()
    finally:
        reap(runner)
    assert runner.returncode == 0
    assert f"curl -i http://127.0.0.1:{port}/sleep/hello" in output
    assert SECRET not in output
    time.sleep(0.2)
    assert children(runner.pid) == {}
    for pid in tree:
        assert not (Path("/proc") / str(pid)).exists(), f"{tree[pid]} is still running"


class Answering(BaseHTTPRequestHandler):
    """Stands in for another run's moto: answers every request 200."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.parametrize("which", ["--port", "--aws-port"])
def test_a_busy_port_is_one_line_naming_it_and_how_to_choose_another(which):
    """Even a port held by a server that answers (another run's moto) is refused: never adopted."""
    other = ThreadingHTTPServer(("127.0.0.1", 0), Answering)
    thread = threading.Thread(target=other.serve_forever, daemon=True)
    thread.start()
    busy = other.server_address[1]
    with listening() as free:
        spare = free.getsockname()[1]
    arguments = {"--port": str(spare), "--aws-port": str(spare)}
    arguments[which] = str(busy)
    runner = start(*[item for pair in arguments.items() for item in pair])
    try:
        output, errors = runner.communicate(timeout=60)
    finally:
        reap(runner)
        other.shutdown()
        other.server_close()
    variable = "PORT" if which == "--port" else "AWS_PORT"
    lines = errors.decode().strip().splitlines()
    assert runner.returncode == 2
    assert len(lines) == 1, errors.decode()
    assert f"port {busy}" in lines[0] and f"{variable}=<port>" in lines[0]
    assert b"Traceback" not in output + errors
    assert b"serving on" not in output


def test_each_run_has_a_private_directory_and_stopping_one_leaves_the_other(tmp_path, monkeypatch):
    """gunicorn's control socket lives in the run's own directory (0700), never in a shared
    ~/.gunicorn/: stopping one run removes its directory and nothing of another's."""
    monkeypatch.setenv("HOME", str(tmp_path))
    with running(0, None, quiet=True) as first:
        with running(0, None, quiet=True) as second:
            assert first.run_dir != second.run_dir
            for run in (first, second):
                assert run.run_dir.stat().st_mode & 0o777 == 0o700
                deadline = time.monotonic() + 30
                while not (run.run_dir / "gunicorn.ctl").exists() and time.monotonic() < deadline:
                    time.sleep(0.1)
                assert (run.run_dir / "gunicorn.ctl").exists()
        assert not second.run_dir.exists()
        assert (first.run_dir / "gunicorn.ctl").exists()
        assert http.send(http.session(), "GET", f"{first.url}/healthcheck", timeout=10).status_code == 200
    assert not first.run_dir.exists()
    assert not (tmp_path / ".gunicorn").exists()


def test_the_local_aws_serves_moto_on_the_socket_it_is_given(monkeypatch):
    from host.local_aws import server

    monkeypatch.delenv("MOTO_PORT", raising=False)
    with listening() as sock:
        moto = server(sock.fileno())
        thread = threading.Thread(target=moto.serve_forever, daemon=True)
        thread.start()
        try:
            port = sock.getsockname()[1]
            assert http.send(http.session(), "GET", f"http://127.0.0.1:{port}/moto-api/", timeout=10).status_code == 200
            assert os.environ["MOTO_PORT"] == str(port)
        finally:
            moto.shutdown()
            moto.server_close()
            thread.join(10)
