"""Are stuck verdicts right, and what does the verdict loop cost? One run of a config's sweep.

    python -m benchmarks.verdicts [--config=threshold_quick] [--factor=10]

Trains every chunk of the config through the verdict loop (timed), then continues every run
called *stuck* from its verdict time t_v to ``factor * t_v`` (with the chunk's own integrator,
which faithful GD keeps on gradient flow, or the flow integrator) and records how much loss it
loses: a certified stuck run should lose nothing (the issue's target: < 1%). Runs left
``on_its_way`` to interpolation are continued the same way and counted when they reach it.
With ``--workdir=DIR`` it trains nothing: it checks that finished job's
runs, continued from the end parameters its chunk files store (``benchmarks/stored.py``).
Writes benchmarks/verdicts_CONFIG.json (verdict counts, decided_by counts, wall time, steps, the
largest relative loss drop of a continued stuck run) and the VERDICTS block of BENCHMARKS.md.
The json is rewritten after each chunk and each continuation checkpointed after each compiled
call (``benchmarks/continuation.py``), so ``--resume`` loses little of a check killed part way.
"""

from __future__ import annotations

import importlib
import sys
import time

import numpy as np
from absl import app, flags

from alignment.runner import results
from alignment.two_layer import grid, records, verdict_loop
from alignment.two_layer import job as threshold_job
from benchmarks import continuation, machine, stored
from benchmarks import verdicts_table as vt

_CONFIG = flags.DEFINE_string("config", "threshold_quick", "Config module in sweeps/configs.")
_FACTOR = flags.DEFINE_float("factor", 10.0, "Stuck runs continue to factor x their verdict time.")
_WITH = flags.DEFINE_enum(
    "continue_with",
    "same",
    ["same", "flow", "gd"],
    "Integrator that continues the stuck runs: the chunk's own (GD at lr), the flow (held to "
    "dt < ~2.5 / lambda_max by stability, and to far less on a run whose data points sit on its "
    "kinks: slow for a 10x longer continuation) or faithful GD at --gd_cap (Euler steps of the "
    "flow: two caps extrapolate to it, benchmarks/gd_to_flow.py).",
)
_GD_CAP = flags.DEFINE_float(
    "gd_cap",
    0.5,
    "For --continue_with=gd: each step is gd_cap x min(lr, 1 / lambda_max) (the step of the "
    "config's faithful GD at gd_step_sharpness = 1, scaled), in (0, 2).",
)
_RTOL = flags.DEFINE_float(
    "flow_rtol", None, "The flow's rtol for --continue_with=flow (default: the config's flow.rtol)."
)
_UP_TO = flags.DEFINE_float(
    "judged_by",
    None,
    "Continue only the stuck runs judged at or before this time (default: all): a flow "
    "continuation at a tight rtol costs time in proportion to the verdict time t_v.",
)
_AFTER = flags.DEFINE_float(
    "judged_after",
    None,
    "Continue only the stuck runs judged after this time (default: all): the later runs of a "
    "job whose earlier ones were checked by a run with --judged_by.",
)
_N = flags.DEFINE_list(
    "n",
    None,
    "Check only these sample sizes (default: all; with --workdir, the chunks holding only "
    "them): the stuck runs of a large config's small n, without its slow sharp runs at large n.",
)
_WORKDIR = flags.DEFINE_string(
    "workdir",
    None,
    "Check this finished job's workdir instead of training: its stuck runs continue from the "
    "end parameters its chunk files store (its own config; --config is not read; 'same' is "
    "the chunk's first integrator, also where the job continued by the flow).",
)
_RESUME = flags.DEFINE_bool(
    "resume",
    False,
    "Keep the chunks an earlier check of the same settings wrote to its json (one stopped or "
    "killed part way) and check only the others; a continuation it left unfinished goes on "
    "from its last compiled call (its checkpoint in benchmarks/verdicts_NAME.calls/).",
)
_FLOAT64 = flags.DEFINE_bool(
    "float64",
    False,
    "Continue in float64 (a float32 job's runs carried over exactly): over a long continuation "
    "float32's rounding can walk a run along the valley of a minimum that is not strict, which "
    "gradient flow does not (BENCHMARKS.md, the stuck probe).",
)


