"""`make run`: the API on 127.0.0.1 with an embedded local AWS (moto) holding the demo secret.

Starts moto's server, seeds a KMS key and the SecureString parameter the template names, starts the
host under gunicorn with its AWS endpoint pointed at moto, prints what to try, and on Ctrl-C (or
SIGTERM) stops both and waits for them. ``--real-aws`` skips moto: the host then uses your AWS
credentials and region and reads the real parameter.

The secret's value comes from LOCAL_SECRET, or is random; it is never printed.
"""

import argparse
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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


def start_moto(port: int) -> subprocess.Popen[bytes]:
    """moto's server on 127.0.0.1:``port``, already answering; stop it with ``stop([process])``."""
    process = subprocess.Popen(  # noqa: S603 - our own venv's moto_server
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until(f"http://127.0.0.1:{port}/moto-api/", 30, process)
    except BaseException:
        stop([process])
        raise
    return process


@contextlib.contextmanager
def running(port: int, aws_port: int | None, *, env_file: Path | None = None, quiet: bool = False) -> Iterator[Running]:
    """moto (unless aws_port is None) + the host, both on 127.0.0.1, stopped on exit."""
    processes: list[subprocess.Popen[bytes]] = []
    output = subprocess.DEVNULL if quiet else None
    environment = {
        **os.environ,
        "HOST_BIND": f"127.0.0.1:{port}",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "shared")]),
    }
    if env_file is not None:
        environment["HOST_ENV_FILE"] = str(env_file)
    secret_name = read_secret_name(env_file)
    aws_url = None
    try:
        if aws_port is not None:
            aws_url = f"http://127.0.0.1:{aws_port}"
            processes.append(start_moto(aws_port))
            seed(aws_url, secret_name, os.environ.get("LOCAL_SECRET") or secrets.token_urlsafe(24))
            environment.update(
                AWS_ENDPOINT_URL=aws_url,
                AWS_DEFAULT_REGION="us-east-1",
                AWS_REGION="us-east-1",
                AWS_ACCESS_KEY_ID=LOCAL_CREDENTIALS["aws_access_key_id"],
                AWS_SECRET_ACCESS_KEY=LOCAL_CREDENTIALS["aws_secret_access_key"],
            )
            environment.pop("AWS_PROFILE", None)
            environment.pop("AWS_SESSION_TOKEN", None)
        processes.append(
            subprocess.Popen(  # noqa: S603 - our own venv's gunicorn
                [str(BIN / "gunicorn"), "-c", str(ROOT / "host" / "gunicorn.conf.py"), "host.wsgi:app"],
                cwd=ROOT,
                env=environment,
                stdout=output,
                stderr=output,
                start_new_session=True,
            )
        )
        url = f"http://127.0.0.1:{port}"
        wait_until(f"{url}/healthcheck", 60, processes[-1])
        yield Running(url=url, aws_url=aws_url, secret_name=secret_name, processes=processes)
    finally:
        stop(processes)


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
    with running(
        arguments.port, None if arguments.real_aws else arguments.aws_port, env_file=arguments.env_file
    ) as api:
        where = f"moto at {api.aws_url}" if api.aws_url else "your AWS account"
        print(f"\nsimple-api is serving on {api.url} (secret {api.secret_name} in {where})\n", flush=True)
        for path in TRY:
            print(f"  curl -i {api.url}{path}", flush=True)
        print("\nCtrl-C stops everything.\n", flush=True)
        while not stopping and all(p.poll() is None for p in api.processes):
            time.sleep(0.2)
        print("stopping...", flush=True)
    print("stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
