"""The EC2 boot path, run for real as far as this machine allows.

In a Debian root filesystem made locally (the sam local tier's cached rootfs, which carries this
machine's CPython 3.13): unpack the bundle the build produces, run deploy/ec2/install.sh as cfn-init
does, write /etc/simple-api/env from the template's own cfn-init metadata, start the service the
way its systemd unit says (user, working directory, environment, ExecStart), wait for /healthcheck
the way the user data does before cfn-signal (an HTTP error fails), then run the contract suite
against it. What cannot run here (cfn-init itself, cfn-signal, the ALB, the CloudWatch agent) is
covered by tests of the generated configuration (tests/templates/test_ec2.py).

Exit codes: 0 passed, 1 failed, 77 could not run here (a SKIPPED line says why).
"""

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
ROOTFS_TAR = ROOT / ".tools" / "sam-local" / "rootfs.tar"
PYTHON_IN_ROOTFS = "/var/lang/bin/python3.13"
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]


def skip(reason: str) -> None:
    print(f"\n*** SKIPPED: ec2 boot tier: {reason} ***\n", flush=True)
    sys.exit(77)


def host_parameter_overrides(env: str) -> str:
    """What the root stack passes the EC2 stack as HostParameterOverrides, for samconfig's ``env``."""
    import re  # noqa: PLC0415

    from host.template import load  # noqa: PLC0415
    from scripts.samconfig import parameter_values  # noqa: PLC0415

    root = load(ROOT / "template.yaml")
    values = {name: str(spec.get("Default", "")) for name, spec in root["Parameters"].items()}
    values.update(parameter_values(env))
    text = root["Resources"]["Ec2Stack"]["Properties"]["Parameters"]["HostParameterOverrides"]["Fn::Sub"]
    return re.sub(r"\$\{([^}]+)\}", lambda match: values[match.group(1)], str(text))


def env_file_content(port: int) -> str:
    """/etc/simple-api/env exactly as the template's cfn-init writes it, with local values."""
    from host.template import load  # noqa: PLC0415

    template = load(ROOT / "infra" / "ec2.yaml")
    metadata = template["Resources"]["LaunchTemplate"]["Metadata"]
    text = metadata["AWS::CloudFormation::Init"]["configure"]["files"]["/etc/simple-api/env"]["content"]["Fn::Sub"]
    values = {
        "AppPort": str(port),
        "IdleTimeoutSeconds": str(template["Parameters"]["IdleTimeoutSeconds"]["Default"]),
        "VpcCidr": "127.0.0.0/8",  # the trusted proxies: here, the loopback the tier's requests come from
        "AWS::Region": "us-east-1",
        "ServiceName": "simple-api",
        "SecretParameterName": "/simple-api/dev/secret",
        "HostParameterOverrides": host_parameter_overrides("dev"),
    }
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    assert "${" not in text, f"unresolved placeholder in the env file: {text}"
    return str(text).replace("HOST_BIND=0.0.0.0:", "HOST_BIND=127.0.0.1:")  # loopback only here


def unit(rootfs: Path) -> dict[str, list[str]]:
    """The [Service] settings of the installed unit; repeated keys (Environment=) keep every value."""
    settings: dict[str, list[str]] = {}
    section = ""
    for raw in (rootfs / "etc" / "systemd" / "system" / "simple-api.service").read_text().splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif section == "Service" and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


@contextlib.contextmanager
def mounted(rootfs: Path) -> Iterator[None]:
    mounts = [
        ("proc", rootfs / "proc", ["-t", "proc", "proc"]),
        ("dev", rootfs / "dev", ["--bind", "/dev"]),
        # a fresh tmpfs as every systemd host has at /dev/shm (gunicorn keeps its heartbeats there)
        ("shm", rootfs / "dev" / "shm", ["-t", "tmpfs", "-o", "mode=1777,size=64m", "tmpfs"]),
    ]
    done = []
    try:
        for _, target, arguments in mounts:
            target.mkdir(exist_ok=True)
            subprocess.run(["mount", *arguments, str(target)], check=True)
            done.append(target)
        yield
    finally:
        for target in reversed(done):
            subprocess.run(["umount", "-l", str(target)], check=False)


