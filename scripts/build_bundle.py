"""Build the application bundle the EC2 variant installs: host + functions + the shared layer's
code + template.yaml + deploy/ec2, with every dependency pinned (hashes from uv.lock) as wheels for
the target platform, so the instance installs with --no-index.

Usage: build_bundle.py OUTPUT.zip [--platform manylinux2014_aarch64|manylinux2014_x86_64]
Runs with the CPython 3.13 that has pip (python3.13 under pyenv); needs PyPI for the wheels.
"""

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ["host", "functions", "layers/shared/simple_api", "template.yaml", "deploy"]
SKIP = {"__pycache__", ".mypy_cache", "Makefile"}  # Makefile: the link to sam build's recipe (scripts/lambda.mk)


def pip_python() -> str:
    """A CPython 3.13 with pip, for the wheel downloads. Not simply the first python3.13 on PATH:
    after `eval "$(make -s sam)"` (the README's line) that is the SAM CLI's venv, which has no pip;
    the interpreter a venv was made from has it."""
    candidates = [sys.executable, str(Path(sys.base_prefix) / "bin" / "python3.13"), shutil.which("python3.13")]
    for candidate in dict.fromkeys(c for c in candidates if c):
        probe = subprocess.run([candidate, "-m", "pip", "--version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return candidate
    raise SystemExit(f"no CPython 3.13 with pip among {candidates}")


def requirements(uv: Path) -> str:
    """The layer's packages plus the host group's, exactly as locked."""
    return subprocess.run(
        [
            str(uv),
            "export",
            "--frozen",
            "--no-default-groups",
            "--group",
            "host",
            "--no-emit-project",
            "--no-header",
            "--format",
            "requirements-txt",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def files(relative: str) -> list[Path]:
    path = ROOT / relative
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and not SKIP & set(p.parts))


def wheelhouse(target: Path, platform: str, uv: Path, python: str) -> None:
    """target/requirements.txt (hashed, from uv.lock) and target/wheels/*.whl for ``platform``."""
    target.mkdir(parents=True, exist_ok=True)
    (target / "requirements.txt").write_text(requirements(uv))
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--require-hashes",
            "--only-binary=:all:",
            "--platform",
            platform,
            "--python-version",
            "3.13",
            "--implementation",
            "cp",
            "-r",
            str(target / "requirements.txt"),
            "-d",
            str(target / "wheels"),
        ],
        check=True,
    )


def build(output: Path, platform: str, uv: Path, python: str) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        wheelhouse(work, platform, uv, python)
        digest = hashlib.sha256()
        for relative in SOURCES:
            for path in files(relative):
                digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
        digest.update((work / "requirements.txt").read_bytes() + platform.encode())
        version = digest.hexdigest()[:12]
        output.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as bundle:
            for relative in SOURCES:
                for path in files(relative):
                    info = zipfile.ZipInfo.from_file(path, str(path.relative_to(ROOT)))
                    bundle.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
            bundle.writestr("VERSION", version + "\n")
            bundle.write(work / "requirements.txt", "requirements.txt")
            for wheel in sorted((work / "wheels").iterdir()):
                bundle.write(wheel, f"wheels/{wheel.name}")
    return version


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("output", type=Path, help="the bundle .zip, or the wheelhouse folder with --wheelhouse")
    parser.add_argument("--wheelhouse", action="store_true", help="only requirements.txt + wheels/ (docker build)")
    parser.add_argument("--platform", default="manylinux2014_aarch64")
    parser.add_argument("--uv", type=Path, default=ROOT / ".tools" / "uv" / "bin" / "uv")
    parser.add_argument("--python", default=None, help="a CPython 3.13 with pip (default: found)")
    arguments = parser.parse_args()
    arguments.python = arguments.python or pip_python()
    if arguments.wheelhouse:
        shutil.rmtree(arguments.output, ignore_errors=True)
        wheelhouse(arguments.output, arguments.platform, arguments.uv, arguments.python)
        print(f"{arguments.output}: wheels for {arguments.platform}")
        return 0
    version = build(arguments.output, arguments.platform, arguments.uv, arguments.python)
    print(f"{arguments.output}: version {version} for {arguments.platform}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
