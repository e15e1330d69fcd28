"""Throughput of the vectorized trainer: against the machine's matmul rate and a per-net loop.

    python -m benchmarks.throughput                  # peak, W1, W2 (+ baselines) and W3
    python -m benchmarks.throughput --only W1,W2     # a subset; other results.json entries stay

Writes ``benchmarks/results.json`` and the results table of ``BENCHMARKS.md`` (between its
markers). Workloads (issue 5):

- peak: float32 square matmul through XLA (jitted, warm, best of several sizes and repeats);
- W1: 64 runs, n=512, d=10, m=100, 2000 GD steps; W2: 16 runs, n=1000, d=100, m=1000, 200 steps;
  both through ``train.init_runs`` + ``train.train`` (2 snapshots: t=0 and the end), and as the
  baseline: one network after another, a Python loop calling a jitted single GD step on the
  same data and initial parameters;
- W3: the default sweep (``sweeps/configs/threshold_quick.py``) end to end via
  ``alignment.registry.run`` in a temporary workdir, until every run has a verdict.

Compilation is excluded from W1, W2, their baselines and the peak (a warm-up call first);
W3 is a cold real job and includes it. FLOPs per net-step (one GD step of one network):
``4 n d m`` (the forward matmul X W^T and the backward one for grad W, 2 n d m each) plus
``6 n m`` (elementwise work on the n x m preactivations); other work is not counted.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib.util
import io
import json
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags, logging

from alignment import registry as sweep
from alignment.runner import results
from alignment.two_layer import report
from benchmarks.machine import load_avg, machine_info, replace_block
from benchmarks.workloads import WORKLOADS, bench_workload

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.json"
MARKDOWN = ROOT / "BENCHMARKS.md"
SWEEP_CONFIG = ROOT / "sweeps" / "configs" / "threshold_quick.py"
BEGIN, END = "<!-- BEGIN RESULTS (benchmarks/throughput.py) -->", "<!-- END RESULTS -->"
NAMES = ("W1", "W2", "W3")
TARGETS = {"W1": "frac_peak >= 0.20 and speedup >= 10", "W2": "frac_peak >= 0.50", "W3": "< 300 s"}


_ONLY = flags.DEFINE_list("only", list(NAMES), "Workloads to measure (W1, W2, W3).")
_BASELINE_NETS = flags.DEFINE_integer(
    "baseline_nets", 0, "Baseline: networks timed (0: all); the rest is extrapolated linearly."
)
_BASELINE_STEPS = flags.DEFINE_integer(
    "baseline_steps", 0, "Baseline: steps timed per network (0: all); extrapolated linearly."
)
_CONFIG = flags.DEFINE_string("config", str(SWEEP_CONFIG), "Sweep config file for W3.")
_OUT = flags.DEFINE_string("out", str(RESULTS), "results.json to write (merged with its content).")
_MARKDOWN = flags.DEFINE_string("markdown", str(MARKDOWN), "Markdown file holding the table.")


def _best_time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t0)
    return best


def bench_peak(sizes=(1024, 2048, 4096), repeats: int = 5) -> dict:
    """float32 matmul rate through XLA: jitted N x N @ N x N, warm, best over sizes and repeats."""
    matmul = jax.jit(jnp.matmul)
    per_size = {}
    for size in sizes:
        a = jax.random.normal(jax.random.key(0), (size, size), jnp.float32)
        b = jax.random.normal(jax.random.key(1), (size, size), jnp.float32)
        jax.block_until_ready(matmul(a, b))
        per_size[str(size)] = 2 * size**3 / _best_time(lambda a=a, b=b: matmul(a, b), repeats) / 1e9
    return {"peak_gflops": max(per_size.values()), "peak_by_size": per_size}


def load_config(path):
    """get_config() of an ml_collections config file."""
    spec = importlib.util.spec_from_file_location("_bench_sweep_config", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.get_config()


def bench_sweep(cfg, workdir=None) -> dict:
    """W3: a sweep config end to end (train until every run has a verdict), cold, timed."""
    load = load_avg()
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench_w3_"))
        t0 = time.perf_counter()
        done = sweep.run(cfg, workdir)
        wall = time.perf_counter() - t0
        verdicts = np.concatenate(
            [results.load_chunk(workdir, i)["verdict"].values for i in done]
        ).astype(str)
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            report.finish(cfg, workdir)
        finish_s = time.perf_counter() - t0
    names, counts = np.unique(verdicts, return_counts=True)
    return {
        "wall_s": wall,
        "runs": int(len(verdicts)),
        "undetermined": int(np.sum(verdicts == "undetermined")),
        "verdicts": {str(k): int(c) for k, c in zip(names, counts, strict=True)},
        "chunks": len(done),
        "finish_s": finish_s,
        "config": {
            k: cfg[k]
            for k in (
                "name",
                "n",
                "num_seeds",
                "lr",
                "lam",
                "max_time",
                "time_cap",
                "num_snapshots",
                "snapshots_per_decade",
            )
        },
        "includes_compile": True,
        "load_avg_before": load,
        "load_avg_after": load_avg(),
    }


def _fmt(x, spec=".3g"):
    return "—" if x is None else format(x, spec)


def markdown_table(res: dict) -> str:
    """The results table (and machine line) of BENCHMARKS.md, from results.json content.

    W1 and W2 get one row per lanes-per-call setting; the fastest (bold) is the headline entry
    of results.json and the one the target is judged on.
    """
    mach = res.get("machine", {})
    lines = [
        f"Machine: {mach.get('cpu', '?')}, {mach.get('cores', '?')} cores, "
        f"JAX {mach.get('jax', '?')} ({mach.get('backend', '?')} backend). "
        f"float32 matmul peak (in-run): **{_fmt(res.get('peak_gflops'), '.1f')} GFLOP/s**.",
        "",
        "| workload | lanes/call | wall s | net-steps/s | GFLOP/s | frac of peak "
        "| baseline wall s | speedup | target | met | load (1 min) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in ("W1", "W2"):
        r = res.get(name)
        if not r:
            continue
        w = r.get("workload", {})
        base = r.get("baseline", {})
        shape = f"{name}: {w.get('runs')} x (n={w.get('n')}, d={w.get('d')}, m={w.get('m')}), "
        shape += f"{w.get('steps')} steps"
        ext = " (extrapolated)" if base.get("extrapolated") else ""
        rows = r.get("by_lanes_per_call") or {str(r.get("lanes_per_call")): r}
        for lanes, v in rows.items():
            best = v["wall_s"] == r["wall_s"]
            b = "**" if best else ""
            met = ("yes" if target_met(name, r) else "no") if best else ""
            lines.append(
                f"| {shape} | {b}{lanes}{b} | {_fmt(v['wall_s'])} "
                f"| {_fmt(v['net_steps_per_s'], '.4g')} | {_fmt(v['gflops'])} "
                f"| {b}{_fmt(v['frac_peak'], '.1%')}{b} | {_fmt(base.get('wall_s'))}{ext} "
                f"| {b}{_fmt(v['speedup_vs_baseline'], '.2g')}x{b} | {TARGETS[name]} | {met} "
                f"| {_fmt(r['load_avg_before'][0])} |"
            )
    r = res.get("W3")
    if r:
        c = r.get("config", {})
        lines.append(
            f"| W3: sweep {c.get('name')} ({r['runs']} runs, {r['chunks']} chunks; "
            f"{r['undetermined']} undetermined) | — | {_fmt(r['wall_s'])} | — | — | — | — | — "
            f"| {TARGETS['W3']} | {'yes' if target_met('W3', r) else 'no'} "
            f"| {_fmt(r['load_avg_before'][0])} |"
        )
    lines.append("")
    lines.append(
        f"Measured {res.get('measured_at', '?')}; `benchmarks/results.json` has every number."
    )
    return "\n".join(lines)


def target_met(name: str, r: dict) -> bool:
    """The issue's target for a workload."""
    if name == "W1":
        return r["frac_peak"] >= 0.2 and r["speedup_vs_baseline"] >= 10
    if name == "W2":
        return r["frac_peak"] >= 0.5
    return r["wall_s"] < 300


