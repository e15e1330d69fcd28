"""The classifier job as the registry runs it: its schema, chunks, chunk task and report."""

from __future__ import annotations

from alignment.classifier import chunks, config, report, task
from alignment.runner.job import Job

JOB = Job(
    name="classifier",
    schema=config.get_config,
    check_config=chunks.check_config,
    expand=chunks.expand,
    chunk_task=task.Task,
    call_length=chunks.call_length,
    finish=report.finish,
    figures="figures.classifier",
    # only the report's claims read these
    neutral_fields=("overlap_points", "overlap_min_set", "align_drop"),
)
