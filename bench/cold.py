"""Cold init as Lambda sees the code (method: docs/performance.md, "Cold init").

Every subject is a `sam build` output, zipped as `sam package` zips it, extracted read-only with its
1980 dates and imported in a fresh interpreter with bytecode writes off (bench/artifacts.py):
- the floor: a handler importing only json (bench/anchor/floor);
- the anchor: what `sam init --app-template hello-world-powertools-python` generates
  (bench/anchor/hello_world), built by `sam build` from its requirements.txt pinned to uv.lock's
  versions, so with the same Powertools as ours;
- each of our functions with the SharedLayer, as `make build` made them (scripts/lambda.mk);
- each API function and the layer without their bytecode: what SAM's python3.13 builder ships.
All in one run, every subject once per round, medians.
"""

import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from bench.artifacts import ROOT, Deployment, deployed, median_ms, without_bytecode
from bench.report import Row

BUILD = ROOT / ".aws-sam" / "build"
ANCHOR_APP = ROOT / "bench" / "anchor"
ANCHOR_BUILD = ROOT / ".aws-sam" / "bench"
SAM = ROOT / ".tools" / "sam" / "bin" / "sam"
UV = ROOT / ".tools" / "uv" / "bin" / "uv"
ROUNDS = 7
GOAL = 0.15  # every API function's cold import, as a share of the anchor's
LAYER = "SharedLayer"


def build_anchor() -> Path:
    """`sam build` of bench/anchor (cached), pip constrained to uv.lock's versions."""
    ANCHOR_BUILD.mkdir(parents=True, exist_ok=True)
    constraints = ANCHOR_BUILD / "constraints.txt"
    subprocess.run(
        [
            str(UV),
            "export",
            "--frozen",
            "--all-groups",
            "--no-hashes",
            "--no-emit-project",
            "--no-header",
            "--quiet",
            "-o",
            str(constraints),
        ],
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    build = ANCHOR_BUILD / "build"
    template, cache = ANCHOR_APP / "template.yaml", ANCHOR_BUILD / "cache"
    subprocess.run(
        [
            str(SAM),
            "build",
            "--cached",
            "--template-file",
            str(template),
            "--build-dir",
            str(build),
            "--cache-dir",
            str(cache),
        ],
        cwd=ROOT,
        env={**os.environ, "PIP_CONSTRAINT": str(constraints), "SAM_CLI_TELEMETRY": "0"},
        capture_output=True,
        check=True,
        timeout=900,
    )
    return build


def logical_id(folder: str) -> str:
    return "".join(part.title() for part in folder.split("_")) + "Function"


def our_functions() -> list[str]:
    """Logical ids of the functions `make build` built, from functions/<folder>/handler.py."""
    folders = sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "handler.py").exists())
    return [logical_id(f) for f in folders if (BUILD / logical_id(f)).is_dir()]


def cold_rows(environment: Mapping[str, str], api_functions: set[str]) -> list[Row]:
    anchor_build = build_anchor()
    functions = our_functions()
    api = [f for f in functions if f in api_functions]
    with tempfile.TemporaryDirectory() as plain:
        folders = {
            "floor": anchor_build / "FloorFunction",
            "anchor": anchor_build / "HelloWorldFunction",
            LAYER: BUILD / LAYER,
            f"{LAYER} plain": without_bytecode(BUILD / LAYER, Path(plain) / LAYER),
            **{f: BUILD / f for f in functions},
            **{f"{f} plain": without_bytecode(BUILD / f, Path(plain) / f) for f in api},
        }
        with deployed(folders) as trees:
            subjects = {
                "floor": (Deployment.of(trees, "floor"), "app"),
                "anchor": (Deployment.of(trees, "anchor"), "app"),
                **{f: (Deployment.of(trees, f, [LAYER]), "handler") for f in functions},
                **{f"{f} plain": (Deployment.of(trees, f"{f} plain", [f"{LAYER} plain"]), "handler") for f in api},
            }
            checks = {
                name: d.probe(module, audit=True, environment=environment) for name, (d, module) in subjects.items()
            }
            ms = median_ms(subjects, ROUNDS, environment)
    floor, anchor = ms["floor"], ms["anchor"]

    def modules(name: str) -> str:
        check = checks[name]
        return f"{len(check.loaded)} modules, {len(check.compiled)} compiled"

    rows = [
        Row("cold init", f"floor: bare handler ({modules('floor')})", f"{floor:.1f} ms", "", "", "", None),
        Row(
            "cold init",
            f"anchor: sam init hello-world-powertools ({modules('anchor')})",
            f"{anchor:.1f} ms",
            "",
            "1.00",
            "",
            None,
        ),
    ]
    for name in [*functions, *(f"{f} plain" for f in api)]:
        ratio = ms[name] / anchor
        base = name.removesuffix(" plain")
        label = f"{base} without bytecode, as SAM's python3.13 builder ships it" if name.endswith(" plain") else base
        goal = name in api
        rows.append(
            Row(
                "cold init",
                f"{label} ({modules(name)})",
                f"{ms[name]:.1f} ms",
                f"anchor {anchor:.1f} ms; floor {floor:.1f} ms",
                f"{ratio:.3f}x anchor; {ms[name] / floor:.1f}x floor",
                f"<= {GOAL}x anchor" if goal else "",
                ratio <= GOAL if goal else None,
            )
        )
    ours = [checks[f] for f in functions]
    compiled = sorted({path for check in ours for path in check.compiled})
    rows.append(
        Row(
            "cold init",
            "our functions and SharedLayer: files compiled from source at import",
            f"{len(compiled)} of {len({m for check in ours for m in check.loaded})} modules",
            "",
            "",
            "0 (the bytecode shipped is used)",
            not compiled,
        )
    )
    return rows
