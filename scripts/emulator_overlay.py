"""Turn the built SAM template into one the local emulator (ministack) can deploy, and say what went.

    emulator_overlay.py BUILT_TEMPLATE OUTPUT_JSON [--layer DIR]

Reads ``.aws-sam/build/template.yaml`` (after ``make build``), writes OUTPUT_JSON with every local
code path made absolute (so the output can live anywhere; ``--layer`` points the shared layer at
another built copy, for the tier's layer-change update) and prints one line per thing dropped.
``template.yaml`` is never touched. What is dropped, and why (docs/emulator.md keeps the same list,
and a test compares the two):

- every function's ``DeploymentPreference``: ministack refuses ``AWS::CodeDeploy::*`` at
  CreateChangeSet, so there is no traffic shifting, no rollback alarm and no PreTraffic or
  PostTraffic hook; SAM still publishes a new version and points the ``live`` alias at it;
- with it, any policy statement naming SAM's CodeDeploy application (it is no longer created; real
  CloudFormation would reject the dangling reference, ministack would not notice);
- metric-math alarms (``Metrics`` with an ``Expression``): ministack does not model them; each gets
  a single-metric stand-in on its first metric (the other terms are dropped);
- a function's permission to read alarms by name (``cloudwatch:DescribeAlarms`` on alarm ARNs) is
  widened to ``*``: ministack checks DescribeAlarms against ``*`` whatever alarms it names, while
  AWS accepts the alarms' ARNs (Service Authorization Reference: resource type ``alarm``).
"""

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from host.template import load

CODE_PROPERTIES = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
}
CODEDEPLOY_APPLICATION = "ServerlessDeploymentApplication"
ALARM = "AWS::CloudWatch::Alarm"
DESCRIBE_ALARMS = "cloudwatch:DescribeAlarms"
#: properties of a single-metric alarm that a MetricStat carries
_STAT_PROPERTIES = ("Namespace", "MetricName", "Dimensions")


def _names(value: Any, name: str) -> bool:
    """Whether ``value`` references ``name`` (Ref, GetAtt or a ${...} in a Sub)."""
    if isinstance(value, dict):
        if value.get("Ref") == name:
            return True
        getatt = value.get("Fn::GetAtt")
        if isinstance(getatt, list) and getatt and getatt[0] == name:
            return True
        sub = value.get("Fn::Sub")
        text = sub if isinstance(sub, str) else sub[0] if isinstance(sub, list) and sub else ""
        if isinstance(text, str) and ("${" + name + "}" in text or "${" + name + "." in text):
            return True
        return any(_names(item, name) for item in value.values())
    if isinstance(value, list):
        return any(_names(item, name) for item in value)
    return False


def _drop_deployment_preferences(resources: dict[str, Any], dropped: list[str]) -> None:
    for name, resource in resources.items():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and "DeploymentPreference" in properties:
            del properties["DeploymentPreference"]
            dropped.append(
                f"{name}.DeploymentPreference: CodeDeploy traffic shifting, its rollback alarms and the PreTraffic "
                "and PostTraffic hooks"
                " (ministack refuses AWS::CodeDeploy::*; the live alias moves to each new version at once)"
            )


def _drop_codedeploy_statements(resources: dict[str, Any], dropped: list[str]) -> None:
    for name, resource in resources.items():
        for policy in resource.get("Properties", {}).get("Policies", []) or []:
            if not isinstance(policy, dict) or "Statement" not in policy:
                continue
            kept = []
            for statement in policy["Statement"]:
                if _names(statement, CODEDEPLOY_APPLICATION):
                    dropped.append(
                        f"{name} policy statement {statement.get('Sid', '?')}: names {CODEDEPLOY_APPLICATION},"
                        " which SAM creates only with a DeploymentPreference"
                    )
                else:
                    kept.append(statement)
            policy["Statement"] = kept


def _widen_alarm_reads(resources: dict[str, Any], dropped: list[str]) -> None:
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for policy in resource.get("Properties", {}).get("Policies", []) or []:
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                actions = statement.get("Action")
                if (
                    DESCRIBE_ALARMS in (actions if isinstance(actions, list) else [actions])
                    and statement.get("Resource") != "*"
                ):
                    statement["Resource"] = "*"
                    dropped.append(
                        f"{name} policy statement {statement.get('Sid', '?')}: Resource '*' instead of the alarms'"
                        " ARNs (ministack checks DescribeAlarms against '*' whatever alarms it names;"
                        " AWS accepts the ARNs)"
                    )


def _stand_in(properties: dict[str, Any]) -> tuple[dict[str, Any], str, list[str]]:
    """A single-metric alarm on the first MetricStat; the returned id and the ids left out."""
    queries = properties["Metrics"]
    expression = next(q for q in queries if "Expression" in q)
    stats = [q for q in queries if "MetricStat" in q]
    first = stats[0]
    stat = first["MetricStat"]
    single = {key: value for key, value in properties.items() if key != "Metrics"}
    single.update({key: stat["Metric"][key] for key in _STAT_PROPERTIES if key in stat["Metric"]})
    single["Period"] = stat["Period"]
    single["Statistic"] = stat["Stat"]
    left_out = [expression["Id"], *(q["Id"] for q in stats[1:])]
    return single, str(first["Id"]), left_out


def _stand_in_metric_math_alarms(resources: dict[str, Any], dropped: list[str]) -> None:
    for name, resource in resources.items():
        properties = resource.get("Properties", {})
        if resource.get("Type") != ALARM or not any("Expression" in q for q in properties.get("Metrics", [])):
            continue
        expression = next(q["Expression"] for q in properties["Metrics"] if "Expression" in q)
        resource["Properties"], kept, left_out = _stand_in(properties)
        dropped.append(
            f"{name}.Metrics: metric math {expression!r} replaced by its metric {kept!r} alone"
            f" (left out: {', '.join(left_out)}); ministack does not model metric-math alarms"
        )


def _absolute_paths(resources: dict[str, Any], build_dir: Path, layer: Path | None) -> None:
    for resource in resources.values():
        properties = resource.get("Properties", {})
        key = CODE_PROPERTIES.get(resource.get("Type", ""))
        if resource.get("Type") == "AWS::CloudFormation::Stack":
            key = "TemplateURL"
        if not key or not isinstance(properties.get(key), str) or "://" in properties[key]:
            continue
        if layer is not None and resource["Type"] == "AWS::Serverless::LayerVersion":
            properties[key] = str(layer.resolve())
        else:
            properties[key] = str((build_dir / properties[key]).resolve())


def overlay(template: dict[str, Any], build_dir: Path, layer: Path | None = None) -> list[str]:
    """Change ``template`` in place for the emulator; return what was dropped, one line each."""
    resources = template["Resources"]
    dropped: list[str] = []
    _drop_deployment_preferences(resources, dropped)
    _drop_codedeploy_statements(resources, dropped)
    _stand_in_metric_math_alarms(resources, dropped)
    _widen_alarm_reads(resources, dropped)
    _absolute_paths(resources, build_dir, layer)
    return dropped


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--layer"):
        print("usage: emulator_overlay.py BUILT_TEMPLATE OUTPUT_JSON [--layer DIR]", file=sys.stderr)
        return 2
    source, target = Path(argv[0]), Path(argv[1])
    template = load(source)
    dropped = overlay(template, source.parent, Path(argv[3]) if len(argv) == 4 else None)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(template, indent=1))
    print(f"emulator overlay: {source} -> {target}; dropped {len(dropped)}:")
    for line in dropped:
        print(f"  - {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
