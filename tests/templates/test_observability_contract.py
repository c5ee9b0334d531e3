"""The alarms and metric filters in the template match what the code really emits, and only the
traffic each alarm is meant for can trip it: not another environment's, another runtime's, nor our
own hooks' and canary's deliberate bad input."""

import json
import re
from typing import Any

import pytest

from simple_api.observability import deployment_dimensions
from tests.conftest import emitted_metrics, output_records
from tests.factories import sleep_event
from tests.templates.conftest import api_functions, load_template, resources
from tests.unit.functions.conftest import handler

WHERE = [
    {"Name": "service", "Value": {"Ref": "ServiceName"}},
    {"Name": "environment", "Value": {"Ref": "Environment"}},
    {"Name": "runtime", "Value": "lambda"},
]


def dimension_names(dimensions):
    return sorted(d["Name"] for d in dimensions)


# ---------------------------------------------------------------- CloudWatch Logs filter patterns
_TERM = re.compile(r'^\$\.(?P<field>[A-Za-z_][A-Za-z0-9_.]*)\s*(?P<op>=|!=)\s*"(?P<value>[^"]*)"$')


def matches(pattern: str, record: dict[str, Any]) -> bool:
    """CloudWatch Logs' JSON filter syntax, the part our filters use: ``{ $.f = "v" && $.g != "w" }``
    (string terms joined by &&; a missing field never equals anything; a value ending in ``*``
    matches every string that begins with the rest, as in ``{ $.status = "5*" }``)."""
    inner = pattern.strip()
    assert inner.startswith("{") and inner.endswith("}"), pattern
    for term in inner[1:-1].split("&&"):
        found = _TERM.match(term.strip())
        assert found, f"unsupported term {term!r}"
        value: Any = record
        for part in found["field"].split("."):
            value = value.get(part) if isinstance(value, dict) else None
        wanted = found["value"]
        if wanted.endswith("*"):
            assert "*" not in wanted[:-1], f"only a trailing wildcard is supported: {term!r}"
            equal = isinstance(value, str) and value.startswith(wanted[:-1])
        else:
            equal = isinstance(value, str) and value == wanted
        if equal != (found["op"] == "="):
            return False
    return True


@pytest.mark.parametrize(
    ("pattern", "record", "expected"),
    [
        ('{ $.level = "ERROR" }', {"level": "ERROR"}, True),
        ('{ $.level = "ERROR" }', {"level": "INFO"}, False),
        ('{ $.level = "ERROR" }', {}, False),
        ('{ $.a = "x" && $.b = "y" }', {"a": "x", "b": "y"}, True),
        ('{ $.a = "x" && $.b = "y" }', {"a": "x", "b": "z"}, False),
        ('{ $.a.b = "x" }', {"a": {"b": "x"}}, True),
        ('{ $.a != "x" }', {"a": "y"}, True),
        ('{ $.status = "5*" }', {"status": "502"}, True),
        ('{ $.status = "5*" }', {"status": "200"}, False),
        ('{ $.status = "5*" }', {}, False),
    ],
)
def test_the_filter_matcher_follows_cloudwatch_syntax(pattern, record, expected):
    assert matches(pattern, record) is expected


def log_dimensions(transformation: dict[str, Any], record: dict[str, Any]) -> dict[str, str]:
    """A filter's dimensions for one log line: each value is a ``$.field`` of the line."""
    values = {}
    for dimension in transformation["Dimensions"]:
        field = dimension["Value"].removeprefix("$.")
        assert field in record, f"the log line has no {field}: {record}"
        values[dimension["Key"]] = record[field]
    return values


def sleep_lines(event, lambda_context, capsys) -> list[dict[str, Any]]:
    handler("sleep")(event, lambda_context)
    return output_records(capsys.readouterr().out)


