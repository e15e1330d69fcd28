"""This suite against the authors' way: one PyTorch network at a time, SGD on the full batch.

    pip install -e ".[torch]"    # or the CPU wheel: pip install torch==2.13.0+cpu
    python -m benchmarks.torch_baseline [--verdict_nets=5]

The reference code (eboursier/early_alignment) trains one network at a time with
``torch.optim.SGD`` on the full batch and ``nn.MSELoss``. ``MSELoss`` is the mean of
(h - y)^2, twice this suite's loss (1/2n) sum (h - y)^2, so SGD at lr = eta / 2 takes the same
steps as GD at eta here: both sides start from the same initial parameters on the same data, and
the final losses are compared (a check that the two compute the same thing). Measured in one run:

- **W1** (64 x n=512, d=10, m=100, 2000 GD steps): net-steps per second, ours / theirs.
- **time to every verdict** on the default job (threshold_quick, 80 runs): ours is the verdict
  loop (GD to t = 1e3, certificates, undecided runs continue to the cap, decided runs leave);
  theirs is fixed-step GD to the same cap (t = 2.5e4, 1e5 steps at eta = 0.25) one network at a
  time, timed on ``verdict_nets`` networks (one seed per n, spread over the grid) and scaled to 80.
  Ours runs twice in one process: cold (tracing and XLA compilation included, their seconds
  counted from JAX's compile events) and warm (the same compiled programs again; must reach
  the same verdicts), the time a second job in a session or with a warm
  ``--compilation_cache_dir`` gets, minus the cache's load.

Writes benchmarks/torch_baseline.json and the TORCH_BASELINE block of BENCHMARKS.md.
"""

from __future__ import annotations

import time

import jax
import numpy as np
from absl import app, flags, logging

from alignment.engine import train
from alignment.runner import results
from alignment.two_layer import grid, verdict_loop
from alignment.two_layer import job as threshold_job
from benchmarks import machine
from benchmarks.workloads import WORKLOADS, bench_trainer
from sweeps.configs import threshold_quick

_VERDICT_NETS = flags.DEFINE_integer(
    "verdict_nets", 5, "Networks of the default job trained by torch to the cap (scaled to all)."
)


def torch_run(w0_MxD, a_M, x_NxD, y_N, eta: float, steps: int) -> tuple[float, float]:
    """The authors' loop for one network: (wall seconds, final loss in this suite's units)."""
    import torch

    d, m = w0_MxD.shape[1], w0_MxD.shape[0]
    net = torch.nn.Sequential(
        torch.nn.Linear(d, m, bias=False), torch.nn.ReLU(), torch.nn.Linear(m, 1, bias=False)
    )
    with torch.no_grad():
        net[0].weight.copy_(torch.as_tensor(np.array(w0_MxD, np.float32)))
        net[2].weight.copy_(torch.as_tensor(np.array(a_M, np.float32))[None, :])
    x = torch.as_tensor(np.array(x_NxD, np.float32))
    y = torch.as_tensor(np.array(y_N, np.float32))[:, None]
    opt = torch.optim.SGD(net.parameters(), lr=eta / 2)  # MSELoss = 2 x this suite's loss
    loss_fn = torch.nn.MSELoss()
    t0 = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
    wall = time.perf_counter() - t0
    with torch.no_grad():
        final = float(loss_fn(net(x), y)) / 2
    return wall, final


def real_rows(train_data, r):
    """Run r's training rows (the padding rows masked out) and its n."""
    keep = np.asarray(train_data.mask_N[r]) > 0
    return np.asarray(train_data.x_NxD[r])[keep], np.asarray(train_data.y_N[r])[keep]


def bench_w1() -> dict:
    """W1 through this suite's trainer (the fastest of its lanes-per-call settings, as
    benchmarks/throughput.py reports it) and through torch, net by net."""
    w = WORKLOADS["W1"]
    tries = {k: bench_trainer(w, k) for k in w.lanes_per_call}
    best = min(tries, key=lambda k: tries[k][0]["wall_s"])
    ours, ref = tries[best]
    wall, diffs = 0.0, []
    for r in range(w.runs):
        x, y = real_rows(ref["train"], r)
        p = ref["params0"]
        t, loss = torch_run(p["w"][r], p["a"][r], x, y, w.lr, w.steps)
        wall += t
        diffs.append(abs(loss - ref["final_loss"][r]) / abs(ref["final_loss"][r]))
    theirs = w.runs * w.steps / wall
    return {
        "ours_net_steps_per_s": ours["net_steps_per_s"],
        "torch_net_steps_per_s": theirs,
        "ratio": ours["net_steps_per_s"] / theirs,
        "ours_wall_s": ours["wall_s"],
        "ours_lanes_per_call": best,
        "ours_by_lanes_per_call": {str(k): v[0]["net_steps_per_s"] for k, v in tries.items()},
        "torch_wall_s": wall,
        "final_loss_rel_diff_max": float(np.max(diffs)),
    }


def _spread_ids(runs, count: int) -> np.ndarray:
    """``count`` runs at n spread evenly over the grid (seeds 0, 1, ... in turn)."""
    ns = np.unique(runs["n"])
    picks = ns[np.round(np.linspace(0, len(ns) - 1, count)).astype(int)]
    return np.asarray(
        [np.flatnonzero(runs["n"] == n)[i % np.sum(runs["n"] == n)] for i, n in enumerate(picks)]
    )


