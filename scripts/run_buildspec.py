"""Run buildspec.yml's phases locally, in CodeBuild's order, with AWS stubbed by moto's server.

So a typo in the buildspec shows up here, not first in CodeBuild. Each command runs with bash in
the repository, with the buildspec's env variables, CodeBuild's own variables and
AWS_ENDPOINT_URL pointing at a moto server on 127.0.0.1 that holds the artifact bucket. Commands
named in --dry-run (default: `make test`, which is what is running this) are only resolved: their
make target must exist (`make -n` would still run its recursive $(MAKE) lines, so it is not
used). Afterwards every artifact file the buildspec declares must exist, and so must every report's
files.

Usage: run_buildspec.py [--dry-run "make test" ...] [--buildspec PATH]
"""

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from host.local import free_port, start_moto, stop

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("install", "pre_build", "build", "post_build")
BUCKET = "codebuild-artifacts-local"


def commands(spec: dict[str, object]) -> list[tuple[str, str]]:
    phases = spec.get("phases", {})
    assert isinstance(phases, dict), "phases must be a mapping"
    unknown = set(phases) - set(PHASES)
    assert not unknown, f"unknown phases: {sorted(unknown)}"
    return [(phase, command) for phase in PHASES for command in phases.get(phase, {}).get("commands", [])]


def make_targets() -> set[str]:
    """Every target the Makefile defines (make's own database; runs no recipe)."""
    database = subprocess.run(["make", "-qp"], cwd=ROOT, capture_output=True, text=True, check=False).stdout
    return {
        line.split(":", 1)[0]
        for line in database.splitlines()
        if line and line[0].isalnum() and ":" in line and "=" not in line.split(":", 1)[0]
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dry-run", action="append", default=None)
    parser.add_argument("--buildspec", type=Path, default=ROOT / "buildspec.yml")
    arguments = parser.parse_args()
    dry = set(arguments.dry_run or ["make test"])
    spec = yaml.safe_load(arguments.buildspec.read_text())
    port = free_port()
    moto = start_moto(port)
    try:
        url = f"http://127.0.0.1:{port}"
        environment = {
            **os.environ,
            **{k: str(v) for k, v in spec.get("env", {}).get("variables", {}).items()},
            "AWS_ENDPOINT_URL": url,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "ARTIFACT_BUCKET": BUCKET,
            "CODEBUILD_RESOLVED_SOURCE_VERSION": "0123456789abcdef",
            "CODEBUILD_BUILD_ID": "local:run",
        }
        subprocess.run(
            [
                sys.executable,
                "-c",
                f"import boto3; boto3.client('s3', endpoint_url='{url}').create_bucket(Bucket='{BUCKET}')",
            ],
            env=environment,
            check=True,
        )
        targets = make_targets()
        for phase, command in commands(spec):
            if command in dry:
                wanted = [word for word in shlex.split(command)[1:] if "=" not in word]
                print(f"[buildspec] {phase}: {command} (resolved, not run)", flush=True)
                if command.split()[0] != "make" or not set(wanted) <= targets:
                    print(f"[buildspec] FAILED in {phase}: no such make target in {command!r}", flush=True)
                    return 1
                continue
            print(f"[buildspec] {phase}: {command}", flush=True)
            if subprocess.run(
                ["bash", "-euo", "pipefail", "-c", command], cwd=ROOT, env=environment, check=False
            ).returncode:
                print(f"[buildspec] FAILED in {phase}: {command}", flush=True)
                return 1
        missing = [f for f in spec.get("artifacts", {}).get("files", []) if not (ROOT / f).exists()]
        makefile = (ROOT / "Makefile").read_text()
        for name, report in spec.get("reports", {}).items():
            base = report.get("base-directory", ".")
            for file in report.get("files", []):
                # written by `make test` (resolved, not run, here): the Makefile must name the same path
                produced = (ROOT / base / file).exists() or (
                    f"REPORTS     := {base}" in makefile and f"$(REPORTS)/{file}" in makefile
                )
                if not produced:
                    missing.append(f"report {name}: {base}/{file}")
        if missing:
            print(f"[buildspec] missing after the build: {missing}", flush=True)
            return 1
        print("[buildspec] all phases passed and every artifact and report exists", flush=True)
        return 0
    finally:
        stop([moto])


if __name__ == "__main__":
    sys.exit(main())
