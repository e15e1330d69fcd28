"""The classifier job end to end on a user's npz file (train, removal, resume, claims, figures),
the digits bank, bad values named, and the claims' rules on constructed cases."""

import json
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from alignment import registry as jobs
from alignment import registry as sweep
from alignment.classifier import chunks as classifier_job
from alignment.classifier import claims as cls_claims
from alignment.classifier import config as cls_config
from alignment.classifier import data as class_data
from alignment.classifier import report as cls_report
from alignment.classifier import stats as class_stats
from alignment.runner import results
from figures import make


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    """A user's data set: a noisy linear sign task, 300 rows, labels -1/+1, no test arrays."""
    x, y = class_data.sign_teacher(300, 6, 0.1, seed=3)
    path = tmp_path_factory.mktemp("data") / "mine.npz"
    np.savez(path, x=x.astype(np.float32), y=2 * y - 1)
    return path


def micro_cls(data_file):
    c = cls_config.get_config()
    c.name = "cls_micro"
    c.source = "file"
    c.data_file = str(data_file)
    c.n_train = 160  # the other 140 rows are the test set
    c.subsets = 2
    c.num_seeds = 3
    c.m = 8
    c.lr = (0.5,)
    c.steps = 60
    c.burn_in = 5
    c.removal = True
    c.snapshots_per_call = 16  # 61 snapshots: 4 calls per phase
    c.overlap_points = 8
    c.dtype = "float64"
    c.make_figures = False
    return c


class KilledError(Exception):
    pass


@pytest.fixture(scope="module")
def finished(tmp_path_factory, data_file):
    cfg = micro_cls(data_file)
    workdir = tmp_path_factory.mktemp("cls")
    sweep.run(cfg, workdir)
    report = jobs.finish(cfg, workdir)
    traj = xr.open_dataset(workdir / results.TRAJECTORIES).load()
    return cfg, workdir, report, traj


def test_job_writes_every_output_on_the_step_clock(finished):
    cfg, workdir, report, traj = finished
    # per subset: 3 base runs, each retrained without its stragglers and without random points
    assert report["runs"] == traj.sizes["run"] == 2 * 3 * 3
    assert report["verdicts"] == {"finished": 18}
    np.testing.assert_array_equal(traj["step_index"].values, np.arange(61))
    np.testing.assert_allclose(traj["time"].values, 0.5 * np.arange(61)[None].repeat(18, 0))
    np.testing.assert_array_equal(traj["step"].values[:, -1], 60)
    summary = results.read_csv(workdir / results.SUMMARY)
    assert len(summary) == 18 and set(summary["phase"]) == {"base", "no_stragglers", "random"}
    assert (workdir / cls_report.CLAIMS).exists()


def test_removal_takes_the_parents_stragglers_from_the_same_init(finished):
    """A retraining removes exactly its parent's S(t_inv) (paper rule), or as many other
    points; it starts from the parent's init (identical test predictions at step 0)."""
    cfg, _, _, traj = finished
    n = int(traj.attrs["n_train"])
    phase, parent = traj["phase"].values.astype(str), traj["parent"].values
    run_ids = list(traj["run"].values)
    for r in np.flatnonzero(phase != "base"):
        p = run_ids.index(parent[r])
        t = class_stats.paper_inversion(traj["R_0"].values[p], cfg.burn_in)
        removed = class_stats.unpack(traj["removed_bits"].values[r], n)
        stragglers = (
            np.zeros(n, bool)
            if t is None
            else class_stats.unpack(traj["miss_bits"].values[p, t], n)
        )
        assert removed.sum() == stragglers.sum() == traj["removed"].values[r]
        if phase[r] == "no_stragglers":
            np.testing.assert_array_equal(removed, stragglers)
        assert traj["test_error"].values[r, 0] == traj["test_error"].values[p, 0]
    assert traj["removed"].values[phase == "no_stragglers"].sum() > 0  # the test means it


