"""Figures regenerate from a stored result alone; each figure appears only where data allows."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from micro import micro_config
from PIL import Image

from alignment import registry as sweep
from alignment.runner import results
from alignment.two_layer import grid, report
from alignment.two_layer.report import THRESHOLD
from figures import make
from sweeps.configs import base


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """The micro sweep of test_sweep (same compiled program), finished without figures."""
    workdir = tmp_path_factory.mktemp("stored")
    cfg = micro_config()
    sweep.run(cfg, workdir)
    report.finish(cfg, workdir)
    return workdir


def _names(paths):
    return sorted(p.name for p in paths)


def test_every_supported_figure_is_made(stored):
    paths = make.make_all(stored)
    names = _names(paths)
    for stem in ("loss_vs_n_micro", "p_of_n_micro", "loss_vs_time_micro"):
        assert f"{stem}.png" in names and f"{stem}.pdf" in names, stem
    polar = [n for n in names if n.endswith("_polar.png")]
    gifs = [n for n in names if n.endswith(".gif")]
    cos = [n for n in names if n.endswith("_cos.png")]
    assert polar and cos and len(gifs) == len(polar)  # d = 2: polar picture and its animation
    for path in paths:
        assert path.stat().st_size > 1000, path
    with Image.open(stored / "figures" / gifs[0]) as gif:
        assert gif.n_frames > 5
    with Image.open(stored / "figures" / "loss_vs_n_micro.png") as png:
        assert png.size[0] > 500
    index = (stored / "figures" / "index.md").read_text()
    assert "nstar_vs_d: d was not swept" in index  # skipped with the reason, never faked
    assert "phase_n_lam_micro" in index
    assert not list((stored / "figures").glob("nstar_vs_d*"))


def test_regenerated_from_a_copy(stored, tmp_path):
    first = make.make_all(stored, only=["loss_vs_n", "p_of_n"])
    copy = tmp_path / "copy"
    shutil.copytree(stored, copy, ignore=shutil.ignore_patterns("figures"))
    again = make.make_all(copy, only=["loss_vs_n", "p_of_n"])
    assert _names(again) == _names(first)
    for a, b in zip(sorted(first), sorted(again), strict=True):
        if a.suffix == ".png":  # no timestamps in the files: same results, same bytes
            assert a.read_bytes() == b.read_bytes(), a.name


def test_missing_results_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        make.make_all(tmp_path)


def test_command_line(stored):
    cmd = [
        sys.executable,
        "-m",
        "figures.make",
        f"--workdir={stored}",
        "--only=p_of_n",
        "--formats=png",
    ]
    got = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
    assert got.stdout.strip().endswith("p_of_n_micro.png")


def _synthetic_store(workdir):
    """A stored sweep over d x lam x n with n*(d) = 4 d (no training): summary, report, traj."""
    c = base.get_config()
    c.name = "synthetic"
    c.d = (2, 4, 8)
    c.lam = (1e-3, 1e-2)
    c.n = (4, 8, 16, 32, 64)
    c.num_seeds = 4
    c.n_boot = 100
    runs = grid.expand(c)
    rng = np.random.default_rng(0)
    R = len(runs["n"])
    p = 1 / (1 + (runs["n"] / (4 * runs["d"] * (1 + 10 * runs["lam"]))) ** 4)
    verdict = np.where(rng.random(R) < p, "interpolating", "stuck")
    summary = pd.DataFrame({k: runs[k] for k in grid.RUN_COLUMNS})
    summary.insert(0, "run", np.arange(R))
    summary["verdict"] = verdict
    summary["decided_by"] = np.where(verdict == "stuck", "certified", "tolerance")
    summary["train_loss"] = np.where(verdict == "interpolating", 1e-9, 0.1)
    summary["test_loss"] = 0.2
    summary["ols_train_loss"] = 0.1
    summary["ols_test_loss"] = 0.15
    summary.to_csv(workdir / results.SUMMARY, index=False)
    rep = report.threshold_report(c, results.read_csv(workdir / results.SUMMARY))
    results.write_json(workdir / THRESHOLD, rep)
    t = np.tile(np.geomspace(1, 100, 5), (R, 1))
    traj = xr.Dataset(
        {
            "time": (("run", "snapshot"), t),
            "loss": (("run", "snapshot"), 1 / t),
            "test_loss": (("run", "snapshot"), 2 / t),
        },
        coords={"run": np.arange(R)},
    )
    results.write_netcdf(workdir / results.TRAJECTORIES, traj)
    results.write_text(workdir / results.CONFIG, c.to_json())
    return rep


def test_threshold_against_d_and_phase_diagram(tmp_path):
    report = _synthetic_store(tmp_path)
    fit = report["power_law_in_d"]
    assert len(fit) == 2 and all(f["k"] is not None for f in fit)
    names = _names(make.make_all(tmp_path, only=["nstar_vs_d", "phase", "p_of_n", "nstar_vs_axis"]))
    # lam swept with d fixed: n* against lam, one figure (d has its own)
    assert {"nstar_vs_lam.png", "nstar_vs_lam.pdf"} <= set(names)
    assert "nstar_vs_sigma.png" not in names
    assert {"nstar_vs_d.png", "nstar_vs_d.pdf"} <= set(names)
    assert {"phase_n_lam_synthetic.png", "phase_n_lam_synthetic.pdf"} <= set(names)
    assert "phase_n_lr_synthetic.png" not in names  # lr was not swept
    index = (tmp_path / "figures" / "index.md").read_text()
    assert "phase_n_lr_synthetic" in index and "p_of_n_synthetic" in index
    assert json.loads((tmp_path / THRESHOLD).read_text())["groups"][0]["n_star"]
    for g in report["groups"]:  # the per-n certificate counts agree with the p(n) table
        for row, why in zip(g["table"], g["decided_by_n"], strict=True):
            assert why["n"] == row["n"]
            assert why.get("interpolating/tolerance", 0) == row["interpolating"]
            assert why.get("stuck/certified", 0) == row["stuck"]


def test_power_law_in_d_also_fits_the_threshold_at_the_longest_time():
    """n*(T) at the longest T follows n = 2 d^1.5 exactly: its fit returns k = 1.5 beside the
    certified n*'s own fit (n = 3 d^2, k = 2)."""
    groups = []
    for d in (2, 4, 8, 16):
        g = {k: 0 for k in report.GROUP_AXES} | {"d": d, "sweep": "s"}
        cert, late = 3.0 * d**2, 2.0 * d**1.5
        g |= {
            "n_star": cert,
            "ci_low": 0.9 * cert,
            "ci_high": 1.1 * cert,
            "n_star_by_time": [
                {"T": 100.0, "n_star": late, "ci_low": 0.9 * late, "ci_high": 1.1 * late}
            ],
        }
        groups.append(g)
    (fit,) = report.power_laws(groups)
    assert fit["k"] == pytest.approx(2.0, abs=1e-9)
    assert fit["at_longest"]["k"] == pytest.approx(1.5, abs=1e-9)
    assert fit["at_longest"]["T"] == 100.0
