"""How far off is the progress bar's ETA? One run of a config, read two ways.

    python -m benchmarks.eta [--config=threshold_quick]

Runs the job (as ``sweeps.run`` does, into a fresh folder) and records every progress report
of its chunks (the task's own estimate of how far a chunk is, with the time). Then it replays
them through the bar's arithmetic twice: with the tasks' estimates as they are, and read
through what the finished chunks took (``progress.Warp``, what the bar does). At each report
the ETA is the bar's (elapsed x remaining work / work done, tqdm with smoothing 0); the table
gives ETA / true remaining time over the reports in the middle 80% of the run's wall time.
Writes benchmarks/eta_CONFIG.json and the ETA block of BENCHMARKS.md.
"""

from __future__ import annotations

import importlib
import tempfile
import time

import numpy as np
from absl import app, flags

from alignment import registry
from alignment.runner import job as runner_job
from alignment.runner import progress, results
from benchmarks import machine


class Recorder(progress.Progress):
    """The job's progress, with every report and chunk end kept as (kind, chunk, f, t)."""

    events: list = []

    def step(self, chunk, fraction, status):
        Recorder.events.append(("step", chunk.index, float(fraction), time.monotonic()))
        super().step(chunk, fraction, status)

    def chunk_done(self, chunk, seconds, counts):
        Recorder.events.append(("done", chunk.index, 1.0, time.monotonic()))
        super().chunk_done(chunk, seconds, counts)


def replay(events, costs: dict, learn: bool) -> np.ndarray:
    """(elapsed, ETA, true remaining) at every report, the bar's arithmetic replayed."""
    t0, t_end = events[0][3], events[-1][3]
    total, done, started = sum(costs.values()), 0.0, t0
    warp, rows = progress.Warp(), []
    for kind, index, f, t in events:
        if kind == "done":
            done += costs[index]
            if learn:
                warp.learn(t - started)
            warp.points, started = [], t
            continue
        warp.record(f, t - started)
        work = done + costs[index] * warp(f)
        if work > 0:
            rows.append((t - t0, (t - t0) * (total - work) / work, t_end - t))
    return np.asarray(rows)


def ratios(rows: np.ndarray, wall: float) -> dict:
    """min / median / max of ETA over the true remaining time, over the reports in the middle
    80% of the run (at the very end a second's error is a large ratio of nothing)."""
    late = rows[(rows[:, 0] > 0.1 * wall) & (rows[:, 2] > 0.1 * wall)]
    r = late[:, 1] / late[:, 2]
    q = np.quantile(r, [0.0, 0.5, 1.0])
    return {k: round(float(v), 3) for k, v in zip(("min", "median", "max"), q, strict=True)}


def main(argv) -> None:
    del argv
    cfg = importlib.import_module(f"sweeps.configs.{flags.FLAGS.config}").get_config()
    cfg.make_figures = False
    runner_job.Progress = Recorder
    with tempfile.TemporaryDirectory() as tmp:
        _, _, todo = registry.prepare(cfg, f"{tmp}/run")
        costs = {c.index: progress.chunk_cost(c) for c in todo}
        registry.run(cfg, f"{tmp}/run")
    events = Recorder.events
    wall = events[-1][3] - events[0][3]
    out = {
        "config": flags.FLAGS.config,
        "machine": machine.machine_info(),
        "wall_s": round(wall, 1),
        "reports": sum(e[0] == "step" for e in events),
        "as_reported": ratios(replay(events, costs, learn=False), wall),
        "learned": ratios(replay(events, costs, learn=True), wall),
        "load_avg": machine.load_avg(),
    }
    results.write_json(f"benchmarks/eta_{flags.FLAGS.config}.json", out)
    body = "\n".join(
        [
            f"`python -m benchmarks.eta --config={out['config']}` on {out['machine']['cpu']}, "
            f"{out['machine']['cores']} cores (load {out['load_avg']}): {out['reports']} "
            f"progress reports over {out['wall_s']} s; ETA / true remaining time over the "
            "middle 80% of the run:",
            "",
            "| the bar reads the task's estimate | min | median | max |",
            "|---|---|---|---|",
            *(
                f"| {label} | {out[k]['min']} | {out[k]['median']} | {out[k]['max']} |"
                for label, k in (("as reported", "as_reported"), ("learned (now)", "learned"))
            ),
        ]
    )
    machine.publish(f"ETA {out['config']}", body)


if __name__ == "__main__":
    # defined here, not at import: the tests import this module beside others with --config
    flags.DEFINE_string("config", "threshold_quick", "Config module in sweeps/configs.")
    app.run(main)
