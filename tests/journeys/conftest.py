"""The user's deploy journeys, run for real: the make targets and the README's SAM lines, with the
pinned SAM CLI, no AWS credentials and no AWS endpoint reachable. Each runs until only AWS itself is
missing, and the test reads from SAM's own debug output (SAM_DEBUG=true, an environment switch that
leaves the command line as the user types it) which configuration it really used."""

import ast
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import CALLER_ENVIRONMENT
from tests.factories import ROOT

SAM_BIN = ROOT / ".tools" / "sam" / "bin"
#: how SAM says it (deploy: "Error: Unable to locate credentials"; delete: "...stack information for X: Unable
#: to locate credentials")
NO_CREDENTIALS = "Unable to locate credentials"


@pytest.fixture
def user_env(tmp_path: Path) -> dict[str, str]:
    """A shell with the pinned SAM CLI on PATH (as the README says), a home of its own, a region,
    and no AWS credentials, profile, endpoint or instance metadata to fall back on."""
    env = {k: v for k, v in CALLER_ENVIRONMENT.items() if not k.startswith(("AWS_", "SAM_", "MAKE"))}
    home = tmp_path / "home"
    home.mkdir()
    env.update(
        HOME=str(home),
        PATH=f"{SAM_BIN}:{env.get('PATH', '/usr/bin:/bin')}",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=str(home / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "no-aws-credentials"),
        SAM_CLI_TELEMETRY="0",
    )
    env.pop("MAKEFLAGS", None)
    return env


@dataclass(frozen=True)
class Expanded:
    """What SAM says it runs (its 'Expand command line arguments to:' debug line)."""

    template_file: str
    stack_name: str
    parameters: dict[str, str]
    tags: dict[str, str]
    output: str


def sam_expansion(output: str) -> Expanded:
    match = re.search(r"Expand command line arguments to:\s*\n[^\n]*?\| (?P<line>--[^\n]*)", output)
    assert match, f"SAM did not say what it ran:\n{output[-3000:]}"
    line = match["line"]

    def literal(name: str) -> dict[str, str]:
        found = re.search(rf"--{name}=(\{{.*?\}})(?= --|\s*$)", line)
        return ast.literal_eval(found.group(1)) if found else {}

    def word(name: str) -> str:
        found = re.search(rf"--{name}=(\S+)", line)
        return found.group(1) if found else ""

    return Expanded(word("template_file"), word("stack_name"), literal("parameter_overrides"), literal("tags"), output)


def run(command: list[str], env: dict[str, str], stdin: str = "", timeout: float = 180) -> tuple[int, str]:
    result = subprocess.run(
        command,
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def forwarding_sam(folder: Path) -> Path:
    """A `sam` that records its arguments, then execs the real one without the AWS credentials the
    test gave the script around it (for scripts that talk to moto first and then deploy)."""
    script = folder / "sam"
    script.write_text(
        "#!/bin/sh\n"
        f"printf '%s\\n' \"$@\" > {folder / 'sam.argv'}\n"
        "unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_ENDPOINT_URL\n"
        f'exec {SAM_BIN / "sam"} "$@"\n'
    )
    script.chmod(0o755)
    return script


def recorded_argv(folder: Path) -> list[str]:
    return (folder / "sam.argv").read_text().splitlines()


def samconfig_bytes() -> bytes:
    return (ROOT / "samconfig.toml").read_bytes()