def start_service(rootfs: Path, service: dict[str, list[str]]) -> subprocess.Popen[bytes]:
    """Start the service as its unit says: user, group, working directory, environment, ExecStart,
    output appended to the log file the CloudWatch agent ships."""
    environment = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
    for line in (rootfs / service["EnvironmentFile"][0].lstrip("/")).read_text().splitlines():
        key, _, value = line.partition("=")
        if key:
            environment[key] = value
    for setting in service.get("Environment", []):
        key, _, value = setting.partition("=")
        environment[key] = value
    log = service["StandardOutput"][0].removeprefix("append:")
    command = f"cd {shlex.quote(service['WorkingDirectory'][0])} && exec {service['ExecStart'][0]} >> {log} 2>&1"
    user = f"{service['User'][0]}:{service['Group'][0]}"
    return subprocess.Popen(
        [CHROOT, f"--userspec={user}", str(rootfs), "/bin/sh", "-c", command],
        env=environment,
        start_new_session=True,
    )


def healthcheck(url: str, seconds: float = 60) -> None:
    """What the user data does before cfn-signal: retry until an answer; an HTTP error fails."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            reply = requests.get(url, timeout=5, allow_redirects=False)
        except requests.RequestException:
            time.sleep(0.5)
            continue
        if reply.status_code >= HTTPStatus.BAD_REQUEST:  # curl -f
            message = f"[ec2-boot] healthcheck failed with HTTP {reply.status_code}: cfn-signal would report failure"
            raise SystemExit(message)
        print(f"[ec2-boot] healthcheck {reply.status_code}: {reply.text}")
        return
    raise SystemExit("[ec2-boot] no answer: cfn-signal would report failure")


def main() -> int:
    if os.geteuid() != 0:
        skip(f"needs root for chroot and mounts (running as uid {os.geteuid()})")
    if not ROOTFS_TAR.exists():
        skip(f"no Debian root filesystem at {ROOTFS_TAR.relative_to(ROOT)} (the sam local tier builds it)")
    from host.local import free_port  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="awscicd-ec2.") as scratch:
        rootfs = Path(scratch) / "rootfs"
        rootfs.mkdir()
        with tarfile.open(ROOTFS_TAR) as archive:
            archive.extractall(rootfs, filter="fully_trusted")  # noqa: S202 - our own cached rootfs (device files)  # nosec B202
        bundle = Path(scratch) / "bundle.zip"
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts" / "build_bundle.py"),
                str(bundle),
                "--platform",
                "manylinux2014_x86_64",
            ],
            check=True,
        )
        target = rootfs / "opt" / "simple-api" / "bundle"
        with zipfile.ZipFile(bundle) as archive:
            archive.extractall(target)  # noqa: S202 - the bundle this run just built  # nosec B202
        # The stand-in rootfs keeps CPython where pyenv put it (under /root); on EC2 it is
        # /usr/bin/python3.13. Let the service user reach it, as it can reach the system one.
        home = rootfs / "root"
        for directory in [home, *home.glob(".pyenv"), *home.glob(".pyenv/versions")]:
            directory.chmod(0o755)
        port = free_port()
        with mounted(rootfs):
            print("[ec2-boot] install.sh (as cfn-init runs it)", flush=True)
            subprocess.run(
                [
                    "chroot",
                    str(rootfs),
                    "/usr/bin/env",
                    f"PYTHON={PYTHON_IN_ROOTFS}",
                    "bash",
                    "/opt/simple-api/bundle/deploy/ec2/install.sh",
                ],
                check=True,
            )
            (rootfs / "etc" / "simple-api" / "env").write_text(env_file_content(port))
            service = unit(rootfs)
            process = start_service(rootfs, service)
            log = rootfs / "var" / "log" / "simple-api" / "app.log"
            try:
                try:
                    healthcheck(f"http://127.0.0.1:{port}/healthcheck")
                except SystemExit:
                    print("\n".join(log.read_text().splitlines()[-20:]) if log.exists() else "no app.log")
                    raise
                result = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "pytest",
                        str(ROOT / "tests" / "contract" / "test_contract.py"),
                        "--base-url",
                        f"http://127.0.0.1:{port}",
                        "--secret",
                        "absent",
                        "-q",
                        "-p",
                        "no:cacheprovider",
                        "-o",
                        "addopts=--allow-hosts=127.0.0.1",
                    ],
                    cwd=ROOT,
                    check=False,
                )
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                process.wait(30)
            lines = log.read_text().splitlines() if log.exists() else []
            print(f"[ec2-boot] the service wrote {len(lines)} log lines to /var/log/simple-api/app.log")
    print("[ec2-boot] ec2 boot tier " + ("passed" if result.returncode == 0 else "FAILED"), flush=True)
    return 0 if result.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
