"""The verdict loop's re-batching of undecided runs (pure host logic, no training)."""

import numpy as np

from alignment.engine import integrate, train
from alignment.two_layer import grid, records
from alignment.two_layer.data import DataSpec
from alignment.two_layer.family import TwoLayer

PROG = train.Program(TwoLayer(data=DataSpec("linear", d=2), m=4, n_pad=8), integrate.GD())


def test_call_layout_packs_live_lanes_at_the_front_of_each_devices_share(monkeypatch):
    monkeypatch.setenv("ALIGNMENT_SHARD", "0")  # one device
    ids, live = grid.call_layout(np.array([7, 3, 5]), full=10)
    assert len(ids) == 10 and list(ids[:3]) == [7, 3, 5] and list(live) == [1] * 3 + [0] * 7
    assert np.all(ids[3:] == 5)  # idle lanes: copies of a live lane (valid values, no step)
    monkeypatch.delenv("ALIGNMENT_SHARD")  # conftest: 4 emulated devices, sharding on
    ids, live = grid.call_layout(np.arange(6), full=10)  # 12 lanes: 3 a device
    assert len(ids) == 12
    np.testing.assert_array_equal(live.reshape(4, 3), [[1, 1, 0], [1, 1, 0], [1, 0, 0], [1, 0, 0]])
    assert sorted(ids[live]) == list(range(6))  # every live run once, spread over the devices


def test_batches_group_by_step_size_slowest_lanes_together(monkeypatch):
    monkeypatch.setenv("ALIGNMENT_SHARD", "0")
    lanes = train.Lanes.make(seed=range(10), n=8, lam=1e-3, sigma=0.1, lr=[0.1, 0.2] * 5)
    live = np.array([0, 1, 2, 3, 4, 6, 8, 9])
    step_R = np.array([1.0, 1, 0.1, 1, 0.5, 1, 0.2, 1, 0.3, 1])
    seen = []
    for ids, on in grid.batches(PROG, lanes, live, full=10, step_R=step_R):
        assert len(ids) == 10 and len(set(lanes.lr[ids[on]])) == 1  # one step size a call
        assert list(step_R[ids[on]]) == sorted(step_R[ids[on]], reverse=True)
        seen += list(ids[on])
    assert sorted(seen) == sorted(live)


def test_step_count_separates_useful_steps_from_idle_lanes():
    count = records.StepCount()
    # 3 lanes (the last a padding copy), two segments: lane 1 stops after the first
    steps = np.array([[10, 30], [20, 20], [10, 30]], float)
    count.add([0, 0, 0], steps, useful_R=[True, True, False])
    assert count.computed == 3 * (20 + 20) and count.useful == 30 + 20
    # blocks of 2 (4 lanes): each block computes its own longest lane's steps
    count = records.StepCount()
    count.add([0] * 4, np.array([[5.0], [1.0], [0.0], [0.0]]), [True, True, False, False], 2)
    assert count.computed == 2 * 5 and count.useful == 6
