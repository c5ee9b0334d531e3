"""`make deploy ENV=dev PARAMS="K=V ..."`: sam deploy with the samconfig section's parameter
overrides, the given ones replacing or adding to them (a bare --parameter-overrides on the sam
command line would drop every samconfig value). `make chalice-deploy` passes the Chalice flavour's
built template and its own stack name; everything else still comes from the section.

Usage: deploy.py [--template BUILT_TEMPLATE --stack-name NAME] ENV [KEY=VALUE ...]
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.set_secret import deploy

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--template", type=Path, default=None, help="another built template (default: sam build's)")
    parser.add_argument("--stack-name", default=None)
    parser.add_argument("env")
    parser.add_argument("parameters", nargs="*", metavar="KEY=VALUE")
    arguments = parser.parse_args()
    changed = dict(item.split("=", 1) for item in arguments.parameters)
    sys.exit(deploy(arguments.env, arguments.template, arguments.stack_name, **changed))
