"""The main job: train a sweep grid, estimate the optimization threshold, write results + figures.

    python -m sweeps.run                                   # embedded default: threshold_quick
    python -m sweeps.run --config=sweeps/configs/tiny.py --workdir=runs/tiny
    python -m sweeps.run --config.num_seeds=16 --config.lr=0.05

Rerunning the same command continues an interrupted sweep where it stopped: finished chunks
are kept and an unfinished one resumes from its checkpoint (saved after every compiled call).
A changed config is refused (``--restart`` starts over); chunks written by other code are
recomputed (``--keep_old_chunks`` keeps them). Every field, the workdir and the chunk files are
checked before any compute: a mistake stops the command with one line (exit status 2).
"""

from __future__ import annotations

import sys
from pathlib import Path

from absl import app, flags, logging

from alignment.runner import cli

DEFAULT_CONFIG = Path(__file__).parent / "configs" / "threshold_quick.py"
DEFAULT_WORKDIR = "runs/{name}"

FLAGS = flags.FLAGS


def define_flags() -> None:
    """The command's flags (defined only when run as a command: importing stays flag-free)."""
    cli.define_config(
        "config", str(DEFAULT_CONFIG), "Sweep config file (ml_collections); fields overridable."
    )
    flags.DEFINE_string(
        "workdir", None, f"Output folder (default: {DEFAULT_WORKDIR} with the config's name)."
    )
    flags.DEFINE_integer("task_index", 0, "This task's index in a job array.")
    flags.DEFINE_integer("num_tasks", 1, "Number of tasks the grid is split into.")
    flags.DEFINE_bool(
        "distributed",
        False,
        "Call jax.distributed.initialize() first (multi-process jobs, e.g. "
        "srun): each process trains its share of the task on its own devices; process 0 merges.",
    )
    flags.DEFINE_bool(
        "restart",
        False,
        "Delete the workdir's results (chunks, checkpoints, outputs) and start over; "
        "needed when the config changed.",
    )
    flags.DEFINE_bool(
        "keep_old_chunks",
        False,
        "Keep finished chunks written by other code (another version or "
        "edited sources) instead of recomputing them.",
    )
    flags.DEFINE_integer(
        "workers",
        0,
        "Processes that train chunks side by side (0: one per CPU core on a CPU while the free "
        "memory holds 1 GiB each, one on an accelerator; never more than the chunks to "
        "train). Results do not depend on it.",
    )
    flags.DEFINE_string(
        "chunks",
        None,
        "Train only these chunk indices (comma-separated, e.g. 0,3; finished ones are kept) "
        "and do not merge: what each worker process is told; also to split chunks by hand.",
    )
    flags.DEFINE_string(
        "compilation_cache_dir",
        None,
        "Persistent compilation cache folder; 'off' switches it off. Default: "
        "$ALIGNMENT_COMPILATION_CACHE, $JAX_COMPILATION_CACHE_DIR, or the per-user cache "
        "folder (~/.cache/alignment/jax on Linux).",
    )


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    # after flag parsing: importing alignment sets up JAX
    from alignment.engine import compile_cache, sharding
    from alignment.runner import workers

    cfg = FLAGS.config
    workdir = Path(FLAGS.workdir or DEFAULT_WORKDIR.format(name=cfg.name))
    if FLAGS.restart and (FLAGS.num_tasks > 1 or FLAGS.distributed):
        cli.fail("--restart deletes every task's results: run it alone (one task), then the array")
    with cli.user_errors("invalid flag"):
        workers.check_workers(FLAGS.workers)
    if FLAGS.distributed and FLAGS.workers > 1:
        cli.fail("--workers > 1 with --distributed: a distributed job's processes are its workers")
    if FLAGS.distributed:
        sharding.initialize_distributed()
    if workers.in_worker():
        workers.stop_with_parent()
    compile_cache.use_compilation_cache(compile_cache.cache_dir(FLAGS.compilation_cache_dir))
    processes = 1 if FLAGS.distributed else FLAGS.workers
    task = (FLAGS.task_index, FLAGS.num_tasks)
    options = dict(processes=processes, chunks=FLAGS.chunks, argv=sys.argv)
    execute(cfg, workdir, *task, FLAGS.restart, FLAGS.keep_old_chunks, **options)


def execute(
    cfg,
    workdir,
    task_index=0,
    num_tasks=1,
    restart=False,
    keep_old_chunks=False,
    processes=1,
    chunks=None,
    argv=None,
):
    """What the command does once its flags are read: checks the config (one line on a
    mistake), trains this task's chunks (its process's share of them; ``chunks``: only
    those) in ``processes`` worker processes (0: one per CPU core, ``runner/workers.py``; each
    runs the command line ``argv``, so without it: this process), and, when the task is the
    whole grid, merges and reports (process 0, once every process is done).
    """
    import jax

    from alignment import registry
    from alignment.engine import sharding
    from alignment.runner import job as job_mod
    from alignment.runner import workers
    from sweeps import merge

    with cli.user_errors("invalid config"):
        planned = registry.check_config(cfg)
    logging.info("config %s -> %s", cfg.name, workdir)
    share, shares = sharding.process_share(task_index, num_tasks)
    with cli.user_errors("invalid flag"):
        mine = job_mod.share_of(planned, share, shares)
        only = workers.parse_chunks(chunks, [c.index for c in mine])
    with cli.user_errors("cannot run"):
        runs, _, todo = registry.prepare(cfg, workdir, share, shares, restart, keep_old_chunks)
    todo = [c for c in todo if only is None or c.index in only]
    if only is not None:
        logging.info("this process: chunks %s (%d to train)", sorted(only), len(todo))
    count = workers.worker_count(processes, len(todo), jax.default_backend())
    if count > 1 and argv is not None:
        workers.train_in_workers(argv, todo, count, workdir)
    else:
        registry.train_chunks(cfg, workdir, runs, todo)
    if only is not None:
        logging.info("chunks %s done", sorted(only))
        return None
    if num_tasks > 1:
        logging.info("task %d done; run sweeps.merge when all tasks finished", task_index)
        return None
    if not sharding.all_processes_done():
        return None  # the other processes' shares are merged by process 0
    return merge.finish(cfg, workdir)


def config_help() -> str:
    """What --help prints after the flags: every field of the chosen config, with its meaning."""
    from alignment import registry

    return cli.describe_fields(FLAGS.config, registry.job_for(FLAGS.config).schema)


if __name__ == "__main__":
    define_flags()
    cli.run(main, extra_help=config_help)
