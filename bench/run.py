"""`make bench`: every figure is a ratio against a baseline measured in the same run.

Cold init and sizes use the `sam build` output (.aws-sam/build); host throughput runs our host and
the workshop's server one after the other on 127.0.0.1 with a bounded load (wrk, or a Python load
generator where wrk cannot be installed); check time comes from the last `make test`
(.reports/timings.tsv). Prints one table and writes docs/performance.md.
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
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.health_under_load import BENCH_LOAD, health_latency  # noqa: E402
from host.local import free_port, running, wait_until  # noqa: E402 - after the path holds the repository

BUILD = ROOT / ".aws-sam" / "build"
LAYER = BUILD / "SharedLayer" / "python"
BENCH = ROOT / "bench"
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
COLD_RUNS = 7
WARM_SECONDS = 1.0
LOAD_SECONDS = 5
WARMUP_SECONDS = 2


@dataclass
class Row:
    area: str
    what: str
    value: str
    baseline: str
    ratio: str
    goal: str
    met: bool | None

    def cells(self) -> list[str]:
        verdict = "" if self.met is None else ("met" if self.met else "MISSED")
        return [self.area, self.what, self.value, self.baseline, self.ratio, self.goal, verdict]


def logical_id(folder: str) -> str:
    return "".join(part.title() for part in folder.split("_")) + "Function"


# ---------------------------------------------------------------- cold init
def import_ms(paths: list[Path], module: str) -> float:
    """Median wall time of `import module` in fresh interpreters (interpreter start excluded)."""
    code = (
        f"import sys, time; sys.path[:0] = {[str(p) for p in paths]!r}; t = time.perf_counter(); import {module}; "
        "print((time.perf_counter() - t) * 1000)"
    )
    samples = []
    for _ in range(COLD_RUNS):
        result = subprocess.run(
            [PYTHON, "-c", code],
            capture_output=True,
            text=True,
            cwd=tempfile.gettempdir(),
            env={**os.environ, **ENVIRONMENT},
            timeout=60,
            check=True,
        )
        samples.append(float(result.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def cold_rows() -> list[Row]:
    bare = import_ms([BENCH], "bare_handler")
    anchor = import_ms([BENCH], "anchor_handler")
    rows = [
        Row("cold init", "bare handler (floor)", f"{bare:.1f} ms", "", "", "", None),
        Row("cold init", "anchor: sam init hello-world-powertools", f"{anchor:.1f} ms", "", "1.00", "", None),
    ]
    folders = sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "handler.py").exists())
    for folder in folders:
        built = BUILD / logical_id(folder)
        if not built.exists():
            continue
        ms = import_ms([built, LAYER], "handler")
        ratio = ms / anchor
        api = folder in API_FUNCTIONS
        rows.append(
            Row(
                "cold init",
                f"{logical_id(folder)}",
                f"{ms:.1f} ms",
                f"{anchor:.1f} ms",
                f"{ratio:.2f}x",
                "<= 0.35x anchor" if api else "(not an API function)",
                ratio <= 0.35 if api else None,
            )
        )
    return rows


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
    anchor = rate(load_handler(BENCH / "anchor_handler.py", "bench_anchor"), anchor_event)
    rows = [Row("warm", "anchor handler", f"{anchor:,.0f}/s", "", "1.00", "", None)]
    for folder, fixture in API_FUNCTIONS.items():
        event = json.loads((events / fixture).read_text())
        if folder == "sleep":
            event["pathParameters"] = {"seconds": "0"}
        handler = load_handler(BUILD / logical_id(folder) / "handler.py", f"bench_{folder}")
        with local_secret():  # moto in-process: the secret path with its cache, no network
            ours = rate(handler, event)
        goal = folder in ("home", "healthcheck")
        rows.append(
            Row(
                "warm",
                f"{logical_id(folder)} invocations",
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
def zipped_size(directory: Path) -> int:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"{directory.name}.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(directory.rglob("*")):
                if file.is_file():
                    archive.write(file, file.relative_to(directory))
        return path.stat().st_size


def size_rows() -> list[Row]:
    rows = []
    for built in sorted(BUILD.glob("*Function")):
        size = zipped_size(built)
        rows.append(Row("size", f"{built.name} zipped", f"{size / 1024:.1f} KB", "", "", "<= 16 KB", size <= 16 * 1024))
    layer = sum(f.stat().st_size for f in (BUILD / "SharedLayer").rglob("*") if f.is_file())
    rows.append(
        Row(
            "size",
            "SharedLayer unzipped",
            f"{layer / 1024 / 1024:.2f} MB",
            "",
            "",
            "<= 10 MB",
            layer <= 10 * 1024 * 1024,
        )
    )
    return rows


def check_time_rows() -> list[Row]:
    timings = ROOT / ".reports" / "timings.tsv"
    if not timings.exists():
        return [Row("check time", "make test stages", "not measured: run `make test` first", "", "", "", None)]
    stages = [line.split("\t") for line in timings.read_text().splitlines() if line.strip()]
    offline = sum(float(s[1]) for s in stages if s[0] not in ("docker-tiers", "ec2-boot-tier"))
    rows = [
        Row("check time", f"stage {name}", f"{float(seconds):.1f} s", "", "", "", None) for name, seconds, *_ in stages
    ]
    rows.append(Row("check time", "all offline checks", f"{offline:.1f} s", "", "", "<= 120 s", offline <= 120))
    return rows


# ---------------------------------------------------------------- report
HEADERS = ["area", "what", "measured", "baseline", "ratio", "goal", ""]


def table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def main() -> int:
    if not BUILD.exists():
        print("no .aws-sam/build: run `make build` (make bench does)", file=sys.stderr)
        return 2
    rows = cold_rows() + warm_rows() + throughput_rows() + size_rows() + check_time_rows()
    report = table(rows)
    print(report)
    missed = [row for row in rows if row.met is False]
    notes = (ROOT / "bench" / "notes.md").read_text() if (ROOT / "bench" / "notes.md").exists() else ""
    document = f"""# Performance

Measured by `make bench` on {time.strftime("%Y-%m-%d")}, on this project's machine kind: {os.cpu_count()} cores,
Python {sys.version.split()[0]}. Every figure is compared with a baseline measured in the same run
(absolute times on shared machines drift; ratios travel). Generated by `bench/run.py`: do not edit;
explanations live in `bench/notes.md` and are appended below.

{report}

Goals missed: {", ".join(f"{r.what} ({r.value}, goal {r.goal})" for r in missed) or "none"}.

{notes}"""
    (ROOT / "docs" / "performance.md").write_text(document)
    print(f"\nwrote docs/performance.md; goals missed: {len(missed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