def flow_rtol(cfg) -> float:
    """The flow continuation's rtol: --flow_rtol, or the config's flow.rtol."""
    return float(cfg.flow.rtol) if _RTOL.value is None else _RTOL.value


def run_chunk(cfg, runs, chunk, plan: continuation.Plan) -> dict:
    """One chunk through the verdict loop (timed), then its stuck and on_its_way runs continued
    (:func:`check_runs`)."""
    t0 = time.perf_counter()
    snaps, verdict, ctx, state, count, ev = verdict_loop.train_chunk(cfg, runs, chunk)
    wall = time.perf_counter() - t0
    t_final = records.last_value(snaps, "time")
    steps = {"steps_computed": count.computed, "steps_useful": count.useful}
    ended = (state, ctx, t_final, snaps["loss"][:, 0])
    part = check_runs(cfg, runs, chunk, verdict, ev, ended, plan)
    part["chunk"] = {"index": chunk.index, "wall_s": round(wall, 2), **steps}
    return part


def stored_chunk(cfg, runs, chunk, ds, plan: continuation.Plan) -> dict:
    """One finished chunk of a workdir (no training): its stuck and on_its_way runs continued
    from the end parameters its file stores (:func:`check_runs`)."""
    state, ctx = stored.ended_state(runs, chunk, ds)
    ev = {k: ds[k].values for k in (*vt.EVIDENCE_SHOWN, "decided_by")}
    ended = (state, ctx, records.last_value(ds, "time"), ds["loss"].values[:, 0])
    verdict = ds["verdict"].values.astype(str)
    part = check_runs(cfg, runs, chunk, verdict, ev, ended, plan)
    part["chunk"] = {"index": chunk.index, "wall_s": 0.0, **machine.steps_of(ds)}
    return part


def check_runs(cfg, runs, chunk, verdict, ev, ended, plan: continuation.Plan) -> dict:
    """The chunk's stuck and on_its_way runs (those judged after --judged_after and by
    --judged_by) continued from their verdict time (``continuation.continue_runs``;
    ``ended`` = (state, ctx, verdict times, initial losses)): the loss drops, and which runs
    on their way reached the tolerance."""
    state, ctx, t_final, loss0 = ended
    on_way = np.asarray(ev["decided_by"]) == "on_its_way"
    chosen = (verdict == "stuck") | on_way
    if _UP_TO.value is not None:
        chosen &= t_final <= _UP_TO.value * (1 + 1e-9)
    if _AFTER.value is not None:
        chosen &= t_final > _AFTER.value * (1 + 1e-9)
    on_way &= chosen
    t1 = time.perf_counter()
    lanes = (state, ctx, t_final, chunk.index)
    start, end, rise, steps = continuation.continue_runs(cfg, chunk.program, lanes, chosen, plan)
    stuck = (verdict == "stuck") & chosen
    drop = np.where(stuck, (start - end) / start, np.nan)
    tol = cfg.verdict.rel_tol * loss0
    return {
        "continue_s": round(time.perf_counter() - t1, 2),  # also in summarize's "chunks"
        "on_its_way": int(on_way.sum()),
        "on_its_way_reached": int(np.sum(on_way & (end < tol))),
        "stuck_runs": vt.stuck_rows(runs, chunk, t_final, (drop, rise, steps), ev),
        "verdicts": list(verdict),
        "decided_by": list(ev["decided_by"]),
        "drops": list(drop),
        "rises": list(np.where(stuck, rise, np.nan)),
    }


def sample_sizes() -> list[int]:
    """--n as integers ([] when not given)."""
    try:
        return [int(n) for n in _N.value or ()]
    except ValueError:
        raise ValueError(f"--n={','.join(_N.value)} must be integers") from None


