"""The mean-field job end to end (train, resume, claims, figures) and the claims' rules on
constructed cases with known answers."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from scipy.special import expit

from alignment import registry as jobs
from alignment import registry as sweep
from alignment.mean_field import chunks as mean_field_job
from alignment.mean_field import claims as mf_claims
from alignment.mean_field import config as mf_config
from alignment.mean_field import frozen
from alignment.mean_field import report as mf_report
from alignment.runner import results


def micro_mf():
    """d = 4, m in {4, 8}: mean-field, lazy and frozen-a runs of one target, 2 seeds."""
    c = mf_config.get_config()
    c.name = "mf_micro"
    c.d = 4
    c.m = (4, 8)
    c.target = ("pure_noise",)
    c.tau = (0.5,)
    c.a0 = (1.0,)
    c.lazy_gamma0 = (0.5,)
    c.frozen_gamma = (0.2, 1.0)
    c.frozen_seeds = 1
    c.num_seeds = 2
    c.t_max = 5.0
    c.num_snapshots = 12
    c.snapshots_per_call = 4
    c.dtype = "float64"
    c.make_figures = False
    return c


class KilledError(Exception):
    pass


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    cfg = micro_mf()
    workdir = tmp_path_factory.mktemp("mf")
    sweep.run(cfg, workdir)
    report = jobs.finish(cfg, workdir)
    return cfg, workdir, report


def test_job_writes_every_output_with_the_paper_clock(finished):
    cfg, workdir, report = finished
    runs = mean_field_job.expand(cfg)
    # per m: 2 mean-field + 2 lazy trained runs, 2 frozen ones (one seed each)
    assert report["runs"] == len(runs["m"]) == 12
    assert report["verdicts"] == {"finished": 12}
    traj = xr.open_dataset(workdir / results.TRAJECTORIES).load()
    m = traj["m"].values[:, None]
    t = traj["time"].values
    np.testing.assert_allclose(t[:, -1], cfg.t_max * m[:, 0], rtol=1e-12)
    np.testing.assert_allclose(t[:, 1], cfg.t_min / m[:, 0], rtol=1e-12)
    np.testing.assert_array_equal(traj["t_over_m"].values, t / m)
    np.testing.assert_array_equal(traj["t_times_m"].values, t * m)
    summary = results.read_csv(workdir / results.SUMMARY)
    assert len(summary) == 12 and (summary["steps"] > 0).all()
    assert (workdir / mf_report.CLAIMS).exists()


def test_inits_and_the_frozen_control(finished):
    """a(0) = a0 (mean field) or gamma0 sqrt(m) (lazy); frozen-a runs keep a = gamma sqrt(m)
    at every snapshot (mean|a| exactly, float64) while their W moves."""
    _, workdir, _ = finished
    traj = xr.open_dataset(workdir / results.TRAJECTORIES).load()
    kind, scale, m = traj["kind"].values.astype(str), traj["scale"].values, traj["m"].values
    a0 = traj["complexity"].values[:, 0]
    np.testing.assert_allclose(a0[kind == "mean_field"], 1.0, rtol=1e-12)
    lazy = kind == "lazy"
    np.testing.assert_allclose(a0[lazy], scale[lazy] * np.sqrt(m[lazy]), rtol=1e-12)
    frozen = kind == "frozen"
    expected = (scale * np.sqrt(m))[frozen][:, None]
    np.testing.assert_allclose(
        traj["complexity"].values[frozen], np.broadcast_to(expected, (4, 12)), rtol=1e-12
    )
    assert np.all(traj["self_overlap"].values[frozen, -1] < 1 - 1e-3)  # W trained
    assert np.all(traj["complexity"].values[~frozen, -1] != traj["complexity"].values[~frozen, 0])


def test_a_killed_job_resumes_to_the_same_files(finished, tmp_path):
    cfg, workdir, _ = finished
    saves = []

    def kill(count):
        saves.append(count)
        if len(saves) == 2:  # inside the first chunk, after its second call
            raise KilledError

    with pytest.raises(KilledError):
        sweep.run(cfg, tmp_path, after_save=kill)
    assert list((tmp_path / "checkpoints").glob("chunk_*.npz"))
    sweep.run(cfg, tmp_path)
    jobs.finish(cfg, tmp_path)
    for name in (results.SUMMARY, mf_report.CLAIMS):
        assert (tmp_path / name).read_bytes() == (workdir / name).read_bytes(), name


def test_figures_from_the_stored_results(finished):
    from figures import make

    _, workdir, _ = finished
    paths = make.make_all(workdir, formats=("png",))
    names = {p.stem for p in paths}
    assert {
        "mf_dynamics_pure_noise_tau0.5",
        "mf_gamma_collapse_pure_noise_tau0.5",
        "mf_train_vs_gamma_pure_noise_tau0.5",
        "mf_pure_noise_tau0.5",
        "mf_lazy_cross_pure_noise_tau0.5",
    } <= names


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("tau", (-1.0,), "tau=-1.0 must be a finite number >= 0"),
        ("m", (8, 1), "m=1 must be an integer >= 2"),
        ("target", ("teacher",), "target='teacher' is not one of"),
        ("activation", "tanh", "activation='tanh' is not one of"),
        ("frozen_gamma", (0.0,), "frozen_gamma=0.0 must be a finite number > 0"),
        ("collapse_level", 1.5, "collapse_level=1.5 must be in (0, 1)"),
    ],
)
def test_bad_values_are_named(field, value, says):
    cfg = micro_mf()
    cfg[field] = value
    with pytest.raises(ValueError, match=None) as err:
        jobs.check_config(cfg)
    assert says in str(err.value)


def test_cli_refuses_a_bad_value_in_one_line(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "sweeps.run",
            "--config=sweeps/configs/mf_tiny.py",
            f"--workdir={tmp_path}",
            "--config.alpha=-0.3",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1] == (
        "error: invalid config: alpha=-0.3 must be a finite number > 0"
    )
    assert not list(tmp_path.iterdir())  # nothing written before the check


# ---- the claims' rules on constructed cases ----


def test_crossing_time_interpolates_between_snapshots():
    t = np.array([0.0, 1.0, 2.0, 4.0])
    assert mf_claims.crossing_time(t, 3 * t, 4.5) == pytest.approx(1.5)
    assert mf_claims.crossing_time(t, 10 - t, 7.0, rising=False) == pytest.approx(3.0)
    assert np.isnan(mf_claims.crossing_time(t, t, 10.0))


def test_gamma_threshold_on_a_power_law_curve():
    """e_tr(gamma) = gamma^-4: level 1e-2 is reached at gamma = 1e-2^(-1/4) = 3.1623 exactly
    (log-log interpolation is exact on a power law)."""
    gammas = np.array([1.0, 2.0, 4.0, 8.0])
    g_star, how = frozen.gamma_threshold(gammas, gammas**-4.0, 1e-2)
    assert how == "interpolated"
    assert g_star == pytest.approx(10**0.5, rel=1e-12)
    assert np.isnan(frozen.gamma_threshold(gammas, gammas * 0 + 1, 1e-2)[0])


def _synthetic(t_c_of_m):
    """Mean-field runs whose gamma rises from 0.1 to 0.5 as a step at t_c(m)."""
    rows = []
    for m in (16, 32, 64):
        t = np.concatenate([[0], np.geomspace(1e-3, 100 * m, 400)])
        gamma = 0.1 + 0.4 * expit(8 * (np.log(np.maximum(t, 1e-300)) - np.log(t_c_of_m(m))))
        rows.append((m, t, gamma))
    k = len(rows[0][1])
    ds = xr.Dataset(
        {
            "gamma": (("run", "snapshot"), np.stack([r[2] for r in rows])),
            "time": (("run", "snapshot"), np.stack([r[1] for r in rows])),
        },
        coords={"run": np.arange(3)},
    )
    for name, fill in (
        ("test_loss", 0.2),
        ("loss", 0.1),
        ("overlap", 0.5),
        ("m_cross", 0.0),
        ("max_abs_a", 1.0),
        ("self_overlap", 0.5),
    ):
        ds[name] = (("run", "snapshot"), np.full((3, k), fill))
    ds["m"] = ("run", [r[0] for r in rows])
    ds["tau"] = ("run", np.full(3, 0.3))
    ds["kind"] = ("run", np.array(["mean_field"] * 3))
    ds["target"] = ("run", np.array(["single_index"] * 3))
    return ds


def test_collapse_rule_on_constructed_runs():
    """t_c = 3 m: the rule finds t_c/m = 3 at every m (slope 1, holds); t_c = 3 for every m:
    slope 0, does not hold."""
    for t_c_of_m, holds, slope in ((lambda m: 3.0 * m, True, 1.0), (lambda m: 3.0, False, 0.0)):
        ds = _synthetic(t_c_of_m)
        derived = mf_claims.per_run(ds, 0.5, 0.9)
        claim = mf_claims.overfitting(ds, derived)
        assert claim["holds"] is holds
        # 400 snapshots over ~8 decades: a crossing is located to a few % of t
        assert claim["groups"][0]["slope_t_c_vs_m"] == pytest.approx(slope, abs=0.05)


def test_config_fields_are_documented():
    """Every field of mf_config has a comment (its meaning) on its line."""
    src = mean_field_job.mf_config.__file__
    lines = [ln for ln in Path(src).read_text().splitlines() if ln.strip().startswith("c.")]
    undocumented = [ln for ln in lines if "#" not in ln and "ConfigDict()" not in ln]
    assert not undocumented, undocumented
    json.dumps(mf_config.get_config().to_dict())  # serializable as config.json
