"""Per-run values of a program's lanes: axis name -> (R,) array, one entry per vmapped run."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Lanes:
    """Per-run values: axis name -> (R,) array, one entry per vmapped run."""

    values: dict

    @classmethod
    def make(cls, **columns) -> Lanes:
        """Broadcasts scalars/sequences to a common run axis (values are checked by a program)."""
        arrays = [np.atleast_1d(np.asarray(v)) for v in columns.values()]
        try:
            arrays = np.broadcast_arrays(*arrays)
        except ValueError:
            shapes = {k: v.shape for k, v in zip(columns, arrays, strict=True)}
            raise ValueError(f"per-run values have mismatched shapes {shapes}") from None
        if arrays and arrays[0].ndim != 1:
            raise ValueError(f"per-run values must be 1-D, got shape {arrays[0].shape}")
        return cls({k: np.array(v) for k, v in zip(columns, arrays, strict=True)})

    def __getattr__(self, name):
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __len__(self) -> int:
        return len(next(iter(self.values.values())))

    def take(self, idx) -> Lanes:
        return Lanes({k: v[np.asarray(idx)] for k, v in self.values.items()})
