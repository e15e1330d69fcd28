"""The main job end to end on a micro config: outputs, verdict loop, resume, config errors."""

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from alignment import grid, results, sweep, threshold, train
from sweeps.configs import base

OUTPUTS = ("config.json", "summary.csv", "threshold.json", "trajectories.nc")


def micro_config():
    """6 runs of one program (d = 2: the polar figure applies) in 3 chunks of 2 lanes."""
    c = base.get_config()
    c.name = "micro"
    c.d = (2,)
    c.m = (8,)
    c.n = (4, 8, 16)
    c.num_seeds = 2
    c.n_test = 16
    c.sigma = (0.3,)
    c.lam = (1e-2,)
    c.lr = (0.2,)
    c.dtype = "float64"
    c.max_time = 50.0
    c.t_min = 0.5
    c.num_snapshots = 12
    c.snapshots_per_decade = 4
    c.time_cap = 5e3
    c.max_lanes = 2
    c.bucket_waste = 10.0  # one bucket: one compiled program
    c.n_boot = 50
    c.make_figures = False
    return c


def _read_all(workdir):
    out = {name: (workdir / name).read_bytes() for name in OUTPUTS if name != "trajectories.nc"}
    with xr.open_dataset(workdir / "trajectories.nc") as ds:
        out["trajectories"] = ds.load()
    return out


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("micro")
    cfg = micro_config()
    sweep.run(cfg, workdir)
    report = sweep.finish(cfg, workdir)
    return workdir, report


def test_writes_every_output(finished):
    workdir, report = finished
    for name in OUTPUTS:
        assert (workdir / name).stat().st_size > 0, name
    assert results.finished_chunks(workdir) == [0, 1, 2]
    summary = results.read_csv(workdir / "summary.csv")
    assert list(summary.columns) == list(results.SUMMARY_COLUMNS)
    assert len(summary) == 6 and sorted(summary["run"]) == list(range(6))
    assert set(summary["verdict"]) <= set(threshold.VERDICTS)
    ok = summary["verdict"] != "diverged"
    assert np.isfinite(summary.loc[ok, "train_loss"]).all()
    assert (summary["ols_train_loss"] >= 0).all()
    assert report["groups"][0]["table"][0]["runs"] == 2
    assert {"n_star", "ci_low", "ci_high", "method", "table"} <= set(report["groups"][0])
    assert report["tolerances"] == {k: float(v) for k, v in micro_config().verdict.items()}
    with xr.open_dataset(workdir / "trajectories.nc") as traj:
        assert traj.sizes["run"] == 6 and {"loss", "time", "grad_norm", "speed"} <= set(traj)
        assert "neuron_w" not in traj  # per-neuron arrays stay in the chunk files
    neurons = results.load_neurons(workdir, 0)  # seed 0 keeps its neurons (neuron_seeds = 1)
    assert neurons["neuron_w"].shape[1:] == (8, 2)
    assert results.load_neurons(workdir, 1) is None  # seed 1 does not


def test_verdict_loop_continues_without_restarting(finished):
    """A continued run's record equals one uninterrupted training through the same times."""
    workdir, _ = finished
    cfg = micro_config()
    summary = results.read_csv(workdir / "summary.csv")
    continued = summary[summary["final_time"] > cfg.max_time * 1.0001]
    assert len(continued), "no run needed continuing: the test cannot see the loop"
    run_id = int(continued["run"].iloc[0])
    with xr.open_dataset(workdir / "trajectories.nc") as traj:
        one = traj.sel(run=run_id).load()
    keep = np.isfinite(one["time"].values)
    t_rec, loss_rec = one["time"].values[keep], one["loss"].values[keep]
    assert np.all(np.diff(t_rec) > 0) and t_rec[-1] > cfg.max_time
    runs = grid.expand(cfg)
    chunk = next(c for c in grid.plan(cfg, runs) if run_id in c.run_ids)
    lanes = grid.lanes_for(runs, chunk.run_ids, chunk.lanes)
    state, ctx = train.init_runs(chunk.program, lanes)
    _, snaps = sweep.train_calls(chunk.program, state, ctx, lanes, t_rec, cfg.snapshots_per_decade)
    lane = chunk.run_ids.index(run_id)
    np.testing.assert_allclose(snaps["loss"][lane], loss_rec, rtol=1e-12, atol=0)
    und = summary["verdict"] == "undetermined"
    assert und.any(), "no run reached the cap undetermined: the test cannot see the cap"
    np.testing.assert_allclose(summary.loc[und, "final_time"], cfg.time_cap, rtol=1e-6)
    assert (summary["final_time"] <= cfg.time_cap * (1 + 1e-6)).all()


def test_interrupted_run_resumes_to_identical_results(finished, tmp_path):
    workdir, _ = finished
    cfg = micro_config()

    def stop_after_first(chunk):
        raise KeyboardInterrupt(f"interrupted after chunk {chunk.index}")

    with pytest.raises(KeyboardInterrupt):
        sweep.run(cfg, tmp_path, after_chunk=stop_after_first)
    assert results.finished_chunks(tmp_path) == [0]
    trained = []
    sweep.run(cfg, tmp_path, after_chunk=lambda ch: trained.append(ch.index))
    assert trained == [1, 2]  # nothing finished is recomputed
    sweep.run(cfg, tmp_path, after_chunk=lambda ch: trained.append(ch.index))
    assert trained == [1, 2]  # a finished sweep trains nothing
    sweep.finish(cfg, tmp_path)
    got, want = _read_all(tmp_path), _read_all(workdir)
    xr.testing.assert_identical(got.pop("trajectories"), want.pop("trajectories"))
    assert got == want
    for index in range(3):
        xr.testing.assert_identical(results.load_chunk(tmp_path, index),
                                    results.load_chunk(workdir, index))  # fmt: skip


def test_workdir_of_another_config_is_refused(finished):
    workdir, _ = finished
    other = micro_config()
    other.lam = (1e-3,)
    with pytest.raises(ValueError, match="lam"):
        sweep.run(other, workdir)
    neutral = micro_config()
    neutral.n_boot = 7  # changes no chunk: accepted, config.json updated
    sweep.run(neutral, workdir)
    assert '"n_boot": 7' in (workdir / "config.json").read_text()
    sweep.run(micro_config(), workdir)


def test_bad_config_fails_before_any_compute(tmp_path, monkeypatch):
    def no_compute(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(train, "init_runs", no_compute)
    bad = micro_config()
    bad.lr = (0.1, -0.1)
    with pytest.raises(ValueError, match="lr=-0.1"):
        sweep.run(bad, tmp_path / "a")
    unknown = micro_config()
    unknown.lambda_ = 1.0
    with pytest.raises(ValueError, match="lambda_"):
        sweep.run(unknown, tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_command_line_errors_are_clear(tmp_path):
    def run(*args):
        cmd = [sys.executable, "-m", "sweeps.run", "--config=sweeps/configs/tiny.py", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    got = run("--config.no_such_field=1", f"--workdir={tmp_path}")
    assert got.returncode != 0 and "no_such_field" in got.stderr
    assert "Traceback" not in got.stderr
    got = run("--config.num_seeds=0", f"--workdir={tmp_path}")
    assert got.returncode != 0 and "num_seeds=0" in got.stderr
    assert "Traceback" not in got.stderr
    assert not tmp_path.joinpath("config.json").exists()
