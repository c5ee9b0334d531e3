"""The delivery-metrics function against recorded EventBridge events and a recorded
ListActionExecutions page, served by botocore's Stubber (which checks both against the API model)."""

import json
from datetime import datetime

import boto3
import pytest
from botocore.stub import Stubber

from simple_api.adapters.pipeline import PipelineHistory
from simple_api.errors import UpstreamError
from tests.conftest import emitted_metrics
from tests.factories import ROOT
from tests.unit.functions.conftest import handler

RECORDED = ROOT / "functions" / "delivery_metrics" / "events"


def recorded(name):
    return json.loads((RECORDED / name).read_text())


def history_page():
    page = recorded("list_action_executions.json")
    for action in page["actionExecutionDetails"]:
        for key in ("startTime", "lastUpdateTime"):
            action[key] = datetime.fromisoformat(action[key])
    return page


@pytest.fixture
def pipeline_api(monkeypatch):
    client = boto3.client("codepipeline", region_name="us-east-1")
    stubber = Stubber(client)
    module = __import__("functions.delivery_metrics.handler", fromlist=["history"])
    monkeypatch.setattr(module, "history", PipelineHistory(client=client))
    with stubber:
        yield stubber


def test_a_prod_deployment_after_a_failed_build_emits_frequency_lead_time_and_restore(
    pipeline_api, lambda_context, capsys
):
    pipeline_api.add_response("list_action_executions", history_page(), {"pipelineName": "aws-cicd-pipeline"})
    answer = handler("delivery_metrics")(recorded("delivery_metrics_prod_deployed.json"), lambda_context)
    assert answer["metrics"] == {
        "Deployments": 1,
        "LeadTime": 50 * 60,
        "TimeToRestore": (10 * 60 + 50) * 60 - (9 * 60 + 5) * 60,
    }
    emitted = emitted_metrics(capsys.readouterr().out)
    assert emitted["LeadTime"]["namespace"] == "AwsCicd"  # the tests' namespace; the template sets AwsCicdDelivery
    assert emitted["Deployments"]["dimensions"] == [["environment", "runtime", "Pipeline", "service"]]
    assert emitted["Deployments"]["record"]["Pipeline"] == "aws-cicd-pipeline"
    pipeline_api.assert_no_pending_responses()


def test_a_failed_build_counts_a_failure(pipeline_api, lambda_context, capsys):
    pipeline_api.add_response("list_action_executions", history_page(), {"pipelineName": "aws-cicd-pipeline"})
    answer = handler("delivery_metrics")(recorded("delivery_metrics_build_failed.json"), lambda_context)
    assert answer["metrics"] == {"Failures": 1}  # the history holds no earlier failure
    assert "Failures" in emitted_metrics(capsys.readouterr().out)


def test_a_rejected_approval_emits_nothing(pipeline_api, lambda_context, capsys):
    pipeline_api.add_response("list_action_executions", history_page(), {"pipelineName": "aws-cicd-pipeline"})
    assert handler("delivery_metrics")(recorded("delivery_metrics_approval_rejected.json"), lambda_context) == {
        "metrics": {}
    }
    assert emitted_metrics(capsys.readouterr().out) == {}


def test_an_unreachable_pipeline_api_is_an_upstream_error_naming_the_call(pipeline_api, lambda_context):
    pipeline_api.add_client_error(
        "list_action_executions", service_error_code="ThrottlingException", http_status_code=400
    )
    with pytest.raises(UpstreamError, match="list_action_executions failed: ThrottlingException"):
        handler("delivery_metrics")(recorded("delivery_metrics_prod_deployed.json"), lambda_context)


def test_the_rule_sends_exactly_the_recorded_kind_of_event():
    from tests.templates.conftest import load_template

    function = load_template("infra/pipeline.yaml")["Resources"]["DeliveryMetricsFunction"]["Properties"]
    pattern = function["Events"]["StageEnded"]["Properties"]["Pattern"]
    for name in ("delivery_metrics_prod_deployed.json", "delivery_metrics_build_failed.json"):
        event = recorded(name)
        assert event["source"] in pattern["source"] and event["detail-type"] in pattern["detail-type"]
        assert event["detail"]["stage"] in pattern["detail"]["stage"]
        assert event["detail"]["state"] in pattern["detail"]["state"]
    assert recorded("delivery_metrics_approval_rejected.json")["detail"]["stage"] not in pattern["detail"]["stage"]


def test_the_dashboard_reads_the_metrics_with_the_dimensions_they_are_emitted_with(
    pipeline_api, lambda_context, capsys
):
    from tests.templates.conftest import load_template

    pipeline_api.add_response("list_action_executions", history_page(), {"pipelineName": "aws-cicd-pipeline"})
    handler("delivery_metrics")(recorded("delivery_metrics_prod_deployed.json"), lambda_context)
    record = emitted_metrics(capsys.readouterr().out)["Deployments"]["record"]
    template = load_template("infra/pipeline.yaml")
    environment = template["Resources"]["DeliveryMetricsFunction"]["Properties"]["Environment"]["Variables"]
    body = json.loads(template["Resources"]["PipelineDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0])
    first = [w["properties"]["metrics"][0] for w in body["widgets"]]
    names = {metric[1] for metric in first}
    assert names == {"Deployments", "LeadTime", "TimeBetweenFailures", "TimeToRestore"}
    for metric in first:
        assert metric[0] == environment["POWERTOOLS_METRICS_NAMESPACE"]
        dimensions = dict(zip(metric[2::2], metric[3::2], strict=True))
        names = {"Pipeline", "service", "environment", "runtime"}
        assert set(dimensions) == names == {k for k in record if k in names}
        assert dimensions["service"] == environment["POWERTOOLS_SERVICE_NAME"]
        assert (dimensions["environment"], dimensions["runtime"]) == (environment["ENVIRONMENT"], "lambda")


@pytest.mark.parametrize(
    "broken",
    [
        {"detail": {}},
        {"detail": {"stage": "DeployProd", "state": "SUCCEEDED", "pipeline": "p"}},
        {"time": "yesterday"},
        {"time": None},
    ],
)
def test_an_event_that_is_not_a_stage_change_is_ignored_without_a_call(pipeline_api, lambda_context, broken):
    event = recorded("delivery_metrics_prod_deployed.json")
    for key, value in broken.items():
        event[key] = value
    answer = handler("delivery_metrics")(event, lambda_context)
    assert answer["metrics"] == {} and "ignored" in answer
    pipeline_api.assert_no_pending_responses()  # no history was read