COMPILE_EVENTS = (  # JAX's duration events of tracing, lowering and XLA compilation
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)


def verdict_pass(cfg, runs, chunks) -> tuple[float, float, list[str]]:
    """Wall seconds of the verdict loop over every chunk, the seconds JAX spent compiling
    inside it, and the verdicts."""
    spent = []

    def listen(event: str, seconds: float, **_):
        if event in COMPILE_EVENTS:
            spent.append(seconds)

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        t0 = time.perf_counter()
        verdicts = []
        for chunk in chunks:
            verdicts += list(verdict_loop.train_chunk(cfg, runs, chunk)[1])
        wall = time.perf_counter() - t0
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    return wall, float(sum(spent)), verdicts


def bench_time_to_verdict(nets: int) -> dict:
    """threshold_quick: our verdict loop (every chunk) against torch GD to the cap."""
    cfg = threshold_quick.get_config()
    runs = grid.expand(cfg)
    chunks = threshold_job.validate(cfg, runs)
    ours, compile_s, verdicts = verdict_pass(cfg, runs, chunks)  # cold: compiles included
    warm, warm_compile_s, again = verdict_pass(cfg, runs, chunks)  # the same programs again
    if list(again) != list(verdicts):
        raise RuntimeError("the warm pass reached other verdicts than the cold one")
    steps = int(round(cfg.time_cap / cfg.lr[0]))
    wall, timed = 0.0, []
    for rid in _spread_ids(runs, nets):
        chunk = next(c for c in chunks if rid in c.run_ids)
        lanes = grid.lanes_for(runs, chunk.run_ids, chunk.lanes)
        state, ctx = train.init_runs(chunk.program, lanes)
        r = int(np.flatnonzero(chunk.run_ids == rid)[0])
        params, data = jax.device_get((state.params, ctx.family.train))
        x, y = real_rows(data, r)
        t, loss = torch_run(params["w"][r], params["a"][r], x, y, cfg.lr[0], steps)
        logging.info("torch n=%d: %.1f s for %d steps, final loss %.3g", len(y), t, steps, loss)
        wall += t
        timed.append(
            {
                "n": int(runs["n"][rid]),
                "seed": int(runs["seed"][rid]),
                "wall_s": t,
                "final_loss": loss,
            }
        )
    total = len(runs["n"])
    theirs = wall * total / nets
    v, c = np.unique(verdicts, return_counts=True)
    return {
        "runs": total,
        "ours_wall_s": ours,
        "ours_compile_s": compile_s,
        "ours_warm_wall_s": warm,
        "ours_warm_compile_s": warm_compile_s,
        "ratio_warm": theirs / warm,
        "ours_verdicts": {str(a): int(b) for a, b in zip(v, c, strict=True)},
        "torch_steps_per_net": steps,
        "torch_timed_nets": nets,
        "torch_timed_wall_s": wall,
        "torch_wall_s_all_runs": theirs,
        "ratio": theirs / ours,
        "torch_runs": timed,
    }


def table(res: dict) -> str:
    w1, tv = res["W1"], res["time_to_verdict"]
    return "\n".join(
        [
            f"`python -m benchmarks.torch_baseline` on {res['machine']['cpu']}, "
            f"{res['machine']['cores']} cores, torch {res['torch']} (load {res['load_avg']}):",
            "",
            "| measure | ours | torch, one network at a time | ours / theirs |",
            "|---|---|---|---|",
            f"| W1 net-steps per second ({w1['ours_lanes_per_call']} lanes a call) | "
            f"{w1['ours_net_steps_per_s']:.0f} | "
            f"{w1['torch_net_steps_per_s']:.0f} | {w1['ratio']:.1f}x |",
            f"| threshold_quick, {tv['runs']} runs: wall time to the end (s) | "
            f"{tv['ours_wall_s']:.1f} (every verdict, cold: {tv['ours_compile_s']:.1f} s of it "
            f"compiling) | {tv['torch_wall_s_all_runs']:.0f} "
            f"(GD to the cap; {tv['torch_timed_nets']} nets timed, scaled) | {tv['ratio']:.1f}x |",
            f"| the same, programs already compiled (a second pass in the process) | "
            f"{tv['ours_warm_wall_s']:.1f} ({tv['ours_warm_compile_s']:.1f} s compiling) | "
            f"{tv['torch_wall_s_all_runs']:.0f} | {tv['ratio_warm']:.1f}x |",
            "",
            f"W1 final losses, torch against ours from the same init: largest relative difference "
            f"{w1['final_loss_rel_diff_max']:.2g}.",
        ]
    )


def main(argv):
    del argv
    import torch

    torch.manual_seed(0)
    rng = np.random.default_rng(0)  # warm-up: torch's first steps pay one-off set-up costs
    torch_run(
        rng.normal(size=(8, 3)),
        rng.normal(size=8),
        rng.normal(size=(16, 3)),
        rng.normal(size=16),
        0.1,
        200,
    )
    res = {
        "machine": machine.machine_info(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }
    res["W1"] = bench_w1()
    logging.info("W1: %s", res["W1"])
    res["time_to_verdict"] = bench_time_to_verdict(_VERDICT_NETS.value)
    res["load_avg"] = machine.load_avg()
    results.write_json("benchmarks/torch_baseline.json", res)
    machine.publish("TORCH_BASELINE", table(res))


if __name__ == "__main__":
    app.run(main)
