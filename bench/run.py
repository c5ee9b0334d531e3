"""`make bench`: every figure is a ratio against a baseline measured in the same run.

Sections (SECTIONS, in order; each returns rows): cold init as Lambda loads the code (bench/cold.py),
warm invocations in one process, host throughput (our host and the workshop's server one after the
other on 127.0.0.1, bounded load), sizes of what `sam package` uploads, and the check time of the last
`make test`, reported only when it ran on this very tree. Prints the table, writes it with the run's
provenance to .reports/performance.md (outside the tracked tree; docs/performance.md explains the
method), and exits 1 when a goal is missed or when the run changed the git tree.
"""

import contextlib
import copy
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# after the path holds the repository
from bench import cold, provenance  # noqa: E402
from bench.artifacts import sam_zip  # noqa: E402
from bench.health_under_load import BENCH_LOAD, health_latency  # noqa: E402
from bench.report import Row, table  # noqa: E402
from host.local import free_port, running, wait_until  # noqa: E402

BUILD = cold.BUILD
LAYER = BUILD / "SharedLayer" / "python"
BENCH = ROOT / "bench"
REPORTS = ROOT / ".reports"
PYTHON = sys.executable
API_FUNCTIONS = {
    "home": "home_get.json",
    "healthcheck": "healthcheck_get.json",
    "sleep": "sleep_ok.json",
    "secret": "secret_get.json",
}
ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": "simple-api",
    "POWERTOOLS_METRICS_NAMESPACE": "AwsCicd",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "SECRET_PARAMETER_NAME": "/simple-api/bench/secret",
}
WARM_SECONDS = 1.0
LOAD_SECONDS = 5
WARMUP_SECONDS = 2


