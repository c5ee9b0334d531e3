"""`make set-secret ENV=dev|prod`: deploy the stack with a new SecretValue, typed without echo (or
piped on stdin by a script).

Keeps every parameter override of the samconfig.toml section and adds SecretValue. The value goes to
SAM through a private parameters file (0600, in a 0700 folder, removed at once), never through an
argument or an environment variable, and to CloudFormation only as a NoEcho parameter.
"""

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from host.template import load
from scripts.samconfig import SAMCONFIG, parameter_values
from scripts.secret_input import read_secret

ROOT = Path(__file__).resolve().parents[1]
BUILT = ROOT / ".aws-sam" / "build" / "template.yaml"


def hides_secret_value(template: Path) -> bool:
    """Whether ``template`` declares SecretValue NoEcho. sam deploy prints every parameter override
    the template does not declare NoEcho - one it does not declare at all in clear."""
    parameter = load(template).get("Parameters", {}).get("SecretValue", {})
    return isinstance(parameter, dict) and str(parameter.get("NoEcho", "")).lower() == "true"


@contextmanager
def _private_parameters(parameters: dict[str, str]) -> Iterator[Path]:
    """A `--parameter-overrides file://...` file only this user can read, deleted afterwards. JSON
    is written, and read by SAM as YAML (its JSON reader is disabled; JSON is valid YAML)."""
    memory = Path("/dev/shm")  # noqa: S108  # nosec B108 - a fresh 0700 mkdtemp folder there: tmpfs, never a disk
    with tempfile.TemporaryDirectory(dir=memory if memory.is_dir() else None) as folder:
        path = Path(folder) / "parameters.yaml"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(parameters, file)
        yield path


def deploy(env: str, template: Path | None = None, stack_name: str | None = None, **changed: str) -> int:
    """`sam deploy --config-env ENV` from the project root, so SAM reads samconfig.toml's ENV section
    and the template `sam build` wrote; ``changed`` replaces or adds parameter overrides (a bare
    --parameter-overrides would drop every samconfig value, so the merged set is passed).

    ``template``: another built template (the Chalice flavour); SAM would then look for samconfig.toml
    beside it, so the project's file is named by path. ``stack_name`` deploys the section's
    parameters to another stack, with its own upload prefix."""
    if "SecretValue" in changed and not hides_secret_value(template or BUILT):
        print(
            f"{(template or BUILT).relative_to(ROOT)} takes no SecretValue (sam deploy would print it);"
            " the Chalice flavour reads the secret that make put-secret writes",
            file=sys.stderr,
        )
        return 2
    sam = os.environ.get("SAM", str(ROOT / ".tools" / "sam" / "bin" / "sam"))
    command = [sam, "deploy", "--config-env", env]
    if template is not None:
        command += ["--config-file", str(SAMCONFIG), "--template-file", str(template)]
    if stack_name:
        command += ["--stack-name", stack_name, "--s3-prefix", stack_name]
    if not changed:
        return subprocess.call(command, cwd=ROOT)
    with _private_parameters({**parameter_values(env), **changed}) as path:
        return subprocess.call([*command, "--parameter-overrides", f"file://{path}"], cwd=ROOT)


def main(env: str) -> int:
    value = read_secret("secret (not echoed): ")
    if not value:
        print("no value given; nothing deployed", file=sys.stderr)
        return 2
    return deploy(env, SecretValue=value)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "dev"))
