"""Do GD continuations at two step caps give the flow's loss drops? One table from three checks.

    python -m benchmarks.gd_to_flow [--coarse=NAME] [--fine=NAME] [--flow=NAME]

A stuck run judged late (t_v = 1e4 to 1e5) continued 10x longer by the explicit flow at a tight
rtol costs ~t_v / dt steps, and on a run whose data points sit on its neurons' kinks the error
control holds dt far below 1 / lambda_max (it sees the gradient's jump at every crossing).
Faithful GD at cap c (each step c x min(lr, 1 / lambda_max)) is Euler's method on the same flow,
first order in its step, so caps c and c / 2 give the flow's drop by Richardson extrapolation,
2 d(c / 2) - d(c), with |d(c) - d(c / 2)| the size of the step's effect. This script reads
``benchmarks.verdicts``' jsons (verdicts_NAME.json) of the two caps (``--continue_with=gd
--gd_cap``) and of the explicit flow (where it was affordable: the runs judged at t_v = 1e3) and
tabulates, per verdict time, how far the extrapolation lies from the flow and how large the drops
are. Writes the GD_TO_FLOW block of BENCHMARKS.md (named after --coarse).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from absl import app, flags

from benchmarks import machine
from benchmarks import verdicts_table as vt

_COARSE = flags.DEFINE_string(
    "coarse", "threshold_quick_gd1_f64_stored", "json name (verdicts_NAME.json), cap c."
)
_FINE = flags.DEFINE_string("fine", "threshold_quick_gd0.5_f64_stored", "json name, cap c / 2.")
_FLOW = flags.DEFINE_string(
    "flow", "threshold_quick_flow_by1000_f64_stored", "json name of the explicit flow's check."
)


def drops(name: str) -> dict:
    """{(n, seed): (t_verdict, loss drop)} of a verdicts json's continued stuck runs."""
    path = vt.named_json_path(name)
    try:
        res = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist: run benchmarks.verdicts first") from None
    return {(r["n"], r["seed"]): (r["t_verdict"], r["loss_drop"]) for r in res["stuck_runs"]}


def rows(coarse: dict, fine: dict, flow: dict) -> list[dict]:
    """One row per verdict time: runs continued at both caps, the largest step effect
    |d(c) - d(c/2)|, the largest extrapolated drop, and (where the flow ran) the largest gap
    between the extrapolation and the flow, and between d(c/2) and the flow."""
    both = sorted(set(coarse) & set(fine))
    out = []
    for t_v in sorted({coarse[k][0] for k in both}):
        keys = [k for k in both if coarse[k][0] == t_v]
        d_c = np.array([coarse[k][1] for k in keys])
        d_f = np.array([fine[k][1] for k in keys])
        extra = 2 * d_f - d_c
        row = {
            "t_verdict": t_v,
            "runs": len(keys),
            "step_effect_max": float(np.max(np.abs(d_c - d_f))),
            "drop_fine_max": float(np.max(d_f)),
            "extrapolated_max": float(np.max(extra)),
            "over_1pct": int(np.sum(extra > 0.01)),
        }
        on_flow = [i for i, k in enumerate(keys) if k in flow]
        if on_flow:
            d_flow = np.array([flow[keys[i]][1] for i in on_flow])
            row["vs_flow_runs"] = len(on_flow)
            row["extrapolated_vs_flow_max"] = float(np.max(np.abs(extra[on_flow] - d_flow)))
            row["fine_vs_flow_max"] = float(np.max(np.abs(d_f[on_flow] - d_flow)))
            row["coarse_vs_flow_max"] = float(np.max(np.abs(d_c[on_flow] - d_flow)))
        out.append(row)
    return out


def table(out: list[dict], names: tuple) -> str:
    """The GD_TO_FLOW block."""
    lines = [
        f"`python -m benchmarks.gd_to_flow --coarse={names[0]} --fine={names[1]} "
        f"--flow={names[2]}`: relative loss drops over the 10x continuation; 'extrapolated' is "
        "2 d(c/2) - d(c).",
        "",
        "| t_verdict | stuck runs | max abs d(c) - d(c/2) | max d(c/2) | max extrapolated "
        "| extrapolated > 1% | runs also on the flow | max abs extrapolated - flow "
        "| max abs d(c/2) - flow | max abs d(c) - flow |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in out:
        keys = ("extrapolated_vs_flow_max", "fine_vs_flow_max", "coarse_vs_flow_max")
        on_flow = [f"{r[k]:.2g}" if k in r else "" for k in keys]
        lines.append(
            f"| {r['t_verdict']:g} | {r['runs']} | {r['step_effect_max']:.2g} "
            f"| {r['drop_fine_max']:.2g} | {r['extrapolated_max']:.2g} | {r['over_1pct']} "
            f"| {r.get('vs_flow_runs', 0)} | {' | '.join(on_flow)} |"
        )
    return "\n".join(lines)


def main(argv):
    del argv
    names = (_COARSE.value, _FINE.value, _FLOW.value)
    try:
        coarse, fine, flow = (drops(n) for n in names)
    except ValueError as e:
        sys.exit(f"benchmarks.gd_to_flow: {e}")
    out = rows(coarse, fine, flow)
    machine.publish(f"GD_TO_FLOW {_COARSE.value}", table(out, names))


if __name__ == "__main__":
    app.run(main)
