"""Combines the parts of a sweep run as several tasks into the outputs of a single-process run.

    python -m sweeps.merge --workdir=DIR                       # config from DIR/config.json
    python -m sweeps.merge --workdir=DIR --config=sweeps/configs/tiny.py   # must match it

Every task (``python -m sweeps.run --task_index=i --num_tasks=K``, a job array, or the processes
of a ``--distributed`` job) writes its finished chunks to DIR/chunks/. Once all chunks exist,
this writes summary.csv, threshold.json, trajectories.nc and the figures exactly as the
single-process run would (it calls the same :func:`finish`). It trains nothing and
refuses to run while chunks are missing, naming them.
"""

from __future__ import annotations

import json
from pathlib import Path

import ml_collections
from absl import app, flags, logging
from ml_collections import config_flags

from alignment.runner import cli

CONFIG_FILE = "config.json"

FLAGS = flags.FLAGS


def load_config(workdir) -> ml_collections.ConfigDict:
    """The resolved config a sweep wrote into its workdir."""
    path = Path(workdir) / CONFIG_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: is {workdir} the workdir of a sweep?")
    try:
        return ml_collections.ConfigDict(json.loads(path.read_text()))
    except ValueError as e:
        raise ValueError(f"{path} is unreadable ({e})") from e


def finish(cfg, workdir) -> dict:
    """The end of every sweep: merged outputs and the n* report, then the figures (if the
    config asks for them). Returns the job's report."""
    from alignment import registry as jobs  # importing alignment sets up JAX

    out = jobs.finish(cfg, workdir)
    if cfg.make_figures:
        from figures import make  # matplotlib only when figures are wanted

        make.make_all(workdir)
    return out


def merge(workdir, cfg=None) -> dict:
    """Writes the merged outputs of every task's chunks; returns the job's report.

    ``cfg`` (if given) must equal the workdir's config: results of another config are refused.
    """
    cfg, workdir = check(workdir, cfg)
    logging.info("merging %s (config %s)", workdir, cfg.name)
    return finish(cfg, workdir)


def check(workdir, cfg=None):
    """Before merging: the workdir's config (equal to ``cfg`` if given), every chunk present
    and readable. Returns (cfg, workdir); ValueError/OSError name the first problem."""
    from alignment import registry  # importing alignment sets up JAX
    from alignment.runner import workdir as workdir_mod

    workdir = Path(workdir)
    if not workdir.is_dir():
        raise ValueError(f"workdir {workdir} is not a folder")
    if cfg is None:
        cfg = load_config(workdir)
    chunks = registry.check_config(cfg)
    neutral = registry.job_for(cfg).neutral
    workdir_mod.check_config(workdir, registry.config_json(cfg), neutral)
    workdir_mod.check_merge(workdir, len(chunks))
    return cfg, workdir


def define_flags() -> None:
    """The command's flags (defined only when run as a command: importing stays flag-free)."""
    flags.DEFINE_string("workdir", None, "The sweep's output folder.", required=True)
    config_flags.DEFINE_config_file(
        "config", None, "Sweep config file (default: the workdir's config.json); must match it."
    )


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    with cli.user_errors("cannot merge"):
        cfg, workdir = check(FLAGS.workdir, FLAGS.config)
    merge(workdir, cfg)


if __name__ == "__main__":
    define_flags()
    cli.run(main, "rerun it: merging starts over from the chunk files")