def test_a_retraining_equals_training_on_the_kept_points(finished, data_file):
    """Independent computation: the job's straggler-free retraining against a fresh program
    whose data are only the kept points (same init, same GD): equal to rounding."""
    cfg, _, _, traj = finished
    phase = traj["phase"].values.astype(str)
    r = int(np.flatnonzero((phase == "no_stragglers") & (traj["removed"].values > 0))[0])
    p = list(traj["run"].values).index(traj["parent"].values[r])
    n = int(traj.attrs["n_train"])
    keep = ~class_stats.unpack(traj["removed_bits"].values[r], n)
    bank = classifier_job.bank_for(classifier_job.data_key(cfg))
    sub = int(traj["subset"].values[r])
    x_tr, y_tr = bank.x_train[sub : sub + 1, keep], bank.y_train[sub : sub + 1, keep]
    from alignment.classifier import family as cl
    from alignment.engine import integrate, train

    small = cl.DataBank(
        x_tr,
        y_tr,
        bank.x_test[sub : sub + 1],
        bank.y_test[sub : sub + 1],
        bank.x_noisy[sub : sub + 1],
        np.ones((1, keep.sum())),
    )
    prog = train.Program(
        cl.Classifier(small, cfg.m, cfg.activation, cfg.head),
        integrate.GD(),
        dtype="float64",
        sharpness_iters=1,
    )
    lanes = train.Lanes.make(
        seed=[int(traj["seed"].values[r])], data_index=[0], weight_index=[0], scale=[1.0], lr=[0.5]
    )
    state, ctx = train.init_runs(prog, lanes, shard=False)
    _, snaps = train.train(prog, state, ctx, 0.5 * np.arange(61), shard=False)
    # float64, 60 steps of the same arithmetic up to summation order: 1e-10 relative
    np.testing.assert_allclose(np.asarray(snaps["loss"])[0], traj["loss"].values[r], rtol=1e-10)
    np.testing.assert_allclose(np.asarray(snaps["R_0"])[0], traj["R_0"].values[r], rtol=1e-10)
    assert traj["loss"].values[r, 0] != traj["loss"].values[p, 0]  # other points, other loss


def test_a_killed_job_resumes_to_the_same_files(finished, tmp_path):
    """Killed after save 2 (phase 1) and after save 6 (phase 2): the rerun ends with the same
    summary.csv and classifier.json bytes as the uninterrupted run."""
    cfg, workdir, _, _ = finished
    for kill_at in (2, 6):
        wd = tmp_path / f"k{kill_at}"

        def kill(saves, at=kill_at):
            if saves == at:
                raise KilledError

        with pytest.raises(KilledError):
            sweep.run(cfg, wd, after_save=kill)
        sweep.run(cfg, wd)
        jobs.finish(cfg, wd)
        for name in (results.SUMMARY, cls_report.CLAIMS):
            assert (wd / name).read_bytes() == (workdir / name).read_bytes(), (kill_at, name)


def test_figures_from_the_stored_results(finished):
    _, workdir, _, _ = finished
    paths = make.make_all(workdir, formats=("png",))
    names = {p.stem.split("_gd")[0] for p in paths}
    assert names == {
        "cls_radius_vs_error",
        "cls_dynamics",
        "cls_stability",
        "cls_removal",
        "cls_overlap",
    }
    index = (workdir / "figures" / "index.md").read_text()
    assert "paper Fig 2a" in index and "paper Fig 2d" in index


def test_claims_json_carries_the_numbers(finished):
    _, workdir, _, _ = finished
    claims = json.loads((workdir / cls_report.CLAIMS).read_text())["claims"]
    seeds = claims["i_eps_inv_stable"]["paper"]["across_seeds"][0]
    assert seeds["eps_inv"]["count"] + seeds["no_inversion"] == 3
    groups = claims["ii_no_inversion_without_stragglers"]["groups"]
    assert [g["no_stragglers"]["runs"] for g in groups] == [6]
    curve = claims["iv_overlap_peaks_at_eps_inv"]["curves"][0]
    assert curve["pairs"] == 3 and len(curve["z_median"]) == len(curve["step"])