def write_markdown(path, res: dict) -> None:
    """The results table of ``path``, from results.json content."""
    replace_block(path, BEGIN, END, markdown_table(res))


def run(only, out_path, md_path, config_path, nets: int = 0, steps: int = 0) -> dict:
    """Measures the workloads in ``only`` and merges them into ``out_path``."""
    unknown = set(only) - set(NAMES)
    if unknown:
        raise ValueError(f"--only: unknown workloads {sorted(unknown)}; choose from {NAMES}")
    out_path = Path(out_path)
    res = json.loads(out_path.read_text()) if out_path.exists() else {}
    res["machine"] = machine_info()
    res["timing"] = (
        "wall clock, jax.block_until_ready; compile excluded (warm-up call first) except W3, "
        "a cold end-to-end job; FLOPs per net-step 4*n*d*m + 6*n*m"
    )
    if {"W1", "W2"} & set(only):
        logging.info("peak matmul (load %s)", load_avg())
        peak = bench_peak()
        res |= peak | {"peak_load_avg": load_avg()}
        logging.info("peak %.1f GFLOP/s", peak["peak_gflops"])
    for name in ("W1", "W2"):
        if name in only:
            res[name] = bench_workload(WORKLOADS[name], res["peak_gflops"], nets, steps)
    if "W3" in only:
        res["W3"] = bench_sweep(load_config(config_path))
        logging.info("W3: %.1f s, %s", res["W3"]["wall_s"], res["W3"]["verdicts"])
    res["measured_at"] = datetime.datetime.now().isoformat(timespec="seconds")
    results.write_json(out_path, res)
    write_markdown(md_path, res)
    return res


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    res = run(
        _ONLY.value,
        _OUT.value,
        _MARKDOWN.value,
        _CONFIG.value,
        _BASELINE_NETS.value,
        _BASELINE_STEPS.value,
    )
    print(markdown_table(res))


if __name__ == "__main__":
    app.run(main)
