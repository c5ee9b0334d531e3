"""scripts/lambda_runtime_path.py: a ministack Lambda worker sees no site-packages of the emulator's
venv, only the runtime directory; every other process is left alone."""

import os
import subprocess
import sys
from pathlib import Path

from scripts.lambda_runtime_path import RUNTIME_VARIABLE, is_lambda_worker, isolated_path
from tests.factories import ROOT

HOOK = ROOT / "scripts" / "lambda_runtime_path.py"


def test_only_ministacks_python_worker_is_recognised():
    assert is_lambda_worker(["/venv/bin/python", "/tmp/ministack-lambda-aws-cicd-dev-HomeFunction-ab-x1/_worker.py"])
    assert not is_lambda_worker(["/venv/bin/python", "-m", "hypercorn", "ministack.app:app"])
    assert not is_lambda_worker(["/venv/bin/python", "/tmp/elsewhere/_worker.py"])
    assert not is_lambda_worker(["/venv/bin/python"])


def test_the_venvs_site_packages_go_and_the_runtime_comes_last(tmp_path: Path):
    venv = tmp_path / "venv"
    (venv / "lib" / "python3.13" / "site-packages").mkdir(parents=True)
    (venv / "lib64").symlink_to(venv / "lib")
    path = [
        "/code",
        "/usr/lib/python313.zip",
        "/usr/lib/python3.13",
        str(venv / "lib" / "python3.13" / "site-packages"),
        str(venv / "lib64" / "python3.13" / "site-packages"),
        "/layer/python",
    ]
    assert isolated_path(path, str(venv), "/runtime") == [
        "/code",
        "/usr/lib/python313.zip",
        "/usr/lib/python3.13",
        "/layer/python",
        "/runtime",
    ]


def run_hook(script: Path, runtime: Path | None) -> list[str]:
    """Run this venv's interpreter on ``script``, which applies the hook first, as the .pth does."""
    script.write_text(
        f"import runpy, sys\nrunpy.run_path({str(HOOK)!r})\n"
        "import importlib.util\n"
        "found = [importlib.util.find_spec(name) is not None for name in ('pytest', 'probe_only_here')]\n"
        "print(*found)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != RUNTIME_VARIABLE}
    if runtime is not None:
        env[RUNTIME_VARIABLE] = str(runtime)
    return subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, check=True
    ).stdout.split()


def test_a_worker_loses_the_venv_and_gains_the_runtime(tmp_path: Path):
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    (runtime / "probe_only_here.py").write_text("")
    worker = tmp_path / "ministack-lambda-fn-x1" / "_worker.py"
    worker.parent.mkdir()
    assert run_hook(worker, runtime) == ["False", "True"]  # pytest is in .venv only


def test_anything_else_keeps_its_path(tmp_path: Path):
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    (runtime / "probe_only_here.py").write_text("")
    assert run_hook(tmp_path / "server.py", runtime) == ["True", "False"]
    worker = tmp_path / "ministack-lambda-fn-x1" / "_worker.py"
    worker.parent.mkdir()
    assert run_hook(worker, None) == ["True", "False"]  # not enabled: left alone
