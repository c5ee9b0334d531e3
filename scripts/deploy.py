"""`make deploy ENV=dev PARAMS="K=V ..."`: sam deploy with the samconfig section's parameter
overrides, the given ones replacing or adding to them (a bare --parameter-overrides on the sam
command line would drop every samconfig value)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.set_secret import deploy

if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: deploy.py ENV [KEY=VALUE ...]")
    changed = dict(item.split("=", 1) for item in sys.argv[2:])
    sys.exit(deploy(sys.argv[1], **changed))
