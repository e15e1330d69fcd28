"""The main job: train a sweep grid, estimate the optimization threshold, write results + figures.

    python -m sweeps.run                                   # embedded default: threshold_quick
    python -m sweeps.run --config=sweeps/configs/tiny.py --workdir=runs/tiny
    python -m sweeps.run --config.num_seeds=16 --config.lr=0.05

Rerunning the same command continues an interrupted sweep from its last finished chunk.
Every field is checked before any compute: an unknown field or an invalid value stops the
command with a one-line error (exit status 2).
"""

from __future__ import annotations

import sys
from pathlib import Path

from absl import app, flags, logging
from ml_collections import config_flags

DEFAULT_CONFIG = Path(__file__).parent / "configs" / "threshold_quick.py"
DEFAULT_WORKDIR = "runs/{name}"

_CONFIG = config_flags.DEFINE_config_file(
    "config", str(DEFAULT_CONFIG), "Sweep config file (ml_collections); fields overridable."
)
_WORKDIR = flags.DEFINE_string(
    "workdir", None, f"Output folder (default: {DEFAULT_WORKDIR} with the config's name)."
)
_TASK_INDEX = flags.DEFINE_integer("task_index", 0, "This task's index in a job array.")
_NUM_TASKS = flags.DEFINE_integer("num_tasks", 1, "Number of tasks the grid is split into.")
_DISTRIBUTED = flags.DEFINE_bool(
    "distributed", False, "Call jax.distributed.initialize() first (multi-process jobs, e.g. "
    "srun): each process trains its share of the task on its own devices; process 0 merges."
)  # fmt: skip
_CACHE = flags.DEFINE_string(
    "compilation_cache_dir", None, "Persistent compilation cache (or $JAX_COMPILATION_CACHE_DIR)."
)


def config_error(message: str) -> None:
    """Stops the command with a one-line error (no traceback: the user's input was wrong)."""
    sys.stderr.write(f"error: {message}\n")
    sys.exit(2)


def parse_flags(argv):
    """absl's flag parsing, with a clear message for an unknown --config.FIELD override."""
    try:
        return flags.FLAGS(argv)
    except (AttributeError, KeyError) as e:  # ml_collections: the field does not exist
        given = [a.split("=")[0] for a in argv[1:] if a.startswith("--config.")]
        config_error(
            f"unknown config field {e} among the overrides {given}; every field is defined, "
            "with its meaning, in alignment/config.py"
        )
    except flags.Error as e:
        config_error(str(e))


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from alignment import sharding, sweep  # after flag parsing: importing alignment sets up JAX
    from sweeps import merge

    try:
        sweep.check_config(_CONFIG.value)
    except ValueError as e:
        config_error(f"invalid config: {e}")

    if _DISTRIBUTED.value:
        sharding.initialize_distributed()
    sharding.use_compilation_cache(_CACHE.value)
    cfg = _CONFIG.value
    workdir = Path(_WORKDIR.value or DEFAULT_WORKDIR.format(name=cfg.name))
    logging.info("config %s -> %s", cfg.name, workdir)
    task_index, num_tasks = sharding.process_share(_TASK_INDEX.value, _NUM_TASKS.value)
    sweep.run(cfg, workdir, task_index, num_tasks)
    if _NUM_TASKS.value > 1:
        logging.info("task %d done; run sweeps.merge when all tasks finished", _TASK_INDEX.value)
        return
    if not sharding.all_processes_done():
        return  # the other processes' shares are merged by process 0
    merge.finish(cfg, workdir)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
