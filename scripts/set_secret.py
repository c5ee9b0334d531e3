"""`make set-secret ENV=dev|prod`: deploy the stack with a new SecretValue, read without echo.

Keeps every parameter override of the samconfig.toml section (a command-line
--parameter-overrides replaces them all otherwise) and adds SecretValue, so the value goes only to
CloudFormation (as a NoEcho parameter) and never into a file or this program's output.
"""

import getpass
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.samconfig import SAMCONFIG, overrides

ROOT = Path(__file__).resolve().parents[1]
BUILT = ROOT / ".aws-sam" / "build" / "template.yaml"


def deploy(env: str, template: Path = BUILT, stack_name: str | None = None, **changed: str) -> int:
    """sam deploy ENV with samconfig's parameter overrides, ``changed`` replacing or adding some.

    ``--config-file`` is given because SAM looks for samconfig.toml next to ``--template-file``
    (.aws-sam/build/ here), not in the working directory. ``stack_name`` deploys the section's
    parameters to another stack (the Chalice flavour), with its own upload prefix.
    """
    sam = os.environ.get("SAM", str(ROOT / ".tools" / "sam" / "bin" / "sam"))
    kept = [item for item in overrides(env) if item.split("=", 1)[0] not in changed]
    parameters = [*kept, *(f"{key}={value}" for key, value in changed.items())]
    command = [sam, "deploy", "--config-env", env, "--config-file", str(SAMCONFIG), "--template-file", str(template)]
    if stack_name:
        command += ["--stack-name", stack_name, "--s3-prefix", stack_name]
    command += ["--parameter-overrides", *parameters]
    return subprocess.call(command, cwd=ROOT)


def main(env: str) -> int:
    value = os.environ.pop("SECRET_VALUE", None) or getpass.getpass("secret (not echoed): ")
    if not value:
        print("no value given; nothing deployed", file=sys.stderr)
        return 2
    return deploy(env, SecretValue=value)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "dev"))
