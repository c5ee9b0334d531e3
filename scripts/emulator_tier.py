"""`make test-emulator`: deploy the stack into a local AWS emulator (ministack) and prove it works.

1. start ministack from its own hashed environment (.tools/ministack): HTTPS on one free port of
   127.0.0.1 and nothing else (its MQTT and SFTP listeners off, no second listener on :443), IAM
   enforced, a private TMPDIR, ministack's own CA bundle for every client and every function, and
   the functions' ``sys.path`` limited to code + layers + the runtime's boto3 (lambda_runtime_path);
2. dev: scripts/emulator_overlay.py turns the built template into what the emulator can run (and
   prints what it drops); the real SAM CLI deploys it with samconfig's dev parameters and a random
   secret (in a 0600 file, never on a command line, in an environment or a log); the contract suite
   runs against the emulated API; a probe function shows what a function can import;
3. an update with a changed shared layer and a new secret: every ``live`` alias must move to a new
   version and ``/secret`` must serve the new value;
4. delete (DeleteStack): the stack, its functions and the SSM parameter are gone, its keys are pending deletion;
   then the Chalice flavour (its packaged template, ``make chalice-package``) as stack
   aws-cicd-chalice-dev beside it, reading the secret that stack owns: deploy, contract suite,
   ``/secret``, delete (the parameter stays: the Chalice stack never owned it);
5. prod's parameters: deploy, contract suite; the API stage canary's service against ministack,
   then two updates of prod's API definition, one promoted and one rolled back by its alarm, each
   watched by the pipeline's ApiCanary step (scripts/emulator_api_canary.py); delete;
6. what ministack listens on is checked (its process and every worker), then it and its workers
   are stopped by PID (SIGTERM, SIGKILL after a grace period) and nothing of it may be left.

Exit codes: 0 passed, 1 failed, 77 could not run here (a SKIPPED line says why).
"""

import contextlib
import io
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

from host.template import load  # noqa: E402
from scripts import emulator_api_canary  # noqa: E402
from scripts.emulator import LAMBDA_RUNTIME, MINISTACK_ENV, Emulator, Listener, listening, log, skip  # noqa: E402
from scripts.emulator_overlay import main as overlay_main  # noqa: E402
from scripts.samconfig import SAMCONFIG, parameter_values, stack_name  # noqa: E402
from simple_api.services.secret import mask  # noqa: E402

SAM = ROOT / ".tools" / "sam" / "bin" / "sam"
BUILD = ROOT / ".aws-sam" / "build"
BUILT = BUILD / "template.yaml"
CHALICE_BUILT = ROOT / ".aws-sam" / "chalice" / "build" / "template.yaml"  # the Makefile's CHALICE_BUILT
REPORTS = ROOT / ".reports"
STACK_SECONDS = 300
WARM_SLEEPS = 4  # the contract suite's most concurrent sleeps (test_healthcheck_stays_fast_...)
ISSUE_14 = (
    "known defect, issue 14: SAM computes an AutoPublishAlias version's logical id from the function's"
    " properties before it resolves Refs, so a change of SharedLayer alone publishes no new version"
)


# ---------------------------------------------------------------- the tier
@dataclass
class Deployed:
    env: str
    stack: str
    outputs: dict[str, str]
    functions: dict[str, str]  # logical id -> function name, for the aliased functions
    aliases: dict[str, str]  # logical id -> live alias version
    layers: dict[str, list[str]]  # logical id -> layer version ARNs
    flavour: str = "sam"  # or "chalice"

    @property
    def label(self) -> str:
        return self.env if self.flavour == "sam" else f"{self.flavour}-{self.env}"


def chalice_stack(env: str) -> str:
    """The Chalice flavour's stack of ENV (the Makefile's CHALICE_STACK)."""
    return f"aws-cicd-chalice-{env}"


