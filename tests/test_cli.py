"""Every entry point answers a mistake with one line, exit status 2 and no traceback, before
any compute (subprocesses: what a user sees)."""

import subprocess
import sys

import pytest
from micro import micro_config

from alignment import registry as sweep
from alignment.runner import results
from alignment.two_layer import report as report_mod

TINY = "--config=sweeps/configs/tiny.py"


def command(module, *args):
    cmd = [sys.executable, "-m", module, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def assert_one_line_error(got, *needles):
    lines = [line for line in got.stderr.splitlines() if line.startswith("error: ")]
    assert got.returncode == 2, got.stderr[-2000:]
    assert "Traceback" not in got.stderr, got.stderr[-2000:]
    assert len(lines) == 1, got.stderr[-2000:]
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def workdirs(tmp_path_factory):
    """A finished micro sweep, one with a chunk missing and a spare file."""
    root = tmp_path_factory.mktemp("cli")
    cfg = micro_config()
    sweep.run(cfg, root / "done")
    report_mod.finish(cfg, root / "done")
    sweep.run(cfg, root / "partial", task_index=0, num_tasks=2)  # chunks 0 and 2
    (root / "afile").write_text("not a folder")
    return root


@pytest.mark.parametrize(
    "args,needles",
    [
        (("--config.lr=nan",), ("lr=nan must be a finite number",)),
        (("--config.lr=-1",), ("lr=-1.0 must be finite and > 0",)),
        (("--config.lr=abc",), ("lr='abc' must be a finite number",)),
        (("--config.no_such_field=1",), ("unknown config field", "no_such_field")),
        (("--config.num_seeds=0",), ("num_seeds=0",)),
        (("--config=no/such/config.py",), ("config file could not be loaded", "no/such")),
        (("--config.data=file",), ("data='file' needs data_file=PATH",)),
        (
            ("--config.data=file", "--config.data_file=no/such.npz"),
            ("data_file='no/such.npz' does not exist",),
        ),
    ],
)
def test_run_config_mistakes(tmp_path, args, needles):
    got = command("sweeps.run", TINY, *args, f"--workdir={tmp_path / 'w'}")
    assert_one_line_error(got, *needles)
    assert not (tmp_path / "w").exists()  # nothing written: refused before any compute


def test_run_workdir_mistakes(workdirs):
    got = command("sweeps.run", TINY, f"--workdir={workdirs / 'afile'}")
    assert_one_line_error(got, "is a file")
    got = command("sweeps.run", TINY, f"--workdir={workdirs / 'afile' / 'sub'}")
    assert_one_line_error(got, "cannot be written")
    got = command("sweeps.run", TINY, f"--workdir={workdirs / 'done'}")  # another config's
    assert_one_line_error(got, "first differing field", "--restart")


def test_merge_mistakes(workdirs):
    got = command("sweeps.merge", f"--workdir={workdirs / 'partial'}")
    assert_one_line_error(got, "1 of 3 chunks are not finished", "[1]")
    got = command("sweeps.merge", f"--workdir={workdirs / 'afile'}")
    assert_one_line_error(got, "is not a folder")
    bad = workdirs / "corrupt"
    bad.mkdir()
    for name in ("config.json", "chunks"):
        subprocess.run(["cp", "-r", str(workdirs / "done" / name), str(bad)], check=True)
    path = results.chunk_path(bad, 1)
    path.write_bytes(path.read_bytes()[:300])
    got = command("sweeps.merge", f"--workdir={bad}")
    assert_one_line_error(got, "chunk_00001.nc is unreadable", "rerun python -m sweeps.run")


def test_launch_and_figures_mistakes(workdirs, tmp_path):
    got = command("sweeps.launch", TINY, "--config.foo=1", f"--workdir={tmp_path}")
    assert_one_line_error(got, "unknown config field", "foo")
    got = command("sweeps.launch", TINY, f"--workdir={workdirs / 'afile'}")
    assert_one_line_error(got, "is a file")
    got = command("figures.make", f"--workdir={workdirs / 'done'}", "--only=typo")
    assert_one_line_error(got, "unknown figure(s) ['typo']", "p_of_n")
    got = command("figures.make", f"--workdir={workdirs / 'partial'}")
    assert_one_line_error(got, "summary.csv is missing")
