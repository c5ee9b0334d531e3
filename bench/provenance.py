"""Which tree a figure was measured on: the commit plus a digest of every uncommitted change.

`make test` records it beside its stage timings (`python -m bench.provenance > .reports/timings.tree`);
`make bench` reports those timings only when they were measured on the tree it runs on, and says how
old they are. Reads git only; writes nothing to the repository (not even objects).
"""

import hashlib
import json
import subprocess
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def git(root: Path, *arguments: str) -> bytes:
    return subprocess.run(["git", *arguments], cwd=root, capture_output=True, check=True, timeout=60).stdout


def status(root: Path = ROOT) -> str:
    """`git status --porcelain` of the tree: empty when clean."""
    return git(root, "status", "--porcelain", "--untracked-files=all").decode()


def tree_state(root: Path = ROOT) -> dict[str, Any]:
    """The commit, and a digest of the tracked changes and the untracked files' names and contents."""
    digest = hashlib.sha256(git(root, "diff", "--binary", "HEAD"))
    for name in sorted(git(root, "ls-files", "--others", "--exclude-standard", "-z").decode().split("\0")):
        if name and (root / name).is_file():
            digest.update(name.encode() + b"\0" + hashlib.sha256((root / name).read_bytes()).digest())
    commit = git(root, "rev-parse", "HEAD").decode().strip()
    return {"commit": commit, "changes": digest.hexdigest(), "dirty": bool(status(root))}


if __name__ == "__main__":
    print(json.dumps({**tree_state(), "at": int(time.time())}))
