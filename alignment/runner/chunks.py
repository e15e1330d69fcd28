"""Chunks: sets of runs trained together by one compiled program, and the config helpers every
job's planning shares (a field as a list, even parts, unknown fields named)."""

from __future__ import annotations

import dataclasses
import math

import ml_collections
import numpy as np

from alignment.engine import train


@dataclasses.dataclass(frozen=True)
class Chunk:
    """A set of runs trained together by one compiled program (``lanes`` >= len(run_ids):
    the lane count it is compiled for; extra lanes repeat the last run and are dropped)."""

    index: int
    program: train.Program
    run_ids: tuple[int, ...]
    sweep: str = ""
    lanes: int = 0


def as_list(value) -> list:
    """A config field that may be a scalar or a sequence, as a list."""
    if isinstance(value, str | int | float | bool | np.number):
        return [value]
    return list(value)


def even_parts(ids: np.ndarray, max_size: int) -> list[np.ndarray]:
    """Splits ids into the fewest consecutive parts of at most max_size, sizes within one."""
    return np.array_split(ids, max(1, math.ceil(len(ids) / max_size)))


def check_known_fields(cfg, reference, schema: str, where: str = "config", skip=()) -> None:
    """Raises ValueError naming every field of ``cfg`` that ``reference`` (the job's base
    config, defined in the module ``schema``) does not define, recursively (fields ``skip``
    are not descended into)."""
    unknown = sorted(set(cfg.keys()) - set(reference.keys()))
    if unknown:
        raise ValueError(
            f"unknown {where} field(s) {unknown}; every field is defined, with its meaning, in "
            f"{schema}"
        )
    for key, value in cfg.items():
        if isinstance(reference[key], ml_collections.ConfigDict) and key not in skip:
            check_known_fields(value, reference[key], schema, f"{where}.{key}", skip)


def checked(chunks: list[Chunk], lanes_of) -> list[Chunk]:
    """The chunks, once every one's program and lane values are valid (``lanes_of(chunk)``:
    its lanes); ValueError names the first bad value, before any compute."""
    for chunk in chunks:
        chunk.program.validate()
        chunk.program.check_lanes(lanes_of(chunk))
    return chunks
