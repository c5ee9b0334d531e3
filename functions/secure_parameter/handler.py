"""Custom::SecureParameter: wiring only; the behaviour lives in simple_api.services.secure_parameter.

crhelper answers CloudFormation on success, on any exception, on an unknown RequestType, and half
a second before the function times out. The secret (property ``Value``) is taken out of the event
before crhelper sees it, so not even its DEBUG logging of the event can print it.
"""

from functools import cache
from typing import Any

from crhelper import CfnResource

from simple_api.adapters.ssm import SsmParameterWriter
from simple_api.services import secure_parameter

helper = CfnResource(json_logging=True, log_level="INFO", boto_level="ERROR", sleep_on_delete=0)
_withheld: dict[str, object] = {}


@cache
def _store() -> SsmParameterWriter:
    return SsmParameterWriter()


@helper.create
def create(event: dict[str, Any], context: Any) -> str:
    wanted = secure_parameter.parse(event["ResourceProperties"], _withheld.get("Value"))
    helper.Data.update(Name=wanted.name)
    return secure_parameter.create(wanted, _store())


@helper.update
def update(event: dict[str, Any], context: Any) -> str:
    wanted = secure_parameter.parse(event["ResourceProperties"], _withheld.get("Value"))
    helper.Data.update(Name=wanted.name)
    return secure_parameter.update(wanted, event["PhysicalResourceId"], _store())


@helper.delete
def delete(event: dict[str, Any], context: Any) -> None:
    secure_parameter.delete(event.get("PhysicalResourceId", ""), _store())


def lambda_handler(event: dict[str, Any], context: Any) -> None:
    for key in ("StackId", "RequestId", "LogicalResourceId", "RequestType"):
        event.setdefault(key, "")  # so crhelper reaches the ResponseURL and answers FAILED
    _withheld.clear()
    for section in ("ResourceProperties", "OldResourceProperties"):
        if isinstance(event.get(section), dict) and "Value" in event[section]:
            value = event[section].pop("Value")
            if section == "ResourceProperties":
                _withheld["Value"] = value
    helper.NoEcho = True
    try:
        helper(event, context)
    finally:
        _withheld.clear()