def synthetic(event: dict[str, Any], how: str) -> dict[str, Any]:
    if how == "hook":
        event["requestContext"] = {**event["requestContext"], "synthetic": "pre-traffic"}
    else:  # the Synthetics canary's header, any case
        event["headers"] = {**(event.get("headers") or {}), "X-Synthetic-Traffic": "canary"}
    return event


# ---------------------------------------------------------------- the workshop's bad-sleep alarm
def test_a_users_bad_sleep_trips_the_invalid_input_alarm_through_the_log_filter(lambda_context, capsys):
    template = load_template()
    log_filter = template["Resources"]["SleepInvalidRequestsFilter"]["Properties"]
    (transformation,) = log_filter["MetricTransformations"]
    alarm = template["Resources"]["InvalidInputAlarm"]["Properties"]
    assert log_filter["LogGroupName"] == {"Ref": "SleepLogGroup"}
    assert (alarm["Namespace"], alarm["MetricName"]) == (
        transformation["MetricNamespace"],
        transformation["MetricName"],
    )
    assert alarm["Dimensions"] == WHERE
    lines = [r for r in sleep_lines(sleep_event("hello"), lambda_context, capsys) if "level" in r]
    matched = [r for r in lines if matches(log_filter["FilterPattern"], r)]
    assert len(matched) == 1, lines
    assert set(log_dimensions(transformation, matched[0])) == {d["Name"] for d in alarm["Dimensions"]}
    assert alarm["Threshold"] == {"Ref": "InvalidInputAlarmThreshold"}


@pytest.mark.parametrize("how", ["hook", "canary"])
def test_our_own_bad_requests_never_count_as_users(lambda_context, capsys, how):
    template = load_template()
    pattern = template["Resources"]["SleepInvalidRequestsFilter"]["Properties"]["FilterPattern"]
    records = sleep_lines(synthetic(sleep_event("hello"), how), lambda_context, capsys)
    assert not [r for r in records if "level" in r and matches(pattern, r)]
    assert "InvalidInput" not in emitted_metrics("\n".join(json.dumps(r) for r in records))
    assert any(r.get("traffic") == "synthetic" for r in records)


def test_good_sleeps_and_other_errors_do_not_match(lambda_context, capsys, no_sleep):
    pattern = load_template()["Resources"]["SleepInvalidRequestsFilter"]["Properties"]["FilterPattern"]
    records = sleep_lines(sleep_event("1"), lambda_context, capsys)
    assert not [r for r in records if "level" in r and matches(pattern, r)]


def test_the_emf_invalid_input_metric_names_where_it_ran(lambda_context, capsys):
    handler("sleep")(sleep_event("hello"), lambda_context)
    emitted = emitted_metrics(capsys.readouterr().out)["InvalidInput"]
    assert emitted["namespace"] == "AwsCicd"
    assert [sorted(d) for d in emitted["dimensions"]] == [dimension_names(WHERE)]


# ---------------------------------------------------------------- where the code runs
def test_globals_give_every_function_the_service_environment_and_namespace_the_alarms_use():
    variables = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_SERVICE_NAME"] == {"Ref": "ServiceName"}
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "AwsCicd"
    assert variables["ENVIRONMENT"] == {"Ref": "Environment"}


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"AWS_LAMBDA_FUNCTION_NAME": "aws-cicd-prod-SleepFunction-x", "ENVIRONMENT": "prod"}, ("prod", "lambda")),
        ({"AWS_LAMBDA_FUNCTION_NAME": "f", "ENVIRONMENT": "dev", "HOST_RUNTIME": "ec2"}, ("dev", "lambda")),
        ({"HOST_RUNTIME": "ec2", "ENVIRONMENT": "prod"}, ("prod", "ec2")),
        ({"HOST_RUNTIME": "fargate", "ENVIRONMENT": "dev"}, ("dev", "fargate")),
        ({}, ("local", "local")),
    ],
)
def test_each_runtime_and_environment_gets_its_own_dimensions(environ, expected):
    assert tuple(deployment_dimensions(environ).values()) == expected


