"""The progress display (``runner/progress.py``): drawn on a terminal only, moved inside a chunk
by the task's own estimate, log lines written above the bar and never glued to it; the real
command draws it on a terminal and not into a pipe."""

import io
import os
import re
import subprocess
import sys

import pytest

from alignment.runner.chunks import Chunk
from alignment.runner.progress import Progress, chunk_cost


class Terminal(io.StringIO):
    def isatty(self):
        return True


class ToyFamily:
    def cost(self):
        return 2.0

    def describe(self):
        return "toy"


class ToyProgram:
    family = ToyFamily()


CHUNKS = [Chunk(i, ToyProgram(), (0, 1, 2), "toy", 4) for i in range(2)]


def test_the_bar_moves_inside_a_chunk_and_ends_full():
    out = Terminal()
    assert chunk_cost(CHUNKS[0]) == 8.0  # 4 lanes x cost 2
    with Progress(CHUNKS, out) as bar:
        bar.step(CHUNKS[0], 0.25, "call 1/4")
        assert bar.bar.n == pytest.approx(2.0)
        bar.step(CHUNKS[0], 0.1, "resumed")  # an estimate that falls back never runs back
        assert bar.bar.n == pytest.approx(2.0)
        bar.chunk_done(CHUNKS[0], 1.0, {"stuck": 3})
        bar.step(CHUNKS[1], 1.0, "call 4/4")
        bar.chunk_done(CHUNKS[1], 1.0, {"stuck": 3})
        assert bar.bar.n == pytest.approx(16.0) == bar.bar.total
    text = out.getvalue()
    assert "chunk 1/2: call 1/4" in text and "chunk 2/2: call 4/4" in text


class Clock:
    """A settable clock: the test says how much wall time each reported fraction took."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_later_chunks_read_their_estimates_through_what_the_first_took():
    """Chunk 1 says 0.8 after 2 s and ends after 10 s (its continuations took 80% of it, not
    the 20% its task guessed). Chunk 2's 0.8 is then drawn at 20% of its cost, the share of
    wall time at which chunk 1 said 0.8; its 0.9 halfway between 20% and 100% (linear)."""
    clock = Clock()
    with Progress(CHUNKS, Terminal(), clock) as bar:
        for t, f in ((1.0, 0.4), (2.0, 0.8), (6.0, 0.9)):
            clock.now = t
            bar.step(CHUNKS[0], f, "")
        assert bar.bar.n == pytest.approx(0.9 * 8.0)  # nothing learned yet: the estimate
        clock.now = 10.0
        bar.chunk_done(CHUNKS[0], 10.0, {})
        clock.now = 12.0
        bar.step(CHUNKS[1], 0.8, "")
        assert bar.bar.n == pytest.approx(8.0 + 0.2 * 8.0)
        bar.step(CHUNKS[1], 0.9, "")
        assert bar.bar.n == pytest.approx(8.0 + 0.6 * 8.0)


def test_off_a_terminal_nothing_is_drawn():
    out = io.StringIO()
    with Progress(CHUNKS, out) as bar:
        bar.step(CHUNKS[0], 0.5, "half")
        bar.chunk_done(CHUNKS[0], 1.0, {})
    assert out.getvalue() == ""


SMALL = [
    "--config=sweeps/configs/cls_tiny.py",
    "--config.subsets=1",
    "--config.steps=30",
    "--config.removal=False",
    "--config.snapshots_per_call=5",
    "--config.make_figures=False",
]


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_the_command_draws_the_bar_on_a_terminal_only(tmp_path):
    cmd = [sys.executable, "-m", "sweeps.run", *SMALL]
    leader, follower = os.openpty()
    proc = subprocess.Popen([*cmd, f"--workdir={tmp_path / 'tty'}"], stderr=follower)
    os.close(follower)
    seen = b""
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # the command closed its end
            break
        if not data:
            break
        seen += data
    os.close(leader)
    assert proc.wait(timeout=120) == 0
    text = seen.decode(errors="replace")
    # the bar moved inside the one chunk, call by call
    assert re.search(r"\d+%\|[^|]*\| chunk 1/1: base runs: call [1-9]/\d", text), text[-3000:]
    # every log line sits on a line of its own, above the bar, never glued to it
    logs = [p for p in re.split(r"[\r\n]", text) if re.match(r"[IWE]\d{4} ", p.lstrip())]
    assert any("checkpoint saves" in p for p in logs)  # written while the bar was drawn
    assert logs and all("|" not in p for p in logs), logs
    piped = subprocess.run(
        [*cmd, f"--workdir={tmp_path / 'pipe'}"], capture_output=True, text=True, timeout=120
    )
    assert piped.returncode == 0 and "chunk 1/1: base runs" not in piped.stderr
    assert "runs in 1 chunks" in piped.stderr  # the log lines are still there


def test_the_eta_benchmark_replays_a_linear_chunk_exactly():
    """Two equal chunks whose estimates grow linearly with their time: the bar's ETA is the
    true remaining time at every report, read as reported or through the learned curve."""
    from benchmarks import eta

    events = []
    for c in range(2):
        events += [("step", c, k / 10, 10.0 * c + k) for k in range(1, 10)]
        events.append(("done", c, 1.0, 10.0 * (c + 1)))
    events.insert(0, ("step", 0, 0.0, 0.0))
    for learn in (False, True):
        rows = eta.replay(events, {0: 1.0, 1: 1.0}, learn)
        ratio = eta.ratios(rows, wall=20.0)  # reports between t = 2 and 18
        assert ratio["min"] == pytest.approx(1.0) and ratio["max"] == pytest.approx(1.0)
