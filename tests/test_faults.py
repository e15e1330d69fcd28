"""Faults a long sweep meets: SIGKILL, Ctrl-C and SIGTERM at random moments, writes that fail
half-way.

The interrupt test runs the real command in subprocesses: a job of each kind interrupted (each
time at a random moment once it has made progress, checkpoints included) and rerun must end
with its outputs byte-identical to an uninterrupted run; an interrupt by SIGINT or SIGTERM ends
in one line and exit status 130 or 143.
"""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr
from processes import signature

from alignment.runner import checkpoint, results, workdir

CMD = [sys.executable, "-m", "sweeps.run"]
# per job kind: its config (small), the outputs compared, and the signals of its interrupts
JOBS = {
    "threshold": (
        ["--config=sweeps/configs/tiny.py"],
        ("summary.csv", "threshold.json"),
        (signal.SIGINT, signal.SIGKILL, signal.SIGTERM),
    ),
    "classifier": (
        ["--config=sweeps/configs/cls_tiny.py", "--config.subsets=1", "--config.steps=60"]
        + ["--config.snapshots_per_call=5"],
        ("summary.csv", "classifier.json"),
        (signal.SIGINT,),
    ),
    "mean_field": (
        ["--config=sweeps/configs/mf_tiny.py", "--config.m=(8,)", "--config.num_seeds=1"]
        + ["--config.t_max=5.0", "--config.snapshots_per_call=4"],
        ("summary.csv", "mean_field.json"),
        (signal.SIGTERM,),
    ),
}


def start(args, workdir, log):
    cmd = [*CMD, *args, "--config.make_figures=False", f"--workdir={workdir}"]
    return subprocess.Popen(cmd, stdout=log, stderr=log)


def interrupt(args, work, sig, rng, log_path) -> bool:
    """Starts the command, waits until it has saved progress of its own, sends ``sig`` at a
    random moment after that; True when the signal stopped it (False: it finished first). An
    interrupt (SIGINT, SIGTERM) must end in one line and exit 128 + sig, never a traceback."""
    ckpt = checkpoint.checkpoint_path(work, 0)
    with open(log_path, "w") as log:
        proc, before, deadline = start(args, work, log), signature(ckpt), time.time() + 300
        while proc.poll() is None and signature(ckpt) == before and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.3))
        if proc.poll() is None:
            proc.send_signal(sig)
        rc = proc.wait(timeout=120)
    text = log_path.read_text()
    assert "Unable to initialize backend" not in text  # no noise about absent accelerators
    if rc == 0:
        return False  # it finished before the signal took effect
    if sig == signal.SIGKILL:
        assert rc == -signal.SIGKILL, (rc, text[-2000:])
        return True
    assert rc == 128 + sig, (rc, text[-2000:])
    assert "Traceback" not in text and "Fatal Python error" not in text, text[-2000:]
    last = text.strip().splitlines()[-1]
    assert last.startswith(f"interrupted ({signal.Signals(sig).name}):"), last
    assert "rerun the same command" in last
    return True


@pytest.mark.parametrize("kind", list(JOBS))
def test_interrupts_at_random_moments_then_rerun_is_byte_identical(tmp_path, kind):
    """SIGKILL, SIGINT and SIGTERM inside a chunk: the rerun ends with the outputs of an
    uninterrupted run, byte for byte, for every job kind."""
    args, compared, signals = JOBS[kind]
    with open(tmp_path / "ref.log", "w") as log:
        assert start(args, tmp_path / "ref", log).wait(timeout=300) == 0
    work, rng = tmp_path / "interrupted", np.random.default_rng(0)
    landed = [
        interrupt(args, work, sig, rng, tmp_path / f"{i}.log") for i, sig in enumerate(signals)
    ]
    assert sum(landed) >= max(1, len(signals) - 1), "the command finished before the signal"
    with open(tmp_path / "final.log", "w") as log:
        assert start(args, work, log).wait(timeout=300) == 0
    for name in compared:
        assert (work / name).read_bytes() == (tmp_path / "ref" / name).read_bytes(), name


def test_temporary_files_of_killed_writes_are_removed_once_stale(tmp_path):
    fresh = tmp_path / "chunks" / ".chunk_00000.123.abcd1234.tmp.nc"
    old = tmp_path / "checkpoints" / ".chunk_00001.456.abcd1234.tmp.npz"
    for path in (fresh, old):
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"partial")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    assert workdir.remove_stale_temporaries(tmp_path) == [old]
    assert fresh.exists()  # may be another task's write in progress


class WriteFailedError(OSError):
    pass


def test_failed_write_leaves_no_partial_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "summary.csv"
    path.write_text("old\n")
    with pytest.raises(WriteFailedError), results.atomic_path(path) as tmp:
        tmp.write_text("half of the new")
        raise WriteFailedError("disk full")
    assert path.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == [path.name]

    def failing_to_netcdf(self, target, **kw):
        with open(target, "wb") as f:
            f.write(b"\x89HDF partial")
        raise WriteFailedError("no space left on device")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", failing_to_netcdf)
    with pytest.raises(WriteFailedError):
        results.write_netcdf(tmp_path / "chunks" / "chunk_00000.nc", xr.Dataset({"a": ("x", [1])}))
    assert list((tmp_path / "chunks").iterdir()) == []


def test_written_files_follow_the_umask_and_leave_it_alone(tmp_path, monkeypatch):
    old = os.umask(0o027)
    try:
        monkeypatch.setattr(os, "umask", lambda *_: pytest.fail("atomic writes changed the umask"))
        results.write_text(tmp_path / "a.txt", "x")
    finally:
        monkeypatch.undo()
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o640


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_write_into_read_only_folder_fails_cleanly(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(PermissionError):
            results.write_text(folder / "x.txt", "x")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


def test_failed_gif_leaves_nothing_behind(tmp_path, monkeypatch):
    from matplotlib.animation import PillowWriter

    from figures import dynamics

    def broken(self, *a, **k):
        raise WriteFailedError("encoder failed")

    monkeypatch.setattr(PillowWriter, "finish", broken)
    w = np.random.default_rng(0).normal(size=(3, 4, 2))
    with pytest.raises(WriteFailedError):
        dynamics.write_gif(w, np.ones((3, 4)), np.array([0.0, 1.0, 2.0]), 1.0, tmp_path / "a.gif")
    assert list(tmp_path.iterdir()) == []
