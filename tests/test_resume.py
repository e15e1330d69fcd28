"""Resuming inside a chunk, provenance of chunks, and the workdir's checks (in-process).

A kill is simulated by raising from the checkpoint hook right after the k-th save of a chunk:
the process state is then exactly what a SIGKILL after that save would leave on disk
(test_faults.py does the real SIGKILL in subprocesses). Every resumed sweep must end with
summary.csv and threshold.json byte-identical to an uninterrupted one: the checkpoint holds
everything the loop carries, and the compiled programs are deterministic.
"""

import jax
import numpy as np
import pytest
from micro import micro_config

from alignment import registry as sweep
from alignment.engine import train
from alignment.runner import checkpoint, provenance, results, workdir
from alignment.two_layer import grid
from alignment.two_layer import report as report_mod

COMPARED = ("summary.csv", "threshold.json")


class KilledError(Exception):
    """Stands for a SIGKILL right after a checkpoint save."""


def kill_at(save: int, chunk_saves: list):
    """A checkpoint hook that raises once, at the ``save``-th save of the first chunk."""

    def hook(count: int) -> None:
        chunk_saves.append(count)
        if count == save and len(chunk_saves) == save:
            raise KilledError(f"after save {save}")

    return hook


def finish(cfg, path):
    report_mod.finish(cfg, path)
    return {name: (path / name).read_bytes() for name in COMPARED}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    path = tmp_path_factory.mktemp("uninterrupted")
    cfg = micro_config()
    saves = []
    sweep.run(cfg, path, after_save=saves.append)
    return finish(cfg, path), saves, path


def test_checkpoint_tree_round_trip(tmp_path):
    tree = {
        "loop": {"round": 2, "verdict": np.array(["stuck", "saddle"])},
        "snaps": {"loss": np.arange(6.0).reshape(2, 3)},
        "state": {"0000": np.int64(3)},
    }
    checkpoint.save(tmp_path / "c.npz", tree)
    back = checkpoint.load(tmp_path / "c.npz")
    assert back["loop"]["round"] == 2 and list(back["loop"]["verdict"]) == ["stuck", "saddle"]
    np.testing.assert_array_equal(back["snaps"]["loss"], tree["snaps"]["loss"])
    data = (tmp_path / "c.npz").read_bytes()
    (tmp_path / "c.npz").write_bytes(data[: len(data) // 2])  # truncated by a crash
    with pytest.raises(checkpoint.CheckpointError, match="unreadable"):
        checkpoint.load(tmp_path / "c.npz")


@pytest.mark.parametrize("save", [1, 3, 4, 6])  # inside round 0, its last call, after the
def test_killed_inside_a_chunk_resumes_to_identical_results(reference, tmp_path, save):
    want, saves, _ = reference  # first verdicts, inside the first continuation
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


def test_shorter_calls_save_more_often_and_give_the_same_bytes(reference, tmp_path):
    """snapshots_per_call (a checkpoint after every call) changes how the loop is cut into
    compiled calls, not what it computes: the outputs equal the reference byte for byte."""
    want, saves, _ = reference
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


def test_unusable_checkpoint_starts_the_chunk_over(reference, tmp_path):
    want, _, _ = reference
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


def test_lane_going_nan_mid_chunk_is_diverged_and_spares_its_neighbour(reference, tmp_path):
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
    ref = results.read_csv(reference[2] / "summary.csv").set_index("run")
    bad, good = chunk.run_ids[1], chunk.run_ids[0]
    assert got.loc[bad, "verdict"] == "diverged" and bool(got.loc[bad, "diverged"])
    assert ref.loc[bad, "verdict"] != "diverged"
    others = [r for r in ref.index if r != bad]
    assert good in others
    np.testing.assert_array_equal(got.loc[others].to_numpy(str), ref.loc[others].to_numpy(str))


def test_changed_config_is_refused_naming_the_field_and_restart_starts_over(tmp_path):
    cfg = micro_config()
    workdir.check_config(tmp_path, sweep.config_json(cfg), sweep.job_for(cfg).neutral)
    cfg.lr = (0.1,)
    with pytest.raises(
        ValueError, match=r"first differing field: lr \(\[0.2\] there, \[0.1\] now\)"
    ):
        sweep.prepare(cfg, tmp_path)
    results.write_text(results.chunk_path(tmp_path, 0), "old")
    sweep.prepare(cfg, tmp_path, restart=True)  # deletes the old results, takes the new config
    assert not results.chunk_path(tmp_path, 0).exists()
    cfg.make_figures = True  # a field that changes no result may differ
    sweep.prepare(cfg, tmp_path)


def test_chunks_of_other_code_are_recomputed_unless_kept(reference, tmp_path):
    want, _, _ = reference
    cfg = micro_config()
    sweep.run(cfg, tmp_path)
    path = results.chunk_path(tmp_path, 1)
    ds = results.load_chunk(tmp_path, 1)
    ds.attrs["code_hash"] = "0123456789abcdef"
    results.write_netcdf(path, ds)
    neutral = sweep.job_for(cfg).neutral
    assert workdir.usable_chunks(tmp_path, sweep.config_json(cfg), True, neutral) == {
        0,
        1,
        2,
    }
    trained = []
    sweep.run(cfg, tmp_path, after_chunk=lambda c: trained.append(c.index))
    assert trained == [1]
    assert results.load_chunk(tmp_path, 1).attrs["code_hash"] == provenance.code_hash()
    assert finish(cfg, tmp_path) == want


def test_corrupted_chunk_is_set_aside_and_recomputed(reference, tmp_path):
    want, _, _ = reference
    cfg = micro_config()
    sweep.run(cfg, tmp_path)
    path = results.chunk_path(tmp_path, 2)
    path.write_bytes(path.read_bytes()[:200])  # truncated
    with pytest.raises(ValueError, match="chunk_00002.nc is unreadable"):
        workdir.check_merge(tmp_path, 3)
    trained = []
    sweep.run(cfg, tmp_path, after_chunk=lambda c: trained.append(c.index))
    assert trained == [2] and path.with_name(path.name + ".corrupt").exists()
    assert finish(cfg, tmp_path) == want


def test_chunk_of_another_config_is_refused(tmp_path):
    cfg = micro_config()
    sweep.run(cfg, tmp_path)
    ds = results.load_chunk(tmp_path, 0)
    ds.attrs["config_hash"] = "feedfeedfeedfeed"
    results.write_netcdf(results.chunk_path(tmp_path, 0), ds)
    with pytest.raises(ValueError, match="written under another config"):
        sweep.prepare(cfg, tmp_path)


def test_workdir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        workdir.check_usable(tmp_path / "f")
    with pytest.raises(ValueError, match="cannot be written"):
        workdir.check_usable(tmp_path / "f" / "sub")
