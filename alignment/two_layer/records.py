"""A threshold chunk's record: as it grows over the verdict loop's rounds (:class:`Loop`, its
step counts), as a labelled dataset (the chunk file), and as rows of summary.csv.

Dims: run, snapshot; per-neuron arrays (kept for ``neuron_runs`` only) have dims
(neuron_run, snapshot, neuron[, coord]), neuron_run a coordinate holding run ids. The family
adds its per-run variables (``outputs``) and event times; the grid adds the run settings.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import xarray as xr

from alignment.two_layer import end_state, grid
from alignment.two_layer.verdict import verdicts

INDEX_DIMS = ("coord_in", "coord_ols", "coord_nrn", "extremal")


def neuron_runs(cfg, runs, chunk: grid.Chunk) -> np.ndarray:
    """Which of the chunk's runs keep their per-neuron arrays: the first ``neuron_seeds``
    seeds of their sub-sweep."""
    sub = dict(grid.sub_sweeps(cfg))[chunk.sweep]
    seeds = runs["seed"][np.asarray(chunk.run_ids)]
    return seeds < sub.seed_offset + cfg.neuron_seeds


def last_snapshots(time_RxK: np.ndarray) -> np.ndarray:
    """Index of each run's last recorded snapshot (finite time)."""
    ok = np.isfinite(np.asarray(time_RxK, np.float64))
    return ok.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1)


def _snapshot_vars(snaps, keep_neurons) -> dict:
    out = {}
    for k, v in snaps.items():
        if k == "diverged":
            continue
        if v.dtype.kind in "iub":  # counts become float: merged chunks pad with NaN
            v = v.astype(np.float64)
        if v.ndim == 2:
            out[k] = (("run", "snapshot"), v)
        elif keep_neurons.any():  # rows of the kept runs, or of every run
            dims = ("neuron_run", "snapshot", "neuron", "coord")[: v.ndim]
            out[k] = (dims, v if len(v) == keep_neurons.sum() else v[keep_neurons])
    return out


def chunk_dataset(runs, chunk, snaps, verdict, ctx, state, keep_neurons=None, attrs=None):
    """Labels a chunk's arrays (host numpy: snapshots (R, K, ...), ctx and state per run)."""
    family = chunk.program.family
    ids = np.asarray(chunk.run_ids)
    keep = np.zeros(len(ids), bool) if keep_neurons is None else np.asarray(keep_neurons)
    data_vars = _snapshot_vars(snaps, keep)
    data_vars |= {
        "verdict": ("run", np.asarray(verdict, dtype=str)),
        "last_snapshot": ("run", last_snapshots(snaps["time"])),
        "diverge_time": ("run", np.asarray(state.diverge_time, np.float64)),
        "diverged": ("run", np.asarray(state.diverged, bool)),
        # 1.0 once the run has diverged (float: absent snapshots and merged chunks are NaN)
        "diverged_at_snapshot": (("run", "snapshot"), np.asarray(snaps["diverged"], float)),
    }
    data_vars |= family.outputs(ctx.family)
    data_vars |= end_state.end_vars(state.params)
    for k, v in family.event_times(snaps).items():
        data_vars[k] = ("run", v)
    for k in grid.RUN_COLUMNS:
        data_vars[k] = ("run", runs[k][ids])
    prog = chunk.program
    attrs = {
        "chunk": chunk.index,
        "sweep": chunk.sweep,
        "family": family.name,
        "integrator": prog.integrator.name,
        "dtype": prog.dtype,
        "summary_columns": ",".join(family.summary_columns),
        **(attrs or {}),
    }
    coords = {"run": ids, "snapshot": np.arange(snaps["time"].shape[1])}
    # index coordinates on every other axis, so that chunks whose sizes differ (several
    # sub-sweeps with different d) merge by NaN-padding instead of failing to align
    sizes = {}
    for dims, v in data_vars.values():
        sizes |= dict(zip((dims,) if isinstance(dims, str) else dims, v.shape, strict=True))
    for dim in INDEX_DIMS:
        if dim in sizes:
            coords[dim] = np.arange(sizes[dim])
    if keep.any():
        coords["neuron_run"] = ids[keep]
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


