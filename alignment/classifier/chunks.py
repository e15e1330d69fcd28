"""The classifier job's runs and chunks (DESIGN.md section 4): class manifolds, inversion,
stragglers, removal; and the chunk loop's task of one chunk.

Each (optimizer, lr) is one program on one :class:`~alignment.classifier.family.DataBank`
(every training subset of the config, with its test set and a noisy copy of it); its lanes are
every (scale, subset, seed). Full-batch GD, snapshots every ``snapshot_every`` steps. With
``removal``, a chunk has two phases: its base runs, then, from the same inits, each base run
retrained without its stragglers ``S(t_inv)`` and without as many random points (per-sample
weights 0/1 in the same program: the weights are per-lane data, not a new shape). The chunk's
checkpoint is saved after every call of either phase (the runner's chunk loop). ``report.py``
evaluates the claims; ``job.py`` is the job the registry runs.
"""

from __future__ import annotations

import functools

import numpy as np

from alignment.classifier import config as cls_config
from alignment.classifier import data as class_data
from alignment.classifier import family as cl
from alignment.classifier import stats as class_stats
from alignment.engine import integrate, program, train
from alignment.runner.chunks import Chunk, as_list, check_known_fields, checked, even_parts

RUN_COLUMNS = ("optimizer", "lr", "subset", "scale", "seed", "phase", "parent")
PHASES = ("base", "no_stragglers", "random")
SNAPSHOT_KEYS = (
    "loss",
    "train_error",
    "test_error",
    "noisy_test_error",
    "R_0",
    "R_1",
    "D",
    "R_over_D",
    "zero_rows",
    "w_norm",
    "v_norm",
    "step",
    "sharpness",
    "step_sharpness",
    "diverged",
)
BITS = "miss_bits"
SCHEMA = "alignment/classifier/config.py"  # where every field is defined, with its meaning


def check_values(cfg) -> None:
    """ValueError naming the first bad field value (before any compute)."""
    ints = {
        "n_train": 1,
        "subsets": 1,
        "sign_d": 1,
        "sign_points": 2,
        "m": 1,
        "steps": 1,
        "snapshot_every": 1,
        "num_seeds": 1,
        "max_lanes": 1,
        "overlap_points": 2,
        "overlap_min_set": 1,
        "seed_offset": 0,
        "sign_seed": 0,
        "noise_seed": 0,
        "removal_seed": 0,
        "burn_in": 0,
        "smooth_window": 1,
        "snapshots_per_call": 0,
    }
    for k, low in ints.items():
        v = cfg[k]
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ValueError(f"{k}={v!r} must be an integer >= {low}")
    for k, low, rule in (
        ("noise_std", 0.0, ">= 0"),
        ("sign_flip", 0.0, "in [0, 0.5]"),
        ("rise_tol", 0.0, ">= 0"),
        ("align_drop", 0.0, "in (0, 1)"),
    ):
        v = cfg[k]
        bad = isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v)
        above = (k == "sign_flip" and v > 0.5) or (k == "align_drop" and not 0 < v < 1)
        if bad or v < low or above:
            raise ValueError(f"{k}={v!r} must be a finite number {rule}")
    for k in ("lr", "scale"):
        for v in as_list(cfg[k]):
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v < np.inf:
                raise ValueError(f"{k}={v!r} must be a finite number > 0")
    for k, allowed in (
        ("source", class_data.SOURCES),
        ("activation", cl.ACTS),
        ("head", cl.HEADS),
        ("init", cl.INITS),
        ("dtype", program.DTYPES),
        ("removal_rule", class_stats.RULES),
    ):
        if cfg[k] not in allowed:
            raise ValueError(f"{k}={cfg[k]!r} is not one of {allowed}")
    for opt in as_list(cfg.optimizer):
        if opt not in integrate.OPTIMIZERS:
            raise ValueError(f"optimizer={opt!r} is not one of {integrate.OPTIMIZERS}")
    if not 0 <= cfg.momentum < 1:
        raise ValueError(f"momentum={cfg.momentum!r} must be in [0, 1)")
    if cfg.source == "file" and not cfg.data_file:
        raise ValueError("source='file' needs data_file=PATH (an npz with x and y)")


def data_key(cfg) -> tuple:
    """The fields that decide the data bank (hashable: the bank is built once per key)."""
    return (
        cfg.source,
        cfg.data_file,
        cfg.n_train,
        cfg.subsets,
        cfg.sign_d,
        cfg.sign_points,
        cfg.sign_flip,
        cfg.sign_seed,
        cfg.noise_std,
        cfg.noise_seed,
    )


