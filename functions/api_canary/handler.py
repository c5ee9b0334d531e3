"""Custom::ApiStageCanary: wiring only; the behaviour lives in simple_api.services.api_canary.

crhelper answers CloudFormation on success, on any exception (the reason is the exception's
message: "rolled back: <alarm> in ALARM ..."), on an unknown RequestType, and half a second before
the function times out. The service's own budget ends well before that, so a bake is always
closed (promoted or rolled back) by the service, not cut short.
"""

from typing import Any

from crhelper import CfnResource

from simple_api.adapters.apigateway import ApiStage, CloudWatchAlarms
from simple_api.adapters.clients import error_code
from simple_api.errors import InvalidInput
from simple_api.observability import logger
from simple_api.services import api_canary

helper = CfnResource(json_logging=True, log_level="INFO", boto_level="ERROR", sleep_on_delete=0)
#: seconds kept back from the function's remaining time for the last API calls and the answer
MARGIN_SECONDS = 20


def _progress(message: str, **fields: Any) -> None:
    logger.info(message, **fields)


def _physical_id(wanted: api_canary.Release) -> str:
    return f"{wanted.rest_api_id}/{wanted.stage}"


@helper.create
@helper.update
def release(event: dict[str, Any], context: Any) -> str:
    wanted = api_canary.parse(event["ResourceProperties"])
    budget = context.get_remaining_time_in_millis() / 1000 - MARGIN_SECONDS
    stage = ApiStage(wanted.rest_api_id, wanted.stage)
    outcome = api_canary.release(wanted, stage, api_canary.Watch(CloudWatchAlarms(), progress=_progress), budget)
    logger.info("api canary done", outcome=outcome.summary, release=wanted.release)
    # CacheClusterEnabled: the stage's setting (a canary runs without the stage cache); the stage
    # reads it from here, which makes CloudFormation update the stage after this resource
    helper.Data.update(
        DeploymentId=outcome.deployment_id, Outcome=outcome.summary, Release=wanted.release, CacheClusterEnabled="false"
    )
    return _physical_id(wanted)


@helper.delete
def delete(event: dict[str, Any], context: Any) -> None:
    try:
        wanted = api_canary.parse(event["ResourceProperties"])
    except InvalidInput:
        return  # a create that never got valid properties left nothing behind
    try:
        api_canary.close(wanted, ApiStage(wanted.rest_api_id, wanted.stage))
    except Exception as error:
        if error_code(error) not in ("AccessDeniedException", "NotFoundException"):
            raise
        # a REST API this stack no longer has (its function may touch only the current one)
        logger.info("no stage to close", rest_api=wanted.rest_api_id, error=error_code(error))


def lambda_handler(event: dict[str, Any], context: Any) -> None:
    for key in ("StackId", "RequestId", "LogicalResourceId", "RequestType"):
        event.setdefault(key, "")  # so crhelper reaches the ResponseURL and answers FAILED
    helper(event, context)
