"""Translate the built SAM template to plain CloudFormation, offline (no AWS account, no network).

Runs in the aws-sam-cli environment (.tools/sam) because it uses SAM's own translator and YAML
parser. Local code paths are replaced by placeholder s3:// URIs (the translator accepts only S3
locations); nothing else is changed. Usage: translate.py TEMPLATE SAMCONFIG ENV OUTPUT_JSON, or
translate.py --batch with a JSON list of {"source", "parameters", "target"} on stdin.
"""

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.samconfig import parameter_values

BUCKET = "aws-cicd-offline-translation"
CODE_PROPERTIES = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
}


class _NoManagedPolicies:
    """The translator asks IAM for managed policy ARNs; offline there are none to look up."""

    def load(self) -> dict[str, str]:
        return {}


def placeholder_uris(template: dict[str, Any]) -> dict[str, Any]:
    for name, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        key = CODE_PROPERTIES.get(resource.get("Type", ""))
        if key and isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
            properties[key] = f"s3://{BUCKET}/{name}.zip"
        if resource.get("Type") == "AWS::CloudFormation::Stack" and "TemplateURL" in properties:
            properties["TemplateURL"] = f"https://{BUCKET}.s3.amazonaws.com/{name}.template"
    return template


def carry_checkov_skips(source: dict[str, Any], translated: dict[str, Any]) -> None:
    for name, resource in source.get("Resources", {}).items():
        skips = resource.get("Metadata", {}).get("checkov")
        if resource.get("Type") != "AWS::Serverless::Api" or not skips:
            continue
        for generated in translated["Resources"].values():
            if generated["Type"] == "AWS::ApiGateway::Stage" and generated["Properties"].get("RestApiId") == {
                "Ref": name
            }:
                generated.setdefault("Metadata", {})["checkov"] = skips
                # SAM copies the API's Metadata to the RestApi too, where these checks do not apply
                translated["Resources"].get(name, {}).get("Metadata", {}).pop("checkov", None)


def translate(source: str, parameters: dict[str, str], target: str) -> None:
    """``source`` (a built or packaged SAM template) translated with ``parameters`` into ``target``."""
    with Path(source).open() as stream:
        template = placeholder_uris(yaml_parse(stream.read()))
    original = json.loads(json.dumps(template))
    translated = transform(template, parameters, _NoManagedPolicies())
    carry_checkov_skips(original, translated)
    with Path(target).open("w") as stream:
        json.dump(translated, stream, indent=1, sort_keys=True)
        stream.write("\n")
    print(f"translated {source} -> {target}: {len(translated['Resources'])} resources")


def main(arguments: list[str]) -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    logging.disable(logging.WARNING)  # the translator's feature-toggle notices are not findings
    if arguments == ["--batch"]:  # [{"source", "parameters", "target"}, ...] on stdin: one start-up for many
        for job in json.load(sys.stdin):
            translate(job["source"], job["parameters"], job["target"])
        return
    source, samconfig, config_env, target = arguments[:4]
    translate(source, parameter_values(config_env, Path(samconfig)), target)


if __name__ == "__main__":
    main(sys.argv[1:])