def chunks_to_check(name: str) -> tuple:
    """(config, its runs, [(chunk, its stored dataset or None: train it)]): the config's
    chunks (those of --n), or with --workdir the finished chunks of that job."""
    if _WORKDIR.value is None:
        cfg = importlib.import_module(f"sweeps.configs.{name}").get_config()
        if _N.value:
            cfg.n = tuple(sample_sizes())
        runs = grid.expand(cfg)
        return cfg, runs, [(chunk, None) for chunk in threshold_job.validate(cfg, runs)]
    cfg = stored.load_config(_WORKDIR.value)
    runs, wanted = grid.expand(cfg), sample_sizes()
    todo = stored.finished_chunks(cfg, _WORKDIR.value)
    if wanted:
        todo = [(c, ds) for c, ds in todo if np.isin(runs["n"][list(c.run_ids)], wanted).all()]
    return cfg, runs, todo


def settings(name: str, factor: float, how: str, checked: tuple) -> dict:
    """What a check of ``checked`` (:func:`chunks_to_check`) is: the head of its json, from
    which its name comes (and which --resume must find unchanged)."""
    cfg, _, todo = checked
    return {
        "config": str(cfg.name) if _WORKDIR.value else name,
        "workdir": _WORKDIR.value,
        "factor": factor,
        "continue_with": how,
        "machine": machine.machine_info(),
        "flow_rtol": flow_rtol(cfg),
        "gd_cap": _GD_CAP.value if how == "gd" else None,
        "float64": _FLOAT64.value,
        "judged_by": _UP_TO.value,
        "judged_after": _AFTER.value,
        "n": sample_sizes() or None,  # only where --n chose them
        "chunks_total": len(todo),
    }


def run(out: dict, checked: tuple, parts: list[dict]) -> dict:
    """Every chunk of ``checked`` that no part (of --resume) holds: :func:`run_chunk`, or
    :func:`stored_chunk` with --workdir; the json is rewritten after each chunk
    (``chunks_done`` of ``chunks_total``, and each chunk's ``parts``), so a long check
    stopped early keeps what it did, and --resume goes on from there."""
    cfg, runs, todo = checked
    how, folder = out["continue_with"], continuation.calls_folder(vt.json_path(out))
    plan = continuation.Plan(
        out["factor"], how, out["gd_cap"], out["flow_rtol"], out["float64"], folder
    )
    for chunk, ds in vt.remaining(todo, parts):
        if ds is None:
            parts.append(run_chunk(cfg, runs, chunk, plan))
        else:
            parts.append(stored_chunk(cfg, runs, chunk, ds, plan))
        res = vt.summarize(out, parts) | {"chunks_done": len(parts), "parts": parts}
        results.write_json(vt.json_path(out), res)
        continuation.drop_calls(folder, chunk.index)  # its part holds what they led to
    continuation.drop_calls(folder)
    return vt.summarize(out, parts) | {"chunks_done": len(parts)}


def main(argv):
    del argv
    try:  # a bad --workdir, --n, --gd_cap or --resume: one line, before any compute
        if not 0 < _GD_CAP.value < 2:
            raise ValueError(f"--gd_cap={_GD_CAP.value:g} must be in (0, 2)")
        checked = chunks_to_check(_CONFIG.value)
        out = settings(_CONFIG.value, _FACTOR.value, _WITH.value, checked)
        parts = vt.resumed_parts(vt.json_path(out), out) if _RESUME.value else []
        folder = continuation.calls_folder(vt.json_path(out))
        continuation.open_calls(folder, out, _RESUME.value)
    except ValueError as e:
        sys.exit(f"benchmarks.verdicts: {e}")
    except ModuleNotFoundError:
        sys.exit(f"benchmarks.verdicts: --config={_CONFIG.value} is not in sweeps/configs")
    res = run(out, checked, parts)
    machine.publish(f"VERDICTS {vt.block_name(res)}", vt.table(res))


if __name__ == "__main__":
    app.run(main)
