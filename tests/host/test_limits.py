"""The host's bounds: keep-alive outlives the load balancer's idle timeout, from one parameter per
stack; the gunicorn settings every runtime uses; the proxies whose X-Forwarded-For is believed."""

import runpy
from typing import Any

import pytest

from host.limits import DEFAULT_LB_IDLE_TIMEOUT, Limits
from tests.factories import ROOT
from tests.templates.conftest import load_template

CONFIG = ROOT / "host" / "gunicorn.conf.py"
STACKS = ("infra/ec2.yaml", "infra/fargate.yaml")


def gunicorn_settings(monkeypatch: pytest.MonkeyPatch, **environment: str) -> dict[str, Any]:
    for name in ("HOST_LB_IDLE_TIMEOUT", "HOST_RUN_DIR", "HOST_THREADS", "HOST_WORKERS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONFIG))


def alb_idle_timeout(template: dict[str, Any]) -> Any:
    (alb,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::ElasticLoadBalancingV2::LoadBalancer"]
    attributes = {a["Key"]: a["Value"] for a in alb["Properties"]["LoadBalancerAttributes"]}
    assert attributes["routing.http.xff_header_processing.mode"] == "append", "sourceIp is the entry the ALB appends"
    return attributes["idle_timeout.timeout_seconds"]


def host_environment(name: str, template: dict[str, Any]) -> dict[str, Any]:
    """What each stack gives the host: the EC2 env file's lines, or the container's Environment."""
    resources = template["Resources"]
    if name.endswith("ec2.yaml"):
        init = resources["LaunchTemplate"]["Metadata"]["AWS::CloudFormation::Init"]
        text = init["configure"]["files"]["/etc/simple-api/env"]["content"]["Fn::Sub"]
        return dict(line.split("=", 1) for line in text.splitlines() if line)
    (container,) = resources["TaskDefinition"]["Properties"]["ContainerDefinitions"]
    return {item["Name"]: item["Value"] for item in container["Environment"]}


@pytest.mark.parametrize("stack", STACKS)
def test_the_alb_idle_timeout_and_the_host_keepalive_come_from_one_parameter(stack, monkeypatch):
    template = load_template(stack)
    assert alb_idle_timeout(template) == {"Ref": "IdleTimeoutSeconds"}
    environment = host_environment(stack, template)
    assert environment["HOST_LB_IDLE_TIMEOUT"] in ({"Ref": "IdleTimeoutSeconds"}, "${IdleTimeoutSeconds}")
    assert environment["HOST_TRUSTED_PROXIES"] in ({"Ref": "VpcCidr"}, "${VpcCidr}")
    default = template["Parameters"]["IdleTimeoutSeconds"]["Default"]
    for idle in (default, 1, 3600):  # whatever the parameter says, the host keeps connections longer
        settings = gunicorn_settings(monkeypatch, HOST_LB_IDLE_TIMEOUT=str(idle))
        assert settings["keepalive"] > idle


def test_without_a_load_balancer_the_keepalive_still_outlives_the_alb_default(monkeypatch):
    settings = gunicorn_settings(monkeypatch)
    assert settings["keepalive"] > DEFAULT_LB_IDLE_TIMEOUT


def test_every_runtime_serves_with_the_host_worker_and_its_bounds(monkeypatch):
    settings = gunicorn_settings(monkeypatch)
    limits = Limits()
    assert settings["worker_class"] == "host.worker.HostWorker"
    assert (settings["workers"], settings["threads"]) == (limits.workers, limits.threads)
    assert settings["limit_request_line"] == limits.request_line_bytes <= 8190  # gunicorn's maximum
    assert settings["limit_request_fields"] == limits.header_count
    assert limits.long_slots < limits.threads and limits.health_threads >= 1


def test_the_control_socket_is_off_unless_a_run_has_its_own_directory(monkeypatch, tmp_path):
    assert gunicorn_settings(monkeypatch)["control_socket_disable"] is True
    settings = gunicorn_settings(monkeypatch, HOST_RUN_DIR=str(tmp_path))
    assert settings["control_socket_disable"] is False
    assert settings["control_socket"] == str(tmp_path / "gunicorn.ctl")
    assert settings["worker_tmp_dir"] == str(tmp_path)


def test_trusted_proxies_are_networks_from_the_environment():
    limits = Limits.from_environ({"HOST_TRUSTED_PROXIES": "10.0.0.0/16, 2001:db8::/32"})
    assert limits.trusts("10.0.200.1") and limits.trusts("2001:db8::5")
    assert not limits.trusts("10.1.0.1") and not limits.trusts("garbage")
    assert not Limits.from_environ({}).trusts("127.0.0.1")


def test_the_ec2_unit_allows_each_worker_its_connections(monkeypatch):
    unit = (ROOT / "deploy" / "ec2" / "simple-api.service").read_text()
    (limit,) = [line.split("=", 1)[1] for line in unit.splitlines() if line.startswith("LimitNOFILE=")]
    connections = gunicorn_settings(monkeypatch).get("worker_connections", 1000)  # gunicorn's default
    assert int(limit) > connections + 64  # its connections, plus the worker's own files and sockets
