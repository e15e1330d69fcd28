"""Resuming the threshold job inside a chunk (in-process), through the verdict loop's task.

A kill is simulated by raising from the checkpoint hook right after the k-th save of a chunk:
the process state is then exactly what a SIGKILL after that save would leave on disk
(test_faults.py does the real SIGKILL in subprocesses). Every resumed sweep must end with
summary.csv and threshold.json byte-identical to an uninterrupted one: the checkpoint holds
everything the loop carries, and the compiled programs are deterministic.
"""

import jax
import numpy as np
import pytest
from micro import finish, micro_config

from alignment import registry as sweep
from alignment.engine import train
from alignment.runner import checkpoint, provenance, results
from alignment.two_layer import grid


class KilledError(Exception):
    """Stands for a SIGKILL right after a checkpoint save."""


def kill_at(save: int, chunk_saves: list):
    """A checkpoint hook that raises once, at the ``save``-th save of the first chunk."""

    def hook(count: int) -> None:
        chunk_saves.append(count)
        if count == save and len(chunk_saves) == save:
            raise KilledError(f"after save {save}")

    return hook


@pytest.mark.parametrize("save", [1, 3, 4, 6])  # inside round 0, its last call, after the
def test_killed_inside_a_chunk_resumes_to_identical_results(micro_reference, tmp_path, save):
    want, saves, _ = micro_reference  # first verdicts, inside the first continuation
    first_chunk = saves[: saves.index(1, 1)] if saves.count(1) > 1 else saves
    assert len(first_chunk) >= 6, "the micro chunk must make at least 6 checkpoint saves"
    cfg, seen = micro_config(), []
    with pytest.raises(KilledError):
        sweep.run(cfg, tmp_path, after_save=kill_at(save, seen))
    ckpt = checkpoint.checkpoint_path(tmp_path, 0)
    assert ckpt.exists() and not results.chunk_path(tmp_path, 0).exists()
    resumed = []
    sweep.run(cfg, tmp_path, after_save=resumed.append)
    # the resumed chunk saves only what was left of it (fewer saves than from scratch)
    assert resumed[0] == 1 and len(resumed) == len(saves) - save
    assert not ckpt.exists()  # removed once the chunk file exists
    assert finish(cfg, tmp_path) == want


def test_shorter_calls_save_more_often_and_give_the_same_bytes(micro_reference, tmp_path):
    """snapshots_per_call (a checkpoint after every call) changes how the loop is cut into
    compiled calls, not what it computes: the outputs equal the reference byte for byte."""
    want, saves, _ = micro_reference
    cfg, seen = micro_config(), []
    cfg.snapshots_per_call = 1
    sweep.run(cfg, tmp_path, after_save=seen.append)
    assert len(seen) > len(saves)
    assert finish(cfg, tmp_path) == want
    # killed with calls of 1 snapshot, resumed with calls of 4: the chunk starts over
    other, again = tmp_path / "other", micro_config()
    again.snapshots_per_call = 1
    with pytest.raises(KilledError):
        sweep.run(again, other, after_save=kill_at(2, []))
    again.snapshots_per_call = 0
    sweep.run(again, other)
    assert finish(again, other) == want
    with pytest.raises(ValueError, match="snapshots_per_call=-1"):
        cfg.snapshots_per_call = -1
        sweep.check_config(cfg)


def test_unusable_checkpoint_starts_the_chunk_over(micro_reference, tmp_path):
    want, _, _ = micro_reference
    cfg = micro_config()
    with pytest.raises(KilledError):
        sweep.run(cfg, tmp_path, after_save=kill_at(3, []))
    ckpt = checkpoint.checkpoint_path(tmp_path, 0)
    ckpt.write_bytes(b"garbage, not an npz file")
    sweep.run(cfg, tmp_path)
    assert finish(cfg, tmp_path) == want
    # a checkpoint written by other code is not used either
    stamp = provenance.stamp(sweep.config_json(cfg), sweep.job_for(cfg).neutral)
    checkpoint.Store(ckpt, stamp | {"code_hash": "another"}).save({"loop": {"round": 0}})
    with pytest.raises(checkpoint.CheckpointError, match="code_hash='another'"):
        checkpoint.Store(ckpt, stamp).load()


def test_lane_going_nan_mid_chunk_is_diverged_and_spares_its_neighbour(micro_reference, tmp_path):
    """Lane 1 of chunk 0 gets non-finite parameters after the first call (a fault injected
    into the checkpoint): it is flagged diverged; lane 0, in the same vmapped program, ends
    exactly as in the uninterrupted run."""
    cfg = micro_config()
    with pytest.raises(KilledError):
        sweep.run(cfg, tmp_path, after_save=kill_at(1, []))
    path = checkpoint.checkpoint_path(tmp_path, 0)
    tree = checkpoint.load(path)
    runs = grid.expand(cfg)
    chunk = grid.plan(cfg, runs)[0]
    state, _ = train.init_runs(chunk.program, grid.lanes_for(runs, chunk.run_ids, chunk.lanes))
    num_params = len(jax.tree_util.tree_leaves(state.params))  # the first leaves of TrainState
    for i in range(num_params):
        tree["state"][f"{i:04d}"][1] = np.nan
    checkpoint.save(path, tree)
    sweep.run(cfg, tmp_path)
    finish(cfg, tmp_path)
    got = results.read_csv(tmp_path / "summary.csv").set_index("run")
    ref = results.read_csv(micro_reference[2] / "summary.csv").set_index("run")
    bad, good = chunk.run_ids[1], chunk.run_ids[0]
    assert got.loc[bad, "verdict"] == "diverged" and bool(got.loc[bad, "diverged"])
    assert ref.loc[bad, "verdict"] != "diverged"
    others = [r for r in ref.index if r != bad]
    assert good in others
    np.testing.assert_array_equal(got.loc[others].to_numpy(str), ref.loc[others].to_numpy(str))