def test_digits_bank_is_standardized_on_the_training_block():
    cfg = cls_config.get_config()
    cfg.subsets = 2
    bank = classifier_job.bank_for(classifier_job.data_key(cfg))
    assert bank.x_train.shape == (2, 1000, 64) and bank.x_test.shape == (2, 797, 64)
    mean, std = bank.x_train.mean(axis=1), bank.x_train.std(axis=1)
    np.testing.assert_allclose(mean, 0, atol=1e-9)
    used = std > 0.5  # constant pixels (always 0 in the block) stay 0 after scaling
    np.testing.assert_allclose(std[used], 1, rtol=1e-6)  # std / (std + 1e-9)
    assert not np.array_equal(bank.x_train[0], bank.x_train[1])  # two permutations
    noise = bank.x_noisy - bank.x_test
    assert abs(noise.std() - 1.0) < 0.01  # 797 x 64 draws: std error ~ 0.002
    assert 0.45 < bank.y_train.mean() < 0.55  # digit parity is balanced


@pytest.mark.parametrize(
    "field, value, says",
    [
        ("source", "mnist", "source='mnist' is not one of"),
        ("lr", (0.1, -1.0), "lr=-1.0 must be a finite number > 0"),
        ("optimizer", ("sgd",), "optimizer='sgd' is not one of"),
        ("steps", 0, "steps=0 must be an integer >= 1"),
        ("n_train", 5000, "n_train=5000 must be in [1, 1796] for 1797 rows"),
        ("removal_rule", "first", "removal_rule='first' is not one of"),
        ("align_drop", 1.5, "align_drop=1.5 must be a finite number in (0, 1)"),
    ],
)
def test_bad_values_are_named(field, value, says):
    cfg = cls_config.get_config()
    cfg[field] = value
    with pytest.raises(ValueError) as err:
        jobs.check_config(cfg)
    assert says in str(err.value)


def test_cli_refuses_a_bad_data_file_in_one_line(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.ones((10, 3)), y=np.array([0, 1, 2] + [0] * 7))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "sweeps.run",
            "--config=sweeps/configs/cls_tiny.py",
            f"--workdir={tmp_path / 'w'}",
            "--config.source=file",
            f"--config.data_file={bad}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1] == (
        "error: invalid config: bad.npz: y holds labels [0, 1, 2]: allowed are 0/1 or -1/+1"
    )
    assert not (tmp_path / "w").exists()  # nothing written before the check


# ---- the claims' rules on constructed cases ----


def test_align_end_and_the_cv_rule():
    loss = np.array([0.5, 0.5, 0.49, 0.47, 0.3, 0.1])
    assert cls_claims.align_end(loss, 0.05) == 3  # first loss <= 0.475
    assert cls_claims.align_end(np.full(5, 0.5), 0.05) is None
    entry = {"eps_inv": {"cv": 0.05}, "t_inv": {"cv": 0.1}}
    assert cls_claims.smaller_cv([entry]) is True
    assert cls_claims.smaller_cv([entry, {"eps_inv": {"cv": 0.2}, "t_inv": {"cv": 0.1}}]) is False
    assert cls_claims.smaller_cv([{"eps_inv": {"cv": None}, "t_inv": {"cv": 0.1}}]) is None


def test_stability_statistics_on_a_constructed_table():
    """Two subsets x 3 seeds: the across-seeds CV is subset 0's sample CV; across subsets the
    CV of the two subset means (numbers worked by hand)."""
    eps = np.array([0.1, 0.12, 0.14, 0.2, 0.2, 0.2])
    t = np.array([100.0, 200.0, 300.0, 150.0, 150.0, 150.0])
    runs = {
        "phase": np.array(["base"] * 6),
        "optimizer": np.array(["gd"] * 6),
        "lr": np.full(6, 0.1),
        "scale": np.ones(6),
        "subset": np.array([0, 0, 0, 1, 1, 1]),
        "eps_inv_paper": eps,
        "t_inv_paper": t,
    }
    out = cls_claims.stability(runs, "paper")
    seeds = out["across_seeds"][0]
    assert seeds["eps_inv"]["cv"] == pytest.approx(0.02 / 0.12)
    assert seeds["t_inv"]["cv"] == pytest.approx(100 / 200)
    subs = out["across_subsets"][0]
    # means 0.12 and 0.2: sd = 0.08 / sqrt(2); t means 200 and 150: sd = 50 / sqrt(2)
    assert subs["eps_inv"]["cv"] == pytest.approx(0.08 / np.sqrt(2) / 0.16)
    assert subs["t_inv"]["cv"] == pytest.approx(50 / np.sqrt(2) / 175)
