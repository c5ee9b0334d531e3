"""GET /secret: read the secret parameter and return its name with a masked value.

Masking rule: the value is replaced by eight asterisks, so neither its characters nor its length
show. Only a value of at least 16 characters keeps its last 2 characters visible (the remaining 14+
hidden characters still defeat guessing). The whole value is shown only when the deployment opts
in explicitly (``reveal=True``), as the workshop did.
"""

from typing import Protocol

MASK = "********"
_MIN_LENGTH_FOR_HINT = 16
_HINT = 2


class SecretStore(Protocol):
    def read(self, name: str) -> str:
        """The decrypted value of the secret ``name``; raises SecretUnavailable."""
        ...


def mask(value: str) -> str:
    if len(value) >= _MIN_LENGTH_FOR_HINT:
        return MASK + value[-_HINT:]
    return MASK


def read_secret(name: str, store: SecretStore, *, reveal: bool = False) -> dict[str, str]:
    value = store.read(name)
    return {"Name": name, "Value": value if reveal else mask(value)}
