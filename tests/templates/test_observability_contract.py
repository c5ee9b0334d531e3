"""The alarms and metric filters in the template match what the code really emits."""

import pytest

from tests.conftest import emitted_metrics, output_records
from tests.factories import sleep_event
from tests.templates.conftest import api_functions, load_template, resources
from tests.unit.functions.conftest import handler


def dimension_names(dimensions):
    return sorted(d["Name"] for d in dimensions)


def test_globals_give_every_function_the_service_and_namespace_the_alarms_use():
    variables = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_SERVICE_NAME"] == {"Ref": "ServiceName"}
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "AwsCicd"


def test_invalid_input_alarm_watches_the_metric_the_sleep_handler_emits(lambda_context, capsys):
    handler("sleep")(sleep_event("hello"), lambda_context)
    emitted = emitted_metrics(capsys.readouterr().out)["InvalidInput"]
    alarm = load_template()["Resources"]["InvalidInputAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (emitted["namespace"], "InvalidInput")
    assert [dimension_names(alarm["Dimensions"])] == [sorted(d) for d in emitted["dimensions"]]
    assert alarm["Dimensions"] == [{"Name": "service", "Value": {"Ref": "ServiceName"}}]


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


def test_error_log_filters_match_the_structured_error_logs(lambda_context, capsys, monkeypatch):
    monkeypatch.setenv("MAX_SLEEP_SECONDS", "broken")
    handler("sleep")(sleep_event("1"), lambda_context)
    errors = [r for r in output_records(capsys.readouterr().out) if r.get("level") == "ERROR"]
    assert errors, "a 5xx must be logged at level ERROR"
    template = load_template()
    filters = resources(template, "AWS::Logs::MetricFilter")
    watched = {f["Properties"]["LogGroupName"]["Ref"] for f in filters.values()}
    assert watched == {f["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] for f in api_functions(template).values()}
    for metric_filter in filters.values():
        assert metric_filter["Properties"]["FilterPattern"] == '{ $.level = "ERROR" }'
        (transform,) = metric_filter["Properties"]["MetricTransformations"]
        assert (transform["MetricNamespace"], transform["MetricName"]) == ("AwsCicd", "ErrorLogs")
    alarm = template["Resources"]["ErrorLogsAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AwsCicd", "ErrorLogs")
