"""The runner's driver (``runner/job.py``) on a fourth family and its job, defined here and
nowhere else, run through ``sweeps.run``'s code path: config checks, chunks, the chunk loop's
checkpoints, a kill inside a chunk, resume, merge and summary. Nothing in the library is edited
to add it: the test registers its job for the duration of the test only (the line a new package
would add to ``alignment/registry.py``)."""

import dataclasses

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from alignment import registry
from alignment.engine import integrate, train
from alignment.runner import checkpoint, chunk_loop, results
from alignment.runner.chunks import Chunk, as_list, check_known_fields, even_parts
from alignment.runner.job import Job
from sweeps import run as run_cmd


class KilledError(Exception):
    """Stands in for a kill inside a chunk (raised between two checkpoint saves)."""


@dataclasses.dataclass(frozen=True)
class LeastSquares:
    """L(w) = (1/2n) |X w - y|^2 on n Gaussian samples, y = X w*: GD has a closed form."""

    d: int
    n: int

    name = "least_squares"
    constrained = False
    lane_axes = ()
    summary_columns = ()
    per_neuron_keys = ()

    def validate(self):
        pass

    def check_lanes(self, lanes):
        integrate.check_positive(lanes, ("lr",))

    def data(self, key, dtype):
        kx, kw = jax.random.split(key)
        x = jax.random.normal(kx, (self.n, self.d), jnp.float64).astype(dtype)
        w_star = jax.random.normal(kw, (self.d,), jnp.float64).astype(dtype)
        return x, x @ w_star

    def initialize(self, key, lane, dtype):
        x, y = self.data(key, dtype)
        return {"w": jnp.zeros((self.d,), dtype)}, {"x": x, "y": y}

    def loss_and_grad(self, params, ctx):
        r = ctx["x"] @ params["w"] - ctx["y"]
        return 0.5 * jnp.mean(r * r), {"w": ctx["x"].T @ r / self.n}

    def constrain(self, params, ctx):
        return params

    def snapshot(self, params, ctx):
        return {"loss": self.loss_and_grad(params, ctx)[0]}

    def outputs(self, ctx):
        return {}

    def event_times(self, snaps):
        return {}

    def describe(self):
        return f"least squares d={self.d} n={self.n}"

    def certify(self, params, ctx, runs, kappa_tol=None):
        return {}

    def lane_bytes(self, dtype):
        return None

    def cost(self):
        return float(self.n * self.d)


def get_config():
    c = ml_collections.ConfigDict()
    c.family = "least_squares"
    c.name = "least_squares"
    c.d = 3
    c.n = (4, 9)
    c.num_seeds = 3
    c.lr = 0.2
    c.times = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)
    c.max_lanes = 2
    c.snapshots_per_call = 2
    c.make_figures = False
    return c


def expand(cfg):
    rows = [(n, s) for n in as_list(cfg.n) for s in range(cfg.num_seeds)]
    return {"n": np.array([r[0] for r in rows]), "seed": np.array([r[1] for r in rows])}


def plan(cfg, runs):
    chunks, ids = [], np.arange(len(runs["n"]))
    for n in as_list(cfg.n):
        prog = train.Program(LeastSquares(cfg.d, int(n)), integrate.GD(), "float64")
        parts = even_parts(ids[runs["n"] == n], cfg.max_lanes)
        for part in parts:
            size = max(len(p) for p in parts)
            chunks.append(Chunk(len(chunks), prog, tuple(int(i) for i in part), f"n{n}", size))
    return chunks


def check_config(cfg):
    check_known_fields(cfg, get_config(), "tests/test_job.py")
    if not cfg.lr > 0:
        raise ValueError(f"lr={cfg.lr!r} must be > 0")
    return plan(cfg, expand(cfg))


class Task:
    """Every lane through ``times`` in calls of ``snapshots_per_call`` snapshots."""

    kill_at = None  # a call index at which the next task raises (a kill inside a chunk)

    def __init__(self, cfg, runs, chunk):
        self.cfg, self.runs, self.chunk = cfg, runs, chunk
        self.calls = chunk_loop.snapshot_calls(cfg.times, cfg.snapshots_per_call)
        ids = np.asarray(chunk.run_ids)
        ids = np.concatenate([ids, np.full(chunk.lanes - len(ids), ids[-1])])
        lanes = train.Lanes.make(seed=runs["seed"][ids], lr=cfg.lr)
        self.state0, self.ctx = train.init_runs(chunk.program, lanes)

    def fresh(self):
        return {"call": 0, "snaps": {}}, self.state0

    def template(self, book):
        return self.state0

    def done(self, book):
        return int(book["call"]) == len(self.calls)

    def advance(self, book, state):
        call = int(book["call"])
        if call == Task.kill_at:
            Task.kill_at = None
            raise KilledError(f"killed before call {call}")
        state, snaps = train.train(self.chunk.program, state, self.ctx, self.calls[call])
        new = {k: np.asarray(snaps[k]) for k in ("loss", "time")}
        return {"call": call + 1, "snaps": chunk_loop.joined(book["snaps"], new)}, state

    def progress(self, book):
        return int(book["call"]) / len(self.calls), f"call {int(book['call'])}"

    def dataset(self, book, state):
        import xarray as xr

        num, k = len(self.chunk.run_ids), len(self.cfg.times)
        ids = np.asarray(self.chunk.run_ids)
        snaps = {key: (("run", "snapshot"), v[:num, :k]) for key, v in book["snaps"].items()}
        ds = xr.Dataset(snaps, coords={"run": ids})
        ds["n"], ds["seed"] = ("run", self.runs["n"][ids]), ("run", self.runs["seed"][ids])
        ds["verdict"] = ("run", np.full(num, "finished"))
        return ds


