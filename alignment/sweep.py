"""Runs a sweep grid chunk by chunk with the verdict loop, and writes the results store.

Each chunk trains on the snapshot grid up to ``max_time``; runs without a verdict are then
continued (never restarted: the same optimizer state carries on) by a factor
``continue_factor`` of time at a time until every run has a verdict or ``time_cap`` is reached,
while runs with a verdict stay frozen; a chunk stops as soon as all its runs have one, and a run
still moving at the cap stays ``undetermined``. A finished chunk is written atomically to
``chunks/``; a rerun skips finished chunks, so an interrupted sweep resumes without recomputing
anything and ends with the same files as an uninterrupted one.

The *stuck* test needs the run to be at an approximate stationary point. At a ReLU kink (a
training input on a neuron's activation boundary) gradient descent zig-zags across the kink: the
loss is flat and the parameters stand still, but the one-sided gradient stays finite. With
``speed='displacement'`` (default, when per-neuron arrays are recorded) the verdict's gradient
test uses the parameters' mean speed between the last two snapshots,
``|theta(t_k) - theta(t_{k-1})| / (t_k - t_{k-1})``, which equals the gradient norm along
gradient flow at a smooth point and vanishes at a kink where GD no longer moves.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np
import xarray as xr
from absl import logging

from alignment import grid, results, stats, threshold, train

NEUTRAL_FIELDS = ("make_figures", "n_boot")  # fields that do not change any chunk's results
GROUP_AXES = ("sweep", "data", "x_dist", "bias", "d", "m", "init", "sigma", "lam", "lr")
EVENT_KEYS = ("alignment_time", "escape_time", "loss_drop_time")


def check_config(cfg) -> list[grid.Chunk]:
    """Every field known (sweeps/configs/base.py) and every value valid; returns the chunks.

    Raises ValueError naming the first problem, before any compute.
    """
    from sweeps.configs import base  # the field reference lives with the configs

    grid.check_fields(cfg, base.get_config())
    return grid.validate(cfg, grid.expand(cfg))


def verdict_tolerances(cfg) -> dict:
    """The verdict tolerances of a config, as keyword arguments of threshold.verdicts."""
    return {k: float(v) for k, v in cfg.verdict.items()}


def forward_fill(v_RxK: np.ndarray) -> np.ndarray:
    """NaN entries replaced by the last finite value to their left (NaN before any)."""
    ok = np.isfinite(v_RxK)
    idx = np.where(ok, np.arange(v_RxK.shape[1])[None, :], 0)
    idx = np.maximum.accumulate(idx, axis=1)
    out = np.take_along_axis(v_RxK, idx, axis=1)
    return np.where(ok.any(axis=1, keepdims=True) & (np.cumsum(ok, axis=1) > 0), out, np.nan)


def displacement_speed(time_RxK, neuron_w, neuron_a) -> np.ndarray:
    """|theta(t_k) - theta(t_{k-1})| / (t_k - t_{k-1}) per run and snapshot, shape (R, K).

    theta is every parameter ((w_j, b_j) and a_j). Snapshots that repeat the previous time
    (frozen runs, padded calls) carry the last speed forward; the first snapshot is NaN.
    """
    time_RxK = np.asarray(time_RxK, np.float64)
    R, K = time_RxK.shape
    out = np.full((R, K), np.nan)
    for r in range(R):
        theta = np.concatenate(
            [np.reshape(neuron_w[r], (K, -1)), np.reshape(neuron_a[r], (K, -1))], axis=1
        ).astype(np.float64)
        step = np.linalg.norm(np.diff(theta, axis=0), axis=1)
        dt = np.diff(time_RxK[r])
        with np.errstate(divide="ignore", invalid="ignore"):
            out[r, 1:] = np.where(dt > 0, step / dt, np.nan)
    return forward_fill(out)


def stationarity_speed(cfg, snaps: dict[str, np.ndarray]) -> np.ndarray:
    """What the verdict's gradient test reads: displacement speed if recorded, else |grad L|."""
    if cfg.speed == "displacement" and "neuron_w" in snaps and "neuron_a" in snaps:
        return displacement_speed(snaps["time"], snaps["neuron_w"], snaps["neuron_a"])
    return np.asarray(snaps["grad_norm"], np.float64)


def _verdicts(cfg, snaps: dict[str, np.ndarray]) -> np.ndarray:
    return threshold.verdicts(
        snaps["time"], snaps["loss"], snaps["speed"], snaps["loss"][:, 0],
        diverged_R=snaps["diverged"][:, -1], **verdict_tolerances(cfg),
    )  # fmt: skip


def _host(tree) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in jax.device_get(tree).items()}


