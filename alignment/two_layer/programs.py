"""The compiled program of one cell of a two_layer sweep grid: its family, integrator, dtype.

A cell is a (sub-sweep, d, m, init, n bucket); :mod:`alignment.grid` plans the cells and asks
this module for each one's :class:`alignment.train.Program`.
"""

from __future__ import annotations

import functools
from pathlib import Path

from alignment.engine import data_file, integrate, train
from alignment.two_layer import family as two_layer
from alignment.two_layer.data import DataSpec, FileArrays


def program_for(sub, d: int, m: int, init: str, n_pad: int) -> train.Program:
    """The static program of a (sub-sweep, d, m, init, bucket) cell of the grid."""
    if sub.family not in FAMILIES:
        raise ValueError(f"family={sub.family!r} is not one of {tuple(FAMILIES)}")
    if sub.integrator not in integrate.INTEGRATORS:
        raise ValueError(
            f"integrator={sub.integrator!r} is not one of {tuple(integrate.INTEGRATORS)}"
        )
    arrays = user_data(sub.data_file) if sub.data == "file" and sub.data_file else None
    family = two_layer.TwoLayer(
        data=DataSpec(
            name=sub.data,
            d=int(d),
            x_dist=sub.x_dist,
            symmetric=sub.symmetric,
            spread=sub.spread,
            file=arrays,
        ),
        m=int(m),
        n_pad=int(n_pad),
        init=str(init),
        bias=bool(sub.bias),
        mirrored=bool(sub.mirrored),
        activation=sub.activation,
        n_test=sub.n_test,
        store_neurons_max=sub.store_neurons_max,
        align_eps_deg=sub.stats.align_eps_deg,
        cluster_eps_deg=sub.stats.cluster_eps_deg,
        cluster_min_mass=sub.stats.cluster_min_mass,
        extremal_starts=sub.stats.extremal_starts,
        extremal_steps=sub.stats.extremal_steps,
    )
    if sub.integrator == "flow":
        integrator = integrate.Flow(**{k: float(v) for k, v in sub.flow.items()})
    else:
        integrator = integrate.GD(
            optimizer=sub.optimizer,
            momentum=sub.momentum,
            # faithful GD is plain gd's (momentum and adam keep their fixed lr)
            max_step_sharpness=float(sub.gd_step_sharpness) if sub.optimizer == "gd" else 0.0,
        )
    return train.Program(family, integrator, dtype=sub.dtype)


FAMILIES = ("two_layer",)


def user_data(path: str) -> FileArrays:
    """The arrays of a data file (checked: one-line ValueError), read once per file version."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"data_file={path!r} does not exist")
    stat = p.stat()
    return _read_user_data(str(p.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _read_user_data(path: str, mtime_ns: int, size: int) -> FileArrays:
    del mtime_ns, size  # part of the cache key only
    x, y, xt, yt = data_file.load_file(path, real=True)
    return FileArrays(x, y, xt, yt, Path(path).name)