def finish(cfg, workdir):
    traj = results.write_trajectories(workdir, len(plan(cfg, expand(cfg))))
    cols = {k: traj[k].values for k in ("run", "n", "seed")}
    cols["final_loss"] = traj["loss"].values[:, -1]
    results.write_csv(workdir / results.SUMMARY, cols)
    report = {"runs": int(traj.sizes["run"]), "max_final_loss": float(cols["final_loss"].max())}
    results.write_json(workdir / "least_squares.json", report)
    return report


JOB = Job("least_squares", get_config, check_config, expand, Task, lambda cfg: 2, finish)


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(registry.JOBS, JOB.name, JOB)


def closed_form_loss(d, n, seed, lr, t):
    """GD from w = 0 on the quadratic: w_k - w* = (I - lr H)^k (-w*), H = X^T X / n."""
    x, y = (np.asarray(v) for v in LeastSquares(d, n).data(jax.random.key(seed), jnp.float64))
    w_star = np.linalg.lstsq(x, y, rcond=None)[0]
    step = np.eye(d) - lr * x.T @ x / n
    w = w_star + np.linalg.matrix_power(step, int(round(t / lr))) @ (-w_star)
    return 0.5 * np.mean((x @ w - y) ** 2)


def test_fourth_family_runs_through_the_command_and_matches_the_closed_form(registered, tmp_path):
    cfg = get_config()
    report = run_cmd.execute(cfg, tmp_path)
    summary = results.read_csv(tmp_path / results.SUMMARY)
    assert report["runs"] == len(summary) == 6
    for _, row in summary.iterrows():
        want = closed_form_loss(cfg.d, int(row.n), int(row.seed), cfg.lr, cfg.times[-1])
        # float64 GD in another order: ~1e-15 relative, plus the atol of a tiny loss
        np.testing.assert_allclose(row.final_loss, want, rtol=1e-9, atol=1e-14)
    assert not (tmp_path / checkpoint.CHECKPOINT_DIR).exists()  # removed with the chunks


def test_fourth_family_resumes_a_kill_inside_a_chunk_byte_identically(registered, tmp_path):
    run_cmd.execute(get_config(), tmp_path / "whole")
    Task.kill_at = 2  # after two calls (two checkpoint saves) of the first chunk
    with pytest.raises(KilledError):
        run_cmd.execute(get_config(), tmp_path / "killed")
    saved = checkpoint.load(checkpoint.checkpoint_path(tmp_path / "killed", 0))
    assert int(saved["book"]["call"]) == 2
    run_cmd.execute(get_config(), tmp_path / "killed")
    for name in (results.SUMMARY, "least_squares.json"):
        assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "killed" / name).read_bytes()


def test_fourth_family_config_mistakes_are_one_line(registered, tmp_path, capsys):
    cfg = get_config()
    cfg.lr = -1.0
    with pytest.raises(SystemExit) as e:
        run_cmd.execute(cfg, tmp_path)
    assert e.value.code == 2
    assert "lr=-1.0 must be > 0" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing written


def test_a_task_index_outside_the_array_is_refused_before_compute(registered, tmp_path):
    with pytest.raises(ValueError, match=r"task_index=3 must be in \[0, num_tasks=3\)"):
        registry.prepare(get_config(), tmp_path, task_index=3, num_tasks=3)
    assert not any(tmp_path.iterdir())


def test_tasks_of_an_array_own_every_chunk_once(registered, tmp_path):
    owned = [registry.run(get_config(), tmp_path, i, 2) for i in range(2)]
    assert sorted(owned[0] + owned[1]) == list(range(len(check_config(get_config()))))
    assert set(owned[0]).isdisjoint(owned[1])


def test_an_unknown_family_is_named():
    cfg = get_config()
    cfg.family = "no_such_family"
    with pytest.raises(ValueError, match="family='no_such_family' is not one of"):
        registry.job_for(cfg)
