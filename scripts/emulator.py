"""ministack, the local AWS emulator of `make test-emulator` (docs/emulator.md), run the way this
project must run servers: one HTTPS listener on 127.0.0.1, a private TMPDIR, ministack's own CA
bundle for every client and function, stopped by PID; and the /proc readers that check it.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from host.local import free_port  # noqa: E402
from scripts.lambda_runtime_path import RUNTIME_VARIABLE  # noqa: E402

MINISTACK_ENV = ROOT / ".tools" / "ministack"
MINISTACK_PYTHON = MINISTACK_ENV / "bin" / "python"
LAMBDA_RUNTIME = MINISTACK_ENV / "lambda-runtime"
REGION = "us-east-1"
ROOT_KEY = "test"  # ministack's root caller: allowed everything, as a deployer with admin rights
READY_SECONDS = 60
STOP_GRACE_SECONDS = 10


def log(message: str) -> None:
    print(f"[emulator] {message}", flush=True)


def skip(reason: str) -> None:
    print(f"\n*** SKIPPED: emulator tier: {reason} ***\n", flush=True)
    sys.exit(77)


# ---------------------------------------------------------------- processes and their sockets
def children(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            parents.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _address(hex_address: str) -> str:
    """/proc/net/tcp's little-endian hex address as text (IPv4, or IPv6 in full)."""
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return ".".join(str(b) for b in reversed(raw))
    words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
    joined = b"".join(words)
    return ":".join(joined[i : i + 2].hex() for i in range(0, 16, 2))


@dataclass(frozen=True)
class Listener:
    protocol: str  # tcp | tcp6 | udp | udp6
    address: str
    port: int


def proc_net_sockets(text: str, protocol: str) -> dict[str, Listener]:
    """inode -> Listener for each listening TCP / bound UDP socket of a /proc/net/<protocol> table."""
    found = {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        local, state, inode = fields[1], fields[3], fields[9]
        if protocol.startswith("tcp") and state != "0A":  # TCP_LISTEN
            continue
        address, port = local.rsplit(":", 1)
        found[inode] = Listener(protocol, _address(address), int(port, 16))
    return found


def listening(pids: set[int]) -> list[Listener]:
    """What the processes ``pids`` listen on (TCP) or have bound (UDP)."""
    inodes: set[str] = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = str(fd.readlink())
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
    sockets: dict[str, Listener] = {}
    for protocol in ("tcp", "tcp6", "udp", "udp6"):
        with contextlib.suppress(OSError):
            sockets.update(proc_net_sockets(Path(f"/proc/net/{protocol}").read_text(), protocol))
    return sorted((sockets[inode] for inode in inodes if inode in sockets), key=lambda s: (s.protocol, s.port))


# ---------------------------------------------------------------- the emulator
@dataclass
class Emulator:
    """ministack on 127.0.0.1:<port>, with a private TMPDIR under ``workdir``."""

    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    seen: set[int] = field(default_factory=set)
    grace: float = STOP_GRACE_SECONDS

    @property
    def tmp(self) -> Path:
        return self.workdir / "tmp"

    @property
    def bundle(self) -> Path:
        return self.tmp / "ministack-tls" / "ca-bundle.pem"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.workdir / "ministack.log"

    def server_environment(self) -> dict[str, str]:
        bundle = str(self.bundle)
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.tmp),
            "TMPDIR": str(self.tmp),
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "BIND_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(self.port),
            "MINISTACK_REGION": REGION,
            "IOT_MTLS_ENABLED": "0",  # the [full] install would open MQTT on 0.0.0.0:8883
            "SFTP_ENABLED": "0",
            "AUTH": "true",
            "USE_SSL": "1",  # crhelper answers CloudFormation over HTTPS only
            "DOCKER_HOST": f"unix://{self.tmp}/no-docker.sock",  # never another tier's engine
            # the functions inherit these: ministack's own bundle, not the machine's
            "AWS_CA_BUNDLE": bundle,
            "SSL_CERT_FILE": bundle,
            "REQUESTS_CA_BUNDLE": bundle,
            RUNTIME_VARIABLE: str(LAMBDA_RUNTIME),
        }

    def client_environment(self) -> dict[str, str]:
        """The environment of every client (sam, pytest, boto3): the emulator, its root key, its CA."""
        kept = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("AWS_") and key not in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
        }
        bundle = str(self.bundle)
        return kept | {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": ROOT_KEY,
            "AWS_SECRET_ACCESS_KEY": ROOT_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CA_BUNDLE": bundle,
            "SSL_CERT_FILE": bundle,
            "REQUESTS_CA_BUNDLE": bundle,
            "SAM_CLI_TELEMETRY": "0",
            # sam deploy polls the change set and the stack events every 5 s by default (against
            # real CloudFormation's rate limits); a local emulator answers in milliseconds
            "SAM_CLI_POLL_DELAY": "1",
        }

    def client(self, service: str) -> Any:
        session = boto3.Session(aws_access_key_id=ROOT_KEY, aws_secret_access_key=ROOT_KEY, region_name=REGION)
        return session.client(service, endpoint_url=self.url, verify=str(self.bundle))  # type: ignore[call-overload]

    def start(self) -> None:
        self.tmp.mkdir(mode=0o700, parents=True)
        environment = self.server_environment()
        # ministack's own certificate and CA bundle (system roots + its certificate), made before
        # it starts so that the server and every client use the same files
        made = subprocess.run(
            [
                str(MINISTACK_PYTHON),
                "-c",
                "from ministack.core import tls; cert, _ = tls.resolve_tls_material(); print(tls.ca_bundle_path(cert))",
            ],
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        if made.returncode != 0 or made.stdout.strip() != str(self.bundle):
            skip(f"ministack could not make its TLS certificate: {(made.stderr or made.stdout).strip()[-300:]}")
        tls = self.bundle.parent
        # hypercorn's own command line, as `ministack --detach` starts it: exactly one bind, so
        # no second listener on 127.0.0.1:443 (ministack's main() adds one under USE_SSL=1)
        command = [str(MINISTACK_PYTHON), "-m", "hypercorn", "ministack.app:app", "--workers", "0"]
        command += ["--bind", f"127.0.0.1:{self.port}", "--keep-alive", "75"]
        command += ["--certfile", str(tls / "server.crt"), "--keyfile", str(tls / "server.key")]
        with self.log_file.open("wb") as output:
            self.process = subprocess.Popen(
                command,
                env=environment,
                cwd=self.tmp,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.seen.add(self.process.pid)
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                skip(f"ministack exited with {self.process.returncode} at start: {self.log_tail()}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/_ministack/health", verify=str(self.bundle), timeout=5).ok:
                    return
            time.sleep(0.2)
        skip(f"ministack did not answer within {READY_SECONDS} s: {self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def pids(self) -> set[int]:
        """The server and its workers now; remembered, so stop() can check each one is gone."""
        if self.process is None:
            return set()
        now = {self.process.pid, *children(self.process.pid)}
        self.seen |= now
        return {pid for pid in now if alive(pid)}

    def stop(self) -> list[int]:
        """SIGTERM the server and its workers, SIGKILL what is left after the grace period; the PIDs left."""
        if self.process is None:
            return []
        targets = self.pids()
        for pid in sorted(targets):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        while time.monotonic() < deadline and any(alive(pid) for pid in self.seen):
            self.process.poll()
            time.sleep(0.1)
        for pid in sorted(self.seen):
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=self.grace)
        time.sleep(0.2)  # let init reap the workers it adopted
        return sorted(pid for pid in self.seen if alive(pid))
