"""Runs a sweep as a job array with submitit (Slurm, or local processes without it), then merges.

    python -m sweeps.launch --config=sweeps/configs/threshold_paper.py --workdir=runs/paper \\
        --num_tasks=16 --slurm_partition=gpu --gpus_per_task=1 --timeout_min=240
    python -m sweeps.launch --config=sweeps/configs/tiny.py --workdir=runs/tiny --num_tasks=3

Task i of K trains the chunks with index % K == i (as ``python -m sweeps.run --task_index=i
--num_tasks=K`` would). The launcher waits for the array, then writes the merged outputs
(``sweeps.merge``); with ``--nowait`` it returns after submitting and prints the merge command.
Where Slurm is installed the array goes to Slurm, otherwise every task runs as a local process
(submitit's local executor); ``--cluster`` forces one. Job logs are in WORKDIR/submitit/.
Needs the ``cluster`` extra: ``pip install -e ".[cluster]"``.
"""

from __future__ import annotations

from pathlib import Path

from absl import app, flags, logging
from ml_collections import config_flags

from alignment.runner import cli

LOG_DIR = "submitit"

FLAGS = flags.FLAGS
POLL_S = 2.0  # how often the launcher looks at the array's tasks while it waits


def run_task(cfg, workdir: str, task_index: int, num_tasks: int, cache_dir: str | None):
    """What one array task runs: its share of the grid (returns the chunk indices it owns)."""
    from alignment import registry  # in the task's process: set up JAX there
    from alignment.engine import compile_cache

    compile_cache.use_compilation_cache(compile_cache.cache_dir(cache_dir))
    return registry.run(cfg, workdir, task_index, num_tasks)


def make_executor(folder, cluster: str | None = None, **params):
    """A submitit AutoExecutor logging to ``folder``; ``params`` are its generic parameters
    (timeout_min, gpus_per_node, cpus_per_task, mem_gb) and slurm_-prefixed ones."""
    import submitit

    executor = submitit.AutoExecutor(folder=folder, cluster=cluster)
    executor.update_parameters(**{k: v for k, v in params.items() if v is not None})
    return executor


def check(cfg, workdir, num_tasks: int) -> None:
    """Everything a task would refuse, checked before anything is submitted or written but
    config.json: the task count, the config, the workdir and its config."""
    from alignment import registry
    from alignment.runner import workdir as workdir_mod

    if isinstance(num_tasks, bool) or not isinstance(num_tasks, int) or num_tasks < 1:
        raise ValueError(f"num_tasks={num_tasks!r} must be an integer >= 1")
    registry.check_config(cfg)  # invalid configs fail here, not in the queue
    neutral = registry.job_for(cfg).neutral
    workdir = workdir_mod.check_usable(workdir)
    workdir_mod.check_config(workdir, registry.config_json(cfg), neutral)


def submit(executor, cfg, workdir, num_tasks: int, cache_dir: str | None = None) -> list:
    """Checks the grid and the workdir (:func:`check`), then submits one array of
    ``num_tasks`` tasks."""
    check(cfg, workdir, num_tasks)
    k = num_tasks
    return executor.map_array(
        run_task, [cfg] * k, [str(workdir)] * k, range(k), [k] * k, [cache_dir] * k
    )


def launch(cfg, workdir, num_tasks: int, executor, cache_dir=None, wait: bool = True):
    """Submits the array; with ``wait``, waits for it (raising the first failure) and merges.

    Returns the threshold report (``wait``) or the jobs.
    """
    from sweeps import merge

    jobs = submit(executor, cfg, workdir, num_tasks, cache_dir)
    logging.info("submitted %d tasks: %s", len(jobs), ", ".join(j.job_id for j in jobs))
    if not wait:
        return jobs
    from submitit.helpers import as_completed

    for done, job in enumerate(as_completed(jobs, poll_frequency=POLL_S), 1):
        job.result()  # raises with the task's traceback if it failed
        logging.info("task %s finished: %d of %d done", job.job_id, done, len(jobs))
    return merge.merge(workdir, cfg)


def define_flags() -> None:
    """The command's flags (defined only when run as a command: importing stays flag-free)."""
    config_flags.DEFINE_config_file("config", None, "Sweep config file (ml_collections).")
    flags.DEFINE_string("workdir", None, "Output folder shared by all tasks.")
    flags.DEFINE_integer("num_tasks", 1, "Number of array tasks the grid is split into.")
    flags.DEFINE_enum(
        "cluster", None, ["slurm", "local", "debug"], "Executor (default: slurm if available)."
    )
    flags.DEFINE_string("slurm_partition", None, "Slurm partition.")
    flags.DEFINE_integer("timeout_min", 60, "Time limit of each task, in minutes.")
    flags.DEFINE_integer("gpus_per_task", 0, "GPUs per task (its runs are sharded over them).")
    flags.DEFINE_integer("cpus_per_task", None, "CPU cores per task.")
    flags.DEFINE_integer("mem_gb", None, "Memory per task in GB.")
    flags.DEFINE_integer("array_parallelism", None, "Most tasks running at once (Slurm).")
    flags.DEFINE_string(
        "compilation_cache_dir",
        None,
        "Persistent compilation cache shared by the tasks ('off': none; default as sweeps.run's).",
    )
    flags.DEFINE_bool("nowait", False, "Return after submitting; merge later.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if FLAGS.config is None or FLAGS.workdir is None:
        cli.fail("--config and --workdir are required")
    workdir = Path(FLAGS.workdir).absolute()
    with cli.user_errors("invalid input"):
        check(FLAGS.config, workdir, FLAGS.num_tasks)  # before the executor makes its folder
    executor = make_executor(
        workdir / LOG_DIR,
        FLAGS.cluster,
        name=f"alignment-{FLAGS.config.name}",
        timeout_min=FLAGS.timeout_min,
        gpus_per_node=FLAGS.gpus_per_task,
        cpus_per_task=FLAGS.cpus_per_task,
        mem_gb=FLAGS.mem_gb,
        slurm_partition=FLAGS.slurm_partition,
        slurm_array_parallelism=FLAGS.array_parallelism,
    )
    wait = not FLAGS.nowait
    launch(FLAGS.config, workdir, FLAGS.num_tasks, executor, FLAGS.compilation_cache_dir, wait)
    if not wait:
        print(f"when the tasks are done: python -m sweeps.merge --workdir={workdir}")


if __name__ == "__main__":
    define_flags()
    cli.run(main, "the array's tasks are not cancelled; run sweeps.merge once they are done")