@functools.lru_cache(maxsize=8)
def bank_for(key: tuple) -> cl.DataBank:
    """Training blocks of every subset (permutation seeds 1..subsets), their test sets and
    the noisy test inputs (Gaussian noise of std noise_std on the standardized pixels)."""
    source, path, n_train, subsets, sign_d, sign_points, flip, sign_seed, noise, nseed = key
    x_test = y_test = None
    if source == "digits":
        x, y = class_data.digits()
    elif source == "file":
        x, y, x_test, y_test = class_data.load_file(path)
    else:
        x, y = class_data.sign_teacher(sign_points, sign_d, flip, sign_seed)
    splits = [class_data.split(x, y, n_train, k + 1, x_test, y_test) for k in range(subsets)]
    xt = np.stack([s.x_test for s in splits])
    rng = np.random.default_rng(nseed)
    for k, s in enumerate(splits):
        for c in (0, 1):
            if not np.any(s.y_train == c):
                raise ValueError(
                    f"training block of subset {k} has no label {c}: "
                    f"n_train={n_train} is too small for these data"
                )
    return cl.DataBank(
        np.stack([s.x_train for s in splits]),
        np.stack([s.y_train for s in splits]),
        xt,
        np.stack([s.y_test for s in splits]),
        xt + noise * rng.standard_normal(xt.shape[1:]),
        np.ones((1, n_train)),
    )


def expand(cfg) -> dict[str, np.ndarray]:
    """The run table: per (optimizer, lr, scale, subset), its base seeds, then (removal) each
    base run's two retrainings, ``parent`` = the base run's id."""
    rows = []
    seeds = range(cfg.seed_offset, cfg.seed_offset + cfg.num_seeds)
    for opt in as_list(cfg.optimizer):
        for lr in as_list(cfg.lr):
            for scale in as_list(cfg.scale):
                for sub in range(cfg.subsets):
                    first = len(rows)
                    rows += [(opt, float(lr), sub, float(scale), s, "base", -1) for s in seeds]
                    if cfg.removal:
                        for phase in PHASES[1:]:
                            rows += [
                                (opt, float(lr), sub, float(scale), s, phase, first + i)
                                for i, s in enumerate(seeds)
                            ]
    cols = list(zip(*rows, strict=True))
    return {k: np.asarray(v) for k, v in zip(RUN_COLUMNS, cols, strict=True)}


def program_for(cfg, optimizer: str) -> train.Program:
    fam = cl.Classifier(bank_for(data_key(cfg)), cfg.m, cfg.activation, cfg.head, cfg.init)
    integ = integrate.GD(str(optimizer), float(cfg.momentum))
    # snapshots come every step: one warm-started power iteration per snapshot suffices
    return train.Program(fam, integ, dtype=cfg.dtype, sharpness_iters=1)


def plan(cfg, runs) -> list[Chunk]:
    """One program per optimizer; chunks per (optimizer, lr) of at most max_lanes base runs,
    each followed by its base runs' retrainings."""
    chunks, ids = [], np.arange(len(runs["seed"]))
    base = runs["phase"] == "base"
    for opt in dict.fromkeys(runs["optimizer"]):
        prog = program_for(cfg, str(opt))
        for lr in dict.fromkeys(runs["lr"]):
            cell = ids[base & (runs["optimizer"] == opt) & (runs["lr"] == lr)]
            parts = even_parts(cell, cfg.max_lanes)
            size = max(len(p) for p in parts)
            for part in parts:
                kids = ids[np.isin(runs["parent"], part)]
                run_ids = tuple(int(i) for i in (*part, *kids))
                chunks.append(Chunk(len(chunks), prog, run_ids, f"{opt}_lr{lr:g}", size))
    return chunks


def check_config(cfg) -> list[Chunk]:
    """Every field known (cls_config.py) and valid, the data readable; returns the chunks."""
    check_known_fields(cfg, cls_config.get_config(), SCHEMA)
    check_values(cfg)
    runs = expand(cfg)
    return checked(plan(cfg, runs), lambda c: lanes_for(runs, np.asarray(c.run_ids), c.lanes))


def times_for(cfg, lr: float) -> np.ndarray:
    """Snapshot times lr * k for k = 0, every, 2 every, ..., steps (GD rounds t / lr to k)."""
    return lr * np.arange(0, cfg.steps + 1, cfg.snapshot_every, dtype=np.float64)


def lanes_for(runs, ids: np.ndarray, lanes: int) -> train.Lanes:
    """Lanes of runs ``ids``, padded to ``lanes`` by repeating the last one."""
    idx = np.concatenate([ids, np.full(max(lanes - len(ids), 0), ids[-1])])
    return train.Lanes.make(
        seed=runs["seed"][idx],
        data_index=runs["subset"][idx],
        weight_index=np.zeros(len(idx), int),
        scale=runs["scale"][idx].astype(float),
        lr=runs["lr"][idx].astype(float),
    )


def call_length(cfg) -> int:
    return cfg.snapshots_per_call or (cfg.steps // cfg.snapshot_every + 1)