# Columns every summary.csv has, in this order, after "run" and the run settings
# (grid.RUN_COLUMNS); a family's own columns follow (the chunk attribute summary_columns).
FINAL_COLUMNS = (
    "final_time",
    "train_loss",
    "grad_norm",
    "speed",
    "verdict",
    "diverged",
    "diverge_time",
    *verdicts.EVIDENCE,
    "sharpness",
    "step_sharpness",
)
RENAMED = {"train_loss": "loss", "final_time": "time"}  # summary column -> snapshot variable


def forward_fill(v_RxK: np.ndarray) -> np.ndarray:
    """NaN entries replaced by the last finite value to their left (NaN before any)."""
    ok = np.isfinite(v_RxK)
    idx = np.where(ok, np.arange(v_RxK.shape[1])[None, :], 0)
    idx = np.maximum.accumulate(idx, axis=1)
    out = np.take_along_axis(v_RxK, idx, axis=1)
    return np.where(ok.any(axis=1, keepdims=True) & (np.cumsum(ok, axis=1) > 0), out, np.nan)


def last_value(snaps: dict, key: str) -> np.ndarray:
    """(R,) each run's last finite value of ``snaps[key]`` (NaN where none)."""
    return forward_fill(np.asarray(snaps[key], np.float64))[:, -1]


