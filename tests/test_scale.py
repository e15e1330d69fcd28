"""Task partitioning and merging, the submitit launcher, and the process setup helpers."""

import logging
import subprocess
import sys

import jax
import pytest

from alignment import registry as sweep
from alignment.engine import sharding
from alignment.runner import results
from alignment.two_layer import report
from sweeps import merge
from sweeps.configs import base

OUTPUTS = ("threshold.json", "summary.csv")


def tiny_config():
    """9 runs in 3 chunks of one program: the program of tests/test_train.py (shared compile)."""
    c = base.get_config()
    c.name = "scale_test"
    c.d = (4,)
    c.m = (12,)
    c.n = (8, 16, 24)  # one bucket, n_pad = 24
    c.num_seeds = 3
    c.n_test = 30
    c.dtype = "float64"
    c.lam = (1e-2,)
    c.lr = (0.5,)
    c.sigma = (0.3,)
    c.max_time = 100.0
    c.t_min = 1.0
    c.num_snapshots = 10
    c.snapshots_per_decade = 5
    c.time_cap = 1e4
    c.verdict.rel_tol = 1e-3  # some runs interpolate, some get stuck, some stay undetermined
    c.max_lanes = 3
    c.n_boot = 50
    c.make_figures = False
    return c


def _read(workdir):
    return {name: (workdir / name).read_text() for name in OUTPUTS}


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("single")
    cfg = tiny_config()
    sweep.run(cfg, workdir)
    report.finish(cfg, workdir)
    verdicts = set(results.read_csv(workdir / "summary.csv")["verdict"])
    assert {"interpolating", "undetermined"} <= verdicts, "a weak comparison: change the config"
    return workdir


def test_three_tasks_merged_equal_a_single_run(single, tmp_path):
    cfg = tiny_config()
    owned = [sweep.run(cfg, tmp_path, i, 3) for i in range(3)]
    assert sorted(sum(owned, [])) == [0, 1, 2]  # every chunk exactly once
    assert results.finished_chunks(tmp_path) == [0, 1, 2]
    # the command, with the config read back from config.json
    subprocess.run([sys.executable, "-m", "sweeps.merge", f"--workdir={tmp_path}"], check=True)
    assert _read(tmp_path) == _read(single)


def test_merge_refuses_missing_chunks_and_other_configs(single, tmp_path):
    cfg = tiny_config()
    sweep.run(cfg, tmp_path, 1, 3)
    with pytest.raises(ValueError, match=r"2 of 3 chunks are not finished \(first: \[0, 2\]\)"):
        merge.merge(tmp_path)
    other = tiny_config()
    other.lr = (0.1,)
    with pytest.raises(ValueError, match="lr"):
        merge.merge(single, other)


def test_process_share(monkeypatch):
    assert sharding.process_share(2, 5) == (2, 5)
    monkeypatch.setattr(jax, "process_count", lambda: 3)
    monkeypatch.setattr(jax, "process_index", lambda: 1)
    shares = {sharding.process_share(t, 2) for t in range(2)}
    assert shares == {(1, 6), (4, 6)}


def test_submitit_local_executor_end_to_end(single, tmp_path, caplog):
    pytest.importorskip("submitit", reason="submitit missing: pip install -e '.[cluster]'")
    from sweeps import launch

    executor = launch.make_executor(tmp_path / "logs", "local", timeout_min=10)
    cache = tmp_path / "jax_cache"
    caplog.set_level(logging.INFO, logger="absl")
    launch.launch(tiny_config(), tmp_path / "out", 2, executor, str(cache))
    assert _read(tmp_path / "out") == _read(single)
    done = [r.getMessage() for r in caplog.records if "finished:" in r.getMessage()]
    assert [m.split(": ")[1] for m in done] == ["1 of 2 done", "2 of 2 done"]  # as they end
    assert any(cache.iterdir()), "the tasks should have filled the compilation cache"
