"""Worker processes (``alignment/runner/workers.py``): chunks side by side, one per CPU core.

The command's results must not depend on how many processes trained its chunks, and no worker
may outlive an interrupted or killed command (a rerun would share the workdir with it).
"""

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from absl import flags
from processes import signature

from alignment.runner import checkpoint, workers

pytestmark = pytest.mark.timeout(600)

# tiny split into two chunks of 6 lanes: the smallest job with two chunks to give two workers
TWO_CHUNKS = [
    "--config=sweeps/configs/tiny.py",
    "--config.max_lanes=6",
    "--config.make_figures=False",
    # every run steps to max_time: with interpolated runs stopping, one chunk of tiny can end
    # before the other worker's first checkpoint, and the interrupt tests then find one chunk
    # left (no workers) for their second signal
    "--config.stop_interpolated=False",
]
COMPARED = ("summary.csv", "threshold.json")


def test_assign_puts_the_costliest_chunk_alone_and_balances_the_rest():
    assert workers.assign({0: 5.0, 1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0, 5: 1.0}, 2) == [
        [0],
        [1, 2, 3, 4, 5],
    ]
    assert workers.assign({0: 1.0, 1: 1.0, 2: 1.0, 3: 1.0}, 2) == [[0, 2], [1, 3]]
    assert workers.assign({7: 2.0}, 3) == [[7]]  # no empty worker


def test_worker_count_is_one_per_core_on_a_cpu_and_never_more_than_the_chunks(monkeypatch):
    cores = workers.usable_cores()
    memory = workers.available_memory()
    fits = cores if memory is None else memory // workers.WORKER_MEMORY
    assert workers.worker_count(0, 100, "cpu") == min(cores, fits)
    assert workers.worker_count(0, 1, "cpu") == 1
    assert workers.worker_count(0, 100, "gpu") == 1  # one process keeps an accelerator busy
    assert workers.worker_count(3, 2, "gpu") == 2
    assert workers.worker_count(4, 0, "cpu") == 1
    monkeypatch.setattr(workers, "usable_cores", lambda: 16)
    monkeypatch.setattr(workers, "available_memory", lambda: 5 * workers.WORKER_MEMORY // 2)
    assert workers.worker_count(0, 100, "cpu") == 2  # the memory holds two
    assert workers.worker_count(3, 100, "cpu") == 3  # asked for: as asked
    monkeypatch.setattr(workers, "available_memory", lambda: None)
    assert workers.worker_count(0, 100, "cpu") == 16  # memory unknown: one per core
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="workers="):
            workers.check_workers(bad)


def test_a_workers_flags_override_the_parents():
    """absl keeps a flag's last value: the worker's appended flags win over the parent's."""
    fv = flags.FlagValues()
    flags.DEFINE_integer("workers", 0, "", flag_values=fv)
    flags.DEFINE_bool("restart", False, "", flag_values=fv)
    flags.DEFINE_string("chunks", None, "", flag_values=fv)
    flags.DEFINE_string("workdir", None, "", flag_values=fv)
    parent = ["prog", "--restart", "--workers=3", "--chunks=9", "--workdir=w"]
    cmd = workers.worker_args(parent, [0, 2])
    assert cmd[:3] == [sys.executable, "-m", "sweeps.run"]
    fv(["prog", *cmd[3:]])
    assert (fv.workers, fv.restart, fv.chunks, fv.workdir) == (1, False, "0,2", "w")


def test_a_workers_progress_reaches_the_parent_as_one_marked_line(capsys):
    workers.report(3, 0.25, "12/40 runs decided\n by t=1e+03")
    line = capsys.readouterr().out
    assert line.count("\n") == 1  # one line, whatever the status held
    assert workers.read_report(line.rstrip("\n")) == (3, 0.25, "12/40 runs decided by t=1e+03")
    assert workers.read_report("I1206 chunk 3: 12 of 40 runs without a verdict") is None


def test_chunks_flag_is_checked():
    assert workers.parse_chunks(None, [0, 1]) is None
    assert workers.parse_chunks("1, 0", [0, 1]) == {0, 1}
    for bad in ("2", "a", ",", "0,5"):
        with pytest.raises(ValueError, match="chunks="):
            workers.parse_chunks(bad, [0, 1])


