"""CodeDeploy PreTraffic hook: invoke each new version with the events/ fixtures, then report.

Wiring only; the checks live in simple_api.services.smoke. ``events`` beside this file is a link
to the repository's events/ folder, so the hook ships the very fixtures the unit tests use.
"""

from pathlib import Path
from typing import Any

from simple_api.adapters.deployment import CodeDeployHooks, LambdaInvoker
from simple_api.observability import logger
from simple_api.services import smoke
from simple_api.settings import get_settings

EVENTS = Path(__file__).resolve().with_name("events")


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    problems = smoke.check_deployment(EVENTS, get_settings().pre_traffic_targets, LambdaInvoker().invoke)
    logger.info("pre-traffic checks done", succeeded=not problems, problems=problems)
    CodeDeployHooks().report(event["DeploymentId"], event["LifecycleEventHookExecutionId"], succeeded=not problems)
    return {"succeeded": not problems, "problems": problems}
