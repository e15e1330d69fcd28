"""Smoke test of the throughput harness at tiny sizes (no timing assertions), and the ReLU
gradient the trainer's hot loop writes out by hand."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from alignment.two_layer import data, model
from alignment.two_layer import family as two_layer
from alignment.two_layer import job as threshold_job
from alignment.two_layer.data import DataSpec
from alignment.two_layer.family import TwoLayer
from benchmarks import throughput as tp
from benchmarks import workloads

TINY = workloads.Workload("W1", runs=3, n=16, d=3, m=8, steps=5, lanes_per_call=(0, 1))


@pytest.mark.parametrize("bias", [False, True])
def test_handwritten_relu_gradient_equals_autodiff(bias):
    key = jax.random.key(3)
    train, _, _ = data.make_data(key, DataSpec("linear", d=4), 13, 20, 0.3, 4, jnp.float64)
    params = model.init_params(key, 4, 7, 1.0, "unbalanced", bias=bias, dtype=jnp.float64)
    family = TwoLayer(data=DataSpec("linear", d=4), m=7, n_pad=20, bias=bias)
    ctx = two_layer.Context(train, None, None, None, None, None, None)
    loss, grads = family.loss_and_grad(params, ctx)
    want_loss, want = jax.value_and_grad(model.loss)(
        params, train.x_NxD, train.y_N, train.mask_N, train.n
    )
    np.testing.assert_allclose(loss, want_loss, rtol=1e-13)
    for k in want:
        np.testing.assert_allclose(grads[k], want[k], rtol=1e-12, atol=1e-15)


def test_trainer_and_baseline_agree_and_report_every_field():
    out, ref = workloads.bench_trainer(TINY)
    assert {"wall_s", "net_steps_per_s", "gflops", "stats_s"} <= set(out)
    base = workloads.bench_baseline(TINY, ref)
    assert not base["extrapolated"]
    assert base["check_final_loss_rel_diff"] < 1e-4  # same data, init and steps in float32
    part = workloads.bench_baseline(TINY, ref, nets=1, steps=2)
    assert part["extrapolated"] and part["timed_nets"] == 1
    grouped, ref1 = workloads.bench_trainer(dataclasses.replace(TINY, runs=4), lanes_per_call=2)
    assert grouped["calls"] == 2 and ref1["final_loss"].shape == (4,)
    np.testing.assert_allclose(ref1["final_loss"][:3], ref["final_loss"], rtol=1e-5)


def test_results_json_shape_and_markdown_table(tmp_path, monkeypatch):
    monkeypatch.setattr(tp, "WORKLOADS", {"W1": TINY, "W2": TINY})
    monkeypatch.setattr(tp, "bench_peak", lambda: {"peak_gflops": 1.0, "peak_by_size": {}})
    md = tmp_path / "B.md"
    md.write_text("# Benchmarks\n\nhand-written text\n")
    tp.run(["W1"], tmp_path / "r.json", md, tp.SWEEP_CONFIG)
    res = tp.run(["W2"], tmp_path / "r.json", md, tp.SWEEP_CONFIG)  # merges, keeps W1
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved.keys() >= {"peak_gflops", "W1", "W2", "machine"}
    for name in ("W1", "W2"):
        want = {"wall_s", "net_steps_per_s", "gflops", "frac_peak", "speedup_vs_baseline"}
        assert want <= saved[name].keys()
    text = md.read_text()
    assert "hand-written text" in text and text.count(tp.BEGIN) == 1
    assert "W2: 3 x (n=16, d=3, m=8)" in tp.markdown_table(res)
    with pytest.raises(ValueError, match="unknown workloads"):
        tp.run(["W9"], tmp_path / "r.json", md, tp.SWEEP_CONFIG)


def test_checkpoint_benchmark_times_every_save_and_cleans_up(tmp_path):
    from micro import micro_config

    from alignment import registry as sweep
    from alignment.two_layer import grid
    from benchmarks import checkpoint as ckpt_bench

    cfg = micro_config()
    chunks = sweep.check_config(cfg)[:1]
    res = ckpt_bench.one_pass(cfg, grid.expand(cfg), chunks, tmp_path, True)
    assert res["saves"] >= 6 and 0 < res["save_s"] < res["wall_s"]
    assert not list(tmp_path.rglob("*.npz"))  # every checkpoint removed after its chunk
    assert ckpt_bench.workload_config("long").n == (316,)


def test_flop_count_matches_the_matmuls_of_a_relu_step():
    """XLA's count for one lane's loss and gradient: the two n x d x m matmuls (2 n d m FLOPs
    each) plus elementwise work that is O(n m + m d); nothing of order n d m is missed or
    doubled, so the count sits within [4 n d m, 4 n d m + 30 (n m + m d)]."""
    from alignment.two_layer import grid
    from benchmarks import flop_budget
    from sweeps.configs import tiny

    cfg = tiny.get_config()
    runs = grid.expand(cfg)
    chunk = threshold_job.validate(cfg, runs)[0]
    fam = chunk.program.family
    n, d, m = fam.n_pad, fam.data.d, fam.m
    lanes = grid.lanes_for(runs, chunk.run_ids, chunk.lanes)
    flops = flop_budget.flops_per_net_step(chunk.program, lanes)
    assert 4 * n * d * m <= flops <= 4 * n * d * m + 30 * (n * m + m * d)


def test_torch_baseline_takes_this_suites_steps():
    """The authors' loop (SGD at eta / 2 on MSELoss) from the same init on the same data ends
    at the trainer's loss: float32 on both sides, 5 steps, so rounding stays near 1e-6."""
    pytest.importorskip("torch")
    from benchmarks import torch_baseline

    out, ref = workloads.bench_trainer(TINY)
    for r in range(TINY.runs):
        x, y = torch_baseline.real_rows(ref["train"], r)
        p = ref["params0"]
        _, loss = torch_baseline.torch_run(p["w"][r], p["a"][r], x, y, TINY.lr, TINY.steps)
        np.testing.assert_allclose(loss, ref["final_loss"][r], rtol=1e-5)