def snapshot_calls(times, per_call: int) -> list[np.ndarray]:
    """Cuts a time grid into calls of exactly ``per_call`` snapshots (the last one padded by
    repeating its final time), so every call of a program reuses one compiled scan length."""
    times = np.asarray(times, np.float64)
    calls = []
    for start in range(0, len(times), per_call):
        part = times[start : start + per_call]
        calls.append(np.concatenate([part, np.full(per_call - len(part), part[-1])]))
    return calls


def train_calls(prog, state, ctx, lanes, times, per_call, frozen_R=None):
    """Trains through ``times`` in fixed-length calls; returns state and the real snapshots."""
    parts = []
    for call in snapshot_calls(times, per_call):
        state, snaps = train.train(prog, state, ctx, call, lanes.lr, frozen_R)
        parts.append(_host(snaps))
    joined = {k: np.concatenate([p[k] for p in parts], axis=1)[:, : len(times)] for k in parts[0]}
    return state, joined


def verdict_counts(verdict_R) -> dict[str, int]:
    """How many runs have each verdict (only the verdicts present)."""
    values, counts = np.unique(np.asarray(verdict_R, str), return_counts=True)
    return {str(v): int(c) for v, c in zip(values, counts, strict=True)}


def train_chunk(cfg, runs, chunk: grid.Chunk) -> xr.Dataset:
    """Trains one chunk through the verdict loop and returns its results as a dataset.

    Verdicts are first taken at ``max_time`` (never earlier: during early alignment the loss
    sits flat at its initial value with a tiny gradient, which is not a stuck run); then runs
    without a verdict continue, the others frozen, until every run has one or ``time_cap``.
    """
    prog = chunk.program
    real = len(chunk.run_ids)
    lanes = grid.lanes_for(runs, chunk.run_ids, chunk.lanes)
    per_call = cfg.snapshots_per_decade
    state, ctx = train.init_runs(prog, lanes)
    times = train.time_grid(cfg.max_time, cfg.num_snapshots, cfg.t_min)
    state, snaps = train_calls(prog, state, ctx, lanes, times, per_call)
    snaps["speed"] = stationarity_speed(cfg, snaps)
    verdict = _verdicts(cfg, snaps)
    t_end = float(cfg.max_time)
    while np.any(verdict[:real] == "undetermined") and t_end < cfg.time_cap * (1 - 1e-12):
        t_next = min(t_end * cfg.continue_factor, float(cfg.time_cap))
        # per_call snapshots per decade of time, at least one per continuation
        num = max(1, round(per_call * np.log10(t_next / t_end)))
        more_times = np.geomspace(t_end, t_next, num + 1)[1:]
        frozen = verdict != "undetermined"
        frozen[real:] = True  # padding lanes never hold a chunk back
        logging.info(
            "chunk %d: %d of %d runs undetermined at t=%.3g; continuing to t=%.3g",
            chunk.index, int(np.sum(~frozen)), real, t_end, t_next,
        )  # fmt: skip
        state, more = train_calls(prog, state, ctx, lanes, more_times, per_call, frozen)
        snaps = {k: np.concatenate([snaps[k], more[k]], axis=1) for k in more}
        snaps["speed"] = stationarity_speed(cfg, snaps)
        verdict = _verdicts(cfg, snaps)
        t_end = t_next
    keep = slice(0, real)
    snaps = {k: v[keep] for k, v in snaps.items()}
    ctx, state = jax.tree_util.tree_map(lambda x: np.asarray(x)[keep], jax.device_get((ctx, state)))
    neuron_runs = _neuron_runs(cfg, runs, chunk)
    return chunk_dataset(runs, chunk, snaps, verdict[keep], ctx, state, neuron_runs)


def _neuron_runs(cfg, runs, chunk: grid.Chunk) -> np.ndarray:
    """Which of the chunk's runs keep their per-neuron arrays: the first ``neuron_seeds``
    seeds of their sub-sweep."""
    sub = dict(grid.sub_sweeps(cfg))[chunk.sweep]
    seeds = runs["seed"][np.asarray(chunk.run_ids)]
    return seeds < sub.seed_offset + cfg.neuron_seeds


