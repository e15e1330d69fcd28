"""The one chunk loop (``runner/chunk_loop.py``) on a task defined here: every step saved, a kill
between two steps resumed at the same position with the same result, an unusable checkpoint
started over, a saved state checked against its template, and the call helpers."""

import jax.numpy as jnp
import numpy as np
import pytest

from alignment.runner import checkpoint, chunk_loop


class StopError(Exception):
    """Stands for a kill between two steps."""


class Counter:
    """A task of ``steps`` steps: the state doubles and adds the step index; the book keeps
    every value seen (a record that grows, as snapshots do)."""

    def __init__(self, steps: int, stop_at=None):
        self.steps, self.stop_at, self.calls = steps, stop_at, 0

    def fresh(self):
        return {"step": 0, "seen": {}}, jnp.ones(2)

    def template(self, book):
        return jnp.ones(2)

    def done(self, book):
        return int(book["step"]) == self.steps

    def advance(self, book, state):
        step = int(book["step"])
        if step == self.stop_at:
            raise StopError(step)
        self.calls += 1
        state = 2 * state + step
        seen = chunk_loop.joined(book["seen"], {"value": np.asarray(state)[:, None]})
        return {"step": step + 1, "seen": seen}, state

    def dataset(self, book, state):
        return np.asarray(state), book["seen"]["value"]

    def progress(self, book):
        return int(book["step"]) / self.steps, f"step {int(book['step'])}"


def store(tmp_path, meta=None):
    return checkpoint.Store(checkpoint.checkpoint_path(tmp_path, 0), meta or {"code": "a"})


def test_a_kill_between_steps_resumes_where_it_stopped(tmp_path):
    whole = chunk_loop.run(Counter(5))
    with pytest.raises(StopError):
        chunk_loop.run(Counter(5, stop_at=3), store(tmp_path))
    resumed = Counter(5)
    out = chunk_loop.run(resumed, store(tmp_path))
    assert resumed.calls == 2  # steps 3 and 4 only: the first three came from the checkpoint
    np.testing.assert_array_equal(out[0], whole[0])
    np.testing.assert_array_equal(out[1], whole[1])  # the record kept across the kill
    np.testing.assert_array_equal(whole[0], [58, 58])  # 1 -> 2 -> 5 -> 12 -> 27 -> 58


def test_every_step_is_saved(tmp_path):
    saves = []
    s = checkpoint.Store(checkpoint.checkpoint_path(tmp_path, 0), {}, saves.append)
    chunk_loop.run(Counter(4), s)
    assert saves == [1, 2, 3, 4]
    assert int(s.load()["book"]["step"]) == 4


@pytest.mark.parametrize("meta", [{"code": "b"}, None])
def test_an_unusable_checkpoint_starts_the_chunk_over(tmp_path, meta):
    with pytest.raises(StopError):
        chunk_loop.run(Counter(5, stop_at=2), store(tmp_path))
    if meta is None:  # a file cut short by a crash
        path = checkpoint.checkpoint_path(tmp_path, 0)
        path.write_bytes(path.read_bytes()[:40])
    task = Counter(5)
    chunk_loop.run(task, store(tmp_path, meta))
    assert task.calls == 5


def test_a_saved_state_must_match_its_template():
    leaves = chunk_loop.state_leaves((jnp.zeros(3), jnp.ones((2, 2))))
    back = chunk_loop.state_from(leaves, (jnp.ones(3), jnp.ones((2, 2))))
    np.testing.assert_array_equal(back[0], np.zeros(3))
    with pytest.raises(checkpoint.CheckpointError, match=r"state array 0 is float\d+\[3\]"):
        chunk_loop.state_from(leaves, (jnp.ones(4), jnp.ones((2, 2))))
    with pytest.raises(checkpoint.CheckpointError, match="2 state arrays, expected 1"):
        chunk_loop.state_from(leaves, jnp.ones(3))


def test_snapshot_calls_pad_the_last_call_with_its_final_time():
    calls = chunk_loop.snapshot_calls(np.arange(7.0), 3)
    assert [c.tolist() for c in calls] == [[0, 1, 2], [3, 4, 5], [6, 6, 6]]


def test_host_snapshots_turn_counts_into_floats():
    host = chunk_loop.host_snapshots({"step": jnp.arange(3), "loss": jnp.ones(3, jnp.float32)})
    assert host["step"].dtype == np.float64 and host["loss"].dtype == np.float32
