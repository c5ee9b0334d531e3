"""CodePipeline's action history, as stage runs (for the delivery metrics)."""

from collections import defaultdict
from typing import Any

from simple_api.adapters.clients import client_config, error_code
from simple_api.errors import UpstreamError
from simple_api.services.delivery import StageRun

#: enough history for a month of a busy pipeline; older runs do not change the averages much
MAX_ACTIONS = 500


class PipelineHistory:
    def __init__(self, client: Any = None) -> None:
        self._client = client

    def _codepipeline(self) -> Any:
        if self._client is None:
            import boto3  # noqa: PLC0415 - deferred: boto3 costs ~0.35 s of import

            self._client = boto3.client("codepipeline", config=client_config(connect_timeout=3, read_timeout=10))
        return self._client

    def stage_runs(self, pipeline: str) -> list[StageRun]:
        """Every stage run among the pipeline's most recent actions, failed if any action failed."""
        actions: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        try:
            pages = self._codepipeline().get_paginator("list_action_executions")
            for page in pages.paginate(pipelineName=pipeline, PaginationConfig={"MaxItems": MAX_ACTIONS}):
                for action in page.get("actionExecutionDetails", []):
                    actions[(action["pipelineExecutionId"], action["stageName"])].append(action)
        except Exception as error:
            raise UpstreamError(f"codepipeline list_action_executions failed: {error_code(error)}") from None
        return [
            StageRun(
                execution_id=execution,
                stage=stage,
                failed=any(a.get("status") == "Failed" for a in done),
                started=min(a["startTime"] for a in done),
                ended=max(a.get("lastUpdateTime", a["startTime"]) for a in done),
            )
            for (execution, stage), done in actions.items()
        ]
