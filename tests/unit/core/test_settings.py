import pytest

from simple_api.errors import ConfigurationError
from simple_api.settings import DEFAULT_MAX_SLEEP_SECONDS, get_settings, load_settings


def test_defaults_when_nothing_is_set():
    settings = load_settings({})
    assert settings.max_sleep_seconds == DEFAULT_MAX_SLEEP_SECONDS < 29
    assert settings.secret_parameter_name is None
    assert settings.secret_max_age_seconds == 300


def test_reads_every_variable():
    settings = load_settings(
        {
            "MAX_SLEEP_SECONDS": "3.5",
            "SECRET_PARAMETER_NAME": " /a/b ",
            "SECRET_MAX_AGE_SECONDS": "60",
            "PRE_TRAFFIC_TARGETS": "home=arn",
        }
    )
    assert (settings.max_sleep_seconds, settings.secret_parameter_name) == (3.5, "/a/b")
    assert settings.secret_max_age_seconds == 60
    assert settings.pre_traffic_targets == "home=arn"


@pytest.mark.parametrize("value", ["abc", "nan", "inf", "-1", "29", "1e9", "1_0x"])
def test_malformed_max_sleep_is_a_configuration_error(value):
    with pytest.raises(ConfigurationError) as caught:
        load_settings({"MAX_SLEEP_SECONDS": value})
    assert caught.value.detail and "MAX_SLEEP_SECONDS" in caught.value.detail
    assert "MAX_SLEEP_SECONDS" not in caught.value.message  # the public message names nothing internal


def test_missing_secret_name_is_a_configuration_error_only_when_needed():
    settings = load_settings({})
    with pytest.raises(ConfigurationError):
        settings.require_secret_parameter_name()


def test_settings_are_read_once_per_container(monkeypatch):
    monkeypatch.setenv("MAX_SLEEP_SECONDS", "5")
    assert get_settings().max_sleep_seconds == 5
    monkeypatch.setenv("MAX_SLEEP_SECONDS", "6")
    assert get_settings().max_sleep_seconds == 5  # cached: not re-read per request
    get_settings.cache_clear()
    assert get_settings().max_sleep_seconds == 6


def test_importing_the_handlers_reads_no_setting():
    """A broken environment must not break a cold start's import; it surfaces per request instead."""
    import os
    import subprocess
    import sys

    from tests.factories import ROOT

    environment = dict(
        os.environ,
        MAX_SLEEP_SECONDS="not a number",
        SECRET_MAX_AGE_SECONDS="-5",
        PYTHONPATH=f"{ROOT}:{ROOT / 'layers' / 'shared'}",
    )
    names = ("home", "healthcheck", "sleep", "secret", "pre_traffic")
    modules = ", ".join(f"functions.{name}.handler" for name in names)
    result = subprocess.run(
        [sys.executable, "-c", f"import {modules}"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
