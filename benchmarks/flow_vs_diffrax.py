"""The flow integrator against diffrax: which one integrates this suite's gradient flows faster?

    pip install -e ".[bench]" && python -m benchmarks.flow_vs_diffrax

Both integrate d theta/dt = -grad L of the same R two-layer ReLU networks (d = 5, m = 50, linear
teacher, sigma = 0.5, small balanced init lambda = 1e-6, n from 8 to 64 padded to 64: the
default job's first program) from their init to T, vmapped with per-lane step sizes, with the
same Bogacki-Shampine 3(2) pair at the same rtol and atol: the hand-written ``integrate.Flow``
(relative error floored at the parameters' RMS size) and ``diffrax.diffeqsolve`` with
``Bosh3`` and a ``PIDController`` (its default I-controller). Each is compiled on a first call
and timed on a second one. Accuracy: the relative error of each final loss against a tight
reference (diffrax Tsit5, rtol 1e-6, float64). Writes benchmarks/flow_vs_diffrax.json and the
FLOW_VS_DIFFRAX block of BENCHMARKS.md.
"""

from __future__ import annotations

import json
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

from alignment.engine import integrate, train
from alignment.two_layer.data import DataSpec
from alignment.two_layer.family import TwoLayer
from benchmarks import machine

_T = flags.DEFINE_float("t_end", 100.0, "Integrate to this time.")
_RTOL = flags.DEFINE_float("rtol", 1e-3, "Relative tolerance of both integrators.")
_RUNS = flags.DEFINE_integer("runs", 8, "Networks (lanes).")
ATOL = 1e-9
DT0 = 1e-2
MAX_STEPS = 400_000
REF_RTOL, REF_ATOL = 1e-6, 1e-12  # the reference (diffrax Tsit5, float64; tighter ones
# ran past 20 minutes: ReLU kinks hold a tight adaptive step everywhere)


def setup(runs: int, dtype: str):
    fam = TwoLayer(
        DataSpec("linear", d=5), m=50, n_pad=64, n_test=64, extremal_starts=4, extremal_steps=50
    )
    n = np.resize([8, 11, 16, 23, 32, 45, 64], runs)
    lanes = train.Lanes.make(seed=np.arange(runs), n=n, lam=1e-6, sigma=0.5)
    return fam, lanes, dtype


def ours(fam, lanes, dtype, t_end, rtol):
    prog = train.Program(fam, integrate.Flow(rtol=rtol, atol=ATOL, dt0=DT0), dtype=dtype)
    best, out = np.inf, None
    for _ in range(2):  # the first call compiles
        state, ctx = train.init_runs(prog, lanes, shard=False)
        jax.block_until_ready(state)
        start = time.perf_counter()
        state, snaps = train.train(prog, state, ctx, np.array([t_end]), shard=False)
        loss = np.asarray(jax.block_until_ready(snaps["loss"]))[:, -1]
        best = min(best, time.perf_counter() - start)
        out = {
            "loss": loss,
            "attempts": np.asarray(state.step),
            "accepted": np.asarray(state.istate["accepted"]),
        }
    return best, out


def with_diffrax(fam, lanes, dtype, t_end, rtol, solver=None, atol=ATOL):
    import diffrax

    prog = train.Program(fam, integrate.Flow(), dtype=dtype)
    state, ctx = train.init_runs(prog, lanes, shard=False)
    field = diffrax.ODETerm(
        lambda t, y, args: jax.tree_util.tree_map(jnp.negative, fam.loss_and_grad(y, args)[1])
    )

    def one(params, fctx):
        sol = diffrax.diffeqsolve(
            field,
            solver or diffrax.Bosh3(),
            0.0,
            t_end,
            DT0,
            params,
            args=fctx,
            stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
            saveat=diffrax.SaveAt(t1=True),
            max_steps=MAX_STEPS,
            throw=False,
        )
        final = jax.tree_util.tree_map(lambda v: v[-1], sol.ys)
        return (
            fam.loss_and_grad(final, fctx)[0],
            sol.stats["num_steps"],
            sol.stats["num_accepted_steps"],
        )

    run = jax.jit(jax.vmap(one))
    best, out = np.inf, None
    for _ in range(2):
        start = time.perf_counter()
        loss, steps, accepted = jax.block_until_ready(run(state.params, ctx.family))
        best = min(best, time.perf_counter() - start)
        out = {
            "loss": np.asarray(loss),
            "attempts": np.asarray(steps),
            "accepted": np.asarray(accepted),
        }
    return best, out


def measure(t_end: float, rtol: float, runs: int) -> dict:
    import diffrax

    ref_setup = setup(runs, "float64")
    _, ref = with_diffrax(*ref_setup, t_end, REF_RTOL, diffrax.Tsit5(), atol=REF_ATOL)
    res = {
        "t_end": t_end,
        "rtol": rtol,
        "atol": ATOL,
        "runs": runs,
        "rows": [],
        "machine": machine.machine_info(),
        "load_avg": machine.load_avg(),
    }
    for dtype in ("float32", "float64"):
        for name, fn in (("integrate.Flow", ours), ("diffrax Bosh3", with_diffrax)):
            wall, out = fn(*setup(runs, dtype), t_end, rtol)
            err = np.abs(out["loss"] - ref["loss"]) / np.abs(ref["loss"])
            res["rows"].append(
                {
                    "integrator": name,
                    "dtype": dtype,
                    "wall_s": round(wall, 3),
                    "attempts_median": float(np.median(out["attempts"])),
                    "attempts_max": int(np.max(out["attempts"])),
                    "accepted_median": float(np.median(out["accepted"])),
                    "loss_rel_err_median": float(np.median(err)),
                    "loss_rel_err_max": float(err.max()),
                }
            )
    for dtype in ("float32", "float64"):
        rows = {r["integrator"]: r for r in res["rows"] if r["dtype"] == dtype}
        res[f"diffrax_over_ours_{dtype}"] = round(
            rows["diffrax Bosh3"]["wall_s"] / rows["integrate.Flow"]["wall_s"], 2
        )
    return res


def table(res: dict) -> str:
    lines = [
        f"`python -m benchmarks.flow_vs_diffrax` on {res['machine']['cpu']}, "
        f"{res['machine']['cores']} cores (load {res['load_avg']}): {res['runs']} lanes, "
        f"t = 0 to {res['t_end']:g}, rtol {res['rtol']:g}, atol {res['atol']:g}; loss error "
        f"against diffrax Tsit5 at rtol {REF_RTOL:g} (float64).",
        "",
        "| integrator | dtype | wall (s) | attempts per lane (median / max) | accepted (median) "
        "| final-loss rel. error (median / max) |",
        "|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        lines.append(
            f"| {r['integrator']} | {r['dtype']} | {r['wall_s']} | {r['attempts_median']:g} / "
            f"{r['attempts_max']} | {r['accepted_median']:g} | {r['loss_rel_err_median']:.2g} / "
            f"{r['loss_rel_err_max']:.2g} |"
        )
    lines += [
        "",
        f"diffrax / ours, wall time: float32 {res['diffrax_over_ours_float32']}x, "
        f"float64 {res['diffrax_over_ours_float64']}x.",
    ]
    return "\n".join(lines)


def main(argv):
    del argv
    res = measure(_T.value, _RTOL.value, _RUNS.value)
    with open("benchmarks/flow_vs_diffrax.json", "w") as f:
        json.dump(res, f, indent=2)
    machine.publish("FLOW_VS_DIFFRAX", table(res))


if __name__ == "__main__":
    app.run(main)
