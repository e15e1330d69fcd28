"""A continued run's record stays its own when the verdict loop re-orders its lanes.

Continuation rounds sort the live lanes by their step size (``grid.batches``), so a call's lane
order is not the chunk's. The same runs trained one to a chunk (no re-ordering possible) are
the independent reference."""

import numpy as np
import pytest
import xarray as xr
from micro import finish, micro_config

from alignment import registry


def _trained(tmp_path, max_lanes: int) -> xr.Dataset:
    cfg = micro_config()
    cfg.gd_step_sharpness = 0.02  # step min(lr, 0.02 / lambda_max): a step size per run
    cfg.max_lanes = max_lanes
    path = tmp_path / str(max_lanes)
    registry.run(cfg, path)
    finish(cfg, path)
    return xr.load_dataset(path / "trajectories.nc")


@pytest.mark.timeout(300)
def test_each_run_keeps_its_own_record_when_all_its_chunks_lanes_continue(tmp_path, monkeypatch):
    """Two lanes a chunk, both open at max_time and of different step sizes (a re-ordered
    call of every lane of the chunk), against one lane a chunk: the same record, run by run
    (float64; vmapped lanes compute each run's own arithmetic, so 1e-9 leaves room only for
    a different reduction order, not for another run's numbers). One device, as on a laptop:
    the call then holds exactly the chunk's lanes (4 emulated devices pad it to 4)."""
    monkeypatch.setenv("ALIGNMENT_SHARD", "0")
    pair, alone = _trained(tmp_path, 2), _trained(tmp_path, 1)
    step = pair["step"].values
    last = pair["last_snapshot"].values.astype(int)
    continued = pair["time"].values[np.arange(len(last)), last] > 50.0 * (1 + 1e-9)
    assert continued.sum() >= 2  # some chunk continued both of its lanes
    for row in step:  # a run's step count never falls (another run's record would)
        assert np.all(np.diff(row[np.isfinite(row)]) >= 0)
    for k in ("time", "step", "loss"):
        np.testing.assert_allclose(pair[k].values, alone[k].values, rtol=1e-9, err_msg=k)
    np.testing.assert_array_equal(pair["verdict"].values, alone["verdict"].values)
