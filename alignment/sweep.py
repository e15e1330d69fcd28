"""Runs a sweep grid chunk by chunk with the verdict loop, and writes the results store.

Each chunk trains on the snapshot grid up to ``max_time``; runs without a verdict are then
continued (never restarted) one decade of time at a time until every run has a verdict or
``time_cap`` is reached, while runs with a verdict stay frozen. A finished chunk is written
atomically to ``chunks/``; a rerun skips finished chunks, so an interrupted sweep resumes
without recomputing anything and ends with the same files as an uninterrupted one.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import jax
import numpy as np
import xarray as xr
from absl import logging

from alignment import grid, results, threshold, train


def verdict_tolerances(cfg) -> dict:
    """The verdict tolerances of a config, as keyword arguments of threshold.verdicts."""
    return dict(cfg.verdict)


def _verdicts(cfg, snaps: dict[str, np.ndarray]) -> np.ndarray:
    return threshold.verdicts(
        snaps["time"], snaps["loss"], snaps["grad_norm"], snaps["loss"][:, 0],
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


def _train_calls(prog, state, ctx, lanes, times, per_call, frozen_R=None):
    """Trains through ``times`` in fixed-length calls; returns state and the real snapshots."""
    parts = []
    for call in snapshot_calls(times, per_call):
        state, snaps = train.train(prog, state, ctx, call, lanes.lr, frozen_R)
        parts.append(_host(snaps))
    joined = {k: np.concatenate([p[k] for p in parts], axis=1)[:, : len(times)] for k in parts[0]}
    return state, joined


def train_chunk(cfg, runs, chunk: grid.Chunk) -> xr.Dataset:
    """Trains one chunk through the verdict loop and returns its results as a dataset.

    Verdicts are first taken at ``max_time`` (never earlier: during early alignment the loss
    sits flat at its initial value with a tiny gradient, which is not a stuck run); then runs
    without a verdict continue a decade at a time, the others frozen, until ``time_cap``.
    """
    prog = chunk.program
    lanes = grid.lanes_for(runs, chunk.run_ids)
    per_call = cfg.snapshots_per_decade
    state, ctx = train.init_runs(prog, lanes)
    times = train.time_grid(cfg.max_time, cfg.num_snapshots, cfg.t_min)
    state, snaps = _train_calls(prog, state, ctx, lanes, times, per_call)
    verdict = _verdicts(cfg, snaps)
    t_end = float(cfg.max_time)
    while np.any(verdict == "undetermined") and t_end < cfg.time_cap * (1 - 1e-12):
        t_next = min(t_end * 10.0, float(cfg.time_cap))
        times = np.geomspace(t_end, t_next, per_call + 1)[1:]
        frozen = verdict != "undetermined"
        state, more = _train_calls(prog, state, ctx, lanes, times, per_call, frozen)
        snaps = {k: np.concatenate([snaps[k], more[k]], axis=1) for k in snaps}
        verdict = _verdicts(cfg, snaps)
        t_end = t_next
    return chunk_dataset(runs, chunk, snaps, verdict, jax.device_get(ctx), jax.device_get(state))


def chunk_dataset(runs, chunk, snaps, verdict, ctx, state) -> xr.Dataset:
    """Labels a chunk's arrays: dims run, snapshot, neuron, coord."""
    ids = np.asarray(chunk.run_ids)
    dims = ("run", "snapshot", "neuron", "coord")
    data_vars = {
        k: (dims[: v.ndim], v.astype(np.float64) if v.dtype.kind in "iu" else v)
        for k, v in snaps.items()
        if k != "diverged"
    }  # integer counts become float: merged chunks pad missing snapshots with NaN
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
    for k in grid.RUN_COLUMNS:
        data_vars[k] = ("run", runs[k][ids])
    data_vars["diverged"] = ("run", np.asarray(state.diverged, bool))
    # 1.0 once the run has diverged (float: merged chunks pad missing snapshots with NaN)
    data_vars["diverged_at_snapshot"] = (("run", "snapshot"), snaps["diverged"].astype(float))
    prog = chunk.program
    attrs = {
        "chunk": chunk.index,
        "data": prog.data.name,
        "n_pad": prog.n_pad,
        "dtype": prog.dtype,
    }
    coords = {"run": ids, "snapshot": np.arange(n_snap)}
    ds = xr.Dataset(data_vars, coords=coords, attrs=attrs)
    ds["data"] = ("run", np.full(len(ids), prog.data.name))
    return ds


class Progress:
    """A one-line text progress bar with ETA (stderr), plus an absl log line per chunk."""

    def __init__(self, total_cost: float, num_chunks: int):
        self.total, self.done, self.num, self.count = total_cost, 0.0, num_chunks, 0
        self.start = time.time()

    def update(self, cost: float, chunk: grid.Chunk, seconds: float, counts: dict) -> None:
        self.done += cost
        self.count += 1
        elapsed = time.time() - self.start
        eta = elapsed * (self.total - self.done) / max(self.done, 1e-12)
        frac = self.done / max(self.total, 1e-12)
        bar = "#" * int(30 * frac) + "-" * (30 - int(30 * frac))
        sys.stderr.write(
            f"\r[{bar}] {self.count}/{self.num} chunks  elapsed {elapsed:6.1f}s  ETA {eta:6.1f}s"
        )
        sys.stderr.flush()
        logging.info(
            "chunk %d (d=%d m=%d init=%s n_pad=%d, %d runs) in %.1fs: %s",
            chunk.index, chunk.program.data.d, chunk.program.m, chunk.program.init,
            chunk.program.n_pad, len(chunk.run_ids), seconds, counts,
        )  # fmt: skip
        if self.count == self.num:
            sys.stderr.write("\n")