def test_log_lines_carry_the_fields_the_filters_read(lambda_context, capsys):
    records = [r for r in sleep_lines(sleep_event("hello"), lambda_context, capsys) if "level" in r]
    for record in records:
        assert {"service", "environment", "runtime"} <= set(record)


# ---------------------------------------------------------------- rollback and error-log alarms
@pytest.mark.parametrize("function", ["HomeFunction", "HealthcheckFunction", "SleepFunction", "SecretFunction"])
def test_rollback_alarms_watch_the_fault_metric_the_code_emits(function, lambda_context, capsys, monkeypatch):
    monkeypatch.setenv("MAX_SLEEP_SECONDS", "broken")  # any 5xx answer is a fault of the version
    handler("sleep")(sleep_event("1"), lambda_context)
    emitted = emitted_metrics(capsys.readouterr().out)["Fault"]
    stem = function.removesuffix("Function")
    metrics = load_template()["Resources"][f"{stem}ErrorsAlarm"]["Properties"]["Metrics"]
    (faults,) = [m["MetricStat"]["Metric"] for m in metrics if m["Id"] == "faults"]
    assert (faults["Namespace"], faults["MetricName"]) == (emitted["namespace"], "Fault")
    assert [dimension_names(faults["Dimensions"])] == [sorted(d) for d in emitted["dimensions"]]
    assert [d for d in faults["Dimensions"] if d["Name"] in ("service", "environment", "runtime")] == WHERE


@pytest.mark.parametrize("how", ["user", "hook", "canary"])
def test_a_fault_counts_whoever_asked(how, lambda_context, capsys, monkeypatch):
    monkeypatch.setenv("MAX_SLEEP_SECONDS", "broken")
    event = sleep_event("1") if how == "user" else synthetic(sleep_event("1"), how)
    handler("sleep")(event, lambda_context)
    assert "Fault" in emitted_metrics(capsys.readouterr().out)


def test_error_log_filters_match_the_structured_error_logs(lambda_context, capsys, monkeypatch):
    monkeypatch.setenv("MAX_SLEEP_SECONDS", "broken")
    handler("sleep")(sleep_event("1"), lambda_context)
    errors = [r for r in output_records(capsys.readouterr().out) if r.get("level") == "ERROR"]
    assert errors, "a 5xx must be logged at level ERROR"
    template = load_template()
    filters = {
        name: f
        for name, f in resources(template, "AWS::Logs::MetricFilter").items()
        if name.endswith("ErrorLogsFilter")
    }
    watched = {f["Properties"]["LogGroupName"]["Ref"] for f in filters.values()}
    assert watched == {f["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] for f in api_functions(template).values()}
    alarm = template["Resources"]["ErrorLogsAlarm"]["Properties"]
    for metric_filter in filters.values():
        assert matches(metric_filter["Properties"]["FilterPattern"], errors[0])
        (transform,) = metric_filter["Properties"]["MetricTransformations"]
        assert (transform["MetricNamespace"], transform["MetricName"]) == ("AwsCicd", "ErrorLogs")
        assert set(log_dimensions(transform, errors[0])) == {d["Name"] for d in alarm["Dimensions"]}
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AwsCicd", "ErrorLogs")
    assert alarm["Dimensions"] == WHERE


def test_every_alarm_on_our_own_metrics_names_its_environment_and_runtime():
    for name, alarm in resources(load_template(), "AWS::CloudWatch::Alarm").items():
        properties = alarm["Properties"]
        stats = [m["MetricStat"]["Metric"] for m in properties.get("Metrics", []) if "MetricStat" in m]
        for metric in [properties, *stats]:
            if metric.get("Namespace") == "AwsCicd":
                assert [
                    d for d in metric["Dimensions"] if d["Name"] in ("service", "environment", "runtime")
                ] == WHERE, name
