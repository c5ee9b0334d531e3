"""The one reader of samconfig.toml's deploy parameters: overrides, tags and stack names (deploy
scripts, translation, the pipeline's configuration files, the emulator tier, tests)."""

import tomllib
from pathlib import Path
from typing import Any

SAMCONFIG = Path(__file__).resolve().parents[1] / "samconfig.toml"


def _deploy_parameters(env: str, samconfig: Path) -> dict[str, Any]:
    found: dict[str, Any] = tomllib.loads(samconfig.read_text())[env]["deploy"]["parameters"]
    return found


def overrides(env: str, samconfig: Path = SAMCONFIG) -> list[str]:
    """``parameter_overrides`` of ``[<env>.deploy.parameters]``, as KEY=VALUE items."""
    found = _deploy_parameters(env, samconfig).get("parameter_overrides", [])
    return found.split() if isinstance(found, str) else list(found)


def tags(env: str, samconfig: Path = SAMCONFIG) -> dict[str, str]:
    """``tags`` of ``[<env>.deploy.parameters]`` (KEY=VALUE words) as a dict."""
    found = _deploy_parameters(env, samconfig).get("tags", "")
    return dict(item.split("=", 1) for item in found.split())


def parameter_values(env: str, samconfig: Path = SAMCONFIG) -> dict[str, str]:
    """The same overrides as a dict."""
    return dict(item.split("=", 1) for item in overrides(env, samconfig))


def stack_name(env: str, samconfig: Path = SAMCONFIG) -> str:
    """``stack_name`` of ``[<env>.global.parameters]``."""
    found: str = tomllib.loads(samconfig.read_text())[env]["global"]["parameters"]["stack_name"]
    return found