def event_times(snaps: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Alignment, escape and loss-drop times per run, from the statistics module when it
    provides them (``stats.event_times``) and the snapshots hold what it needs; else none."""
    fn = getattr(stats, "event_times", None)
    needed = ("time", "aligned_fraction", "norm_growth", "loss")
    if fn is None or not all(k in snaps for k in needed):
        return {}
    return {k: np.asarray(v, np.float64) for k, v in fn(snaps).items() if k in EVENT_KEYS}


def extremal_vars(ctx) -> dict:
    """The extremal vectors of G_n found at t = 0 (dims run, extremal[, coord_nrn]), when the
    trainer's run context holds them."""
    ext = getattr(ctx, "extremal", None)
    if ext is None:
        return {}
    return {
        "extremal_u": (("run", "extremal", "coord_nrn"), np.asarray(ext.u_ExD, np.float64)),
        "extremal_g": (("run", "extremal"), np.asarray(ext.g_E, np.float64)),
        "extremal_is_max": (("run", "extremal"), np.asarray(ext.is_max_E, bool)),
        "extremal_valid": (("run", "extremal"), np.asarray(ext.valid_E, bool)),
    }


def chunk_dataset(runs, chunk, snaps, verdict, ctx, state, neuron_runs=None) -> xr.Dataset:
    """Labels a chunk's arrays.

    Dims: run, snapshot; per-neuron arrays (kept for ``neuron_runs`` only) have dims
    (neuron_run, snapshot, neuron[, coord]), neuron_run a coordinate holding run ids.
    """
    ids = np.asarray(chunk.run_ids)
    neuron_runs = np.zeros(len(ids), bool) if neuron_runs is None else np.asarray(neuron_runs)
    data_vars = {}
    for k, v in snaps.items():
        if k == "diverged":
            continue
        if v.dtype.kind in "iu":  # counts become float: merged chunks pad with NaN
            v = v.astype(np.float64)
        if v.ndim == 2:
            data_vars[k] = (("run", "snapshot"), v)
        elif neuron_runs.any():
            dims = ("neuron_run", "snapshot", "neuron", "coord")[: v.ndim]
            data_vars[k] = (dims, v[neuron_runs])
    n_snap = snaps["time"].shape[1]
    data_vars |= {
        "verdict": ("run", np.asarray(verdict, dtype=str)),
        "last_snapshot": ("run", np.full(len(ids), n_snap - 1)),
        "diverge_time": ("run", np.asarray(state.diverge_time, np.float64)),
        "ols_train_loss": ("run", np.asarray(ctx.ref.train_loss, np.float64)),
        "ols_test_loss": ("run", np.asarray(ctx.ref.test_loss, np.float64)),
        "ols_test_excess": ("run", np.asarray(ctx.ref.test_excess, np.float64)),
        "beta_star": (("run", "coord_in"), np.asarray(ctx.beta_star, np.float64)),
        "beta_hat": (("run", "coord_ols"), np.asarray(ctx.ref.beta_hat, np.float64)),
    }
    for k, v in event_times(snaps).items():
        data_vars[k] = ("run", v)
    data_vars |= extremal_vars(ctx)
    for k in grid.RUN_COLUMNS:
        data_vars[k] = ("run", runs[k][ids])
    data_vars["diverged"] = ("run", np.asarray(state.diverged, bool))
    # 1.0 once the run has diverged (float: merged chunks pad missing snapshots with NaN)
    data_vars["diverged_at_snapshot"] = (("run", "snapshot"), snaps["diverged"].astype(float))
    prog = chunk.program
    attrs = {
        "chunk": chunk.index,
        "sweep": chunk.sweep,
        "data_model": prog.data.name,
        "n_pad": prog.n_pad,
        "dtype": prog.dtype,
    }
    coords = {"run": ids, "snapshot": np.arange(n_snap)}
    # index coordinates on every other axis, so that chunks whose sizes differ (several
    # sub-sweeps with different d) merge by NaN-padding instead of failing to align
    sizes = {}
    for dims, v in data_vars.values():
        sizes |= dict(zip((dims,) if isinstance(dims, str) else dims, v.shape, strict=True))
    for dim in ("coord_in", "coord_ols", "coord_nrn", "extremal"):
        if dim in sizes:
            coords[dim] = np.arange(sizes[dim])
    if neuron_runs.any():
        coords["neuron_run"] = ids[neuron_runs]
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


class Progress:
    """A one-line text progress bar with ETA (stderr), plus an absl log line per chunk.

    The ETA averages two extrapolations of the time spent so far: by the remaining share of
    the work (lanes x padded samples x width x dim) and by the remaining share of chunks (each
    chunk also compiles its program). The verdict loop makes chunks of equal size take unequal
    times, so it is an estimate that sharpens as chunks finish.
    """

    def __init__(self, total_cost: float, num_chunks: int, stream=None):
        self.total, self.done, self.num, self.count = total_cost, 0.0, num_chunks, 0
        self.start = time.time()
        self.stream = sys.stderr if stream is None else stream

    def bar(self) -> str:
        elapsed = time.time() - self.start
        by_work = elapsed * (self.total - self.done) / max(self.done, 1e-12)
        by_count = elapsed * (self.num - self.count) / max(self.count, 1)
        eta = 0.5 * (by_work + by_count)
        frac = self.done / max(self.total, 1e-12)
        filled = int(30 * frac)
        return (
            f"[{'#' * filled}{'-' * (30 - filled)}] {self.count}/{self.num} chunks  "
            f"elapsed {elapsed:6.1f}s  ETA {eta:6.1f}s"
        )

    def update(self, cost: float, chunk: grid.Chunk, seconds: float, counts: dict) -> None:
        self.done += cost
        self.count += 1
        p = chunk.program
        logging.info(
            "chunk %d/%d [%s] (d=%d m=%d init=%s bucket n_pad=%d, %d runs) in %.1fs: %s",
            self.count, self.num, chunk.sweep, p.data.d, p.m, p.init, p.n_pad,
            len(chunk.run_ids), seconds, counts,
        )  # fmt: skip
        self.stream.write("\r" + self.bar() + ("\n" if self.count == self.num else ""))
        self.stream.flush()


def chunk_cost(chunk: grid.Chunk) -> float:
    """Relative compute of a chunk (for the ETA): lanes x padded samples x width x dim."""
    p = chunk.program
    return max(chunk.lanes, len(chunk.run_ids)) * p.n_pad * p.m * (p.data.d + 1)


def _chunk_relevant(cfg_dict: dict) -> dict:
    return {k: v for k, v in cfg_dict.items() if k not in NEUTRAL_FIELDS}


def check_workdir_config(workdir: Path, cfg_json: str) -> None:
    """Refuses to mix results of different configs in one workdir.

    Fields that change no chunk (``NEUTRAL_FIELDS``) may differ; config.json then takes the
    new values.
    """
    path = Path(workdir) / "config.json"
    new = json.loads(cfg_json)
    if path.exists():
        old = json.loads(path.read_text())
        a, b = _chunk_relevant(old), _chunk_relevant(new)
        if a != b:
            diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            raise ValueError(
                f"{workdir} holds results of a different config (fields differ: {diff}); "
                "use another --workdir or delete it"
            )
        if old == new:
            return
    results.write_text(path, cfg_json)


def run(
    cfg,
    workdir,
    task_index: int = 0,
    num_tasks: int = 1,
    after_chunk: Callable[[grid.Chunk], None] | None = None,
) -> list[int]:
    """Trains every chunk of this task that has no file yet; returns the chunk indices it owns.

    The config is checked completely before anything is computed. ``after_chunk`` (tests,
    monitoring) is called with each chunk once its file is written.
    """
    workdir = Path(workdir)
    if not 0 <= task_index < num_tasks:
        raise ValueError(f"task_index={task_index} must be in [0, num_tasks={num_tasks})")
    chunks = check_config(cfg)
    runs = grid.expand(cfg)
    check_workdir_config(workdir, cfg.to_json(indent=2, sort_keys=True))
    mine = [c for c in chunks if c.index % num_tasks == task_index]
    done = set(results.finished_chunks(workdir))
    todo = [c for c in mine if c.index not in done]
    logging.info(
        "%d runs in %d chunks; this task: %d chunks, %d already finished",
        len(runs["n"]), len(chunks), len(mine), len(mine) - len(todo),
    )  # fmt: skip
    progress = Progress(sum(chunk_cost(c) for c in todo), len(todo))
    for chunk in todo:
        t0 = time.time()
        ds = train_chunk(cfg, runs, chunk)
        results.write_netcdf(results.chunk_path(workdir, chunk.index), ds)
        progress.update(chunk_cost(chunk), chunk, time.time() - t0, verdict_counts(ds["verdict"]))
        if after_chunk is not None:
            after_chunk(chunk)
    return [c.index for c in mine]


def collect(cfg, workdir) -> xr.Dataset:
    """Merges every chunk's file into trajectories.nc and summary.csv (all chunks must exist)."""
    workdir = Path(workdir)
    chunks = grid.plan(cfg, grid.expand(cfg))
    missing = sorted(set(range(len(chunks))) - set(results.finished_chunks(workdir)))
    if missing:
        raise RuntimeError(f"{len(missing)} chunks not finished yet (first: {missing[:5]})")
    traj = results.merge_chunks([results.load_chunk(workdir, c.index) for c in chunks])
    results.write_netcdf(workdir / results.TRAJECTORIES, traj)
    results.write_csv(workdir / results.SUMMARY, results.summary_table(traj))
    return traj


def group_keys(summary) -> np.ndarray:
    """One string per summary row naming its group (every axis of GROUP_AXES)."""
    return summary[list(GROUP_AXES)].astype(str).agg("|".join, axis=1).to_numpy()


def _plain(v):
    return v.item() if hasattr(v, "item") else v


def threshold_report(cfg, summary) -> dict:
    """n* per group (every axis but n and seed), and the power law in d when d was swept."""
    interp, determined = threshold.outcomes(summary["verdict"].to_numpy())
    keys = group_keys(summary)
    groups = []
    for key in dict.fromkeys(keys):
        rows = keys == key
        est = threshold.estimate_threshold(
            summary["n"].to_numpy()[rows], interp[rows], determined[rows],
            seeds_R=summary["seed"].to_numpy()[rows], n_boot=cfg.n_boot, seed=0,
        )  # fmt: skip
        first = summary[rows].iloc[0]
        groups.append({**{k: _plain(first[k]) for k in GROUP_AXES}, **est})
    report = {
        "config": cfg.name,
        "group_axes": list(GROUP_AXES),
        "tolerances": verdict_tolerances(cfg),
        "speed": cfg.speed,
        "groups": groups,
    }
    if len({g["d"] for g in groups}) > 1:
        report["power_law_in_d"] = _power_laws(groups)
    return report


def _power_laws(groups: list[dict]) -> list[dict]:
    """n* against d for each setting of the other axes (with at least two d)."""
    out = []
    others = [k for k in GROUP_AXES if k not in ("d", "sweep")]
    keys = [tuple(g[k] for k in others) for g in groups]
    for key in dict.fromkeys(keys):
        gs = [g for g, k in zip(groups, keys, strict=True) if k == key]
        if len({g["d"] for g in gs}) < 2:
            continue
        fit = threshold.fit_power_law(
            [g["d"] for g in gs], [g["n_star"] for g in gs],
            [g["ci_low"] for g in gs], [g["ci_high"] for g in gs],
        )  # fmt: skip
        out.append({**dict(zip(others, key, strict=True)), **fit})
    return out


def per_n_table(summary) -> str:
    """Medians over seeds for each (group, n): the table the main job prints."""
    cols = ["n", "runs", "train_loss", "ols_train", "test_loss", "ols_test", "p_interp", "undet"]
    lines = []
    keys = group_keys(summary)
    for key in dict.fromkeys(keys):
        part = summary[keys == key]
        named = zip(GROUP_AXES, key.split("|"), strict=True)
        lines.append("group " + ", ".join(f"{k}={v}" for k, v in named))
        lines.append("".join(f"{c:>12}" for c in cols))
        for n, rows in part.groupby("n"):
            v = rows["verdict"]
            det = (v == "interpolating") | (v == "stuck")
            p = (v == "interpolating").sum() / det.sum() if det.any() else float("nan")
            vals = [n, len(rows), rows["train_loss"].median(), rows["ols_train_loss"].median(),
                    rows["test_loss"].median(), rows["ols_test_loss"].median(), p,
                    (v == "undetermined").sum()]  # fmt: skip
            lines.append(
                "".join(f"{x:>12.4g}" if isinstance(x, float) else f"{x:>12}" for x in vals)
            )
    return "\n".join(lines)


def describe_group(g: dict) -> str:
    """One line: n* with its interval, or why there is none."""
    label = f"[{g['sweep']}]"
    if g["n_star"] is None:
        return f"{label} n* not resolved: {g['reason']}"
    lo = "?" if g["ci_low"] is None else f"{g['ci_low']:.4g}"
    hi = "?" if g["ci_high"] is None else f"{g['ci_high']:.4g}"
    note = f" ({g['ci_note']})" if g.get("ci_note") else ""
    return f"{label} n* = {g['n_star']:.4g}, {100 * g['ci_level']:.0f}% CI [{lo}, {hi}]{note}"


def finish(cfg, workdir) -> dict:
    """Merges chunks, writes summary.csv and threshold.json, prints the table, makes figures."""
    workdir = Path(workdir)
    collect(cfg, workdir)
    summary = results.read_csv(workdir / results.SUMMARY)
    report = threshold_report(cfg, summary)
    results.write_json(workdir / results.THRESHOLD, report)
    print(per_n_table(summary))
    for g in report["groups"]:
        print(describe_group(g))
    for fit in report.get("power_law_in_d", []):
        if fit["k"] is not None:
            print(f"n* ~ d^k: k = {fit['k']:.3g} [{fit['k_ci_low']:.3g}, {fit['k_ci_high']:.3g}]")
    if cfg.make_figures:
        from figures import make  # matplotlib only when figures are wanted

        make.make_all(workdir)
    return report
