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
        (("--workers=-1",), ("workers=-1 must be 0 (one per CPU core)",)),
        (("--chunks=0,7",), ("chunks='0,7': [7] not among this task's chunks [0]",)),
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


@pytest.mark.parametrize(
    "config",
    [None, "sweeps/configs/tiny.py", "sweeps/configs/cls_tiny.py", "sweeps/configs/mf_tiny.py"],
    ids=["default", "threshold", "classifier", "mean_field"],
)
def test_an_unknown_field_is_one_plain_line_on_every_job(tmp_path, config):
    args = () if config is None else (f"--config={config}",)
    got = command("sweeps.run", *args, "--config.lrr=1", f"--workdir={tmp_path / 'w'}")
    assert_one_line_error(got, "unknown config field 'lrr'", "alignment/FAMILY/config.py")
    assert "\\" not in got.stderr  # no escape characters printed literally
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize(
    "content,needle",
    [
        (b"", "is empty"),
        (b"x,y\n1,2\n", "is not an npz archive"),
        (b"\x93NUMPY\x01\x00", "is a single .npy array"),
        (b"PK\x03\x04 cut short by a crash", "is a damaged npz"),
    ],
    ids=["empty", "text", "npy", "damaged"],
)
def test_a_data_file_that_is_not_an_npz_is_named(tmp_path, content, needle):
    path = tmp_path / "mine.npz"
    path.write_bytes(content)
    args = (TINY, "--config.data=file", f"--config.data_file={path}", "--config.d=2")
    got = command("sweeps.run", *args, f"--workdir={tmp_path / 'w'}")
    assert_one_line_error(got, f"data file {path} {needle}")
    assert "allow_pickle" not in got.stderr  # the unsafe hint is gone
    assert not (tmp_path / "w").exists()


def test_launch_refuses_before_submitting_anything(workdirs, tmp_path):
    got = command("sweeps.launch", TINY, "--num_tasks=0", f"--workdir={tmp_path / 'w'}")
    assert_one_line_error(got, "num_tasks=0 must be an integer >= 1")
    assert not (tmp_path / "w").exists()  # no submitit/ folder left behind
    got = command("sweeps.launch", TINY, f"--workdir={workdirs / 'done'}")  # another config's
    assert_one_line_error(got, "first differing field", "sweeps.run --restart")
    assert not (workdirs / "done" / "submitit").exists()


def test_figures_refuse_a_damaged_workdir_before_drawing(workdirs, tmp_path):
    for name in ("config.json", "summary.csv", "threshold.json", "trajectories.nc", "chunks"):
        subprocess.run(["cp", "-r", str(workdirs / "done" / name), str(tmp_path)], check=True)
    path = results.chunk_path(tmp_path, 1)
    path.write_bytes(path.read_bytes()[:300])  # truncated
    got = command("figures.make", f"--workdir={tmp_path}")
    assert_one_line_error(got, "chunk_00001.nc is unreadable")
    assert not (tmp_path / "figures").exists()  # nothing drawn
    (tmp_path / "summary.csv").write_text("a,b\n1,2\n")
    got = command("figures.make", f"--workdir={tmp_path}")
    assert_one_line_error(got, "summary.csv lacks the column(s) ['run', 'sweep'")


def test_help_exits_0_and_lists_every_field_of_the_chosen_config(workdirs):
    got = command("sweeps.run", "--help")
    assert got.returncode == 0, got.stderr[-2000:]
    assert "--config.lr=(0.25,)\n      step size eta" in got.stdout  # the default config's
    assert "--config.flow.rtol=" in got.stdout and "--config.verdict.gap_tol=" in got.stdout
    got = command("sweeps.run", "--config=sweeps/configs/cls_tiny.py", "--helpfull")
    assert got.returncode == 0 and "--config.steps=120\n      GD steps" in got.stdout
    got = command("figures.make", f"--workdir={workdirs / 'done'}", "--help")
    assert got.returncode == 0 and "p_of_n" in got.stdout and "decided_by" in got.stdout
    for module in ("sweeps.merge", "sweeps.launch"):
        assert command(module, "--help").returncode == 0
