"""Every bound the host enforces, in one place: gunicorn.conf.py, the worker and the app read it.

The environment can change the sizes (``HOST_WORKERS``, ``HOST_THREADS``), the load balancer's idle
timeout the keep-alive is derived from (``HOST_LB_IDLE_TIMEOUT``: infra/ec2.yaml and
infra/fargate.yaml pass the value their ALB is given) and the peers whose ``X-Forwarded-For`` is
believed (``HOST_TRUSTED_PROXIES``: the VPC's CIDR behind the ALB, nobody by default).
docs/host.md explains each bound and what it defends against.
"""

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass

type Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: the ALB's default idle timeout; the templates set it explicitly from the same parameter they pass us
DEFAULT_LB_IDLE_TIMEOUT = 60
#: how much longer than the load balancer the host keeps an idle connection (the target must close last)
KEEPALIVE_MARGIN_SECONDS = 15
#: API Gateway's payload limit
MAX_BODY_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Limits:
    workers: int = 2
    #: requests one worker runs at once; one more is refused at once with 503 (the bulkhead)
    threads: int = 8
    #: threads of each worker that serve only the health check, so no crowd can starve it
    health_threads: int = 2
    #: a function whose template Timeout is above this is "long" and shares ``long_slots``
    long_after_seconds: float = 10
    #: a client must send its whole request head within this time, and never stall a read or
    #: a write for longer
    client_timeout: float = 10
    #: a request body must arrive within this time (API Gateway's integration timeout is 29 s)
    body_seconds: float = 30
    lb_idle_timeout: int = DEFAULT_LB_IDLE_TIMEOUT
    max_body_bytes: int = MAX_BODY_BYTES
    #: the request line: API Gateway allows a URL of about 8 KB; 8190 is gunicorn's largest limit
    request_line_bytes: int = 8190
    #: the whole request head (API Gateway allows 10 KB of headers)
    head_bytes: int = 16 * 1024
    header_count: int = 100
    retry_after_seconds: int = 5
    health_path: str = "/healthcheck"
    trusted_proxies: tuple[Network, ...] = ()

    @property
    def keepalive(self) -> int:
        """Idle seconds a kept-alive connection stays open: longer than the load balancer's."""
        return self.lb_idle_timeout + KEEPALIVE_MARGIN_SECONDS

    @property
    def long_slots(self) -> int:
        """Long requests one worker runs at once; two threads always stay for the short routes."""
        return max(1, self.threads - 2)

    def trusts(self, peer: str) -> bool:
        """Whether ``peer`` is a proxy whose X-Forwarded-For the host believes."""
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self.trusted_proxies)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> "Limits":
        proxies = [item.strip() for item in environ.get("HOST_TRUSTED_PROXIES", "").split(",") if item.strip()]
        return cls(
            workers=int(environ.get("HOST_WORKERS", cls.workers)),
            threads=int(environ.get("HOST_THREADS", cls.threads)),
            lb_idle_timeout=int(environ.get("HOST_LB_IDLE_TIMEOUT", cls.lb_idle_timeout)),
            trusted_proxies=tuple(ipaddress.ip_network(item, strict=False) for item in proxies),
        )
