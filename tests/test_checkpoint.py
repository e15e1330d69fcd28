"""A chunk's checkpoint file (``runner/checkpoint.py``): nested trees round-trip, a file cut by a
crash or written under another config is refused with a CheckpointError, and the store cleans up
after its chunk."""

import numpy as np
import pytest

from alignment.runner import checkpoint


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


def test_store_refuses_a_checkpoint_of_other_provenance(tmp_path):
    path = checkpoint.checkpoint_path(tmp_path, 7)
    checkpoint.Store(path, {"config_hash": "aaaa"}).save({"book": {"call": 3}})
    assert int(checkpoint.Store(path, {"config_hash": "aaaa"}).load()["book"]["call"]) == 3
    with pytest.raises(checkpoint.CheckpointError, match="config_hash='aaaa', now 'bbbb'"):
        checkpoint.Store(path, {"config_hash": "bbbb"}).load()


def test_store_resumes_across_commits_that_leave_the_code_alone(tmp_path):
    """The git revision is recorded, not checked: code_hash names the code, as for chunk files
    (a commit of docs once threw away a 24-minute half-run chunk)."""
    path = checkpoint.checkpoint_path(tmp_path, 2)
    old = {"code_hash": "c0de", "git_revision": "1111"}
    checkpoint.Store(path, old).save({"book": {"call": 5}})
    newer_commit = checkpoint.Store(path, old | {"git_revision": "2222"}).load()
    assert int(newer_commit["book"]["call"]) == 5
    with pytest.raises(checkpoint.CheckpointError, match="code_hash='c0de', now 'beef'"):
        checkpoint.Store(path, old | {"code_hash": "beef"}).load()


def test_store_counts_its_saves_and_removes_its_file_and_folder(tmp_path):
    seen = []
    store = checkpoint.Store(checkpoint.checkpoint_path(tmp_path, 0), {}, seen.append)
    assert store.load() is None  # nothing saved yet
    for k in range(3):
        store.save({"book": {"call": k}})
    assert store.saves == 3 and seen == [1, 2, 3] and store.seconds > 0
    store.remove()
    assert not (tmp_path / checkpoint.CHECKPOINT_DIR).exists()


def test_keys_with_a_slash_and_object_arrays_are_refused(tmp_path):
    with pytest.raises(ValueError, match="must not contain"):
        checkpoint.save(tmp_path / "a.npz", {"a/b": np.zeros(1)})
    with pytest.raises(ValueError, match="numeric, bool and string"):
        checkpoint.save(tmp_path / "b.npz", {"a": np.array([{}], dtype=object)})
