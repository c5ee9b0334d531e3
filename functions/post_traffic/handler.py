"""CodeDeploy PostTraffic hook: once the alias carries all traffic, run the events/ fixtures through
it (each answer must come from the new version), then report; a failure rolls the deployment back.

Wiring only; the checks live in simple_api.services.smoke. ``events`` beside this file is a link to
the repository's events/ folder, as for the PreTraffic hook.
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
    settings = get_settings()
    problems = smoke.check_live(
        EVENTS, settings.post_traffic_targets, settings.traffic_alias, LambdaInvoker().invoke_alias
    )
    logger.info("post-traffic checks done", succeeded=not problems, problems=problems)
    CodeDeployHooks().report(event["DeploymentId"], event["LifecycleEventHookExecutionId"], succeeded=not problems)
    return {"succeeded": not problems, "problems": problems}