def chunk_cost(chunk: grid.Chunk) -> float:
    """Relative compute of a chunk (for the ETA): runs x padded samples x width x dim."""
    p = chunk.program
    return len(chunk.run_ids) * p.n_pad * p.m * (p.data.d + 1)


def check_workdir_config(workdir: Path, cfg_json: str) -> None:
    """Refuses to mix results of different configs in one workdir."""
    path = workdir / "config.json"
    if path.exists():
        old = json.loads(path.read_text())
        new = json.loads(cfg_json)
        if old != new:
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            raise ValueError(
                f"{workdir} holds results of a different config (fields differ: {diff}); "
                "use another --workdir or delete it"
            )
    else:
        results.write_text(path, cfg_json)


def run(cfg, workdir, task_index: int = 0, num_tasks: int = 1) -> list[int]:
    """Trains every chunk of this task that has no file yet; returns the chunk indices done."""
    workdir = Path(workdir)
    runs = grid.expand(cfg)
    chunks = grid.validate(cfg, runs)
    if not 0 <= task_index < num_tasks:
        raise ValueError(f"task_index={task_index} must be in [0, num_tasks={num_tasks})")
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
        counts = {
            str(v): int(c)
            for v, c in zip(*np.unique(ds["verdict"].values, return_counts=True), strict=True)
        }
        progress.update(chunk_cost(chunk), chunk, time.time() - t0, counts)
    return [c.index for c in mine]


def collect(cfg, workdir) -> xr.Dataset:
    """Merges every chunk's file into trajectories.nc and summary.csv (all chunks must exist)."""
    workdir = Path(workdir)
    runs = grid.expand(cfg)
    chunks = grid.plan(cfg, runs)
    missing = sorted(set(range(len(chunks))) - set(results.finished_chunks(workdir)))
    if missing:
        raise RuntimeError(f"{len(missing)} chunks not finished yet (first: {missing[:5]})")
    traj = results.merge_chunks([results.load_chunk(workdir, c.index) for c in chunks])
    results.write_netcdf(workdir / "trajectories.nc", traj)
    results.write_csv(workdir / "summary.csv", results.summary_table(traj))
    return traj


GROUP_AXES = ("d", "m", "init", "sigma", "lam", "lr")


def threshold_report(cfg, summary) -> dict:
    """n* per group (every axis but n and seed), and the power law in d when d was swept."""
    interp, determined = threshold.outcomes(summary["verdict"].to_numpy())
    keys = summary[list(GROUP_AXES)].astype(str).agg("|".join, axis=1).to_numpy()
    groups = []
    for key in dict.fromkeys(keys):
        rows = keys == key
        est = threshold.estimate_threshold(
            summary["n"].to_numpy()[rows], interp[rows], determined[rows],
            seeds_R=summary["seed"].to_numpy()[rows], n_boot=cfg.n_boot, seed=0,
        )  # fmt: skip
        first = summary[rows].iloc[0]
        axes = {k: first[k].item() if hasattr(first[k], "item") else first[k] for k in GROUP_AXES}
        groups.append({"data": cfg.data, **axes, **est})
    report = {
        "config": cfg.name,
        "group_axes": list(GROUP_AXES),
        "tolerances": verdict_tolerances(cfg),
        "groups": groups,
    }
    if len(grid.as_list(cfg.d)) > 1:
        report["power_law_in_d"] = _power_laws(groups)
    return report


def _power_laws(groups: list[dict]) -> list[dict]:
    """n* against d for each setting of the other axes."""
    out = []
    others = [k for k in GROUP_AXES if k != "d"]
    keys = [tuple(g[k] for k in others) for g in groups]
    for key in dict.fromkeys(keys):
        gs = [g for g, k in zip(groups, keys, strict=True) if k == key]
        nan = float("nan")
        fit = threshold.fit_power_law(
            np.array([g["d"] for g in gs], float),
            np.array([nan if g["n_star"] is None else g["n_star"] for g in gs]),
            np.array([nan if g["ci_low"] is None else g["ci_low"] for g in gs]),
            np.array([nan if g["ci_high"] is None else g["ci_high"] for g in gs]),
        )
        out.append({**dict(zip(others, key, strict=True)), **fit})
    return out


def per_n_table(summary) -> str:
    """Medians over seeds for each (group, n): the table the main job prints."""
    cols = ["n", "runs", "train_loss", "ols_train", "test_loss", "ols_test", "p_interp", "undet"]
    lines = []
    keys = summary[list(GROUP_AXES)].astype(str).agg(" ".join, axis=1)
    for key, part in summary.groupby(keys, sort=False):
        lines.append(f"group {dict(zip(GROUP_AXES, key.split(' '), strict=True))}")
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


def finish(cfg, workdir) -> dict:
    """Merges chunks, writes summary.csv and threshold.json, prints the table, makes figures."""
    workdir = Path(workdir)
    collect(cfg, workdir)
    summary = results.read_csv(workdir / "summary.csv")
    report = threshold_report(cfg, summary)
    results.write_json(workdir / "threshold.json", report)
    print(per_n_table(summary))
    for g in report["groups"]:
        print(
            f"n* = {g['n_star']}  (CI {g['ci_low']} .. {g['ci_high']}; {g['method']})"
            + (f"  reason: {g['reason']}" if g.get("reason") else "")
        )
    return report
