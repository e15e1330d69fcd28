"""The numbers of a verdict check (``benchmarks.verdicts``) over the chunks done so far (and
those an earlier check of the same settings left, for --resume), the name of its json and
BENCHMARKS.md block, and the block itself."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmarks import machine

# a loss that rises by more than this (relative) during a continuation was not carried by
# gradient flow, along which it can only fall: 100x float32 rounding of the loss
RISE_TOL = 1e-5


# the evidence of each stuck run shown in the json (summary.csv columns)
EVIDENCE_SHOWN = (
    "region_gap",
    "kappa_max",
    "kink_max",
    "split_max",
    "grad_slope",
    "flat_change",
    "small_alive",
    "max_step_sharpness",
)


def stuck_rows(runs, chunk, t_final, continued, ev) -> list[dict]:
    """One row per stuck run of a chunk: its (n, seed), when it was judged, the loss drop,
    rise and steps when continued (``continued``: those arrays, NaN drop for the others) and
    the evidence of its verdict."""
    drop, rise, steps = continued
    rows = []
    for r in np.flatnonzero(np.isfinite(drop)):
        run_id = chunk.run_ids[r]
        rows.append(
            {
                "n": int(runs["n"][run_id]),
                "seed": int(runs["seed"][run_id]),
                "t_verdict": float(t_final[r]),
                "loss_drop": float(drop[r]),
                "loss_rise": float(rise[r]),
                "continue_steps": int(steps[r]),
                **{k: float(ev[k][r]) for k in EVIDENCE_SHOWN},
            }
        )
    return rows


def counts(values) -> dict:
    names, num = np.unique(values, return_counts=True)
    return {str(a): int(b) for a, b in zip(names, num, strict=True)}


def summarize(out: dict, parts: list[dict]) -> dict:
    """The check's numbers over the chunks done so far (``parts``: what
    ``benchmarks.verdicts.check_runs`` returns for each, with its ``chunk`` entry)."""
    drops = np.asarray(sum((p["drops"] for p in parts), []), np.float64)
    rises = np.asarray(sum((p["rises"] for p in parts), []), np.float64)
    stuck = np.isfinite(drops)
    chunks = [p["chunk"] | {"continue_s": p["continue_s"]} for p in parts]
    return out | {
        "chunks": chunks,
        "stuck_runs": sum((p["stuck_runs"] for p in parts), []),
        "on_its_way": sum(p["on_its_way"] for p in parts),
        "on_its_way_reached": sum(p["on_its_way_reached"] for p in parts),
        "wall_s": round(sum(ch["wall_s"] for ch in chunks), 2),
        "continue_s": round(sum(p["continue_s"] for p in parts), 2),
        "verdicts": counts(sum((p["verdicts"] for p in parts), [])),
        "decided_by": counts(sum((p["decided_by"] for p in parts), [])),
        "stuck_continued": int(stuck.sum()),
        "stuck_max_loss_drop": float(np.max(drops[stuck])) if stuck.any() else None,
        "stuck_over_1pct": int(np.sum(drops[stuck] > 0.01)),
        "stuck_rose": int(np.sum(rises[stuck] > RISE_TOL)),
        "stuck_over_1pct_rose": int(np.sum((drops[stuck] > 0.01) & (rises[stuck] > RISE_TOL))),
        "load_avg": machine.load_avg(),
    }


def resumed_parts(path, out: dict) -> list[dict]:
    """The chunks an earlier check wrote to ``path`` (its ``parts``), [] without one; a
    ValueError naming the first setting of ``out`` it differs in (all but the machine, and the
    number of chunks: a job still running has finished more since)."""
    if not Path(path).exists():
        return []
    old = json.loads(Path(path).read_text())
    refuse_other_settings(path, old, out)
    if "parts" not in old:
        raise ValueError(f"--resume: {path} holds no parts (written before --resume existed)")
    return old["parts"]


def refuse_other_settings(path, old: dict, out: dict) -> None:
    """A ValueError naming the first setting of ``out`` that ``old`` (read from ``path``)
    differs in: all but the machine, and the number of chunks (a job still running has
    finished more since)."""
    for key, value in out.items():
        if key not in ("machine", "chunks_total") and old.get(key) != value:
            raise ValueError(
                f"--resume: {path} was written with {key}={old.get(key)!r}, now {value!r}"
            )


def remaining(todo: list[tuple], parts: list[dict]) -> list[tuple]:
    """The (chunk, dataset) pairs of ``todo`` that no part has checked yet."""
    done = {p["chunk"]["index"] for p in parts}
    return [(chunk, ds) for chunk, ds in todo if chunk.index not in done]


def json_path(res: dict) -> str:
    """Where a check writes its json (relative to the working directory)."""
    return named_json_path(block_name(res))


def named_json_path(name: str) -> str:
    """The json of the check whose block is named ``name`` (:func:`block_name`)."""
    return f"benchmarks/verdicts_{name}.json"


def block_name(res: dict) -> str:
    """The config's name, with ``_flow`` (``_gd<c>``) where the stuck runs continue by the
    flow (GD at cap c), ``_by<T>`` where only those judged by T do (``_after<T>``: after T),
    ``_f64`` where they continue in float64, ``_n<list>`` where only those sample sizes were
    checked and ``_stored`` where they continued from a workdir's stored runs."""
    name, by, n = res["config"], res.get("judged_by"), res.get("n")
    name = name if res["continue_with"] == "same" else f"{name}_{res['continue_with']}"
    name = name if res.get("gd_cap") is None else f"{name}{res['gd_cap']:g}"
    name = name if by is None else f"{name}_by{by:g}"
    after = res.get("judged_after")
    name = name if after is None else f"{name}_after{after:g}"
    name = f"{name}_f64" if res.get("float64") else name
    name = name if not n else f"{name}_n{'-'.join(map(str, n))}"
    return name if not res.get("workdir") else f"{name}_stored"


