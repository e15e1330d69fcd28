"""The throughput workloads W1 and W2: the real trainer against one network at a time.

Each workload is R identical-shape networks trained by full-batch GD on the linear teacher,
through ``train.init_runs`` + ``train.train`` (2 snapshots: t = 0 and the end), and as the
baseline: one network after another, a Python loop calling a jitted single GD step on the same
data and initial parameters. ``trainer`` may also be an older revision's train.py (its API
before the engine issue is detected and adapted), so ``benchmarks.before_after`` times both.
"""

from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from alignment.engine import integrate, train
from alignment.two_layer import model
from alignment.two_layer.data import DataSpec
from alignment.two_layer.family import TwoLayer
from benchmarks.machine import load_avg

EXTREMAL = {"extremal_starts": 4, "extremal_steps": 50}


def is_generic(trainer) -> bool:
    """Whether ``trainer`` is the family/integrator trainer (else the older two-layer one)."""
    return "family" in {f.name for f in dataclasses.fields(trainer.Program)}


def lane_slice(lanes, sl: slice):
    """Some of the lanes, for either trainer's Lanes type."""
    if hasattr(lanes, "take"):
        return lanes.take(np.arange(len(lanes))[sl])
    return type(lanes)(*(f[sl] for f in lanes))


def train_call(trainer, prog, state, ctx, times, lanes):
    """One ``train`` call in either trainer's signature (the older one takes the step sizes)."""
    if is_generic(trainer):
        return trainer.train(prog, state, ctx, times)
    return trainer.train(prog, state, ctx, times, lanes.lr)


@dataclasses.dataclass(frozen=True)
class Workload:
    """R identical-shape networks trained by full-batch GD on the linear teacher."""

    name: str
    runs: int
    n: int
    d: int
    m: int
    steps: int
    lr: float = 0.02
    lam: float = 1e-2
    sigma: float = 0.1
    lanes_per_call: tuple[int, ...] = (0,)  # settings tried; 0: every run in one train call

    @property
    def flops_per_net_step(self) -> int:
        return 4 * self.n * self.d * self.m + 6 * self.n * self.m

    def program(self, trainer=train):
        """The workload's program for ``trainer`` (this revision's, or an older train.py).

        Few extremal starts: they only shape the run constants, made by the untimed init and
        read by the snapshot statistics.
        """
        spec = DataSpec("linear", d=self.d)
        if is_generic(trainer):
            family = TwoLayer(data=spec, m=self.m, n_pad=self.n, **EXTREMAL)
            return trainer.Program(family, integrate.GD(), "float32")
        fields = {f.name for f in dataclasses.fields(trainer.Program)}
        extra = {k: v for k, v in EXTREMAL.items() if k in fields}
        return trainer.Program(data=spec, m=self.m, n_pad=self.n, **extra)

    def lanes(self, trainer=train):
        return trainer.Lanes.make(
            seed=np.arange(self.runs), n=self.n, lam=self.lam, lr=self.lr, sigma=self.sigma
        )


WORKLOADS = {
    "W1": Workload("W1", runs=64, n=512, d=10, m=100, steps=2000, lanes_per_call=(64, 16, 8)),
    "W2": Workload("W2", runs=16, n=1000, d=100, m=1000, steps=200, lanes_per_call=(16, 4)),
}


def bench_trainer(w: Workload, lanes_per_call: int = 0, trainer=train) -> tuple[dict, dict]:
    """W through the real trainer: ``init_runs`` + one ``train`` call per group of lanes.

    The runs are trained ``lanes_per_call`` at a time (0: all in one call), each call from step
    0 to w.steps on a 2-snapshot grid (t = 0 and the end); the wall time is the sum over calls.
    Returns the measurement and what the baseline needs (initial parameters, data, final loss).
    """
    per_call = lanes_per_call or w.runs
    if w.runs % per_call:
        raise ValueError(f"{w.name}: lanes_per_call={per_call} must divide runs={w.runs}")
    prog, lanes = w.program(trainer), w.lanes(trainer)
    groups = [lane_slice(lanes, slice(i, i + per_call)) for i in range(0, w.runs, per_call)]
    times = np.array([0.0, w.lr * w.steps])
    state, ctx = trainer.init_runs(prog, groups[0])  # warm-up: compiles init and train
    state, _ = train_call(trainer, prog, state, ctx, np.array([0.0, w.lr]), groups[0])
    jax.block_until_ready(state)
    wall, stats_s, refs = 0.0, 0.0, []
    for group in groups:
        state, ctx = trainer.init_runs(prog, group)
        jax.block_until_ready((state, ctx))
        params0 = jax.device_get(state.params)
        t0 = time.perf_counter()
        state, snaps = train_call(trainer, prog, state, ctx, times, group)
        jax.block_until_ready((state, snaps))
        wall += time.perf_counter() - t0
        steps, diverged = np.asarray(state.step), np.asarray(state.diverged)
        if np.any(diverged) or np.any(steps != w.steps):
            raise RuntimeError(f"{w.name}: {diverged.sum()} diverged; steps {np.unique(steps)}")
        # The statistics in that call: the same 2 snapshots with no step in between.
        t0 = time.perf_counter()
        jax.block_until_ready(train_call(trainer, prog, state, ctx, times[-1:].repeat(2), group))
        stats_s += time.perf_counter() - t0
        data = getattr(ctx, "family", ctx).train  # this revision's RunContext, or an older one
        refs.append((params0, jax.device_get(data), np.asarray(snaps["loss"])[:, -1]))
    net_steps = w.runs * w.steps
    out = {
        "wall_s": wall,
        "net_steps_per_s": net_steps / wall,
        "gflops": net_steps * w.flops_per_net_step / wall / 1e9,
        "lanes_per_call": per_call,
        "calls": len(groups),
        "snapshots_per_call": len(times),
        "stats_s": stats_s,
        "loop_net_steps_per_s": net_steps / max(wall - stats_s, 1e-9),
    }
    params0, data, final_loss = (
        jax.tree.map(lambda *v: np.concatenate(v), *part) for part in zip(*refs, strict=True)
    )
    return out, {"params0": params0, "train": data, "final_loss": final_loss}


