"""Events for tests: the committed events/ fixtures and variations built from them."""

import copy
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def sleep_event(raw: str | None) -> dict[str, Any]:
    """GET /sleep/{seconds} with any raw path parameter value (None: no path parameters at all)."""
    event = copy.deepcopy(load_event("sleep_ok.json"))
    event["pathParameters"] = None if raw is None else {"seconds": raw}
    event["path"] = f"/sleep/{raw}"
    return event