# ---------------------------------------------------------------- warm overhead
def load_handler(path: Path, name: str) -> Callable[..., Any]:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler  # type: ignore[no-any-return]


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Handlers print logs and EMF metrics; send them to /dev/null (still written, as in Lambda)."""
    sys.stdout.flush()
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(null)
        os.close(saved)


def rate(handler: Callable[..., Any], event: dict[str, Any]) -> float:
    from host.context import LambdaContext  # noqa: PLC0415 - the context the host gives handlers

    context = LambdaContext(function_name="bench", memory_limit_in_mb=256, timeout_seconds=60, region="us-east-1")
    count = 0
    with quiet_stdout():
        handler(copy.deepcopy(event), context)  # warm: the first call pays the cold-start metric
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < WARM_SECONDS:
            handler(event, context)
            count += 1
    return count / elapsed


@contextlib.contextmanager
def local_secret() -> Iterator[None]:
    import boto3  # noqa: PLC0415
    from moto import mock_aws  # noqa: PLC0415

    with mock_aws():
        boto3.client("ssm").put_parameter(
            Name=ENVIRONMENT["SECRET_PARAMETER_NAME"], Value="bench-secret", Type="SecureString"
        )
        yield


def warm_rows() -> list[Row]:
    os.environ.update(ENVIRONMENT)
    sys.path[:0] = [str(LAYER), str(ROOT)]
    events = ROOT / "events"
    anchor_event = json.loads((events / "home_get.json").read_text())
    anchor_event.update(path="/hello", resource="/hello")
    anchor = rate(load_handler(BENCH / "anchor" / "hello_world" / "app.py", "bench_anchor"), anchor_event)
    rows = [Row("warm", "anchor handler", f"{anchor:,.0f}/s", "", "1.00", "", None)]
    for folder, fixture in API_FUNCTIONS.items():
        event = json.loads((events / fixture).read_text())
        if folder == "sleep":
            event["pathParameters"] = {"seconds": "0"}
        handler = load_handler(BUILD / cold.logical_id(folder) / "handler.py", f"bench_{folder}")
        with local_secret():  # moto in-process: the secret path with its cache, no network
            ours = rate(handler, event)
        goal = folder in ("home", "healthcheck")
        rows.append(
            Row(
                "warm",
                f"{cold.logical_id(folder)} invocations",
                f"{ours:,.0f}/s",
                f"{anchor:,.0f}/s",
                f"{ours / anchor:.2f}x",
                ">= 2x anchor" if goal else "",
                ours / anchor >= 2 if goal else None,
            )
        )
    return rows


# ---------------------------------------------------------------- host throughput
def ensure_wrk() -> str | None:
    if shutil.which("wrk"):
        return shutil.which("wrk")
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], capture_output=True, timeout=300, check=False)
    return shutil.which("wrk")


@dataclass
class Load:
    rps: float
    p99_ms: float
    errors: int
    tool: str


def parse_latency(text: str) -> float:
    value = float(text.rstrip("umsµ"))
    if text.endswith("us") or text.endswith("µs"):
        return value / 1000
    if text.endswith("ms"):
        return value
    return value * 1000  # seconds


def wrk_load(wrk: str, url: str, seconds: int = LOAD_SECONDS) -> Load:
    result = subprocess.run(
        [wrk, "-t2", "-c16", f"-d{seconds}s", "--timeout", "10s", "--latency", url],
        capture_output=True,
        text=True,
        timeout=LOAD_SECONDS + 30,
        check=True,
    )
    rps, p99, errors = 0.0, float("nan"), 0
    for line in result.stdout.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            rps = float(parts[1])
        elif parts[:1] == ["99%"]:
            p99 = parse_latency(parts[1])
        elif "Socket errors" in line or "Non-2xx" in line:
            errors += sum(int(p.rstrip(",")) for p in parts if p.rstrip(",").isdigit())
    return Load(rps, p99, errors, "wrk -t2 -c16")


def python_load(url: str) -> Load:
    """Fallback: 8 keep-alive client threads for LOAD_SECONDS (weaker than wrk; same for both servers)."""
    import http.client  # noqa: PLC0415

    host, port = url.split("//")[1].split("/", maxsplit=1)[0].split(":")
    path = "/" + url.split("//")[1].split("/", 1)[1]
    latencies: list[float] = []
    errors = [0]
    stop = time.monotonic() + LOAD_SECONDS

    def client() -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                connection.request("GET", path)
                connection.getresponse().read()
                latencies.append((time.perf_counter() - started) * 1000)
            except OSError:
                errors[0] += 1
                connection = http.client.HTTPConnection(host, int(port), timeout=10)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) >= 100 else max(latencies, default=float("nan"))
    return Load(len(latencies) / LOAD_SECONDS, p99, errors[0], "python, 8 threads")


@contextlib.contextmanager
def sleeps_in_flight(base: str, count: int = 4) -> Iterator[None]:
    """Keep ``count`` GET /sleep/1 requests in flight until the block ends."""
    stop = threading.Event()

    def sleeper() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{base}/sleep/1", timeout=30).read()  # noqa: S310 - loopback  # nosec B310

    threads = [threading.Thread(target=sleeper, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(35)


@contextlib.contextmanager
def seed_server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [PYTHON, str(BENCH / "seed_app.py"), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(f"http://127.0.0.1:{port}/healthcheck", 30, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def throughput_rows() -> list[Row]:
    sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

    wrk = ensure_wrk()

    def measure(base: str) -> Load:
        """A 2 s warm-up (measured: a fresh server serves the first seconds at a third of its rate), then the run."""
        if wrk:
            wrk_load(wrk, f"{base}/healthcheck", seconds=WARMUP_SECONDS)
            return wrk_load(wrk, f"{base}/healthcheck")
        return python_load(f"{base}/healthcheck")

    with seed_server() as seed:
        seed_idle = measure(seed)
        with sleeps_in_flight(seed):
            seed_busy = measure(seed)
    with running(free_port(), None, quiet=True) as api:
        ours_idle = measure(api.url)
        with sleeps_in_flight(api.url):
            ours_busy = measure(api.url)
        hostile = health_latency(api.url, slow=BENCH_LOAD[0], long=BENCH_LOAD[1], probes=100)
    tool = ours_idle.tool
    return [
        Row("host", hostile.what(), f"{hostile.p99_ms:.1f} ms", "", "", "< 1000 ms, none failed", hostile.met()),
        Row(
            "host",
            f"idle /healthcheck req/s ({tool})",
            f"{ours_idle.rps:,.0f}/s",
            f"seed {seed_idle.rps:,.0f}/s",
            f"{ours_idle.rps / seed_idle.rps:.2f}x",
            ">= 1x seed-style",
            ours_idle.rps >= seed_idle.rps,
        ),
        Row(
            "host",
            "/healthcheck req/s, 4 x /sleep/1 in flight",
            f"{ours_busy.rps:,.0f}/s",
            f"our idle {ours_idle.rps:,.0f}/s; seed {seed_busy.rps:,.1f}/s",
            f"{ours_busy.rps / ours_idle.rps:.2f}x",
            ">= 0.5x our idle",
            ours_busy.rps >= 0.5 * ours_idle.rps,
        ),
        Row(
            "host",
            "/healthcheck p99, 4 x /sleep/1 in flight",
            f"{ours_busy.p99_ms:.1f} ms",
            f"seed {seed_busy.p99_ms:,.0f} ms",
            "",
            "< 50 ms",
            ours_busy.p99_ms < 50,
        ),
    ]


# ---------------------------------------------------------------- sizes and check time
def zipped_sizes(folders: list[Path]) -> dict[Path, int]:
    """Bytes of the zip `sam package` uploads for each built folder."""
    with tempfile.TemporaryDirectory() as scratch:
        archives = {Path(scratch) / f"{i}.zip": folder for i, folder in enumerate(folders)}
        sam_zip(archives)
        return {folder: archive.stat().st_size for archive, folder in archives.items()}


def size_rows() -> list[Row]:
    layer = BUILD / "SharedLayer"
    zipped = zipped_sizes([*sorted(BUILD.glob("*Function")), layer])
    rows = [
        Row("size", f"{built.name} zip", f"{size / 1024:.1f} KB", "", "", "<= 16 KB", size <= 16 * 1024)
        for built, size in zipped.items()
        if built != layer
    ]
    unzipped = sum(f.stat().st_size for f in layer.rglob("*") if f.is_file())
    rows.append(
        Row(
            "size",
            "SharedLayer unzipped",
            f"{unzipped / 1024 / 1024:.2f} MB",
            f"zip {zipped[layer] / 1024 / 1024:.2f} MB",
            "",
            "<= 10 MB",
            unzipped <= 10 * 1024 * 1024,
        )
    )
    return rows


NOT_OFFLINE = ("docker-tiers", "ec2-boot-tier")  # reported apart: not offline checks
LAST_OFFLINE = "sca"  # `make test` times it once every offline check has passed


def check_time_rows() -> list[Row]:
    """The stage timings of the last `make test`, only if it ran on this tree (commit and changes)."""
    timings, recorded_tree = REPORTS / "timings.tsv", REPORTS / "timings.tree"
    if not timings.exists() or not recorded_tree.exists():
        return [not_reported("there are no timings from `make test` (.reports/timings.tsv): run `make test`")]
    recorded = json.loads(recorded_tree.read_text())
    here = provenance.tree_state()
    if (recorded["commit"], recorded["changes"]) != (here["commit"], here["changes"]):
        return [
            not_reported(
                f"`make test` timed commit {recorded['commit'][:12]}{' with changes' if recorded['dirty'] else ''}, "
                f"this tree is {here['commit'][:12]}{' with changes' if here['dirty'] else ''}: run `make test`"
            )
        ]
    age = (time.time() - recorded["at"]) / 60
    source = f"`make test` {age:.0f} min ago, this tree"
    print(f"check time: from .reports/timings.tsv, written by {source}", file=sys.stderr)
    stages = [line.split("\t") for line in timings.read_text().splitlines() if line.strip()]
    rows = [
        Row(
            "check time",
            f"stage {name}{'' if rc == '0' else f' (exit {rc})'}",
            f"{float(seconds):.1f} s",
            source,
            "",
            "",
            None,
        )
        for name, seconds, rc in stages
    ]
    offline = [s for s in stages if s[0] not in NOT_OFFLINE]
    if any(rc != "0" for *_, rc in offline):
        rows.append(not_reported("the last `make test` failed a stage"))
        return rows
    if LAST_OFFLINE not in (name for name, *_ in offline):
        rows.append(not_reported("the last `make test` did not finish its offline checks"))
        return rows
    total = sum(float(seconds) for _, seconds, _ in offline)
    rows.append(Row("check time", "all offline checks", f"{total:.1f} s", source, "", "<= 120 s", total <= 120))
    return rows


def not_reported(reason: str) -> Row:
    print(f"*** check time NOT REPORTED: {reason} ***", file=sys.stderr)
    return Row("check time", "all offline checks", f"not reported: {reason}", "", "", "<= 120 s", None)


# ---------------------------------------------------------------- report
def cold_rows() -> list[Row]:
    return cold.cold_rows(ENVIRONMENT, {cold.logical_id(folder) for folder in API_FUNCTIONS})


#: the bench's sections, in the order they run (cold first, on a quiet machine)
SECTIONS: list[Callable[[], list[Row]]] = [cold_rows, warm_rows, throughput_rows, size_rows, check_time_rows]


def main() -> int:
    if not BUILD.exists():
        print("no .aws-sam/build: run `make build` (make bench does)", file=sys.stderr)
        return 2
    before = provenance.status()
    state = provenance.tree_state()
    rows = [row for section in SECTIONS for row in section()]
    report = table(rows)
    print(report)
    missed = [row for row in rows if row.met is False]
    changed = provenance.status() != before
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / "performance.md").write_text(
        f"""# make bench, {time.strftime("%Y-%m-%d %H:%M")}

Commit {state["commit"][:12]}{" with uncommitted changes" if state["dirty"] else ""}; {os.cpu_count()} cores;
Python {sys.version.split()[0]}. How each figure is measured: docs/performance.md.

{report}

Goals missed: {", ".join(f"{r.what} ({r.value}, goal {r.goal})" for r in missed) or "none"}.
"""
    )
    print(f"\nwrote .reports/performance.md; goals missed: {len(missed)}")
    if changed:
        print("make bench changed the git tree (git status differs from before the run)", file=sys.stderr)
    return 1 if missed or changed else 0


if __name__ == "__main__":
    sys.exit(main())