def bench_baseline(w: Workload, ref: dict, nets: int = 0, steps: int = 0) -> dict:
    """The reference way: one network after another, a Python loop of a jitted GD step.

    Times ``nets`` networks x ``steps`` steps (0: all) and extrapolates linearly to the full
    workload when fewer; the first network's final loss is checked against the trainer's.
    """
    nets = nets or w.runs
    steps = steps or w.steps

    @jax.jit
    def gd_step(p, x, y, mask, n):
        g = jax.grad(model.loss)(p, x, y, mask, n)
        return jax.tree.map(lambda v, gv: v - w.lr * gv, p, g)

    def net(r):
        p = {k: jnp.asarray(v[r]) for k, v in ref["params0"].items()}
        t = ref["train"]
        return p, (t.x_NxD[r], t.y_N[r], t.mask_N[r], t.n[r])

    p, data = net(0)
    jax.block_until_ready(gd_step(p, *data))  # warm-up: compile
    wall = 0.0
    first = None
    for r in range(nets):
        p, data = net(r)
        jax.block_until_ready((p, data))
        t0 = time.perf_counter()
        for _ in range(steps):
            p = gd_step(p, *data)
        jax.block_until_ready(p)
        wall += time.perf_counter() - t0
        if r == 0:
            first = p
    scale = (w.runs / nets) * (w.steps / steps)
    out = {
        "wall_s": wall * scale,
        "net_steps_per_s": w.runs * w.steps / (wall * scale),
        "timed_nets": nets,
        "timed_steps": steps,
        "extrapolated": scale != 1,
    }
    if steps == w.steps:
        loss = float(model.loss(first, *net(0)[1]))
        out["check_final_loss_rel_diff"] = abs(loss - ref["final_loss"][0]) / abs(loss)
    return out


def bench_workload(
    w: Workload, peak: float, nets: int = 0, steps: int = 0, repeats: int = 2, trainer=train
) -> dict:
    """Trainer (each lanes-per-call setting; the fastest is reported) and baseline, each the
    best of ``repeats`` timings (the machine is shared; the minimum is the least disturbed)."""
    load = load_avg()
    by_lanes = {}
    for per_call in w.lanes_per_call:
        logging.info("%s: trainer, %d lanes per call (load %s)", w.name, per_call, load_avg())
        tries = [bench_trainer(w, per_call, trainer) for _ in range(repeats)]
        by_lanes[per_call], ref = min(tries, key=lambda t: t[0]["wall_s"])
        by_lanes[per_call] |= {"frac_peak": by_lanes[per_call]["gflops"] / peak, "best_of": repeats}
        logging.info("%s: %s", w.name, by_lanes[per_call])
    out = dict(min(by_lanes.values(), key=lambda r: r["wall_s"]))
    logging.info("%s: baseline (load %s)", w.name, load_avg())
    base = min(
        (bench_baseline(w, ref, nets, steps) for _ in range(repeats)), key=lambda b: b["wall_s"]
    )
    base["best_of"] = repeats
    for r in by_lanes.values():
        r["speedup_vs_baseline"] = base["wall_s"] / r["wall_s"]
    out |= {
        "speedup_vs_baseline": base["wall_s"] / out["wall_s"],
        "by_lanes_per_call": {str(k): v for k, v in by_lanes.items()},
        "baseline": base | {"gflops": base["net_steps_per_s"] * w.flops_per_net_step / 1e9},
        "workload": dataclasses.asdict(w) | {"flops_per_net_step": w.flops_per_net_step},
        "load_avg_before": load,
        "load_avg_after": load_avg(),
    }
    logging.info("%s: baseline %s", w.name, base)
    return out
