"""Does a stuck run that the float32 flow moves leave by rounding, or by a slow way down?

    python -m benchmarks.stuck_probe [--config=threshold_quick] [--n=181] [--seed=0]

Trains the chunk that holds run (n, seed) through the verdict loop, then continues that run from
its verdict time t_v to ``factor * t_v`` by the flow at ``--flow_rtol``, five ways:

- ``float32``: as ``benchmarks.verdicts --continue_with=flow`` does (the chunk's dtype);
- ``float32`` at a tenth of that rtol (does the integrator's error move it?);
- ``float64``: the same state cast to float64, the flow in float64;
- ``float64, perturbed``: that state with every parameter multiplied by ``1 + eps z``, z ~ N(0, 1),
  for eps from float32's unit roundoff (2^-24: its rounding, once) up (``--perturb``);
- the float32 flow's end state, cast and evaluated in float64 (is its lower loss real?).

For each it gives the relative loss drop, how far the parameters moved (relative) and how many
(neuron, data point) pairs of large neurons changed side of the neuron's hyperplane. A lower
loss that float64 confirms at the float32 flow's end is real; if the float64 flow does not find
it from the same state, or from perturbations of a given size, the run is stuck for the exact
flow within that distance and float32's rounding, accumulated step after step, is what moved
it. Writes benchmarks/stuck_probe_CONFIG_nN_sS.json and a STUCK_PROBE block of BENCHMARKS.md.
"""

from __future__ import annotations

import dataclasses
import importlib

import jax
import numpy as np
from absl import app, flags
from jax.flatten_util import ravel_pytree

from alignment.engine import gather, integrate, train
from alignment.runner import results
from alignment.two_layer import grid, records, verdict_loop
from alignment.two_layer import job as threshold_job
from benchmarks import machine

_CONFIG = flags.DEFINE_string("config", "threshold_quick", "Config module in sweeps/configs.")
_N = flags.DEFINE_integer("n", 181, "The run's number of training samples.")
_SEED = flags.DEFINE_integer("seed", 0, "The run's seed.")
_FACTOR = flags.DEFINE_float("factor", 10.0, "Continue to factor x the verdict time.")
_RTOL = flags.DEFINE_float("flow_rtol", 1e-5, "The flow's rtol.")
_PERTURB = flags.DEFINE_list(
    "perturb", ["5.96e-8", "1e-5", "1e-3"], "Relative sizes of the float64 perturbations."
)
_DRAWS = flags.DEFINE_integer("draws", 2, "Perturbations of each size.")
SNAPSHOTS = 41
LARGE = 1e-2  # a neuron counts when |a_j| |w_j| is above this share of the largest


def as_f64(tree):
    """Every float32 leaf of ``tree`` as float64 (other leaves as they are)."""

    def cast(x):
        x = np.asarray(x)
        return x.astype(np.float64) if x.dtype == np.float32 else x

    return jax.tree_util.tree_map(cast, tree)


def large(params, r: int = 0) -> np.ndarray:
    """(M,) bool: the neurons of run r whose |a_j| |w_j| is above LARGE of the largest."""
    w = np.asarray(params["w"][r], np.float64)
    size = np.abs(np.asarray(params["a"][r], np.float64)) * np.linalg.norm(w, axis=1)
    return size > LARGE * size.max()


def sides(params, ctx, neurons, r: int = 0) -> np.ndarray:
    """(M', N) bool: point i on the positive side of neuron j's hyperplane, for the neurons
    ``neurons`` (a mask) of run r."""
    w = np.asarray(params["w"][r], np.float64)
    z = np.asarray(ctx.family.train.x_NxD[r], np.float64) @ w.T
    if "b" in params:
        z = z + np.asarray(params["b"][r], np.float64)
    keep = np.asarray(ctx.family.train.mask_N[r]) > 0
    return (z[keep] > 0).T[neurons]


def flow_from(prog, state, ctx, t_v: float):
    """(end state, losses at the snapshots) of the flow from ``state`` to factor * t_v."""
    state = train.switch_integrator(prog, state, ctx)
    times = np.geomspace(t_v, _FACTOR.value * t_v, SNAPSHOTS)
    end, snaps = train.train(prog, state, ctx, times)
    return jax.tree_util.tree_map(np.asarray, end), np.asarray(snaps["loss"][0], np.float64)


def loss_at(prog, state, ctx) -> float:
    """The loss of ``state`` under ``prog`` (a snapshot at its own time, no step)."""
    state = train.switch_integrator(prog, state, ctx)
    _, snaps = train.train(prog, state, ctx, [float(np.asarray(state.time)[0])])
    return float(np.asarray(snaps["loss"])[0, 0])


def moved(start, end) -> float:
    """|end - start| / |start| over every parameter."""
    a, b = (np.asarray(ravel_pytree(x)[0], np.float64) for x in (start, end))
    return float(np.linalg.norm(b - a) / np.linalg.norm(a))


