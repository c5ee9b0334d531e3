"""`/healthcheck` latency while slow clients and long requests are in flight (`make bench`, and the
hostile-traffic tier's assertions).

A slow client opens a connection and sends a request head a few bytes at a time, never finishing it
(reconnecting when the server cuts it off); a long request is a whole ``GET /sleep/<s>`` whose answer
nobody reads. Meanwhile the probe asks for ``/healthcheck`` on a fresh connection each time, as the
load balancer's health check does, and records how long each answer took (a probe that fails or
times out counts as ``timeout`` seconds). Loopback only, bounded in connections and time.
"""

import contextlib
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

SLOW_HEAD = b"GET /healthcheck HTTP/1.1\r\nHost: slow\r\nUser-Agent: slow-client\r\n"
TRICKLE_SECONDS = 0.5


@dataclass(frozen=True)
class Latency:
    slow_clients: int
    long_requests: int
    probes: int
    failures: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    def what(self) -> str:
        return f"/healthcheck p99, {self.slow_clients} slow clients + {self.long_requests} long requests in flight"

    def met(self) -> bool:
        """The spec: every health check answered, within a second."""
        return self.failures == 0 and self.p99_ms < 1000

    def line(self) -> str:
        return (
            f"/healthcheck with {self.slow_clients} slow clients and {self.long_requests} long requests in flight: "
            f"p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, max {self.max_ms:.1f} ms, "
            f"{self.failures}/{self.probes} failed"
        )


def _address(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    host = parts.hostname or "127.0.0.1"
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"load goes to loopback only, not {host}")
    return host, parts.port or 80


def _connect(address: tuple[str, int]) -> socket.socket | None:
    try:
        return socket.create_connection(address, timeout=2)
    except OSError:
        return None


@contextlib.contextmanager
def slow_clients(base_url: str, count: int) -> Iterator[None]:
    """``count`` connections that each send a request head one byte every half second and never end
    it; one the server closes is opened again. Stopped (and every socket closed) on exit."""
    address = _address(base_url)
    stop = threading.Event()
    clients: list[tuple[socket.socket | None, int]] = [(_connect(address), 0) for _ in range(count)]

    def trickle() -> None:
        while not stop.wait(TRICKLE_SECONDS):
            for index, (sock, sent) in enumerate(clients):
                if stop.is_set():
                    return
                try:
                    if sock is None:
                        raise OSError
                    sock.send(SLOW_HEAD[sent % len(SLOW_HEAD) : sent % len(SLOW_HEAD) + 1])
                    clients[index] = (sock, sent + 1)
                except OSError:
                    if sock is not None:
                        sock.close()
                    clients[index] = (_connect(address), 0)

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)
        for sock, _ in clients:
            if sock is not None:
                sock.close()


@contextlib.contextmanager
def long_requests(base_url: str, count: int, seconds: float) -> Iterator[None]:
    """``count`` whole ``GET /sleep/<seconds>`` requests sent at once, their answers never read;
    every socket closed on exit."""
    address = _address(base_url)
    request = f"GET /sleep/{seconds:g} HTTP/1.1\r\nHost: long\r\n\r\n".encode()
    sockets = []
    try:
        for _ in range(count):
            sock = _connect(address)
            if sock is not None:
                sock.sendall(request)
                sockets.append(sock)
        yield
    finally:
        for sock in sockets:
            sock.close()


def probe(base_url: str, timeout: float) -> float:
    """Seconds one ``GET /healthcheck`` on a new connection took; ``timeout`` when it failed."""
    started = time.perf_counter()
    try:
        with requests.Session() as session:
            reply = session.get(f"{base_url}/healthcheck", timeout=timeout, headers={"Connection": "close"})
        if reply.status_code != 200:
            return timeout
    except requests.RequestException:
        return timeout
    return time.perf_counter() - started


def health_latency(  # noqa: PLR0913 - the load and the probe, each a keyword
    base_url: str,
    *,
    slow: int,
    long: int,
    probes: int = 50,
    interval: float = 0.05,
    timeout: float = 5.0,
    settle: float = 1.0,
) -> Latency:
    """``probes`` health checks, ``interval`` apart, with ``slow`` slow clients and ``long`` long
    requests in flight (given ``settle`` seconds to reach the server first)."""
    base_url = base_url.rstrip("/")
    window = settle + probes * (interval + 0.05)  # the long requests outlast the measurement, not much more
    with slow_clients(base_url, slow), long_requests(base_url, long, seconds=min(25, round(window + 3))):
        time.sleep(settle)
        samples = []
        for _ in range(probes):
            samples.append(probe(base_url, timeout))
            time.sleep(interval)
    failures = sum(1 for s in samples if s >= timeout)
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return Latency(
        slow_clients=slow,
        long_requests=long,
        probes=probes,
        failures=failures,
        p50_ms=statistics.median(samples) * 1000,
        p99_ms=cuts[98] * 1000,
        max_ms=max(samples) * 1000,
    )


#: the loads the tier measures, and the one `make bench` reports: (slow clients, long requests)
LOADS = ((0, 0), (64, 0), (0, 32), (64, 32))
BENCH_LOAD = LOADS[-1]


if __name__ == "__main__":
    import sys

    for slow, long in LOADS:
        print(health_latency(sys.argv[1], slow=slow, long=long).line(), flush=True)
