"""Which job a config runs: the only place that lists the families.

The entry points (``sweeps.run``, ``sweeps.merge``, ``sweeps.launch``) and the figures go
through here, so the same commands, workdir rules and checkpoints serve every job; the
config's ``family`` decides (no ``family``: the threshold job). Adding a family is a package
with a :class:`~alignment.runner.job.Job` and one line here.
"""

from __future__ import annotations

from alignment.classifier.job import JOB as CLASSIFIER
from alignment.mean_field.job import JOB as MEAN_FIELD
from alignment.runner import job as job_mod
from alignment.two_layer.job import JOB as THRESHOLD

JOBS = {job.name: job for job in (THRESHOLD, MEAN_FIELD, CLASSIFIER)}


def job_for(cfg) -> job_mod.Job:
    """The job of a config (its ``family`` field; the threshold job without one)."""
    family = cfg.get("family", THRESHOLD.name)
    if family not in JOBS:
        raise ValueError(f"family={family!r} is not one of {tuple(JOBS)}")
    return JOBS[family]


def check_config(cfg) -> list:
    """The config's chunks; ValueError names the first problem (before any compute)."""
    return job_for(cfg).check_config(cfg)


def finish(cfg, workdir) -> dict:
    """The merged outputs and the job's report (n* per group, or the job's claims)."""
    return job_for(cfg).finish(cfg, workdir)


def run(cfg, workdir, task_index: int = 0, num_tasks: int = 1, **options) -> list[int]:
    """Checks and trains every chunk of this task that has no usable file (``runner.job.run``
    with the config's job); returns the chunk indices the task owns."""
    return job_mod.run(job_for(cfg), cfg, workdir, task_index, num_tasks, **options)


def prepare(cfg, workdir, task_index=0, num_tasks=1, restart=False, keep_old_chunks=False):
    """Every check before compute (``runner.job.prepare`` with the config's job)."""
    job = job_for(cfg)
    return job_mod.prepare(job, cfg, workdir, task_index, num_tasks, restart, keep_old_chunks)


def train_chunks(cfg, workdir, runs, todo, **options) -> None:
    """Trains the chunks ``todo`` (``runner.job.train_chunks`` with the config's job)."""
    job_mod.train_chunks(job_for(cfg), cfg, workdir, runs, todo, **options)


config_json = job_mod.config_json