def row(name: str, loss, start, end, ctx) -> dict:
    big = large(start)
    return {
        "how": name,
        "loss_start": float(loss[0]),
        "loss_end": float(loss[-1]),
        "loss_drop": float((loss[0] - loss[-1]) / loss[0]),
        "loss_rise": float(np.max(loss) / loss[0] - 1),
        "moved": moved(start, end),
        "sides_changed": int(np.sum(sides(start, ctx, big) != sides(end, ctx, big))),
    }


def probe(cfg, chunk, r: int, state, ctx, t_v: float) -> list[dict]:
    """The four continuations of run r (index in the chunk) from its verdict state."""
    st = gather.take(jax.tree_util.tree_map(np.asarray, state), np.array([r]))
    cx = gather.take(ctx, np.array([r]))
    flow = integrate.Flow(**{**dict(cfg.flow), "rtol": _RTOL.value})
    p32 = dataclasses.replace(chunk.program, integrator=flow)
    p64 = dataclasses.replace(p32, dtype="float64")
    st64, cx64 = as_f64(st), as_f64(cx)
    end32, loss32 = flow_from(p32, st, cx, t_v)
    out = [row("float32", loss32, st.params, end32.params, cx)]
    tight = dataclasses.replace(p32, integrator=dataclasses.replace(flow, rtol=_RTOL.value / 10))
    end_t, loss_t = flow_from(tight, st, cx, t_v)
    out.append(row(f"float32, rtol {_RTOL.value / 10:g}", loss_t, st.params, end_t.params, cx))
    end64, loss64 = flow_from(p64, st64, cx64, t_v)
    out.append(row("float64", loss64, st64.params, end64.params, cx))
    rng = np.random.default_rng(0)
    for eps in (float(e) for e in _PERTURB.value):
        for k in range(_DRAWS.value):
            noisy = jax.tree_util.tree_map(
                lambda x, e=eps: x * (1 + e * rng.standard_normal(x.shape)), st64.params
            )
            endk, lossk = flow_from(p64, st64._replace(params=noisy), cx64, t_v)
            out.append(
                row(f"float64, x(1 + {eps:.2g} z), draw {k}", lossk, st64.params, endk.params, cx)
            )
    at64, l0 = loss_at(p64, as_f64(end32), cx64), out[2]["loss_start"]
    out.append(
        {
            "how": "float32's end state, in float64",
            "loss_start": l0,
            "loss_end": at64,
            "loss_drop": (l0 - at64) / l0,
        }
    )
    return out


def run() -> dict:
    name = _CONFIG.value
    cfg = importlib.import_module(f"sweeps.configs.{name}").get_config()
    runs = grid.expand(cfg)
    hit = np.flatnonzero((runs["n"] == _N.value) & (runs["seed"] == _SEED.value))
    if len(hit) != 1:
        raise app.UsageError(f"n={_N.value}, seed={_SEED.value}: {len(hit)} runs in {name}")
    chunk = next(c for c in threshold_job.validate(cfg, runs) if hit[0] in c.run_ids)
    r = chunk.run_ids.index(int(hit[0]))
    snaps, verdict, ctx, state, _, ev = verdict_loop.train_chunk(cfg, runs, chunk)
    t_v = float(snaps["time"][r, records.last_snapshots(snaps["time"])[r]])
    out = {
        "config": name,
        "n": _N.value,
        "seed": _SEED.value,
        "verdict": str(verdict[r]),
        "decided_by": str(ev["decided_by"][r]),
        "t_verdict": t_v,
        "kink_max": float(ev["kink_max"][r]),
        "flow_rtol": _RTOL.value,
        "factor": _FACTOR.value,
        "machine": machine.machine_info(),
        "continuations": probe(cfg, chunk, r, state, ctx, t_v),
    }
    results.write_json(f"benchmarks/stuck_probe_{name}_n{_N.value}_s{_SEED.value}.json", out)
    return out


def table(res: dict) -> str:
    lines = [
        f"`python -m benchmarks.stuck_probe --config={res['config']} --n={res['n']} "
        f"--seed={res['seed']}` on {res['machine']['cpu']}, {res['machine']['cores']} cores: "
        f"{res['verdict']} ({res['decided_by']}) at t = {res['t_verdict']:g}, kink_max "
        f"{res['kink_max']:.2g}; the flow at rtol {res['flow_rtol']:g} to "
        f"{res['factor']:g} t:",
        "",
        "| continued | loss at t | loss at 10 t | relative drop | largest rise | moved "
        "| sides changed |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in res["continuations"]:
        rise, changed, gone = c.get("loss_rise"), c.get("sides_changed"), c.get("moved")
        lines.append(
            f"| {c['how']} | {c['loss_start']:.6g} | {c['loss_end']:.6g} | {c['loss_drop']:.3g} "
            f"| {'' if rise is None else f'{rise:.2g}'} | {'' if gone is None else f'{gone:.2g}'} "
            f"| {'' if changed is None else changed} |"
        )
    return "\n".join(lines)


def main(argv):
    del argv
    res = run()
    machine.publish(f"STUCK_PROBE {res['config']} n{res['n']} s{res['seed']}", table(res))


if __name__ == "__main__":
    app.run(main)
