"""The Build stage's security gates, runnable offline (`make secrets sast sbom sca`). Runs in the
isolated .tools/gates environment (detect-secrets, bandit, cyclonedx-bom, pip-audit); thresholds
and allowances are committed in pyproject.toml's [tool.aws-cicd.gates].

  secrets [--root DIR]          detect-secrets over every source file; fails on a finding the
                                committed, audited baseline (.secrets.baseline) does not list
                                as not-a-secret. --update-baseline rewrites it (audit it after).
  sast [--root DIR]             bandit over the Python code; fails at or above the thresholds.
  sca [--required]              pip-audit of the pinned dependencies (layer, host) against PyPI's
                                advisories; where the database cannot be reached it prints a loud
                                SKIPPED and exits 77 - or fails, with --required (CodeBuild).
  sbom OUT_DIR                  CycloneDX SBOMs of the layer, the functions and the image.
"""

import argparse
import fnmatch
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.build_bundle import ROOT, requirements

SKIPPED = 77
#: folders that are not ours: environments, caches, build output
NOT_SOURCE = {
    ".git",
    ".venv",
    ".tools",
    ".aws-sam",
    ".reports",
    ".wheels",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "__pycache__",
    "node_modules",
}


def settings(root: Path = ROOT) -> dict[str, object]:
    config = tomllib.loads((root / "pyproject.toml").read_text())
    found: dict[str, object] = config["tool"]["aws-cicd"]["gates"]
    return found


def source_files(root: Path) -> Iterator[Path]:
    """Every file of the tree that is ours (text or not), in a stable order."""
    for folder, folders, files in os.walk(root):
        folders[:] = sorted(f for f in folders if f not in NOT_SOURCE)
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                yield path


# ---------------------------------------------------------------- secrets
def secret_candidates(root: Path) -> list[str]:
    skip = [str(pattern) for pattern in settings(root)["secrets_skip"]]  # type: ignore[attr-defined]
    names = (str(path.relative_to(root)) for path in source_files(root))
    return [name for name in names if not any(fnmatch.fnmatch(name, pattern) for pattern in skip)]


def _scan(root: str, names: list[str]) -> dict[str, list[dict[str, object]]]:
    from detect_secrets import SecretsCollection  # noqa: PLC0415 - .tools/gates only
    from detect_secrets.settings import default_settings  # noqa: PLC0415

    collection = SecretsCollection(root=root)
    with default_settings():
        for name in names:
            collection.scan_file(name)
    found: dict[str, list[dict[str, object]]] = collection.json()
    return found


