"""Installed into ministack's venv (as ``awscicd_lambda_runtime_path`` + a ``.pth`` line that imports
it): an emulated Lambda function sees only what a real one sees.

ministack runs every Python function as ``<its own interpreter> <tmp>/ministack-lambda-<name>-*/_worker.py``,
so the emulator's whole venv (requests, PyYAML, pydantic, ...) would be importable by the function
and could hide a package missing from the layer. When ``AWSCICD_LAMBDA_RUNTIME`` names a directory
(the emulator tier sets it to ``.tools/ministack/lambda-runtime``: boto3 and its dependencies, what
the python3.13 runtime ships), such a worker's ``sys.path`` loses every site-packages directory of
the venv and gets that directory instead, after the standard library. Any other process of that
interpreter (ministack itself) is left as it is.
"""

import os
import sys
from pathlib import Path

RUNTIME_VARIABLE = "AWSCICD_LAMBDA_RUNTIME"


def is_lambda_worker(argv: list[str]) -> bool:
    """Whether ``argv`` (``sys.orig_argv``) is ministack's Python worker for a function."""
    if len(argv) < 2:
        return False
    script = Path(argv[1])
    return script.name == "_worker.py" and script.parent.name.startswith("ministack-lambda-")


def isolated_path(path: list[str], venv: str, runtime: str) -> list[str]:
    """``path`` without the site-packages directories of ``venv``, with ``runtime`` appended."""
    root = os.path.realpath(venv) + os.sep

    def in_venv_site(entry: str) -> bool:
        return os.path.realpath(entry).startswith(root) and "site-packages" in entry

    return [entry for entry in path if not in_venv_site(entry)] + [runtime]


def apply() -> None:
    runtime = os.environ.get(RUNTIME_VARIABLE)
    if runtime and sys.prefix != sys.base_prefix and is_lambda_worker(list(sys.orig_argv)):
        sys.path[:] = isolated_path(sys.path, sys.prefix, runtime)


apply()
