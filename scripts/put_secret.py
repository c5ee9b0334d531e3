"""`make put-secret ENV=dev|prod [KEY_ID=<kms key id>]`: write ENV's secret as an SSM SecureString,
for environments the pipeline deploys (it passes only the parameter's name and key, never a value).

The name is samconfig.toml's SecretParameterName for ENV; the value is read without echo (or from
stdin, for scripts) and goes only to SSM - never to a file, an argument, the environment or this
output.
`--delete` removes the parameter (make delete-secret).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.samconfig import parameter_values
from scripts.secret_input import read_secret
from simple_api.adapters.ssm import SsmParameterWriter
from simple_api.errors import UpstreamError

AWS_MANAGED_KEY = "alias/aws/ssm"


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("dev", "prod"):
        print("usage: put_secret.py dev|prod [KEY_ID | --delete]", file=sys.stderr)
        return 2
    env, rest = argv[0], argv[1:]
    name = parameter_values(env)["SecretParameterName"]
    writer = SsmParameterWriter()
    try:
        if rest == ["--delete"]:
            print(f"{name}: {'deleted' if writer.delete(name) else 'was not there'}")
            return 0
        value = read_secret(f"{name} (not echoed): ")
        if not value:
            print("no value given; nothing written", file=sys.stderr)
            return 2
        key = rest[0] if rest else AWS_MANAGED_KEY
        writer.put(name, value, key, {"project": "aws-cicd", "environment": env}, overwrite=True)
    except UpstreamError as error:
        print(f"{name}: {error}", file=sys.stderr)
        return 1
    print(f"{name}: written as a SecureString (key {key}); give the pipeline {env.title()}SecretKeyId if not aws/ssm")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
