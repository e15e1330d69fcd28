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
  ``alignment.sweep.run`` in a temporary workdir, until every run has a verdict.

Compilation is excluded from W1, W2, their baselines and the peak (a warm-up call first);
W3 is a cold real job and includes it. FLOPs per net-step (one GD step of one network):
``4 n d m`` (the forward matmul X W^T and the backward one for grad W, 2 n d m each) plus
``6 n m`` (elementwise work on the n x m preactivations); other work is not counted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import importlib.util
import io
import json
import os
import platform
import re
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags, logging

from alignment import model, results, sweep, train
from alignment.data import DataSpec

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.json"
MARKDOWN = ROOT / "BENCHMARKS.md"
SWEEP_CONFIG = ROOT / "sweeps" / "configs" / "threshold_quick.py"
BEGIN, END = "<!-- BEGIN RESULTS (benchmarks/throughput.py) -->", "<!-- END RESULTS -->"
NAMES = ("W1", "W2", "W3")
EXTREMAL = {"extremal_starts": 4, "extremal_steps": 50}
TARGETS = {"W1": "frac_peak >= 0.20 and speedup >= 10", "W2": "frac_peak >= 0.50", "W3": "< 300 s"}


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

    def program(self) -> train.Program:
        # Few extremal starts (where the trainer has them): they only shape RunContext, made
        # by the untimed init, and read by the snapshot statistics.
        fields = {f.name for f in dataclasses.fields(train.Program)}
        extra = {k: v for k, v in EXTREMAL.items() if k in fields}
        return train.Program(data=DataSpec("linear", d=self.d), m=self.m, n_pad=self.n, **extra)

    def lanes(self) -> train.Lanes:
        return train.Lanes.make(
            seed=np.arange(self.runs), n=self.n, lam=self.lam, lr=self.lr, sigma=self.sigma
        )


WORKLOADS = {
    "W1": Workload("W1", runs=64, n=512, d=10, m=100, steps=2000, lanes_per_call=(64, 16, 8)),
    "W2": Workload("W2", runs=16, n=1000, d=100, m=1000, steps=200, lanes_per_call=(16, 4)),
}

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


def machine_info() -> dict:
    """CPU model, core count, JAX version and backend of this process."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        text = Path("/proc/cpuinfo").read_text()
        names = re.findall(r"^model name\s*:\s*(.+)$", text, re.M)
        fam = re.findall(r"^cpu family\s*:\s*(\d+)$", text, re.M)
        mod = re.findall(r"^model\s*:\s*(\d+)$", text, re.M)
        if names:
            cpu = names[0].strip() + (f" (family {fam[0]}, model {mod[0]})" if fam and mod else "")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0].device_kind),
        "num_devices": jax.device_count(),
        "python": platform.python_version(),
    }


def load_avg() -> list[float]:
    """1, 5 and 15 minute load averages (other processes share this machine)."""
    return [round(x, 2) for x in os.getloadavg()]


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


def bench_trainer(w: Workload, lanes_per_call: int = 0, trainer=train) -> tuple[dict, dict]:
    """W through the real trainer: ``init_runs`` + one ``train`` call per group of lanes.

    The runs are trained ``lanes_per_call`` at a time (0: all in one call), each call from step
    0 to w.steps on a 2-snapshot grid (t = 0 and the end); the wall time is the sum over calls.
    Returns the measurement and what the baseline needs (initial parameters, data, final loss).
    """
    per_call = lanes_per_call or w.runs
    if w.runs % per_call:
        raise ValueError(f"{w.name}: lanes_per_call={per_call} must divide runs={w.runs}")
    prog, lanes = w.program(), w.lanes()
    groups = [
        train.Lanes(*(f[i : i + per_call] for f in lanes)) for i in range(0, w.runs, per_call)
    ]
    times = np.array([0.0, w.lr * w.steps])
    state, ctx = trainer.init_runs(prog, groups[0])  # warm-up: compiles init and train
    state, _ = trainer.train(prog, state, ctx, np.array([0.0, w.lr]), groups[0].lr)
    jax.block_until_ready(state)
    wall, stats_s, refs = 0.0, 0.0, []
    for group in groups:
        state, ctx = trainer.init_runs(prog, group)
        jax.block_until_ready((state, ctx))
        params0 = jax.device_get(state.params)
        t0 = time.perf_counter()
        state, snaps = trainer.train(prog, state, ctx, times, group.lr)
        jax.block_until_ready((state, snaps))
        wall += time.perf_counter() - t0
        steps, diverged = np.asarray(state.step), np.asarray(state.diverged)
        if np.any(diverged) or np.any(steps != w.steps):
            raise RuntimeError(f"{w.name}: {diverged.sum()} diverged; steps {np.unique(steps)}")
        # The statistics in that call: the same 2 snapshots with no step in between.
        t0 = time.perf_counter()
        jax.block_until_ready(trainer.train(prog, state, ctx, times[-1:].repeat(2), group.lr))
        stats_s += time.perf_counter() - t0
        refs.append((params0, jax.device_get(ctx.train), np.asarray(snaps["loss"])[:, -1]))
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
            sweep.finish(cfg, workdir)
        finish_s = time.perf_counter() - t0
    names, counts = np.unique(verdicts, return_counts=True)
    return {
        "wall_s": wall,
        "runs": int(len(verdicts)),
        "undetermined": int(np.sum(verdicts == "undetermined")),
        "verdicts": {str(k): int(c) for k, c in zip(names, counts, strict=True)},
        "chunks": len(done),
        "finish_s": finish_s,
        "config": {k: cfg[k] for k in ("name", "n", "num_seeds", "lr", "lam", "max_time",
                                       "time_cap", "num_snapshots", "snapshots_per_decade")},
        "includes_compile": True,
        "load_avg_before": load,
        "load_avg_after": load_avg(),
    }  # fmt: skip


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
    """Replaces the table between the markers of ``path`` (appends them if missing)."""
    path = Path(path)
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{BEGIN}\n{markdown_table(res)}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    results.write_text(path, text)


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
        _ONLY.value, _OUT.value, _MARKDOWN.value, _CONFIG.value,
        _BASELINE_NETS.value, _BASELINE_STEPS.value,
    )  # fmt: skip
    print(markdown_table(res))


if __name__ == "__main__":
    app.run(main)
