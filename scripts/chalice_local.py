"""`make chalice-run`: the Chalice flavour under `chalice local` on 127.0.0.1, with a local AWS (moto)
holding the demo secret, as `make run` does for the SAM flavour.

`chalice local --host 127.0.0.1 --no-autoreload` (one process, threads per request; Chalice's
reloader would fork a child that outlives a stop by PID) runs chalice_app/ with the environment of
its `dev` stage (.chalice/config.json), the core package from layers/shared, and its AWS endpoint
pointed at moto, which holds a KMS key and the SecureString that stage names. Ctrl-C (or SIGTERM)
stops both. The secret's value comes from LOCAL_SECRET, or is random; it is never printed.
"""

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

from host.local import (  # noqa: E402
    TRY,
    PortInUse,
    Running,
    child_environment,
    listen,
    start_local_aws,
    stop,
    use_local_aws,
    wait_until,
)

PROJECT = ROOT / "chalice_app"
STAGE = "dev"
COMMAND = "make chalice-run"
BIN = Path(sys.executable).parent


def stage_environment(stage: str = STAGE) -> dict[str, str]:
    """The environment variables .chalice/config.json gives ``stage`` (what chalice local sets)."""
    config = json.loads((PROJECT / ".chalice" / "config.json").read_text())
    variables: dict[str, str] = {
        **config.get("environment_variables", {}),
        **config["stages"][stage].get("environment_variables", {}),
    }
    return variables


@contextlib.contextmanager
def serving(port: int, aws_port: int | None, *, quiet: bool = False, secret: str | None = None) -> Iterator[Running]:
    """moto (unless aws_port is None) + chalice local, both on 127.0.0.1, stopped on exit.

    As `make run`: a busy port is refused before anything starts, the secret is written to moto from
    this process (no child's environment holds it), and the run has a private directory (0700)."""
    processes: list[subprocess.Popen[bytes]] = []
    output = subprocess.DEVNULL if quiet else None
    secret_name = stage_environment()["SECRET_PARAMETER_NAME"]
    with contextlib.ExitStack() as sockets:
        api = sockets.enter_context(listen(port, "the API", "PORT", COMMAND))  # chalice binds it itself: checked here
        aws = (
            sockets.enter_context(listen(aws_port, "the local AWS", "AWS_PORT", COMMAND))
            if aws_port is not None
            else None
        )
        port = api.getsockname()[1]
        api.close()
        aws_url = None
        run_dir = Path(tempfile.mkdtemp(prefix="simple-api-chalice-"))
        try:
            if aws is not None:
                aws_url = start_local_aws(aws, run_dir, secret_name, secret, processes)
            environment = child_environment(run_dir, {"PYTHONPATH": str(ROOT / "layers" / "shared")})
            if aws_url is not None:
                use_local_aws(environment, aws_url)
            command = [str(BIN / "chalice"), "--project-dir", str(PROJECT), "local", "--host", "127.0.0.1"]
            command += ["--port", str(port), "--stage", STAGE, "--no-autoreload"]
            processes.append(
                subprocess.Popen(
                    command, cwd=PROJECT, env=environment, stdout=output, stderr=output, start_new_session=True
                )
            )
            url = f"http://127.0.0.1:{port}"
            wait_until(f"{url}/healthcheck", 60, processes[-1])
            yield Running(url=url, aws_url=aws_url, secret_name=secret_name, processes=processes, run_dir=run_dir)
        finally:
            stop(processes)
            shutil.rmtree(run_dir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--aws-port", type=int, default=int(os.environ.get("AWS_PORT", "5055")))
    parser.add_argument("--real-aws", action="store_true", help="use your AWS account instead of moto")
    arguments = parser.parse_args()
    for number in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C, or SIGTERM, stops it (also where SIGINT was ignored)
        signal.signal(number, signal.default_int_handler)
    secret = os.environ.pop("LOCAL_SECRET", None)  # this process writes it to moto; no child inherits it
    try:
        with serving(arguments.port, None if arguments.real_aws else arguments.aws_port, secret=secret) as api:
            where = f"moto at {api.aws_url}" if api.aws_url else "your AWS account"
            lines = [f"simple-api (Chalice flavour) is serving on {api.url} (secret {api.secret_name} in {where})"]
            lines += [f"  curl -i {api.url}{path}" for path in TRY]
            print("\n".join(["", *lines, "", "Ctrl-C stops everything.", ""]), flush=True)
            while all(process.poll() is None for process in api.processes):
                time.sleep(0.2)
            return 1  # a server stopped by itself
    except KeyboardInterrupt:
        print("stopped.", flush=True)
        return 0
    except PortInUse as error:
        print(error, file=sys.stderr)
        return 2
    except RuntimeError as error:  # a child that stopped before it answered: its own output says why
        print(f"{COMMAND}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
