"""The verdict loop's re-batching of undecided runs (pure host logic, no training)."""

import numpy as np

from alignment.engine import integrate, train
from alignment.two_layer import grid, records
from alignment.two_layer.data import DataSpec
from alignment.two_layer.family import TwoLayer

PROG = train.Program(TwoLayer(data=DataSpec("linear", d=2), m=4, n_pad=8), integrate.GD())


def test_lane_ladder_pads_by_at_most_a_third(monkeypatch):
    monkeypatch.setenv("ALIGNMENT_SHARD", "0")  # one device: sizes from two lanes up
    ladder = grid.lane_ladder(40)
    assert ladder == [2, 3, 4, 6, 8, 12, 16, 24, 32, 40]
    for live in range(2, 41):
        size = next(s for s in ladder if s >= live)
        assert size - live <= size / 3, (live, size)  # at most a third are copies


def test_lane_ladder_on_four_devices_keeps_two_lanes_a_device():
    ladder = grid.lane_ladder(64)  # conftest: 4 emulated devices, sharding on
    assert ladder[0] == 8 and all(s % 4 == 0 for s in ladder)


def test_batches_group_by_step_size_and_cover_every_live_run_once(monkeypatch):
    monkeypatch.setenv("ALIGNMENT_SHARD", "0")
    lanes = train.Lanes.make(seed=range(10), n=8, lam=1e-3, sigma=0.1, lr=[0.1, 0.2] * 5)
    live = np.array([0, 1, 2, 3, 4, 6, 8, 9])
    batches = grid.batches(PROG, lanes, live, full=10)
    seen = []
    for ids in batches:
        real = list(dict.fromkeys(ids))
        assert len(set(lanes.lr[ids])) == 1  # one step size per call: no lane idles
        assert len(ids) in grid.lane_ladder(10)
        assert np.all(ids[len(real) :] == real[-1])  # padding repeats the last live run
        seen += real
    assert sorted(seen) == sorted(live)


def test_step_count_separates_useful_steps_from_idle_lanes():
    count = records.StepCount()
    # 3 lanes (the last a padding copy), two segments: lane 1 stops after the first
    count.add([0, 0, 0], np.array([[10, 30], [20, 20], [10, 30]], float), real=2)
    assert count.computed == 3 * (20 + 20) and count.useful == 30 + 20
