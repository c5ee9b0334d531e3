"""`make run`: the API on 127.0.0.1 with an embedded local AWS (moto) holding the demo secret.

Starts moto's server, seeds a KMS key and the SecureString parameter the template names, starts the
host under gunicorn with its AWS endpoint pointed at moto, prints what to try, and on Ctrl-C (or
SIGTERM) stops both and waits for them. ``--real-aws`` skips moto: the host then uses your AWS
credentials and region and reads the real parameter.

The secret's value comes from LOCAL_SECRET, or is random; it is never printed, and no child process
(moto, gunicorn and its workers) has it in its environment: this process writes it to moto itself.
Both ports are bound here before anything starts: a port in use is a one-line error naming the
variable that chooses another (PORT, AWS_PORT), and a run never talks to a server it did not start.
"""

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
KEY_ALIAS = "alias/simple-api-local"
#: moto accepts any credentials; these only keep boto3 from looking for real ones
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
TRY = ("/", "/healthcheck", "/sleep/2", "/sleep/hello", "/secret", "/nope")


@dataclass
class Running:
    url: str
    aws_url: str | None
    secret_name: str
    processes: list[subprocess.Popen[bytes]]
    run_dir: Path


class PortInUse(Exception):
    """A port `make run` needs is taken; the message says how to choose another."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listen(port: int, what: str, variable: str, command: str = "make run") -> socket.socket:
    """A listening socket on 127.0.0.1:``port`` (0: any free port), to hand down to a child: bound
    here, so a port another program holds fails now, with a message, and no child can end up talking
    to a server it did not start."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as error:
        sock.close()
        raise PortInUse(
            f"{command}: port {port} ({what}) is in use ({error.strerror}); "
            f"choose another with {variable}=<port>, e.g. {command} {variable}={free_port()}"
        ) from None
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def wait_until(url: str, seconds: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - our own loopback URL  # nosec B310
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {seconds:g} s")


def seed(aws_url: str, secret_name: str, value: str) -> None:
    """A KMS key and the SecureString, written by the same adapter the custom resource uses."""
    import boto3  # noqa: PLC0415 - only when seeding

    from simple_api.adapters.ssm import SsmParameterWriter  # noqa: PLC0415

    session = boto3.Session(
        aws_access_key_id=LOCAL_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=LOCAL_CREDENTIALS["aws_secret_access_key"],
        region_name="us-east-1",
    )
    kms = session.client("kms", endpoint_url=aws_url)
    key = kms.create_key(Description="simple-api local secret key")["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName=KEY_ALIAS, TargetKeyId=key)
    writer = SsmParameterWriter(session.client("ssm", endpoint_url=aws_url))
    writer.put(secret_name, value, key, {"project": "aws-cicd", "stack": "local"}, overwrite=True)


def start_local_aws(
    aws: socket.socket, run_dir: Path, secret_name: str, secret: str | None, processes: list[subprocess.Popen[bytes]]
) -> str:
    """moto on the bound socket ``aws`` (appended to ``processes``) and the secret seeded from this
    process (``secret``, else LOCAL_SECRET, else random), so no child's environment holds it; its URL."""
    aws_url = f"http://127.0.0.1:{aws.getsockname()[1]}"
    processes.append(start_moto(aws, child_environment(run_dir, {})))
    seed(aws_url, secret_name, secret or os.environ.get("LOCAL_SECRET") or secrets.token_urlsafe(24))
    return aws_url


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every process group we started, then wait; SIGKILL what is still there after 15 s."""
    for process in reversed(processes):
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in reversed(processes):
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def start_moto(port: int | socket.socket, environment: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """moto's server (host/local_aws.py) on 127.0.0.1:``port``, or on a socket already bound, and
    already answering; stop it with ``stop([process])``."""
    with contextlib.ExitStack() as owned:
        if isinstance(port, socket.socket):
            sock = port
        else:
            sock = owned.enter_context(listen(port, "the local AWS", "AWS_PORT"))
        process = subprocess.Popen(  # noqa: S603 - our own venv's python
            [sys.executable, "-m", "host.local_aws", str(sock.fileno())],
            cwd=ROOT,
            env=dict(environment if environment is not None else child_environment(None, {})),
            pass_fds=(sock.fileno(),),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/moto-api/"
    try:
        wait_until(url, 30, process)
    except BaseException:
        stop([process])
        raise
    return process


def use_local_aws(environment: dict[str, str], aws_url: str) -> None:
    """Point a child's AWS SDK at the local AWS, with its credentials and none of the user's."""
    environment.pop("AWS_PROFILE", None)
    environment.pop("AWS_SESSION_TOKEN", None)
    environment.update(
        AWS_ENDPOINT_URL=aws_url,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID=LOCAL_CREDENTIALS["aws_access_key_id"],
        AWS_SECRET_ACCESS_KEY=LOCAL_CREDENTIALS["aws_secret_access_key"],
    )


def child_environment(run_dir: Path | None, extra: Mapping[str, str]) -> dict[str, str]:
    """What every child gets: this environment without the secret, and its run's private directory."""
    environment = {k: v for k, v in os.environ.items() if k != "LOCAL_SECRET"}
    environment["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "layers" / "shared")])
    if run_dir is not None:
        environment.update(HOST_RUN_DIR=str(run_dir), TMPDIR=str(run_dir))
    environment.update(extra)
    return environment


@contextlib.contextmanager
def running(  # noqa: PLR0913 - keyword options of one run
    port: int,
    aws_port: int | None,
    *,
    env_file: Path | None = None,
    quiet: bool = False,
    secret: str | None = None,
    extra_environment: Mapping[str, str] | None = None,
) -> Iterator[Running]:
    """moto (unless aws_port is None) + the host, both on 127.0.0.1, stopped on exit (port 0: any).

    The secret (``secret``, else LOCAL_SECRET, else random) is written to moto from this process;
    no child's environment holds it. Each run has a private directory (mode 0700) for gunicorn's
    control socket, heartbeats and temporary files, removed afterwards."""
    processes: list[subprocess.Popen[bytes]] = []
    output = subprocess.DEVNULL if quiet else None
    secret_name = read_secret_name(env_file)
    extra = dict(extra_environment or {})
    if env_file is not None:
        extra["HOST_ENV_FILE"] = str(env_file)
    with contextlib.ExitStack() as sockets:
        api = sockets.enter_context(listen(port, "the API", "PORT"))
        aws = sockets.enter_context(listen(aws_port, "the local AWS", "AWS_PORT")) if aws_port is not None else None
        aws_url = None
        run_dir = Path(tempfile.mkdtemp(prefix="simple-api-run-"))
        try:
            if aws is not None:
                aws_url = start_local_aws(aws, run_dir, secret_name, secret, processes)
            environment = child_environment(run_dir, {**extra, "HOST_BIND": f"fd://{api.fileno()}"})
            if aws_url is not None:
                use_local_aws(environment, aws_url)
            processes.append(
                subprocess.Popen(  # noqa: S603 - our own venv's gunicorn
                    [str(BIN / "gunicorn"), "-c", str(ROOT / "host" / "gunicorn.conf.py"), "host.wsgi:app"],
                    cwd=ROOT,
                    env=environment,
                    pass_fds=(api.fileno(),),
                    stdout=output,
                    stderr=output,
                    start_new_session=True,
                )
            )
            url = f"http://127.0.0.1:{api.getsockname()[1]}"
            api.close()
            wait_until(f"{url}/healthcheck", 60, processes[-1])
            yield Running(url=url, aws_url=aws_url, secret_name=secret_name, processes=processes, run_dir=run_dir)
        finally:
            stop(processes)
            shutil.rmtree(run_dir, ignore_errors=True)


def read_secret_name(env_file: Path | None) -> str:
    """The parameter name the secret function will read (template default, or the env file's)."""
    from host.app import read_env_file  # noqa: PLC0415
    from host.template import read_api  # noqa: PLC0415

    function = read_api(ROOT / "template.yaml").functions["SecretFunction"]
    overrides = read_env_file(env_file)
    name = function.environment["SECRET_PARAMETER_NAME"]
    for scope in ("Parameters", "SecretFunction"):
        name = overrides.get(scope, {}).get("SECRET_PARAMETER_NAME", name)
    return name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--aws-port", type=int, default=int(os.environ.get("AWS_PORT", "5055")))
    parser.add_argument("--real-aws", action="store_true", help="use your AWS account instead of moto")
    parser.add_argument("--env-file", type=Path, default=None, help="a `sam local --env-vars` file")
    arguments = parser.parse_args()

    stopping = False

    def on_signal(number: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    secret = os.environ.pop("LOCAL_SECRET", None)  # this process writes it to moto; no child inherits it
    aws_port = None if arguments.real_aws else arguments.aws_port
    try:
        with running(arguments.port, aws_port, env_file=arguments.env_file, secret=secret) as api:
            where = f"moto at {api.aws_url}" if api.aws_url else "your AWS account"
            print(f"\nsimple-api is serving on {api.url} (secret {api.secret_name} in {where})\n", flush=True)
            for path in TRY:
                print(f"  curl -i {api.url}{path}", flush=True)
            print("\nCtrl-C stops everything.\n", flush=True)
            while not stopping and all(p.poll() is None for p in api.processes):
                time.sleep(0.2)
            print("stopping...", flush=True)
    except PortInUse as error:
        print(error, file=sys.stderr)
        return 2
    except RuntimeError as error:  # a child that stopped before it answered: its own output says why
        print(f"make run: {error}", file=sys.stderr)
        return 1
    print("stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
