"""Makefile targets are the only interface: CI, CodeBuild and the README use exactly them."""

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.factories import ROOT

MAKEFILE = (ROOT / "Makefile").read_text()
TARGETS = set(re.findall(r"^([a-z][a-z0-9-]*):", MAKEFILE, flags=re.MULTILINE))


def test_ci_runs_exactly_make_test():
    commands = [
        line
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith(("set ", "cd "))
    ]
    assert commands == ["make test"]


def test_readme_starts_with_the_two_commands_and_names_only_real_targets():
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```bash", 1)[1].split("```", 1)[0]
    assert [line.split()[:2] for line in first_block.strip().splitlines()] == [["make", "run"], ["make", "test"]]
    used = set(re.findall(r"`make ([a-z0-9-]+)", readme)) | set(re.findall(r"^make ([a-z0-9-]+)", readme, re.MULTILINE))
    assert used <= TARGETS, used - TARGETS


def test_the_sam_local_tier_says_skipped_loudly_where_it_cannot_start():
    # nobody may not be able to read the checkout (a clone in a 0700 folder): run a copy of the
    # script from a folder anyone can read
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "scripts"
        folder.mkdir()
        Path(scratch).chmod(0o755)
        folder.chmod(0o755)
        for name in ("sam-local-tier.sh", "docker-engine.sh"):
            shutil.copy(ROOT / "scripts" / name, folder / name)
            (folder / name).chmod(0o755)
        copy = folder / "sam-local-tier.sh"
        script = ["bash", str(copy)]
        if os.geteuid() == 0:  # run it as nobody: it must refuse to start an engine, loudly
            script = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *script]
        result = subprocess.run(script, capture_output=True, text=True, timeout=60, check=False, cwd=scratch)
    assert result.returncode == 77, result.stderr
    assert "*** SKIPPED: sam local tier: needs root" in result.stdout