@dataclass
class Tier:
    emulator: Emulator
    problems: list[str] = field(default_factory=list)
    timings: list[tuple[str, float]] = field(default_factory=list)
    secret_values: list[str] = field(default_factory=list)

    def check(self, ok: bool, problem: str) -> bool:
        if not ok:
            self.problems.append(problem)
            log(f"FAIL {problem}")
        return ok

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        log(f"{name} ...")
        try:
            yield
        finally:
            took = time.monotonic() - started
            self.timings.append((name, took))
            log(f"{name}: {took:.1f} s")

    def new_secret(self, unlike: str = "") -> str:
        """A random value of 32 characters whose masked hint differs from ``unlike``'s."""
        while True:
            value = secrets.token_urlsafe(24)
            if not unlike or mask(value) != mask(unlike):
                self.secret_values.append(value)
                return value

    def scrubbed(self, text: str) -> str:
        for value in self.secret_values:
            text = text.replace(value, "<secret>")
        return text

    def no_secret_in(self, path: Path) -> None:
        text = path.read_text(errors="replace")
        self.check(not any(v in text for v in self.secret_values), f"a secret value is in {path.name}")

    # -------------------------------------------------------------- commands
    def run(self, name: str, command: list[str], timeout: float = 600, *, check: bool = True) -> bool:
        """Run ``command``; with ``check``, a failure is one of the tier's problems."""
        output = self.emulator.workdir / f"{name}.log"
        with output.open("wb") as sink:
            try:
                code = subprocess.run(
                    command,
                    env=self.emulator.client_environment(),
                    cwd=ROOT,
                    stdin=subprocess.DEVNULL,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    timeout=timeout,
                    check=False,
                ).returncode
            except subprocess.TimeoutExpired:
                code = -1
        self.no_secret_in(output)
        if not check:
            return code == 0
        if code != 0:
            tail = "\n".join(output.read_text(errors="replace").splitlines()[-25:])
            print(self.scrubbed(tail), flush=True)
        return self.check(code == 0, f"{name}: {Path(command[0]).name} exited with {code}")

    def deploy(  # noqa: PLR0913 - the command's parts
        self,
        name: str,
        env: str,
        template: Path,
        secret: str | None,
        extra: Mapping[str, str] | None = None,
        *,
        check: bool = True,
        stack: str | None = None,
    ) -> bool:
        """sam deploy ENV with samconfig's parameters, ``extra`` and SecretValue, read from a private file
        (SAM passes on only those the template declares, and prints the values of those it does not, so
        ``secret`` None for a template without SecretValue); ``stack`` as ``make chalice-deploy`` names it."""
        values = parameter_values(env) | dict(extra or {}) | ({} if secret is None else {"SecretValue": secret})
        overrides = self.emulator.workdir / f"parameters-{name}.yaml"  # JSON is YAML; SAM reads .yaml only
        descriptor = os.open(overrides, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as sink:
            json.dump(values, sink)
        try:
            command = [str(SAM), "deploy", "--config-file", str(SAMCONFIG), "--config-env", env]
            command += ["--template-file", str(template), "--parameter-overrides", f"file://{overrides}"]
            command += ["--no-confirm-changeset", "--no-progressbar"]
            if stack:
                command += ["--stack-name", stack, "--s3-prefix", stack]
            return self.run(name, command, check=check)
        finally:
            overrides.unlink()

    def overlay(self, name: str, layer: Path | None = None, built: Path = BUILT) -> Path:
        target = self.emulator.workdir / f"{name}.json"
        arguments = [str(built), str(target)]
        if layer is not None:
            arguments += ["--layer", str(layer)]
        if overlay_main(arguments) != 0:
            raise SystemExit("the overlay failed")
        return target

    # -------------------------------------------------------------- reading the stack
    def status(self, stack: str) -> str:
        try:
            found = self.emulator.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
        except ClientError as error:
            if "does not exist" in str(error):
                return "GONE"
            raise
        return str(found[0]["StackStatus"]) if found else "GONE"

    def wait_for(self, stack: str, done: Callable[[str], bool]) -> str:
        """Poll the stack's status until ``done`` says so (sam waits too; this is the bound)."""
        deadline = time.monotonic() + STACK_SECONDS
        status = self.status(stack)
        while not done(status) and time.monotonic() < deadline:
            time.sleep(1)
            status = self.status(stack)
        return status

    def read(self, env: str, stack: str = "", built: Path = BUILT, flavour: str = "sam") -> Deployed:
        stack = stack or stack_name(env)
        cloudformation, lambda_ = self.emulator.client("cloudformation"), self.emulator.client("lambda")
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        resources = cloudformation.list_stack_resources(StackName=stack)["StackResourceSummaries"]
        physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}
        functions = {name: physical[name] for name in aliased_functions(built) if name in physical}
        aliases = {
            name: str(lambda_.get_alias(FunctionName=function, Name="live")["FunctionVersion"])
            for name, function in functions.items()
        }
        layers = {
            name: [layer["Arn"] for layer in lambda_.get_function_configuration(FunctionName=function)["Layers"]]
            for name, function in functions.items()
        }
        return Deployed(env, stack, outputs, functions, aliases, layers, flavour)

    def api_url(self, deployed: Deployed) -> str:
        stage = parameter_values(deployed.env)["Environment"]
        return f"{self.emulator.url}/_aws/execute-api/{deployed.outputs['ApiId']}/{stage}"

    # -------------------------------------------------------------- checks
    def warm_up(self, deployed: Deployed) -> None:
        """As much concurrency as the contract suite uses, once: ministack starts a worker process
        per concurrent invocation, and four Python cold starts at once on a 2-core box would
        otherwise land inside the suite's timed healthcheck-while-sleeping window."""
        paths = ["/healthcheck", "/", "/secret", *["/sleep/0"] * WARM_SLEEPS]
        started = time.monotonic()
        with ThreadPoolExecutor(len(paths)) as pool:
            replies = list(pool.map(lambda path: self.get(deployed, path), paths))
        self.check(all(r.status_code == 200 for r in replies), f"warm-up: {[r.status_code for r in replies]}")
        log(f"warm-up of {deployed.stack}: {len(paths)} concurrent requests, {time.monotonic() - started:.1f} s")

    def get(self, deployed: Deployed, path: str) -> requests.Response:
        return requests.get(f"{self.api_url(deployed)}{path}", verify=str(self.emulator.bundle), timeout=60)

    def contract(self, deployed: Deployed) -> None:
        REPORTS.mkdir(exist_ok=True)
        self.warm_up(deployed)
        command = [sys.executable, "-m", "pytest", "tests/contract/test_contract.py", "--base-url"]
        command += [self.api_url(deployed), "--secret", "present", "-q", "-p", "no:cacheprovider"]
        command += ["-o", "addopts=--allow-hosts=127.0.0.1", f"--junitxml={REPORTS}/emulator-{deployed.label}.xml"]
        if self.run(f"contract-{deployed.label}", command):
            passed = (self.emulator.workdir / f"contract-{deployed.label}.log").read_text().strip().splitlines()[-1]
            log(f"contract suite against {deployed.stack}: {passed}")

    def serves_secret(self, deployed: Deployed, secret: str, previous: str = "") -> None:
        reply = self.get(deployed, "/secret")
        got = reply.json() if reply.status_code == 200 else {}
        name = parameter_values(deployed.env)["SecretParameterName"]
        if got == {"Name": name, "Value": mask(secret)}:
            log(f"/secret of {deployed.stack} serves the current value ({mask(secret)})")
            return
        stale = previous and got.get("Value") == mask(previous)
        stored = self.emulator.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        self.check(
            False,
            f"/secret of {deployed.stack} answered {reply.status_code} {self.scrubbed(reply.text)[:200]}"
            + (
                f": the previous value, though SSM holds the new one={stored == secret}; a live alias that did not"
                " move keeps the old version's process and its Powertools cache (SECRET_MAX_AGE_SECONDS, 300 s)"
                if stale
                else ""
            ),
        )

    def probe_runtime(self, deployed: Deployed) -> None:
        """A throwaway function with the stack's layer: what it can import is what a real one could."""
        lambda_ = self.emulator.client("lambda")
        secret_function = lambda_.get_function_configuration(FunctionName=deployed.functions["SecretFunction"])
        layer_dir = BUILD / "SharedLayer" / "python"
        must = {"boto3", "botocore", "simple_api", "aws_lambda_powertools", "crhelper"}
        must_not = (
            top_level_names(ministack_site_packages()) - top_level_names(layer_dir) - {"awscicd_lambda_runtime_path"}
        )
        must_not -= top_level_names(LAMBDA_RUNTIME)
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as code:
            code.writestr("probe.py", PROBE)
        name = f"{deployed.stack}-runtime-probe"
        lambda_.create_function(
            FunctionName=name,
            Runtime=secret_function["Runtime"],
            Handler="probe.handler",
            Role=secret_function["Role"],
            Layers=deployed.layers["SecretFunction"],
            Code={"ZipFile": archive.getvalue()},
            Timeout=30,
        )
        try:
            event = json.dumps({"names": sorted(must | must_not)})
            answer = json.loads(lambda_.invoke(FunctionName=name, Payload=event)["Payload"].read())
        finally:
            lambda_.delete_function(FunctionName=name)
        found = answer.get("found", {}) if isinstance(answer, dict) else {}
        missing = sorted(n for n in must if not found.get(n))
        leaked = sorted(n for n in must_not if found.get(n))
        self.check(not missing, f"a function cannot import {missing} (layer or runtime): {answer}")
        self.check(not leaked, f"a function can import the emulator's own packages {leaked}: {answer.get('path')}")
        bundles = set(answer.get("ca", {}).values()) if isinstance(answer, dict) else set()
        self.check(bundles == {str(self.emulator.bundle)}, f"the functions' CA bundle variables are {bundles}")
        if not (missing or leaked):
            log(f"functions import code + layer + the runtime's boto3 only ({len(must_not)} emulator packages hidden)")

    def listeners(self) -> None:
        pids = self.emulator.pids()
        found = listening(pids)
        expected = [Listener("tcp", "127.0.0.1", self.emulator.port)]
        self.check(found == expected, f"ministack ({len(pids)} processes) listens on {found}, expected {expected}")
        if found == expected:
            log(f"ministack and its {len(pids) - 1} workers listen on 127.0.0.1:{self.emulator.port} only")

    def gone(self, deployed: Deployed) -> None:
        """After delete: no parameter; both keys pending deletion (the functions: delete_stack)."""
        ssm, kms = self.emulator.client("ssm"), self.emulator.client("kms")
        name = parameter_values(deployed.env)["SecretParameterName"]
        with contextlib.suppress(ssm.exceptions.ParameterNotFound):
            ssm.get_parameter(Name=name)
            self.check(False, f"parameter {name} survived the delete of {deployed.stack}")
        key = deployed.outputs["SecretKeyArn"]
        state = kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"]
        self.check(state == "PendingDeletion", f"the secret key of {deployed.stack} is {state} after delete")
        log(f"{deployed.stack} deleted: functions and {name} gone, secret key {state}")

    # -------------------------------------------------------------- the stages
    def deploy_and_check(self, env: str, template: Path, secret: str) -> Deployed | None:
        with self.step(f"deploy {env}"):
            if not self.deploy(f"deploy-{env}", env, template, secret):
                return None
            status = self.wait_for(stack_name(env), lambda s: not s.endswith("_IN_PROGRESS"))
            if not self.check(status == "CREATE_COMPLETE", f"{stack_name(env)} is {status} after deploy"):
                return None
            deployed = self.read(env)
        with self.step(f"contract suite {env}"):
            self.contract(deployed)
            self.serves_secret(deployed, secret)
        return deployed

    def update(self, before: Deployed, secret: str, previous: str) -> Deployed | None:
        changed = self.emulator.workdir / "SharedLayer-changed"
        shutil.copytree(BUILD / "SharedLayer", changed)
        with (changed / "python" / "simple_api" / "__init__.py").open("a") as init:
            init.write("# changed by the emulator tier: a layer-only change\n")
        template = self.overlay("template-changed-layer", layer=changed)
        with self.step(f"update {before.env} (changed layer, new secret)"):
            if not self.deploy(f"update-{before.env}", before.env, template, secret):
                return None
            status = self.wait_for(before.stack, lambda s: not s.endswith("_IN_PROGRESS"))
            if not self.check(status == "UPDATE_COMPLETE", f"{before.stack} is {status} after update"):
                return None
            after = self.read(before.env)
        for name, version in before.aliases.items():
            self.check(after.layers[name] != before.layers[name], f"{name} kept layer {before.layers[name]}")
            self.check(
                after.aliases[name] != version,
                f"{name}: its live alias stayed on version {version} after a change of the shared layer ({ISSUE_14})",
            )
        moved = {name: f"{before.aliases[name]}->{after.aliases[name]}" for name in after.aliases}
        log(f"live aliases after the update: {moved}")
        self.serves_secret(after, secret, previous)
        return after

    def chalice(self, sam: Deployed, secret: str) -> None:
        """The Chalice flavour beside ``sam`` (the SAM stack of the same environment, which owns the
        secret the Chalice stack reads): deploy, contract suite, /secret; delete, which leaves the
        parameter to its owner."""
        env, stack = sam.env, chalice_stack(sam.env)
        template = self.overlay(f"template-chalice-{env}", built=CHALICE_BUILT)
        key = {"SecretKeyId": sam.outputs["SecretKeyArn"].rsplit("/", 1)[-1]}  # what make put-secret prints
        with self.step(f"deploy chalice {env}"):
            if not self.deploy(f"deploy-chalice-{env}", env, template, None, key, stack=stack):
                return
            status = self.wait_for(stack, lambda s: not s.endswith("_IN_PROGRESS"))
            if not self.check(status == "CREATE_COMPLETE", f"{stack} is {status} after deploy"):
                return
            deployed = self.read(env, stack, CHALICE_BUILT, "chalice")
            self.check(list(deployed.aliases) == ["APIHandler"], f"{stack}'s aliased functions: {deployed.aliases}")
        with self.step(f"contract suite chalice {env}"):
            self.contract(deployed)
            self.serves_secret(deployed, secret)
        with self.step(f"delete chalice {env}"):
            if not self.delete_stack(deployed):
                return
            name = parameter_values(env)["SecretParameterName"]
            stored = self.emulator.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]
            kept = stored["Value"] == secret
            if self.check(kept, f"deleting {stack} changed {name}, which {sam.stack} owns"):
                log(f"{stack} deleted: its function gone, {name} still {sam.stack}'s")

    def delete(self, deployed: Deployed) -> None:
        """DeleteStack, what ``sam delete`` calls (which itself cannot run here: it parses the nested
        stacks' TemplateURLs, which name the emulator's endpoint, as S3 URLs and fails)."""
        with self.step(f"delete {deployed.env}"):
            if self.delete_stack(deployed):
                self.gone(deployed)

    def delete_stack(self, deployed: Deployed) -> bool:
        """DeleteStack and wait; whether the stack is gone, and none of its functions survived."""
        self.emulator.client("cloudformation").delete_stack(StackName=deployed.stack)
        status = self.wait_for(deployed.stack, lambda s: s in ("GONE", "DELETE_COMPLETE", "DELETE_FAILED"))
        if not self.check(status in ("GONE", "DELETE_COMPLETE"), f"{deployed.stack} is {status} after delete"):
            return False
        lambda_ = self.emulator.client("lambda")
        for function in deployed.functions.values():
            with contextlib.suppress(lambda_.exceptions.ResourceNotFoundException):
                lambda_.get_function(FunctionName=function)
                self.check(False, f"function {function} survived the delete of {deployed.stack}")
        return True