def _findings(root: Path, names: list[str]) -> dict[str, list[dict[str, object]]]:
    workers = max(1, min(4, os.cpu_count() or 1))
    shares = [names[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(workers) as pool:
        parts = list(pool.map(_scan, [str(root)] * workers, shares))
    return {name: items for part in parts for name, items in sorted(part.items())}


def secrets(root: Path, update: bool) -> int:
    baseline_path = root / str(settings(root)["secrets_baseline"])
    names = secret_candidates(root)
    findings = _findings(root, names)
    if update:
        from detect_secrets.core import baseline  # noqa: PLC0415

        previous = json.loads(baseline_path.read_text())["results"] if baseline_path.exists() else {}
        audited = {(f, s["hashed_secret"]): s.get("is_secret") for f, items in previous.items() for s in items}
        document = baseline.format_for_output(_collection_from(root, findings))
        for name, items in document["results"].items():
            for item in items:
                if audited.get((name, item["hashed_secret"])) is not None:
                    item["is_secret"] = audited[(name, item["hashed_secret"])]
        baseline_path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
        print(f"{baseline_path.name}: {sum(map(len, findings.values()))} findings written; audit new ones")
        return 0
    listed = json.loads(baseline_path.read_text())["results"]
    allowed = {
        (name, item["hashed_secret"], item["type"])
        for name, items in listed.items()
        for item in items
        if item.get("is_secret") is False
    }
    new = [
        f"{name}:{item['line_number']}: {item['type']}"
        for name, items in sorted(findings.items())
        for item in items
        if (name, item["hashed_secret"], item["type"]) not in allowed
    ]
    if new:
        print(f"secrets: {len(new)} finding(s) not in the audited baseline (threshold 0):")
        print("\n".join(f"  {line}" for line in new))
        print("  a real secret: remove it and rotate it; a false positive: make secrets-baseline, then audit")
        return 1
    print(f"secrets: {len(names)} files, {sum(map(len, findings.values()))} known non-secrets, 0 new findings")
    return 0


def _collection_from(root: Path, findings: dict[str, list[dict[str, object]]]) -> object:
    from detect_secrets import SecretsCollection  # noqa: PLC0415

    collection = SecretsCollection.load_from_baseline({"results": findings})
    collection.root = str(root)
    return collection


# ---------------------------------------------------------------- sast
def sast(root: Path) -> int:
    config = settings(root)
    targets = [str(root / t) for t in config["bandit_targets"]]  # type: ignore[attr-defined]
    command = [
        str(Path(sys.executable).parent / "bandit"),
        "--quiet",
        "--recursive",
        "--severity-level",
        str(config["bandit_severity"]),
        "--confidence-level",
        str(config["bandit_confidence"]),
        *targets,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode:
        print(result.stdout)
        print(f"sast: bandit found issues at or above {config['bandit_severity']} severity (threshold 0)")
        return 1
    print(f"sast: bandit, {len(targets)} trees, nothing at or above {config['bandit_severity']} severity")
    return 0


# ---------------------------------------------------------------- sca
def requirement_sets() -> dict[str, str]:
    """What ships: the layer (Lambda) and the layer plus the host group (EC2 bundle, image) - the
    very set the bundle and the image install."""
    host = requirements(ROOT / ".tools" / "uv" / "bin" / "uv")
    return {"layer": (ROOT / "layers/shared/requirements.txt").read_text(), "host": host}


def _audit(name: str, text: str, ignored: list[str]) -> tuple[list[str], list[str]]:
    """pip-audit one requirement set: (unaudited, vulnerable) lines."""
    unaudited: list[str] = []
    vulnerable: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"{name}.txt"
        path.write_text(text)
        command = [
            str(Path(sys.executable).parent / "pip-audit"),
            "--requirement",
            str(path),
            "--no-deps",
            "--disable-pip",
            "--format",
            "json",
            "--progress-spinner",
            "off",
            "--timeout",
            "20",
            *(f"--ignore-vuln={v}" for v in ignored),
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        dependencies = json.loads(result.stdout)["dependencies"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return [f"{name}: pip-audit gave no report ({result.stderr.strip()[-200:]})"], []
    for dependency in dependencies:
        label = f"{name}: {dependency['name']} {dependency.get('version', '?')}"
        if "skip_reason" in dependency:
            unaudited.append(f"{label}: {dependency['skip_reason']}")
        found = dependency.get("vulns", [])
        vulnerable += [f"{label}: {v['id']} (fixed in {v.get('fix_versions')})" for v in found]
    return unaudited, vulnerable


def sca(required: bool) -> int:
    ignored = [str(v) for v in settings()["sca_ignore"]]  # type: ignore[attr-defined]
    sets = requirement_sets()
    with ThreadPoolExecutor(len(sets)) as pool:
        results = list(pool.map(lambda item: _audit(item[0], item[1], ignored), sets.items()))
    unaudited = [line for found, _ in results for line in found]
    vulnerable = [line for _, found in results for line in found]
    if vulnerable:
        print("sca: known vulnerabilities (threshold 0; allowances in pyproject.toml):")
        print("\n".join(f"  {line}" for line in vulnerable))
        return 1
    if unaudited:
        reason = f"the vulnerability database could not be reached for {len(unaudited)} dependencies"
        if required:
            print(f"sca: FAILED: {reason}:\n  " + "\n  ".join(unaudited[:5]))
            return 1
        print(f"\n*** SKIPPED: sca: {reason} (first: {unaudited[0]}); CodeBuild runs it with --required ***\n")
        return SKIPPED
    print("sca: every pinned dependency audited, no known vulnerability")
    return 0


# ---------------------------------------------------------------- sbom
def sbom(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    tool = str(Path(sys.executable).parent / "cyclonedx-py")
    sets = requirement_sets()
    jobs = (("layer", sets["layer"], "library"), ("image", sets["host"], "application"))
    with tempfile.TemporaryDirectory() as scratch, ThreadPoolExecutor(len(jobs)) as pool:

        def write(job: tuple[str, str, str]) -> Path:
            name, text, kind = job
            path = Path(scratch) / f"{name}.txt"
            path.write_text(text)
            target = out / f"{name}.cdx.json"
            with target.open("w") as sink:
                subprocess.run(
                    [tool, "requirements", str(path), "--of", "JSON", "--output-reproducible", "--mc-type", kind],
                    stdout=sink,
                    check=True,
                )
            return target

        written = list(pool.map(write, jobs))
    functions = out / "functions.cdx.json"
    functions.write_text(json.dumps(functions_sbom(), indent=2, sort_keys=True) + "\n")
    for target in [*written, functions]:
        print(f"sbom: {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
    return 0 if valid([out / f"{name}.cdx.json" for name in ("layer", "image", "functions")]) else 1


def valid(paths: list[Path]) -> bool:
    """Against the CycloneDX 1.6 JSON schema (cyclonedx-python-lib's strict validator, built once)."""
    from cyclonedx.schema import SchemaVersion  # noqa: PLC0415 - .tools/gates only
    from cyclonedx.validation.json import JsonStrictValidator  # noqa: PLC0415

    validator = JsonStrictValidator(SchemaVersion.V1_6)
    errors = {path.name: validator.validate_str(path.read_text()) for path in paths}
    for name, error in errors.items():
        if error is not None:
            print(f"sbom: {name} is not valid CycloneDX 1.6: {error}")
    return all(error is None for error in errors.values())


def functions_sbom() -> dict[str, Any]:
    """The functions are our own code on the shared layer: one component per handler file, with
    its SHA-256, each depending on the layer (whose contents layer.cdx.json lists)."""
    components: list[dict[str, object]] = []
    for handler in sorted((ROOT / "functions").glob("*/handler.py")):
        digest = hashlib.sha256(handler.read_bytes()).hexdigest()
        components.append(
            {
                "type": "application",
                "bom-ref": f"function:{handler.parent.name}",
                "name": handler.parent.name,
                "version": digest[:12],
                "hashes": [{"alg": "SHA-256", "content": digest}],
            }
        )
    layer = {"type": "library", "bom-ref": "layer:SharedLayer", "name": "SharedLayer", "version": "layer.cdx.json"}
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {"component": {"type": "application", "name": "simple-api-functions", "bom-ref": "root"}},
        "components": [*components, layer],
        "dependencies": [
            {"ref": "root", "dependsOn": [c["bom-ref"] for c in components]},
            *({"ref": c["bom-ref"], "dependsOn": ["layer:SharedLayer"]} for c in components),
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="gate", required=True)
    for name in ("secrets", "sast"):
        command = commands.add_parser(name)
        command.add_argument("--root", type=Path, default=ROOT)
        if name == "secrets":
            command.add_argument("--update-baseline", action="store_true")
    commands.add_parser("sca").add_argument("--required", action="store_true")
    commands.add_parser("sbom").add_argument("out", type=Path)
    arguments = parser.parse_args(argv)
    if arguments.gate == "secrets":
        return secrets(arguments.root.resolve(), arguments.update_baseline)
    if arguments.gate == "sast":
        return sast(arguments.root.resolve())
    if arguments.gate == "sca":
        return sca(arguments.required)
    return sbom(arguments.out)


if __name__ == "__main__":
    sys.exit(main())