def table(res: dict) -> str:
    """The VERDICTS block of one check."""
    where = f"--workdir={res['workdir']}" if res.get("workdir") else f"--config={res['config']}"
    trained = "none: stored runs" if res.get("workdir") else res["wall_s"]
    flag = "" if res["continue_with"] == "same" else f" --continue_with={res['continue_with']}"
    flag += f" --flow_rtol={res['flow_rtol']:g}" if res["continue_with"] == "flow" else ""
    flag += "" if res.get("gd_cap") is None else f" --gd_cap={res['gd_cap']:g}"
    by = res.get("judged_by")
    flag += "" if by is None else f" --judged_by={by:g}"
    after = res.get("judged_after")
    flag += "" if after is None else f" --judged_after={after:g}"
    flag += f" --n={','.join(map(str, res['n']))}" if res.get("n") else ""
    flag += " --float64" if res.get("float64") else ""
    flag += "" if res["factor"] == 10 else f" --factor={res['factor']:g}"
    which = "" if res.get("gd_cap") is None else f" at eta lambda_max <= {res['gd_cap']:g}"
    which += "" if by is None else f", those judged by t = {by:g}"
    which += "" if after is None else f", those judged after t = {after:g}"
    which += ", in float64" if res.get("float64") else ""
    lines = [
        f"`python -m benchmarks.verdicts {where}{flag}` on "
        f"{res['machine']['cpu']}, {res['machine']['cores']} cores (load {res['load_avg']}):",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| chunks checked | {res.get('chunks_done')} of {res.get('chunks_total')} |",
        f"| wall time of the verdict loop, all chunks (s) | {trained} |",
        f"| verdicts | {res['verdicts']} |",
        f"| decided_by | {res['decided_by']} |",
        f"| stuck runs continued {res['factor']:g}x longer ({res['continue_with']}{which}) "
        f"| {res['stuck_continued']} |",
        f"| wall time of those continuations (s) | {res.get('continue_s')} |",
        f"| largest relative loss drop of a continued stuck run | {res['stuck_max_loss_drop']} |",
        f"| stuck runs that lost more than 1% | {res['stuck_over_1pct']} |",
        f"| stuck runs whose loss rose on the way (> {RISE_TOL:g}: not gradient flow) "
        f"| {res['stuck_rose']} |",
        f"| of those that lost more than 1%, rose first | {res['stuck_over_1pct_rose']} |",
        f"| runs on their way to interpolation (on_its_way) | {res.get('on_its_way', 0)} |",
        f"| of them below the tolerance {res['factor']:g}x later "
        f"| {res.get('on_its_way_reached', 0)} |",
    ]
    return "\n".join(lines)
