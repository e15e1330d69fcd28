"""Each run's parameters where it ended, as chunk-file variables and back: every run's, whatever
``neuron_seeds``, so a verdict can be checked again from the stored results (continued,
certified) without training the run again (``benchmarks/stored.py``)."""

from __future__ import annotations

import numpy as np
import xarray as xr

# params key -> (chunk-file variable, its dims): each run's parameters where it ended
END_VARS = {
    "w": ("end_w", ("run", "neuron", "coord_in")),
    "a": ("end_a", ("run", "neuron")),
    "b": ("end_b", ("run", "neuron")),  # with a bias only
}


def end_vars(params) -> dict:
    """Each run's parameters at its last snapshot as chunk-file variables (``END_VARS``),
    float64 (exact for float32)."""
    return {
        v: (dims, np.asarray(params[k], np.float64))
        for k, (v, dims) in END_VARS.items()
        if k in params
    }


def end_params(ds: xr.Dataset, runs=None) -> dict[str, np.ndarray]:
    """The parameters ``end_vars`` stored (of ``runs``, run ids; default every run), as the
    family's params dict ``{"w": (R, m, d), "a": (R, m)[, "b"]}``."""
    sel = ds if runs is None else ds.sel(run=np.asarray(runs))
    return {k: sel[v].values for k, (v, _) in END_VARS.items() if v in sel}
