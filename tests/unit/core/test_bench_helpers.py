"""The bench's parsing and table code (the measurements themselves run in `make bench`)."""

import importlib.util
import random
from pathlib import Path

import pytest

from tests.factories import ROOT


def bench():
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("text", "ms"), [("850.00us", 0.85), ("12.30ms", 12.3), ("1.50s", 1500.0)])
def test_wrk_latencies_are_read_in_milliseconds(text, ms):
    assert bench().parse_latency(text) == pytest.approx(ms)


def test_the_table_marks_met_and_missed_goals():
    module = bench()
    rows = [
        module.Row("a", "x", "1", "", "", "<= 2", True),
        module.Row("a", "y", "3", "", "", "<= 2", False),
        module.Row("a", "z", "3", "", "", "", None),
    ]
    lines = module.table(rows).splitlines()
    assert lines[2].endswith("| met |") and lines[3].endswith("| MISSED |") and lines[4].endswith("|  |")


def test_zipped_size_is_that_of_the_zip_sam_package_makes(tmp_path: Path):
    folder = tmp_path / "built"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.py").write_text("x = 1\n" * 100)
    (folder / "sub" / "b.json").write_text("{}")
    small = bench().zipped_sizes([folder])[folder]
    (folder / "c.bin").write_bytes(random.Random(0).randbytes(16 * 1024))  # deflate cannot shrink it
    assert 0 < small < 600 < bench().zipped_sizes([folder])[folder]
