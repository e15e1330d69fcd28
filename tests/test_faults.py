"""Faults a long sweep meets: SIGKILL at random moments, writes that fail half-way.

The kill test runs the real command in subprocesses: a sweep killed three times (each time at
a random moment once it has made progress, checkpoints included) and rerun must end with
summary.csv and threshold.json byte-identical to an uninterrupted run.
"""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr

from alignment.runner import checkpoint, results, workdir

CMD = [
    sys.executable,
    "-m",
    "sweeps.run",
    "--config=sweeps/configs/tiny.py",
    "--config.make_figures=False",
]
COMPARED = ("summary.csv", "threshold.json")


def signature(path):
    """Changes whenever the file is rewritten (every save is a new file renamed into place)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def start(workdir, log):
    return subprocess.Popen([*CMD, f"--workdir={workdir}"], stdout=log, stderr=log)


def test_sigkill_at_random_moments_then_rerun_is_byte_identical(tmp_path):
    with open(tmp_path / "ref.log", "w") as log:
        assert start(tmp_path / "ref", log).wait(timeout=300) == 0
    work, rng, kills = tmp_path / "killed", np.random.default_rng(0), 0
    ckpt = checkpoint.checkpoint_path(work, 0)
    for i in range(3):
        with open(tmp_path / f"kill{i}.log", "w") as log:
            proc, before, deadline = start(work, log), signature(ckpt), time.time() + 300
            while proc.poll() is None and signature(ckpt) == before and time.time() < deadline:
                time.sleep(0.01)  # until this process has saved progress of its own
            time.sleep(rng.uniform(0.0, 0.3))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait(timeout=60)
    assert kills >= 2, "the sweep finished before it could be killed: the test sees nothing"
    with open(tmp_path / "final.log", "w") as log:
        assert start(work, log).wait(timeout=300) == 0
    for name in COMPARED:
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
