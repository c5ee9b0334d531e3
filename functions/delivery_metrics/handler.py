"""EventBridge (CodePipeline stage state changes) -> delivery metrics: wiring only; the rules live
in simple_api.services.delivery, the AWS call in simple_api.adapters.pipeline."""

from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source

from simple_api.adapters.pipeline import PipelineHistory
from simple_api.observability import logger, metrics
from simple_api.services.delivery import StageEnded, measure

history = PipelineHistory()


@logger.inject_lambda_context
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: Any) -> dict[str, Any]:
    detail = event.detail
    try:
        ended = StageEnded(detail["execution-id"], detail["stage"], detail["state"], datetime.fromisoformat(event.time))
    except (KeyError, TypeError, ValueError) as error:  # not a stage change: nothing to measure, nothing to retry
        logger.warning("not a CodePipeline stage change; ignored", reason=repr(error))
        return {"metrics": {}, "ignored": repr(error)}
    found = measure(ended, history.stage_runs(detail["pipeline"]))
    if found:
        metrics.add_dimension(name="Pipeline", value=detail["pipeline"])
    for measurement in found:
        metrics.add_metric(name=measurement.name, unit=measurement.unit, value=measurement.value)
    logger.info("delivery metrics", stage=ended.stage, state=ended.state, metrics=[m.name for m in found])
    return {"metrics": {m.name: m.value for m in found}}
