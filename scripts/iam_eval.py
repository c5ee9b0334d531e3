"""IAM's policy evaluation, the part our policies use, kept small and tested against the rules AWS
documents (IAM User Guide: "Policy evaluation logic", "IAM JSON policy elements: Action, Resource,
Condition", "Condition operators").

- An explicit Deny in any policy wins; otherwise an Allow must match; otherwise the request is
  implicitly denied. With a permissions boundary, the request must be allowed by both.
- Action: case-insensitive, ``*`` and ``?`` wildcards. NotAction and NotResource are supported.
- Resource: case-sensitive ARN match, ``*`` and ``?`` wildcards (a ``*`` also spans ``:`` and ``/``).
- Condition: every operator block must hold (AND), every key within it (AND), any value of a key (OR).
  A key the request does not carry fails every operator except the ``...IfExists`` forms, ``Null``
  and the negated string/ARN operators (which then hold, as IAM documents).
"""

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

Context = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    why: str = ""


@cache
def _pattern(text: str, fold: bool) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(text), re.IGNORECASE if fold else 0)


def wildcard(pattern: str, value: str, *, fold: bool = False) -> bool:
    """IAM's ``*`` (any run, also none) and ``?`` (one character); nothing else is special."""
    escaped = "".join("[[]" if c == "[" else "[]]" if c == "]" else c for c in pattern)
    return _pattern(escaped, fold).fullmatch(value) is not None


def _listed(node: Any) -> list[Any]:
    return node if isinstance(node, list) else [node]


_STRING: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda p, v: p == v,
    "StringNotEquals": lambda p, v: p == v,
    "StringEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
    "StringLike": wildcard,
    "StringNotLike": wildcard,
    "ArnEquals": lambda p, v: p == v,
    "ArnLike": wildcard,
    "ArnNotEquals": lambda p, v: p == v,
    "ArnNotLike": wildcard,
}
_NEGATED = {"StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike"}


def _key_holds(operator: str, key: str, expected: list[str], context: Context) -> bool:
    qualifier, _, operator = operator.rpartition(":")
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    present = {k.lower(): list(v) for k, v in context.items()}
    values = present.get(key.lower())
    if operator == "Null":
        return (values is None) == (str(expected[0]).lower() == "true")
    if operator == "Bool":
        return values is not None and any(v.lower() == str(e).lower() for v in values for e in expected)
    if operator not in _STRING:
        raise ValueError(f"condition operator {operator} is not modelled")
    if values is None:
        return if_exists or operator in _NEGATED
    test = _STRING[operator]
    matched = [any(test(str(e), v) for e in expected) for v in values]
    if operator in _NEGATED:
        matched = [not m for m in matched]
    if qualifier == "ForAllValues":
        return all(matched)
    if qualifier == "ForAnyValue":
        return any(matched)
    return any(matched) if operator not in _NEGATED else all(matched)


def condition_holds(condition: Mapping[str, Mapping[str, Any]], context: Context) -> bool:
    return all(
        _key_holds(operator, key, [str(v) for v in _listed(expected)], context)
        for operator, tests in condition.items()
        for key, expected in tests.items()
    )


def statement_applies(statement: Mapping[str, Any], request: Request) -> bool:
    if "Action" in statement:
        actions = any(wildcard(a, request.action, fold=True) for a in _listed(statement["Action"]))
    else:
        actions = not any(wildcard(a, request.action, fold=True) for a in _listed(statement["NotAction"]))
    if not actions:
        return False
    if "Resource" in statement:
        resources = any(wildcard(r, request.resource) for r in _listed(statement["Resource"]))
    else:
        resources = not any(wildcard(r, request.resource) for r in _listed(statement["NotResource"]))
    return resources and condition_holds(statement.get("Condition", {}), request.context)


def decision(statements: Iterable[Mapping[str, Any]], request: Request) -> str:
    """``allow``, ``deny`` (an explicit Deny matched) or ``implicit`` (no Allow matched)."""
    verdict = "implicit"
    for statement in statements:
        if statement_applies(statement, request):
            if statement["Effect"] == "Deny":
                return "deny"
            verdict = "allow"
    return verdict


def allowed(
    request: Request, identity: Iterable[Mapping[str, Any]], boundary: Iterable[Mapping[str, Any]] | None
) -> bool:
    if decision(identity, request) != "allow":
        return False
    return boundary is None or decision(boundary, request) == "allow"
