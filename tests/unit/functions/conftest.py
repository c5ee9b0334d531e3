"""The handlers, by folder name (the AWS fixtures live in tests/conftest.py)."""

import importlib
from collections.abc import Callable
from typing import Any

from tests.conftest import SECRET_VALUE

__all__ = ["SECRET_VALUE", "handler"]


def handler(function: str) -> Callable[..., dict[str, Any]]:
    module = importlib.import_module(f"functions.{function}.handler")
    return module.lambda_handler  # type: ignore[no-any-return]
