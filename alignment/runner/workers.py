"""Chunks side by side in worker processes, one per CPU core: how a CPU's cores are all used.

XLA:CPU runs a small network's program on about one core, so a machine trains several chunks at
once only in several processes (threads are no way: two threads running XLA:CPU programs at once
deadlocked, and HDF5 is not thread-safe). The command's own process checks everything first,
then starts the workers: each is the same command line (``sys.argv``) told which chunks to train
(``--chunks``, ``--workers=1``, ``--norestart``), so it reads the same config and overrides.
The parent relays their output, shows one bar that moves with the progress each worker reports
(:func:`report`) and then merges as before. Each
chunk is deterministic, so the files equal a single process's (tests/test_workers.py).

A worker saves checkpoints like any task. An interrupt of the parent stops every worker (SIGTERM)
and a rerun resumes; a worker whose parent dies (SIGKILL) sees its stdin close and stops too, so
no orphan keeps writing into a workdir that a rerun is using.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from absl import logging
from tqdm import tqdm

from alignment.runner import progress, results

WORKER_ENV = "ALIGNMENT_WORKER"  # set in a worker's environment: no bar, stop with the parent
PROGRESS_MARK = "@alignment-progress"  # a worker's line telling the parent how far a chunk is
POLL_S = 0.5  # how often the parent looks for finished chunk files
STOP_WAIT_S = 60.0  # after an interrupt, how long workers get to stop before SIGKILL


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity where the platform says)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# memory to leave a worker process by default: its JAX runtime and compiled programs take about
# 0.4 GiB before a chunk's arrays (measured on tiny's two workers)
WORKER_MEMORY = 2**30


def available_memory() -> int | None:
    """Bytes of memory available to new processes (Linux's MemAvailable), or None unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_workers(requested) -> None:
    """ValueError unless ``requested`` is 0 (auto) or a positive integer."""
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 0:
        raise ValueError(f"workers={requested!r} must be 0 (one per CPU core) or an integer >= 1")


def worker_count(requested: int, num_chunks: int, backend: str) -> int:
    """Processes to train ``num_chunks`` chunks in: ``requested``, or (0) one per usable core
    on a CPU backend, as many as the available memory holds at WORKER_MEMORY each, and one on
    an accelerator (which one process keeps busy); never more than the chunks."""
    check_workers(requested)
    want, cores = requested, usable_cores()
    if not want:
        memory = available_memory()
        fits = cores if memory is None else memory // WORKER_MEMORY
        want = min(cores, fits) if backend == "cpu" else 1
    return max(1, min(want, num_chunks))


def assign(costs: dict[int, float], workers: int) -> list[list[int]]:
    """Chunk indices for each worker: the costliest chunk first, each to the least loaded
    worker (longest processing time first), each worker's list in index order."""
    loads, groups = [0.0] * workers, [[] for _ in range(workers)]
    for index in sorted(costs, key=lambda i: (-costs[i], i)):
        w = loads.index(min(loads))
        loads[w] += costs[index]
        groups[w].append(index)
    return [sorted(g) for g in groups if g]


def worker_args(argv: list[str], chunk_ids: list[int]) -> list[str]:
    """The command line of a worker: the parent's, with later flags that win (absl keeps a
    flag's last value): train ``chunk_ids`` only, in this process, without deleting results."""
    ids = ",".join(str(i) for i in chunk_ids)
    return [sys.executable, "-m", "sweeps.run", *argv[1:], "--norestart", "--workers=1"] + [
        f"--chunks={ids}"
    ]


def parse_chunks(text: str | None, known: list[int]) -> set[int] | None:
    """``--chunks`` ("0,3,4") as a set of indices among ``known`` (None: every chunk)."""
    if not text:
        return None
    try:
        ids = {int(part) for part in text.split(",") if part.strip()}
    except ValueError:
        raise ValueError(f"chunks={text!r} must be comma-separated chunk indices") from None
    bad = sorted(ids - set(known))
    if bad or not ids:
        raise ValueError(
            f"chunks={text!r}: {bad or 'none'} not among this task's chunks {sorted(known)}"
        )
    return ids


def in_worker() -> bool:
    return os.environ.get(WORKER_ENV) == "1"


def report(index: int, fraction: float, status: str) -> None:
    """In a worker: tells the parent that chunk ``index`` is ``fraction`` done and ``status``
    (one marked line on stdout, which the parent reads instead of showing)."""
    line = " ".join(str(status).split())
    print(f"{PROGRESS_MARK} {int(index)} {float(fraction):.6f} {line}", flush=True)


def read_report(line: str) -> tuple[int, float, str] | None:
    """(chunk index, fraction, status) of a :func:`report` line; None for any other line."""
    if not line.startswith(PROGRESS_MARK + " "):
        return None
    _, index, fraction, *status = line.split(" ", 3)
    return int(index), float(fraction), (status or [""])[0]


def stop_with_parent() -> None:
    """In a worker: a thread that waits for stdin (the parent's pipe) to close, then sends
    this process SIGTERM (which stops it between two compiled calls, checkpoint intact)."""

    def watch():
        while os.read(0, 4096):  # raw reads: a buffered reader's lock breaks interpreter exit
            pass
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class _Relay:
    """Copies each worker's output lines to the parent's stderr, above its bar, and keeps the
    progress the workers report (:func:`report`): chunk index -> fraction, the last status."""

    def __init__(self, bar: tqdm):
        self.bar, self.lock, self.quiet, self.threads = bar, threading.Lock(), False, []
        self.fractions: dict[int, float] = {}
        self.status = ""

    def follow(self, proc: subprocess.Popen, tag: str) -> None:
        def copy():
            for raw in proc.stdout:
                line = raw.decode(errors="replace").rstrip("\n")
                with self.lock:
                    if (got := read_report(line)) is not None:
                        self.fractions[got[0]], self.status = got[1], f"chunk {got[0]}: {got[2]}"
                    elif line.strip() and not self.quiet:
                        self.bar.write(f"[{tag}] {line}", file=sys.stderr)

        thread = threading.Thread(target=copy, name=f"relay-{tag}", daemon=True)
        thread.start()
        self.threads.append(thread)


def _start(argv, groups) -> list[subprocess.Popen]:
    env = os.environ | {WORKER_ENV: "1"}
    procs = []
    for ids in groups:
        procs.append(
            subprocess.Popen(
                worker_args(argv, ids),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
            )
        )
        logging.info("worker %d (pid %d): chunks %s", len(procs) - 1, procs[-1].pid, ids)
    return procs


def _stop(procs: list[subprocess.Popen]) -> None:
    """SIGTERM to every live worker; SIGKILL to one that has not stopped after STOP_WAIT_S."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_WAIT_S
    for p in procs:
        try:
            p.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _wait(procs, bar, costs, workdir, relay) -> None:
    """Until every worker exits: the bar at the chunks' costs x how far each is (finished
    chunk files count whole), its text the latest status a worker reported."""
    while True:
        done = set(results.finished_chunks(workdir)) & set(costs)
        with relay.lock:
            share = {i: 1.0 if i in done else relay.fractions.get(i, 0.0) for i in costs}
            status = relay.status
        at = sum(costs[i] * share[i] for i in costs)
        bar.update(max(at - bar.n, 0.0))
        head = f"{len(done)}/{len(costs)} chunks, {len(procs)} workers"
        bar.set_description_str(f"{head}; {status}" if status else head)
        if all(p.poll() is not None for p in procs):
            break
        time.sleep(POLL_S)
    for thread in relay.threads:
        thread.join(timeout=5.0)


def train_in_workers(argv: list[str], todo, workers: int, workdir) -> None:
    """Trains the chunks ``todo`` in ``workers`` processes (:func:`assign` by chunk cost) and
    waits for them; RuntimeError names a worker that failed (finished chunks are kept)."""
    workdir = Path(workdir)
    costs = {c.index: progress.chunk_cost(c) for c in todo}
    groups = assign(costs, workers)
    procs = _start(argv, groups)
    bar = progress.make_bar(sum(costs.values()), sys.stderr)
    relay = _Relay(bar)
    try:
        with progress.logs_above(bar):
            for i, p in enumerate(procs):
                relay.follow(p, f"worker {i}")
            _wait(procs, bar, costs, workdir, relay)
    except BaseException:  # an interrupt (or a bug): no worker outlives the command
        relay.quiet = True
        _stop(procs)
        raise
    finally:
        bar.close()
    failed = [(i, p.returncode) for i, p in enumerate(procs) if p.returncode != 0]
    if failed:
        i, code = failed[0]
        raise RuntimeError(
            f"worker {i} (chunks {groups[i]}) exited with status {code} (its output is above); "
            "finished chunks are kept: rerun the command to go on"
        )