def test_verdict_pass_counts_its_compiles_and_repeats_its_verdicts():
    """The time-to-verdict harness: a first pass over programs no other test compiles (m = 7)
    spends part of its wall time compiling; a second pass compiles nothing and reaches the same
    verdicts (the warm row of the benchmark)."""
    from micro import micro_config

    from alignment.two_layer import grid
    from alignment.two_layer.verdict import verdicts
    from benchmarks import torch_baseline

    cfg = micro_config()
    cfg.m = (7,)
    runs = grid.expand(cfg)
    chunks = threshold_job.validate(cfg, runs)[:1]
    cold_s, cold_compile_s, cold = torch_baseline.verdict_pass(cfg, runs, chunks)
    warm_s, warm_compile_s, warm = torch_baseline.verdict_pass(cfg, runs, chunks)
    assert 0 < cold_compile_s < cold_s
    # the same programs again: at most the odd tiny host-side op compiles (none seen so far)
    assert warm_compile_s <= 0.05 * cold_compile_s and warm_s > 0
    assert list(warm) == list(cold) and set(cold) <= set(verdicts.VERDICTS)


def test_flop_budget_of_one_config_prints_and_overwrites_nothing():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    published = [root / "BENCHMARKS.md", root / "benchmarks" / "flop_budget.json"]
    before = [p.read_bytes() for p in published]
    got = subprocess.run(
        [sys.executable, "-m", "benchmarks.flop_budget", "--configs=tiny"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert got.returncode == 0, got.stderr[-2000:]
    assert "| tiny | 12 | 1 |" in got.stdout
    assert [p.read_bytes() for p in published] == before  # the published table is untouched


def test_interp_forecast_reads_each_window_and_the_true_time():
    """Run 0: L = 1e-3 (t / 1e3)^-4 over the last quarter decade, flatter before (1.1e-2 at
    t = 100), interpolated at t = 4e3: the recent window forecasts 10^3.5 (a factor 100 to the
    tolerance 1e-5 at p = 4), the decade's p = log 11 / log 10 far later. Run 1 is below its
    tolerance at t = 1e3: not open there, no row."""
    import xarray as xr

    from alignment.two_layer.verdict import forecast
    from alignment.two_layer.verdict import verdicts as vd
    from benchmarks import interp_forecast

    t_recent = 1e3 / 10**forecast.FORECAST_DECADES
    times = np.array([[0.0, 100.0, t_recent, 1e3, 4e3]] * 2)
    loss = np.array([[1.0, 1.1e-2, 1e-2, 1e-3, 9e-6], [1.0, 1e-3, 1e-4, 1e-6, 1e-7]])
    ds = xr.Dataset(
        {
            "time": (("run", "snapshot"), times),
            "loss": (("run", "snapshot"), loss),
            "verdict": ("run", ["interpolating"] * 2),
            "n": ("run", [8, 8]),
            "seed": ("run", [0, 1]),
            **{k: ("run", [np.nan] * 2) for k in ("region_min", "kink_max", "polish_kappa")},
        }
    )
    (row,) = interp_forecast.forecasts(ds, 1e3, vd.DEFAULT_TOLERANCES)
    assert (row["n"], row["seed"], row["true"], row["settle"]) == (8, 0, 4e3, None)
    np.testing.assert_allclose(row["recent"], 10**3.5, rtol=1e-9)  # closed form, float64
    want_decade = 1e3 * 100 ** (np.log(10) / np.log(11))  # p = log(1.1e-2 / 1e-3) / log 10
    np.testing.assert_allclose(row["decade"], want_decade, rtol=1e-9)


def test_config_result_lists_the_open_runs_of_a_summary():
    """Of four runs, the undetermined and the saddle are listed with their numbers; the
    interpolating and the stuck run are not."""
    import pandas as pd

    from benchmarks import config_result

    summary = pd.DataFrame(
        {
            "n": [8, 8, 16, 16],
            "seed": [0, 1, 0, 1],
            "verdict": ["interpolating", "undetermined", "stuck", "saddle"],
            "decided_by": ["tolerance", "moving", "certified", "escape"],
            "train_loss": [1e-9, 2e-3, 0.1, 0.2],
            "interp_time": [np.nan, 4e5, np.nan, np.nan],
        }
    )
    head, *runs = config_result.open_runs(summary)
    assert head == "2 of 4 runs without a verdict"
    assert runs[0] == "  n = 8, seed 1: undetermined/moving; train_loss 0.002, interp_time 4e+05"
    assert runs[1].startswith("  n = 16, seed 1: saddle/escape; train_loss 0.2")
    assert len(runs) == 2


def test_config_result_describes_a_finished_workdir(micro_reference):
    """The micro job's workdir: per-n counts as in its summary.csv, its three chunks by n."""
    import pandas as pd

    from benchmarks import config_result

    _, _, path = micro_reference
    lines = config_result.describe_workdir(path)
    summary = pd.read_csv(path / "summary.csv")
    open_count = int(summary["verdict"].isin(["undetermined", "saddle"]).sum())
    assert f"{open_count} of {len(summary)} runs without a verdict" in lines
    for n, group in summary.groupby("n"):
        counts = (group["verdict"] + "/" + group["decided_by"]).value_counts()
        (row,) = [line for line in lines if line.startswith(f"  n: {n},")]
        assert all(f"{k}: {v}" in row for k, v in counts.items()), row
    chunks = [line for line in lines if line.startswith("  chunk ")]
    assert [line.split(":")[0] for line in chunks] == [
        "  chunk 0 (n = 4)",
        "  chunk 1 (n = 8)",
        "  chunk 2 (n = 16)",
    ]


def test_steps_of_an_older_record_count_every_lane_at_the_longest_step():
    """Two lanes at lr = 0.5 over two segments: lane 0 takes 4 then 2 steps, lane 1 (frozen
    after the first segment) 2 then 0; the loops executed 2 x (4 + 2) steps, the runs 8."""
    import xarray as xr

    from benchmarks import before_after_job

    time = np.array([[0.0, 2.0, 3.0], [0.0, 1.0, 1.0]])
    ds = xr.Dataset({"time": (("run", "snapshot"), time)})
    assert before_after_job.steps_from_record(ds, 0.5) == {"computed": 12, "useful": 8}


def test_verdict_check_writes_every_chunk_and_publishes_in_its_folder(tmp_path):
    """``benchmarks.verdicts`` on two n of the tiny config, run in a fresh folder (its json and
    BENCHMARKS.md land there): every run has a verdict counted once, every stuck run is
    continued (no --judged_by), and the json says both chunks are done."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    (tmp_path / "benchmarks").mkdir()
    env = dict(os.environ, PYTHONPATH=str(root))
    cmd = [sys.executable, "-m", "benchmarks.verdicts", "--config=tiny", "--factor=2", "--n=4,16"]
    got = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert got.returncode == 0, got.stderr[-2000:]
    res = json.loads((tmp_path / "benchmarks" / "verdicts_tiny_n4-16.json").read_text())
    assert sum(res["verdicts"].values()) == 8  # 2 n x 4 seeds
    assert sum(res["decided_by"].values()) == 8
    assert res["stuck_continued"] == res["verdicts"].get("stuck", 0) == len(res["stuck_runs"])
    assert res["chunks_done"] == res["chunks_total"] == len(res["chunks"])
    block = (tmp_path / "BENCHMARKS.md").read_text()
    assert "<!-- BEGIN VERDICTS tiny_n4-16 -->" in block
    assert f"| chunks checked | {res['chunks_done']} of {res['chunks_done']} |" in block


def test_config_result_reads_the_finished_chunks_of_an_unfinished_job(micro_reference, tmp_path):
    """The micro workdir without its merged outputs (a job still running): the per-n verdicts
    from its chunk files alone, the same as its summary.csv's, and no n*."""
    import shutil

    import pandas as pd

    from benchmarks import config_result

    _, _, path = micro_reference
    partial = tmp_path / "partial"
    shutil.copytree(path, partial)
    for name in ("summary.csv", "threshold.json", "trajectories.nc"):
        (partial / name).unlink(missing_ok=True)
    lines = config_result.describe_workdir(partial)
    assert lines[0] == "partial: 3 of 3 chunks finished, no n*"
    assert not any("n* =" in line for line in lines)
    summary = pd.read_csv(path / "summary.csv")
    for n, group in summary.groupby("n"):
        counts = (group["verdict"] + "/" + group["decided_by"]).value_counts()
        (row,) = [line for line in lines if line.startswith(f"  n: {n},")]
        assert all(f"{k}: {v}" in row for k, v in counts.items()), row


def stored_check(workdir, tmp_path, *flags) -> dict:
    """``benchmarks.verdicts --workdir=workdir --factor=2 *flags`` run in ``tmp_path``: its json."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    (tmp_path / "benchmarks").mkdir(exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(root))
    cmd = [sys.executable, "-m", "benchmarks.verdicts", f"--workdir={workdir}", "--factor=2"]
    got = subprocess.run(
        [*cmd, *flags], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert got.returncode == 0, got.stderr[-2000:]
    (out,) = (tmp_path / "benchmarks").glob("verdicts_*.json")
    assert not list(out.parent.glob("*.calls"))  # each chunk's call checkpoints, once done
    res = json.loads(out.read_text())
    out.unlink()
    return res


def test_verdict_check_of_a_workdir_continues_its_stored_stuck_runs(micro_reference, tmp_path):
    """``benchmarks.verdicts --workdir`` on the micro job: nothing trained, every chunk read,
    the verdicts its summary.csv has, and every stuck run continued from its stored end."""
    import pandas as pd

    _, _, path = micro_reference
    res = stored_check(path, tmp_path)
    summary = pd.read_csv(path / "summary.csv")
    assert res["verdicts"] == summary["verdict"].value_counts().to_dict()
    assert res["chunks_done"] == res["chunks_total"] == 3
    assert res["wall_s"] == 0  # trained nothing
    stuck = summary[summary["verdict"] == "stuck"]
    assert res["stuck_continued"] == len(stuck) == len(res["stuck_runs"])
    got_runs = {(r["n"], r["seed"]): r["t_verdict"] for r in res["stuck_runs"]}
    assert got_runs == {(r.n, r.seed): r.final_time for r in stuck.itertuples()}
    # a certified stuck run of gradient flow loses nothing when continued (GD at lr 0.2 on
    # these float64 runs: the bound, 1% of its loss)
    assert res["stuck_over_1pct"] == 0


def test_gd_continuation_at_half_the_cap_takes_twice_the_steps(micro_reference, tmp_path):
    """--continue_with=gd --gd_cap=0.5 against the job's own faithful GD (the default check;
    the micro job's cap is 1): every step halved, so each stuck run takes twice the steps to
    the same time (+-1 a snapshot: the last step of each lands on it) and loses as little."""
    _, _, path = micro_reference
    same = stored_check(path, tmp_path)
    half = stored_check(path, tmp_path, "--continue_with=gd", "--gd_cap=0.5")
    assert half["gd_cap"] == 0.5 and same["stuck_continued"] == half["stuck_continued"] > 0
    for a, b in zip(same["stuck_runs"], half["stuck_runs"], strict=True):
        assert (a["n"], a["seed"]) == (b["n"], b["seed"])
        slack = 41 / a["continue_steps"]  # one step a snapshot (verdicts.SNAPSHOTS)
        assert abs(b["continue_steps"] / a["continue_steps"] - 2) <= 2 * slack, (a, b)
    assert half["stuck_over_1pct"] == 0


def test_gd_at_two_caps_extrapolates_to_the_flow():
    """Constructed drops, first order in the cap: d(c) = d_flow + K c. Richardson's
    2 d(c/2) - d(c) gives d_flow back exactly; the table's columns say so per verdict time."""
    from benchmarks import gd_to_flow

    d_flow = {(8, 0): (1e3, 1e-4), (8, 1): (1e3, 2e-5), (16, 0): (1e4, 3e-3)}
    slope = {(8, 0): 0.02, (8, 1): -0.01, (16, 0): 0.05}
    at = {c: {k: (t, d + slope[k] * c) for k, (t, d) in d_flow.items()} for c in (1.0, 0.5)}
    flow = {k: v for k, v in d_flow.items() if v[0] == 1e3}  # the flow ran at t_v = 1e3 only
    rows = gd_to_flow.rows(at[1.0], at[0.5], flow)
    assert [(r["t_verdict"], r["runs"]) for r in rows] == [(1e3, 2), (1e4, 1)]
    np.testing.assert_allclose(rows[0]["extrapolated_vs_flow_max"], 0.0, atol=1e-15)
    np.testing.assert_allclose(rows[0]["fine_vs_flow_max"], 0.01)  # K c / 2 of run (8, 0)
    np.testing.assert_allclose(rows[0]["coarse_vs_flow_max"], 0.02)  # K c
    np.testing.assert_allclose(rows[1]["extrapolated_max"], 3e-3)
    np.testing.assert_allclose(rows[1]["step_effect_max"], 0.025)
    assert rows[1]["over_1pct"] == 0 and "vs_flow_runs" not in rows[1]
    assert "| 1000 | 2 |" in gd_to_flow.table(rows, ("a", "b", "c"))


def test_a_resumed_verdict_check_keeps_the_chunks_it_did_and_refuses_other_settings(tmp_path):
    """--resume: the parts an earlier check of the same settings wrote (NaN drops stored as
    null) give the same numbers back, and only the chunks they lack remain (on another machine,
    with more chunks finished); a json of other settings, or of a check before parts were
    kept, is refused naming the difference."""
    from types import SimpleNamespace

    from alignment.runner import results
    from benchmarks import verdicts_table as vt

    out = {"config": "tiny", "factor": 10.0, "continue_with": "gd", "gd_cap": 0.5, "n": None}
    row = {"n": 4, "seed": 1, "t_verdict": 1e3, "loss_drop": 2e-4, "loss_rise": 0.0}
    part = {
        "chunk": {"index": 1, "wall_s": 0.0},
        "continue_s": 3.0,
        "on_its_way": 0,
        "on_its_way_reached": 0,
        "stuck_runs": [row],
        "verdicts": ["interpolating", "stuck"],
        "decided_by": ["tolerance", "certificate"],
        "drops": [np.nan, 2e-4],
        "rises": [np.nan, 0.0],
    }
    path = tmp_path / "verdicts_tiny.json"
    results.write_json(path, vt.summarize(out, [part]) | {"parts": [part]})
    back = vt.resumed_parts(path, out | {"machine": {"cpu": "another"}, "chunks_total": 9})
    again = vt.summarize(out, back)
    assert again["stuck_continued"] == 1 and again["stuck_max_loss_drop"] == 2e-4
    assert again["verdicts"] == {"interpolating": 1, "stuck": 1}
    todo = [(SimpleNamespace(index=i), None) for i in range(3)]
    assert [c.index for c, _ in vt.remaining(todo, back)] == [0, 2]
    with pytest.raises(ValueError, match="gd_cap=0.5, now 1.0"):
        vt.resumed_parts(path, out | {"gd_cap": 1.0})
    results.write_json(path, vt.summarize(out, [part]))
    with pytest.raises(ValueError, match="holds no parts"):
        vt.resumed_parts(path, out)
    assert vt.resumed_parts(tmp_path / "none.json", out) == []
    # the continuations' checkpoints: kept for the same settings, refused for others (even
    # before the json exists), removed when the check starts over
    from benchmarks import continuation

    folder = tmp_path / "verdicts_tiny.calls"
    continuation.open_calls(folder, out, resume=False)
    (folder / "chunk00001_t1000.0.npz").write_bytes(b"a call")
    continuation.open_calls(folder, out | {"machine": {"cpu": "another"}}, resume=True)
    assert (folder / "chunk00001_t1000.0.npz").exists()
    with pytest.raises(ValueError, match="factor=10.0, now 2.0"):
        continuation.open_calls(folder, out | {"factor": 2.0}, resume=True)
    continuation.open_calls(folder, out, resume=False)
    assert [p.name for p in folder.iterdir()] == ["settings.json"]
    continuation.drop_calls(folder)
    assert not folder.exists()


def test_a_continuation_killed_after_a_call_goes_on_from_its_checkpoint(
    micro_reference, tmp_path, monkeypatch
):
    """``continuation.continue_lanes`` steps in calls of SNAPSHOTS_PER_CALL snapshots with a
    checkpoint after each. Killed after its third call and run again, it ends with the loss at
    every snapshot and the steps of one uninterrupted call through all of them, to the last bit
    (float64, plain GD: every call lands on the same snapshot times, and the state goes through
    the file exactly). A checkpoint of other runs is refused."""
    from micro import micro_config

    from alignment import registry
    from alignment.engine import train
    from alignment.runner import results
    from alignment.two_layer import grid
    from benchmarks import continuation, stored

    _, _, path = micro_reference
    cfg = micro_config()
    chunk = registry.check_config(cfg)[0]  # n = 4: both runs stuck at t = 500

    def ended():
        return stored.ended_state(grid.expand(cfg), chunk, results.load_chunk(path, chunk.index))

    times = np.geomspace(500.0, 5000.0, continuation.SNAPSHOTS)
    state, ctx = ended()
    step0 = np.asarray(state.step)
    ran = train.train
    _, snaps = ran(chunk.program, state, ctx, times)
    ids = np.arange(len(step0))

    class KilledError(Exception):
        pass

    calls = continuation.Calls(tmp_path, chunk.index, 500.0, ids)
    save = calls.save

    def save_then_die(done, *args):
        save(done, *args)
        if done == 3:
            raise KilledError

    calls.save = save_then_die
    with pytest.raises(KilledError):
        continuation.continue_lanes(chunk.program, *ended(), times, calls)
    calls, made = continuation.Calls(tmp_path, chunk.index, 500.0, ids), []
    monkeypatch.setattr(train, "train", lambda *a: made.append(a[-1]) or ran(*a))
    loss, steps = continuation.continue_lanes(chunk.program, *ended(), times, calls)
    assert len(made) == -(-len(times) // continuation.SNAPSHOTS_PER_CALL) - 3  # from call 4
    np.testing.assert_array_equal(loss, np.asarray(snaps["loss"]))
    np.testing.assert_array_equal(steps, np.asarray(snaps["step"])[:, -1] - step0)
    assert steps.min() > 0  # it stepped: the comparison is not of two standing states
    with pytest.raises(ValueError, match="other runs"):
        continuation.Calls(tmp_path, chunk.index, 500.0, ids[::-1]).load(ended()[0])
    continuation.drop_calls(tmp_path, chunk.index)
    assert not list(tmp_path.glob("*.npz"))


def test_a_continuation_steps_on_the_runs_own_samples_only(micro_reference):
    """``continuation.fitted`` cuts the training set to the runs' n rounded up to 8 (micro's
    n = 4 chunk shares n_pad = 16): the same continuation as in the padded program, since the
    cut rows are masked. Not to the bit: the sums are shorter, so they round differently; over
    these ~1e3 float64 GD steps on a stuck run (a contraction) the losses agree to 1e-12."""
    from micro import micro_config

    from alignment import registry
    from alignment.engine import train
    from alignment.runner import results
    from alignment.two_layer import grid
    from benchmarks import continuation, stored

    _, _, path = micro_reference
    cfg = micro_config()
    chunk = registry.check_config(cfg)[0]  # n = 4: both runs stuck at t = 500
    ds = results.load_chunk(path, chunk.index)
    state, ctx = stored.ended_state(grid.expand(cfg), chunk, ds)
    prog, cut = continuation.fitted(chunk.program, ctx)
    assert (chunk.program.family.n_pad, prog.family.n_pad) == (16, 8)
    assert cut.family.train.x_NxD.shape[1] == 8
    times = np.geomspace(500.0, 1000.0, 5)
    _, padded = train.train(chunk.program, state, ctx, times)
    state, _ = stored.ended_state(grid.expand(cfg), chunk, ds)
    _, ours = train.train(prog, state, cut, times)
    assert np.asarray(ours["step"])[:, -1].min() > np.asarray(padded["step"])[:, 0].max()
    np.testing.assert_allclose(ours["loss"], padded["loss"], rtol=1e-12)
    np.testing.assert_array_equal(ours["step"], padded["step"])