PROBE = """
import importlib.util, os, sys

def handler(event, context):
    return {
        "path": sys.path,
        "found": {name: importlib.util.find_spec(name) is not None for name in event["names"]},
        "ca": {v: os.environ.get(v) for v in ("AWS_CA_BUNDLE", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")},
    }
"""


def aliased_functions(built: Path = BUILT) -> list[str]:
    """The functions of a built template that publish a ``live`` alias."""
    resources = load(built)["Resources"]
    return [
        name
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function" and "AutoPublishAlias" in resource.get("Properties", {})
    ]


def ministack_site_packages() -> Path:
    return next(MINISTACK_ENV.glob("lib/python3*/site-packages"))


def top_level_names(directory: Path) -> set[str]:
    """The importable top-level names in ``directory`` (packages, modules, extension modules)."""
    names = set()
    for entry in directory.iterdir():
        name = entry.name.split(".", 1)[0] if entry.is_file() else entry.name
        if entry.is_file() and not entry.name.endswith((".py", ".so")):
            continue
        if entry.is_dir() and (entry.name.endswith((".dist-info", ".data")) or entry.name == "__pycache__"):
            continue
        if name.isidentifier():
            names.add(name)
    return names


def main() -> int:
    if not (MINISTACK_ENV / ".installed").exists():
        skip("ministack is not installed (make test-emulator installs it from tools/ministack/requirements.txt)")
    for built, target in ((BUILT, "make build"), (CHALICE_BUILT, "make chalice-package")):
        if not built.exists():
            print(f"no built template {built.relative_to(ROOT)}: run {target} first", file=sys.stderr)
            return 2
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="awscicd-emulator-"))
    emulator = Emulator(workdir)
    tier = Tier(emulator)
    try:
        with tier.step("start ministack"):
            emulator.start()
        log(f"ministack {emulator.url} (private TMPDIR {emulator.tmp}, log {emulator.log_file.name})")
        template = tier.overlay("template")
        first = tier.new_secret()
        dev = tier.deploy_and_check("dev", template, first)
        if dev is not None:
            tier.probe_runtime(dev)
            tier.listeners()
            second = tier.new_secret(unlike=first)
            updated = tier.update(dev, second, first)
            tier.chalice(updated or dev, second if updated else first)
            tier.delete(updated or dev)
        prod_secret = tier.new_secret()
        prod = tier.deploy_and_check("prod", template, prod_secret)
        if prod is not None:
            tier.listeners()
            with tier.step("API canary service against ministack"):
                emulator_api_canary.service(tier)
            emulator_api_canary.stack(tier, prod, template, prod_secret)
            tier.delete(prod)
        tier.no_secret_in(emulator.log_file)
    finally:
        with tier.step("stop ministack"):
            left = emulator.stop()
        tier.check(not left, f"processes of ministack still running after stop: {left}")
        if not left:
            log(f"ministack and all {len(emulator.seen)} of its processes stopped")
        if tier.problems:
            print(tier.scrubbed(emulator.log_tail(30)), flush=True)
        shutil.rmtree(workdir, ignore_errors=True)
    total = time.monotonic() - started
    log("timings: " + ", ".join(f"{name} {took:.1f} s" for name, took in tier.timings) + f"; total {total:.1f} s")
    if tier.problems:
        log(f"emulator tier FAILED ({len(tier.problems)}):")
        for problem in tier.problems:
            print(f"  - {tier.scrubbed(problem)}", flush=True)
        return 1
    log("emulator tier passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
