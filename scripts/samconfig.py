"""The one reader of samconfig.toml's parameter overrides (deploy scripts, translation, tests)."""

import tomllib
from pathlib import Path

SAMCONFIG = Path(__file__).resolve().parents[1] / "samconfig.toml"


def overrides(env: str, samconfig: Path = SAMCONFIG) -> list[str]:
    """``parameter_overrides`` of ``[<env>.deploy.parameters]``, as KEY=VALUE items."""
    config = tomllib.loads(samconfig.read_text())
    found = config[env]["deploy"]["parameters"].get("parameter_overrides", [])
    return found.split() if isinstance(found, str) else list(found)


def parameter_values(env: str, samconfig: Path = SAMCONFIG) -> dict[str, str]:
    """The same overrides as a dict."""
    return dict(item.split("=", 1) for item in overrides(env, samconfig))