def displacement_speed(time_RxK, displacement_RxK) -> np.ndarray:
    """|theta(t_k) - theta(t_{k-1})| / (t_k - t_{k-1}) per run and snapshot, shape (R, K).

    At a ReLU kink GD zig-zags: the loss is flat and the parameters stand still, but the
    one-sided gradient stays finite; this speed equals the gradient norm along gradient flow
    at a smooth point and vanishes where GD no longer moves. Snapshots that repeat the previous
    time (padded calls) or are absent (NaN: the run left) carry the last speed forward; the
    first snapshot is NaN.
    """
    time_RxK = np.asarray(time_RxK, np.float64)
    out = np.full(time_RxK.shape, np.nan)
    dt = np.diff(time_RxK, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.asarray(displacement_RxK, np.float64)[:, 1:]
        out[:, 1:] = np.where(dt > 0, step / dt, np.nan)
    return forward_fill(out)


def mean_step(snaps: dict[str, np.ndarray]) -> np.ndarray:
    """(R,) each lane's mean time step over its last segment that took steps (dt / steps):
    how fast it advances in time per step, for any integrator; NaN where none did."""
    time = np.asarray(snaps["time"], np.float64)
    steps = np.asarray(snaps["step"], np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        d_steps, d_time = np.diff(steps, axis=1), np.diff(time, axis=1)
        ok = np.isfinite(d_steps) & np.isfinite(d_time) & (d_steps > 0)
        step = np.where(ok, d_time / np.where(ok, d_steps, 1.0), np.nan)
    return forward_fill(step)[:, -1] if step.shape[1] else np.full(len(time), np.nan)


def stationarity_speed(cfg, snaps: dict[str, np.ndarray]) -> np.ndarray:
    """What the verdict's gradient test reads: the displacement speed, or |grad L|."""
    if cfg.speed == "displacement":
        return displacement_speed(snaps["time"], snaps["displacement"])
    return np.asarray(snaps["grad_norm"], np.float64)


def run_record(cfg, snaps: dict[str, np.ndarray]) -> verdicts.Record:
    """The runs' record as the verdict reads it, from the snapshots so far."""
    diverged = last_value(snaps, "diverged") > 0
    edge = peak = None  # eta * lambda_max when every step is GD (else dt * lambda_max)
    all_gd = cfg.get("integrator") == "gd" and cfg.get("continue_integrator") == "same"
    if all_gd and "step_sharpness" in snaps:
        step_sharpness = forward_fill(np.asarray(snaps["step_sharpness"], np.float64))
        edge = step_sharpness[:, -1]
        peak = np.max(np.where(np.isfinite(step_sharpness), step_sharpness, -np.inf), axis=1)
    speed = stationarity_speed(cfg, snaps)
    return verdicts.Record(
        snaps["time"], snaps["loss"], speed, snaps["loss"][:, 0], diverged, edge, peak
    )


def summary_columns(traj: xr.Dataset, run_columns) -> tuple[str, ...]:
    """run, the run settings, the generic final columns, then the family's columns."""
    family = [c for c in str(traj.attrs.get("summary_columns", "")).split(",") if c]
    return ("run", *run_columns, *FINAL_COLUMNS, *family)


def summary_table(traj: xr.Dataset, columns) -> dict[str, np.ndarray]:
    """One row per run: each column the variable's value at the run's last snapshot (or the
    per-run variable); NaN where the trajectories do not hold it."""
    last = traj["last_snapshot"].values.astype(int)
    rows = np.arange(traj.sizes["run"])
    cols: dict[str, np.ndarray] = {"run": traj["run"].values}
    for k in columns[1:]:
        name = RENAMED.get(k, k)
        if name in traj and "snapshot" in traj[name].dims:
            cols[k] = traj[name].values[rows, last]
        elif name in traj:
            cols[k] = traj[name].values
        else:
            cols[k] = np.full(len(rows), np.nan)
    return cols


@dataclasses.dataclass
class StepCount:
    """Integrator steps of a chunk: ``computed`` = in every segment and lane block, the block's
    lanes x its longest lane's steps (what a vmapped while loop executes), ``useful`` = steps
    of the chunk's real runs."""

    computed: int = 0
    useful: int = 0

    def add(self, steps_before, steps_RxK, useful_R, block: int = 0) -> None:
        """One call: step counts before it and at its snapshots, (R,) bool the lanes whose
        steps are useful, ``block`` lanes a block (0 or not dividing R: all in one)."""
        steps = np.concatenate([np.asarray(steps_before, np.float64)[:, None], steps_RxK], axis=1)
        inc = np.diff(steps, axis=1)
        lanes = inc.shape[0]
        size = block if block > 0 and lanes % block == 0 else lanes
        per_block = inc.reshape(lanes // size, size, -1).max(axis=1)
        self.computed += int(np.sum(per_block) * size)
        self.useful += int(np.sum(inc[np.asarray(useful_R, bool)]))


@dataclasses.dataclass
class Loop:
    """Where a chunk's verdict loop stands: everything a checkpoint keeps besides the state."""

    keep: np.ndarray  # (lanes,) bool: lanes whose per-neuron arrays are kept (compact rows)
    round: int = 0  # 0: the pass to max_time; r >= 1: the r-th continuation
    call: int = 0  # compiled calls finished in this round
    snaps: dict | None = None  # snapshots of the finished rounds, (lanes, K, ...)
    new: dict | None = None  # this round's snapshots so far (NaN where not run yet)
    verdict: np.ndarray | None = None  # after the last finished round
    count: StepCount = dataclasses.field(default_factory=StepCount)

    @property
    def lanes(self) -> int:
        return len(self.keep)

    def record(self, ids, start: int, host: dict, width: int) -> None:
        """Snapshots ``host`` of lanes ``ids`` (first len(ids) rows) at columns from start.

        Per-snapshot scalars keep a row per lane; per-neuron arrays (more than 2 axes) a row
        per kept lane only (``keep``): they are most of the bytes, and the chunk file keeps
        nothing else of them."""
        if self.new is None:
            rows = {k: self.lanes if v.ndim == 2 else int(self.keep.sum()) for k, v in host.items()}
            self.new = {
                k: np.full((rows[k], width, *v.shape[2:]), np.nan, v.dtype) for k, v in host.items()
            }
        stop = min(start + next(iter(host.values())).shape[1], width)
        compact = np.cumsum(self.keep) - 1  # lane -> its row among the kept lanes
        kept = self.keep[ids]
        for k, v in host.items():
            v = v[: len(ids), : stop - start]
            if v.ndim == 2:
                self.new[k][ids, start:stop] = v
            elif kept.any():
                self.new[k][compact[ids[kept]], start:stop] = v[kept]

    def end_round(self) -> None:
        new = self.new
        self.snaps = (
            new
            if self.snaps is None
            else {k: np.concatenate([self.snaps[k], new[k]], axis=1) for k in self.snaps}
        )
        self.new, self.round, self.call = None, self.round + 1, 0

    def to_tree(self) -> dict:
        tree = {
            "round": self.round,
            "call": self.call,
            "snaps": self.snaps or {},
            "new": self.new or {},
            "computed": self.count.computed,
            "useful": self.count.useful,
        }
        return tree if self.verdict is None else tree | {"verdict": self.verdict}

    @classmethod
    def from_tree(cls, tree: dict, keep: np.ndarray) -> Loop:
        count = StepCount(int(tree["computed"]), int(tree["useful"]))
        return cls(
            keep,
            int(tree["round"]),
            int(tree["call"]),
            tree.get("snaps") or None,
            tree.get("new") or None,
            tree.get("verdict"),
            count,
        )
