"""The secure_parameter custom resource's behaviour: an SSM SecureString owned by a stack.

Create puts the parameter (encrypted with the given key, tagged) and returns its name as the
physical id. Update overwrites the value in place, or, when the name changes, creates the new
parameter under a new physical id (CloudFormation then deletes the old one). Delete removes it;
"not found" is success. The value travels apart from the resource properties (see the handler), is
checked here, and appears in no message. ``Scope`` is the path the writer's role may write (its
environment's, e.g. /simple-api/dev/): a name outside it is refused here with a reason, before SSM
would answer AccessDenied.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from simple_api.errors import InvalidInput

#: SSM names: letters, digits and _.-/ ; a path; not under aws or ssm (reserved by SSM)
NAME = re.compile(r"/(?![aA][wW][sS]|[sS][sS][mM])[A-Za-z0-9_.\-/]{1,1010}")
MAX_VALUE_BYTES = 4096  # SSM standard tier
KEY_ID = re.compile(
    r"(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[A-Za-z0-9/_\-]+"  # key or alias ARN
    r"|alias/[A-Za-z0-9/_\-]+"  # alias name
    r"|[a-f0-9-]{36})"  # key id
)


class ParameterStore(Protocol):
    def put(self, name: str, value: str, key_id: str, tags: dict[str, str], *, overwrite: bool) -> None: ...

    def delete(self, name: str) -> bool: ...


@dataclass(frozen=True)
class Properties:
    name: str
    key_id: str
    tags: dict[str, str]
    value: str = ""

    def __repr__(self) -> str:  # never show the value, whatever prints this
        return f"Properties(name={self.name!r}, key_id={self.key_id!r}, tags={self.tags!r}, value=<hidden>)"


def parse(properties: Mapping[str, Any], value: object) -> Properties:
    """Validated properties; InvalidInput naming the property (never its value) otherwise."""
    name = properties.get("ParameterName")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise InvalidInput("ParameterName must be a path like /service/env/name, not under /aws or /ssm")
    if not isinstance(value, str) or not value:
        raise InvalidInput("Value must be a non-empty string")
    if len(value.encode()) > MAX_VALUE_BYTES:
        raise InvalidInput(f"Value must be at most {MAX_VALUE_BYTES} bytes")
    key_id = properties.get("KeyId")
    if not isinstance(key_id, str) or not KEY_ID.fullmatch(key_id):
        raise InvalidInput("KeyId must be a KMS key id, key ARN or alias")
    scope = properties.get("Scope")
    if not isinstance(scope, str) or not scope.endswith("/") or not NAME.fullmatch(scope):
        raise InvalidInput("Scope must be the path this writer may write, like /service/env/")
    if not name.startswith(scope) or name == scope:
        raise InvalidInput(f"ParameterName must lie under {scope}: this environment's writer may write nothing else")
    raw_tags = properties.get("Tags", [])
    if not isinstance(raw_tags, list) or not all(
        isinstance(t, dict) and isinstance(t.get("Key"), str) and isinstance(t.get("Value"), str) for t in raw_tags
    ):
        raise InvalidInput("Tags must be a list of {Key, Value} strings")
    return Properties(name=name, key_id=key_id, tags={t["Key"]: t["Value"] for t in raw_tags}, value=value)


def create(wanted: Properties, store: ParameterStore) -> str:
    store.put(wanted.name, wanted.value, wanted.key_id, wanted.tags, overwrite=False)
    return wanted.name


def update(wanted: Properties, physical_id: str, store: ParameterStore) -> str:
    if wanted.name != physical_id:  # a new name is a new resource; CloudFormation deletes the old one
        return create(wanted, store)
    store.put(wanted.name, wanted.value, wanted.key_id, wanted.tags, overwrite=True)
    return physical_id


def delete(physical_id: str, store: ParameterStore) -> None:
    if NAME.fullmatch(physical_id or ""):  # ids of failed creates are not parameter names: nothing to delete
        store.delete(physical_id)
