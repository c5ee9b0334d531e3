"""`sam build` output carries bytecode the Lambda runtime uses (scripts/lambda.mk, decisions 120-121).

Every function of template.yaml and the SharedLayer, as `make build` left them in .aws-sam/build, is
zipped with aws-sam-cli's own zip function (what `sam package` uploads: every entry dated 1980),
extracted read-only with those dates and imported in a fresh `python -I -S -B` with sys.path as the
python3.13 runtime orders it (bench/artifacts.py). The interpreter's `compile` audit event fires
whenever importlib compiles a source because no usable .pyc exists; it must not fire for a file of
the function or the layer. The same probe on the artifact without its bytecode, and with
timestamp-based bytecode, must see compiles: the check can fail.
"""

import importlib.util
import marshal
import py_compile
import shutil
import time
from pathlib import Path

import pytest

from bench.artifacts import Deployment, deployed, without_bytecode
from tests.factories import ROOT
from tests.templates.conftest import load_template, resources

BUILD = ROOT / ".aws-sam" / "build"
LAYER = "SharedLayer"
ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": "simple-api",
    "POWERTOOLS_METRICS_NAMESPACE": "AwsCicd",
    "AWS_DEFAULT_REGION": "us-east-1",
}
HASH_BASED, CHECK_SOURCE = 0b01, 0b10  # PEP 552 flags of a .pyc header


def built(logical_id: str) -> Path:
    folder = BUILD / logical_id
    if not folder.is_dir():
        pytest.fail(f"{folder} is missing: `make build` writes it (make test runs it first)")
    return folder


def functions() -> list[str]:
    return sorted(resources(load_template(), "AWS::Serverless::Function"))


def test_every_function_and_the_layer_is_built_by_the_bytecode_recipe():
    template = load_template()
    code = {**resources(template, "AWS::Serverless::Function"), **resources(template, "AWS::Serverless::LayerVersion")}
    for name, resource in code.items():
        assert resource.get("Metadata", {}).get("BuildMethod") == "makefile", name
        source = ROOT / resource["Properties"].get("CodeUri", resource["Properties"].get("ContentUri"))
        assert (source / "Makefile").resolve() == ROOT / "scripts" / "lambda.mk", name
    assert "RUNTIME := " + template["Globals"]["Function"]["Runtime"] in (ROOT / "scripts" / "lambda.mk").read_text()


@pytest.mark.parametrize("logical_id", [*functions(), LAYER])
def test_every_source_has_checked_hash_bytecode_for_where_lambda_loads_it(logical_id):
    folder = built(logical_id)
    root, loaded_from = (folder / "python", "/opt/python") if logical_id == LAYER else (folder, "/var/task")
    sources = sorted(root.rglob("*.py"))
    assert sources, f"{logical_id} has no Python source"
    for source in sources:
        cached = Path(importlib.util.cache_from_source(str(source)))
        assert cached.is_file(), f"no bytecode for {source.relative_to(BUILD)}"
        data = cached.read_bytes()
        flags = int.from_bytes(data[4:8], "little")
        assert data[:4] == importlib.util.MAGIC_NUMBER, f"{cached}: bytecode of another Python"
        assert flags == HASH_BASED | CHECK_SOURCE, f"{cached}: not checked-hash bytecode (flags {flags})"
        assert data[8:16] == importlib.util.source_hash(source.read_bytes()), f"{cached}: stale for its source"
        code = marshal.loads(data[16:])
        assert code.co_filename == f"{loaded_from}/{source.relative_to(root)}", "tracebacks name the source"


def test_the_hook_still_ships_the_fixtures_as_files():
    fixtures = built("PreTrafficFunction") / "events"
    assert not fixtures.is_symlink()
    assert (fixtures / "expected.json").read_text() == (ROOT / "events" / "expected.json").read_text()


def test_handlers_import_from_the_deployed_zips_without_compiling_anything():
    folders = {LAYER: built(LAYER), **{name: built(name) for name in functions()}}
    with deployed(folders) as trees:
        handler = trees["HomeFunction"] / "handler.py"
        assert time.localtime(handler.stat().st_mtime)[:3] == (1980, 1, 1), "dated as sam package dates it"
        assert not handler.stat().st_mode & 0o222, "read-only"
        for name in functions():
            result = Deployment.of(trees, name, [LAYER]).probe("handler", audit=True, environment=ENVIRONMENT)
            assert "handler" in result.loaded and "simple_api" in result.loaded, name
            assert result.compiled == [], f"{name} compiled its sources at import: {result.compiled}"


def test_the_check_fails_without_bytecode_with_timestamp_bytecode_and_for_a_missing_package(tmp_path):
    """What SAM's python3.13 builder ships (no bytecode) and timestamp-based bytecode (dated 1980 by the
    zip, it no longer matches its source) are compiled at every cold start; a package the zips lack
    is not found on this machine (.venv has Powertools; the probe must not see it)."""
    plain = without_bytecode(built("HomeFunction"), tmp_path / "plain")
    stamped = without_bytecode(built("HomeFunction"), tmp_path / "stamped")
    for source in stamped.rglob("*.py"):
        py_compile.compile(str(source), invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP, doraise=True)
    assert list(stamped.rglob("*.pyc"))
    no_powertools = tmp_path / "layer"
    shutil.copytree(built(LAYER), no_powertools, ignore=shutil.ignore_patterns("aws_lambda_powertools"))
    folders = {"plain": plain, "stamped": stamped, LAYER: built(LAYER), "no-powertools": no_powertools}
    with deployed(folders) as trees:
        for kind in ("plain", "stamped"):
            result = Deployment.of(trees, kind, [LAYER]).probe("handler", audit=True, environment=ENVIRONMENT)
            compiled = sorted(Path(path).relative_to(trees[kind]).as_posix() for path in result.compiled)
            assert compiled == ["handler.py"], (kind, result.compiled)
        with pytest.raises(RuntimeError, match="No module named 'aws_lambda_powertools'"):
            Deployment.of(trees, "plain", ["no-powertools"]).probe("handler", audit=True, environment=ENVIRONMENT)


@pytest.mark.parametrize("first_on_path", [ROOT / ".tools" / "sam" / "bin", None])
def test_the_recipe_builds_with_the_readmes_path_and_without_it(tmp_path, first_on_path):
    """What `sam build` does for a function (aws-lambda-builders' custom_make action): copy its
    CodeUri to a scratch folder and run `make --makefile <CodeUri>/Makefile build-<LogicalId>` there
    with ARTIFACTS_DIR set. The README puts .tools/sam/bin first on PATH (a venv whose python3.13 has
    no pip); the recipe must build the artifact either way."""
    import os
    import subprocess

    scratch, artifacts = tmp_path / "scratch", tmp_path / "artifacts"
    shutil.copytree(ROOT / "functions" / "healthcheck", scratch, ignore=shutil.ignore_patterns("Makefile"))
    path = os.environ["PATH"] if first_on_path is None else f"{first_on_path}{os.pathsep}{os.environ['PATH']}"
    result = subprocess.run(
        ["make", "--makefile", str(ROOT / "functions" / "healthcheck" / "Makefile"), "build-HealthcheckFunction"],
        cwd=scratch,
        env={**os.environ, "PATH": path, "ARTIFACTS_DIR": str(artifacts)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    handler = artifacts / "handler.py"
    assert handler.is_file()
    assert importlib.util.cache_from_source(str(handler)) and any(artifacts.rglob("handler*.pyc"))
