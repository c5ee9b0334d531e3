"""The bench's parsing and table code (the measurements themselves run in `make bench`)."""

import importlib.util
import json
import random
import subprocess
import time
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
    small, large = tmp_path / "small", tmp_path / "large"
    for folder in (small, large):
        (folder / "sub").mkdir(parents=True)
        (folder / "a.py").write_text("x = 1\n" * 100)
        (folder / "sub" / "b.json").write_text("{}")
    (large / "c.bin").write_bytes(random.Random(0).randbytes(16 * 1024))  # deflate cannot shrink it
    sizes = bench().zipped_sizes([small, large])
    assert 0 < sizes[small] < 600 < 16 * 1024 < sizes[large]


STAGES = "lint\t1.5\t0\nunit\t60.0\t0\nsca\t2.0\t0\ndocker-tiers\t100.0\t0\nec2-boot-tier\t20.0\t0\n"


def check_time(tmp_path, monkeypatch, recorded, here, stages=STAGES):
    module = bench()
    monkeypatch.setattr(module, "REPORTS", tmp_path)
    monkeypatch.setattr(module.provenance, "tree_state", lambda: here)
    (tmp_path / "timings.tsv").write_text(stages)
    (tmp_path / "timings.tree").write_text(json.dumps(recorded))
    return module.check_time_rows()


def tree(commit="a" * 40, changes="c" * 64, dirty=False, at=None):
    return {"commit": commit, "changes": changes, "dirty": dirty, "at": at or int(time.time()) - 600}


def test_check_time_comes_from_a_make_test_on_this_tree_and_says_how_old_it_is(tmp_path, monkeypatch):
    rows = check_time(tmp_path, monkeypatch, tree(), tree())
    total = rows[-1]
    assert total.what == "all offline checks" and total.value == "63.5 s" and total.met is True
    assert "10 min ago, this tree" in total.baseline


def test_timings_of_another_commit_or_other_changes_are_refused_loudly(tmp_path, monkeypatch, capsys):
    for recorded in (tree(commit="b" * 40), tree(changes="d" * 64, dirty=True)):
        [row] = check_time(tmp_path, monkeypatch, recorded, tree())
        assert row.met is None and row.value.startswith("not reported") and "run `make test`" in row.value
    assert capsys.readouterr().err.count("NOT REPORTED") == 2


def test_a_failed_or_unfinished_make_test_gives_no_total(tmp_path, monkeypatch):
    failed = STAGES.replace("unit\t60.0\t0", "unit\t60.0\t2")
    assert check_time(tmp_path, monkeypatch, tree(), tree(), failed)[-1].value.endswith("failed a stage")
    unfinished = STAGES.split("sca", maxsplit=1)[0]
    assert check_time(tmp_path, monkeypatch, tree(), tree(), unfinished)[-1].value.endswith("its offline checks")
    docker_failed = STAGES.replace("docker-tiers\t100.0\t0", "docker-tiers\t100.0\t1").split("ec2", maxsplit=1)[0]
    rows = check_time(tmp_path, monkeypatch, tree(), tree(), docker_failed)
    assert rows[-1].value == "63.5 s" and "docker-tiers (exit 1)" in rows[-2].what
    assert (tmp_path / "timings.tsv").exists(), "nothing is deleted"


def test_no_make_test_means_no_check_time(tmp_path, monkeypatch):
    module = bench()
    monkeypatch.setattr(module, "REPORTS", tmp_path)
    [row] = module.check_time_rows()
    assert row.met is None and "run `make test`" in row.value


def test_the_tree_state_changes_with_every_uncommitted_change_and_writes_nothing(tmp_path):
    from bench import provenance

    def git(*arguments):
        subprocess.run(["git", *arguments], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / ".gitignore").write_text("ignored/\n")
    (tmp_path / "a.txt").write_text("one\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "first")
    objects = sorted((tmp_path / ".git" / "objects").rglob("*"))
    clean = provenance.tree_state(tmp_path)
    assert clean["dirty"] is False and len(clean["commit"]) == 40
    (tmp_path / "ignored").mkdir()
    (tmp_path / "ignored" / "x").write_text("build output\n")
    assert provenance.tree_state(tmp_path) == clean, "ignored files are not the tree"
    (tmp_path / "a.txt").write_text("two\n")
    edited = provenance.tree_state(tmp_path)
    (tmp_path / "new.txt").write_text("three\n")
    added = provenance.tree_state(tmp_path)
    (tmp_path / "new.txt").write_text("four\n")
    rewritten = provenance.tree_state(tmp_path)
    assert len({clean["changes"], edited["changes"], added["changes"], rewritten["changes"]}) == 4
    assert edited["dirty"] and added["commit"] == clean["commit"]
    assert sorted((tmp_path / ".git" / "objects").rglob("*")) == objects, "no object written"