def _start(work, log, *extra):
    cmd = [sys.executable, "-m", "sweeps.run", *TWO_CHUNKS, f"--workdir={work}", *extra]
    return subprocess.Popen(cmd, stdout=log, stderr=log)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not reaped by its new parent, does not)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\nState:\tZ" not in f.read()
    except FileNotFoundError:
        return False


def _worker_pids(text: str) -> list[int]:
    return [int(p) for p in re.findall(r"worker \d \(pid (\d+)\)", text)]


def _interrupt(work, log_path, sig) -> tuple[int, str, list[int]]:
    """Starts the command with two workers, sends ``sig`` to the command (not its workers)
    once a worker saved a checkpoint; (exit status, output, worker pids)."""
    ckpts = [checkpoint.checkpoint_path(work, i) for i in (0, 1)]
    before = [signature(p) for p in ckpts]
    with open(log_path, "w") as log:
        proc, deadline = _start(work, log, "--workers=2"), time.time() + 300
        while proc.poll() is None and [signature(p) for p in ckpts] == before:
            assert time.time() < deadline
            time.sleep(0.01)
        proc.send_signal(sig)
        rc = proc.wait(timeout=120)
    text = log_path.read_text()
    return rc, text, _worker_pids(text)


def _gone(pids, within_s=60.0) -> bool:
    deadline = time.time() + within_s
    while any(_alive(p) for p in pids) and time.time() < deadline:
        time.sleep(0.1)
    return not any(_alive(p) for p in pids)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc")
def test_two_workers_equal_one_process_and_none_outlives_an_interrupt(tmp_path):
    """SIGTERM to the command stops its workers (one line, exit 143); SIGKILL of the command
    stops them too (their stdin closes); each rerun then ends with one process's files.

    Each signal gets a fresh workdir: after the first, one chunk may already be finished, and a
    resumed job with one chunk left starts no workers for the second to reach."""
    with open(tmp_path / "ref.log", "w") as log:
        assert _start(tmp_path / "ref", log, "--workers=1").wait(timeout=300) == 0
    rc, text, pids = _interrupt(tmp_path / "term", tmp_path / "term.log", signal.SIGTERM)
    interrupted = rc != 0
    if rc != 0:  # it may have finished before the signal took effect
        assert rc == 128 + signal.SIGTERM, text[-2000:]
        assert "Traceback" not in text and "Fatal Python error" not in text, text[-2000:]
        assert text.strip().splitlines()[-1].startswith("interrupted (SIGTERM):")
        assert len(pids) == 2 and _gone(pids, within_s=5.0), pids  # stopped before the exit
    rc, text, pids = _interrupt(tmp_path / "kill", tmp_path / "kill.log", signal.SIGKILL)
    assert interrupted or rc != 0, "the command finished before both signals"
    if rc != 0:
        assert rc == -signal.SIGKILL and len(pids) == 2, text[-2000:]
        assert _gone(pids), f"workers {pids} outlived their killed parent"
    for work in (tmp_path / "term", tmp_path / "kill"):
        with open(tmp_path / "final.log", "w") as log:
            assert _start(work, log).wait(timeout=300) == 0  # --workers default: one per core
        final = (tmp_path / "final.log").read_text()
        assert workers.PROGRESS_MARK not in final  # the workers' progress lines are read
        for name in COMPARED:
            assert (work / name).read_bytes() == (tmp_path / "ref" / name).read_bytes(), name


def test_a_worker_stops_when_its_parents_pipe_closes():
    """The watch on stdin: a worker whose parent died (its pipe closed) gets SIGTERM at once,
    even when it writes nothing (a worker that writes would also meet a broken pipe)."""
    code = "import time; from alignment.runner import workers; workers.stop_with_parent(); "
    code += "print('watching', flush=True); time.sleep(120)"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdout.readline() == b"watching\n"
    proc.stdin.close()
    assert proc.wait(timeout=10) == -signal.SIGTERM
