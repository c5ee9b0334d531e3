"""What Lambda loads: a built folder zipped as `sam package` zips it, extracted as Lambda extracts it,
imported as the runtime imports it. Used by `make bench` (cold init) and by the test that proves the
built artifacts' bytecode is used (tests/templates/test_bytecode.py).

- zip: aws-sam-cli's own `make_zip_with_lambda_permissions` (samcli.lib.package.utils: what `sam
  package` and `sam deploy` run on every function and layer folder), in the .tools/sam environment.
  It writes every entry with zipfile's default date, 1980-01-01 00:00.
- extract: each file dated as its entry and without write bits (Lambda's /var/task and /opt are
  read-only); functions to one folder, layers to another.
- import: probe.py in a fresh `python -I -S -B` (no site-packages, no bytecode writes), sys.path in the
  python3.13 runtime's order: /var/task, /opt/python/lib/python3.13/site-packages, /opt/python, then
  the runtime's own packages. For those, RUNTIME_PACKAGES linked from .venv stand in (boto3 and what
  it needs, as the runtime provides them); nothing else from .venv is importable, so a package the
  zip forgot fails the import instead of being found on this machine.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAM_PYTHON = ROOT / ".tools" / "sam" / "bin" / "python"
PROBE = Path(__file__).with_name("probe.py")
SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])
#: what Lambda's python3.13 runtime provides besides the standard library: boto3 and its dependencies
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")
VERSION = f"python{sys.version_info.major}.{sys.version_info.minor}"
SAM_ZIP = """
import sys
from samcli.lib.package.utils import make_zip_with_lambda_permissions
for base, folder in zip(sys.argv[1::2], sys.argv[2::2]):
    make_zip_with_lambda_permissions(base, folder)
"""


def sam_zip(archives: Mapping[Path, Path]) -> None:
    """Zip each folder exactly as `sam package` does: ``archives`` maps each .zip path to write to the
    folder it holds. One process for all (aws-sam-cli takes a second to import)."""
    arguments = [str(a) for archive, folder in archives.items() for a in (archive.with_suffix(""), folder)]
    # aws-sam-cli's environment has no bytecode: cache it under .aws-sam (ignored), or each import takes seconds
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    environment["PYTHONPYCACHEPREFIX"] = str(ROOT / ".aws-sam" / "pycache")
    subprocess.run(
        [str(SAM_PYTHON), "-c", SAM_ZIP, *arguments], env=environment, capture_output=True, timeout=600, check=True
    )


def extract(archive: Path, destination: Path) -> None:
    """Extract as Lambda does: entry dates kept as modification times, nothing writable."""
    with zipfile.ZipFile(archive) as zipped:
        for entry in zipped.infolist():
            target = Path(zipped.extract(entry, destination))
            stamp = time.mktime((*entry.date_time, 0, 0, -1))
            os.utime(target, (stamp, stamp))
            target.chmod(((entry.external_attr >> 16) & 0o777 or 0o644) & ~0o222)
    for directory in sorted((p for p in destination.rglob("*") if p.is_dir()), reverse=True):
        directory.chmod(0o555)
    destination.chmod(0o555)


def _files(tree: Path) -> set[Path]:
    return set(tree.rglob("*"))


def _remove(tree: Path) -> None:
    for path in [tree, *tree.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(tree)


@contextmanager
def deployed(folders: Mapping[str, Path]) -> Iterator[dict[str, Path]]:
    """Each built folder zipped as `sam package` would and extracted read-only into a scratch folder
    (one per name), plus "runtime": the runtime stand-in. Checks on the way out that nothing was
    written into the extracted trees (no bytecode cache, no file)."""
    scratch = Path(tempfile.mkdtemp(prefix="lambda-artifacts-"))
    try:
        archives = {scratch / f"{i}.zip": folder for i, folder in enumerate(folders.values())}
        sam_zip(archives)
        trees = {name: scratch / f"tree-{i}" for i, name in enumerate(folders)}
        for archive, tree in zip(archives, trees.values(), strict=True):
            extract(archive, tree)
            archive.unlink()
        before = {name: _files(tree) for name, tree in trees.items()}
        runtime = scratch / "runtime"
        runtime.mkdir()
        for package in RUNTIME_PACKAGES:
            (runtime / package).symlink_to(SITE_PACKAGES / package)
        yield {**trees, "runtime": runtime}
        written = {name: sorted(_files(tree) - before[name]) for name, tree in trees.items()}
        if any(written.values()):
            raise RuntimeError(f"the read-only trees were written to: {written}")
    finally:
        _remove(scratch)


def without_bytecode(folder: Path, destination: Path) -> Path:
    """A copy of a built folder without its bytecode: what SAM's python3.13 builder ships."""
    shutil.copytree(folder, destination, ignore=shutil.ignore_patterns("__pycache__"))
    return destination


@dataclass(frozen=True)
class Deployment:
    """One function as Lambda's runtime sees it: sys.path entries in the runtime's order."""

    paths: tuple[Path, ...]
    runtime: Path

    @classmethod
    def of(cls, trees: Mapping[str, Path], function: str, layers: Sequence[str] = ()) -> "Deployment":
        layer_paths = [
            p
            for name in layers
            for p in (trees[name] / "python/lib" / VERSION / "site-packages", trees[name] / "python")
        ]
        return cls((trees[function], *layer_paths), trees["runtime"])

    def probe(self, module: str, *, audit: bool, environment: Mapping[str, str]) -> "Probe":
        """Import ``module`` once in a fresh interpreter as Lambda would (see the module docstring)."""
        command = [sys.executable, "-I", "-S", "-B", str(PROBE), module, "1" if audit else "0"]
        command += [*map(str, self.paths), "--", str(self.runtime)]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            cwd=tempfile.gettempdir(),
            env={**os.environ, **environment},
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"importing {module} from {self.paths[0]} failed:\n{result.stderr}")
        return Probe(**json.loads(result.stdout.strip().splitlines()[-1]))


@dataclass(frozen=True)
class Probe:
    ms: float
    #: files of the deployment compiled from source during the import (none when its bytecode is used)
    compiled: list[str]
    #: modules imported from the deployment (the function and its layers)
    loaded: list[str]
    #: modules imported from the runtime stand-in
    from_runtime: list[str]


def median_ms(
    subjects: Mapping[str, tuple[Deployment, str]], rounds: int, environment: Mapping[str, str]
) -> dict[str, float]:
    """Median import time per subject over ``rounds`` rounds, every subject once per round (machine
    noise falls on all of them alike)."""
    samples: dict[str, list[float]] = {name: [] for name in subjects}
    for _ in range(rounds):
        for name, (deployment, module) in subjects.items():
            samples[name].append(deployment.probe(module, audit=False, environment=environment).ms)
    return {name: statistics.median(values) for name, values in samples.items()}
