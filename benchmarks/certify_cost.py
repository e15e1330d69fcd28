"""What the end-state certificates cost on a run still on its early-alignment plateau.

    python -m benchmarks.certify_cost [--m=1000] [--n=562] [--full]

One threshold_paper run (d = 5, ball inputs, sigma = 0.75, lambda = 1e-6, GD at eta = 1) is
trained to t = 10, where it is flat but its tiny neurons are about to escape. Times
``TwoLayer.certify`` as the verdict loop calls it (escape test first; the region QP is skipped
where a neuron escapes) and, with ``--full``, with the QP always solved (the behaviour before
the skip). Writes benchmarks/certify_cost.json and the CERTIFY_COST block of BENCHMARKS.md.
"""

from __future__ import annotations

import json
import time

import jax
import numpy as np
from absl import app, flags

from alignment.engine import integrate, train
from alignment.two_layer.data import DataSpec
from alignment.two_layer.family import TwoLayer
from alignment.two_layer.verdict import verdicts
from benchmarks import machine

_M = flags.DEFINE_integer("m", 1000, "Width.")
_N = flags.DEFINE_integer("n", 562, "Training samples.")
_FULL = flags.DEFINE_bool("full", False, "Also time the certificates with the region QP forced.")


def plateau_run(m: int, n: int):
    fam = TwoLayer(DataSpec("linear", d=5, x_dist="ball"), m=m, n_pad=n, n_test=100)
    prog = train.Program(fam, integrate.GD(), dtype="float32")
    lanes = train.Lanes.make(seed=[0], n=n, lam=1e-6, sigma=0.75, lr=1.0)
    state, ctx = train.init_runs(prog, lanes, shard=False)
    state, snaps = train.train(prog, state, ctx, np.array([1.0, 10.0]), shard=False)
    loss = np.asarray(snaps["loss"])[0]
    params, fctx = jax.device_get((state.params, ctx.family))
    return fam, params, fctx, loss


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def measure(m: int, n: int, full: bool) -> dict:
    fam, params, fctx, loss = plateau_run(m, n)
    tol = verdicts.DEFAULT_TOLERANCES.kappa_tol
    skip_s, skip = timed(lambda: fam.certify(params, fctx, [0], kappa_tol=tol))
    res = {
        "m": m,
        "n": n,
        "loss_t1_t10": loss.tolist(),
        "machine": machine.machine_info(),
        "load_avg": machine.load_avg(),
        "kappa_max": float(skip["kappa_max"][0]),
        "small_alive": int(skip["small_alive"][0]),
        "with_skip_s": round(skip_s, 3),
        "region_skipped": bool(np.isnan(skip["region_min"][0])),
    }
    if full:
        full_s, out = timed(lambda: fam.certify(params, fctx, [0]))
        res |= {
            "region_qp_s": round(full_s, 3),
            "region_groups": int(out["region_groups"][0]),
            "region_min": float(out["region_min"][0]),
            "ratio": round(full_s / skip_s, 1),
        }
    return res


def table(res: dict) -> str:
    lines = [
        f"`python -m benchmarks.certify_cost --m={res['m']} --n={res['n']}"
        f"{' --full' if 'region_qp_s' in res else ''}` on {res['machine']['cpu']}, "
        f"{res['machine']['cores']} cores (load {res['load_avg']}): one threshold_paper run on "
        f"its plateau at t = 10 (loss {res['loss_t1_t10'][0]:.4g} at t = 1, "
        f"{res['loss_t1_t10'][1]:.4g} at t = 10).",
        "",
        "| certificates | seconds | notes |",
        "|---|---|---|",
        f"| escape test first, QP skipped (now) | {res['with_skip_s']} | kappa_max "
        f"{res['kappa_max']:.3g} over {res['small_alive']} small alive neurons: saddle |",
    ]
    if "region_qp_s" in res:
        lines.append(
            f"| region QP always solved (before) | {res['region_qp_s']} | "
            f"{res['region_groups']} (pattern, sign) groups; "
            f"{res['ratio']}x |"
        )
    return "\n".join(lines)


def main(argv):
    del argv
    res = measure(_M.value, _N.value, _FULL.value)
    with open("benchmarks/certify_cost.json", "w") as f:
        json.dump(res, f, indent=2)
    machine.publish("CERTIFY_COST", table(res))


if __name__ == "__main__":
    app.run(main)
