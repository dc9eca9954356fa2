"""Render workers never outlive the main process: real processes, real signals (Linux /proc)."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CLI = str(Path(sys.executable).parent / "cartoonset")

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])


def _alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None and st[1] == pid and st[0] not in ("Z", "X"):
                out.append(int(entry))
    return out


def _terminal_signals() -> None:
    """In the child: SIGINT as a terminal's foreground job has it. A job started in the background of
    a non-interactive shell (a CI runner, `make test &`) inherits SIGINT ignored, and an ignored
    SIGINT would make the Ctrl-C test meaningless."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(out: Path, pack: Path) -> tuple[subprocess.Popen, list[int]]:
    """A 2-worker render that is well under way: both workers exist and cartoons are being written."""
    p = subprocess.Popen([CLI, "render", "--n", "5000", "--seed", "1", "--out", str(out), "--pack", str(pack),
                          "--workers", "2"], stdout=subprocess.DEVNULL, stderr=(out.parent / "stderr.txt").open("wb"),
                         start_new_session=True, preexec_fn=_terminal_signals)
    deadline = time.monotonic() + 120
    workers: list[int] = []
    while time.monotonic() < deadline:
        workers = _children(p.pid)
        if len(workers) == 2 and len(list((out / "images").glob("cs*.csv"))) >= 4:
            return p, workers
        if p.poll() is not None:
            break
        time.sleep(0.05)
    p.kill()
    _cleanup(workers)
    raise AssertionError(f"render did not get going: {(out.parent / 'stderr.txt').read_text()[-2000:]!r}")


def _wait_gone(pids: list[int], limit: float = 30.0) -> list[int]:
    """The pids still alive after waiting up to ``limit`` seconds (a liveness bound, not a speed test)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and any(_alive(q) for q in pids):
        time.sleep(0.1)
    return [q for q in pids if _alive(q)]


def _cleanup(pids: list[int]) -> None:
    for q in pids:  # never leave a stray worker behind a failed test
        if _alive(q):
            os.kill(q, signal.SIGKILL)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_exit_when_the_main_process_is_killed(mini_pack_dir, tmp_path, sig):
    p, workers = _start(tmp_path / "out", mini_pack_dir)
    try:
        os.kill(p.pid, sig)  # the main process only, not its group
        assert p.wait(timeout=60) == -sig
        assert _wait_gone(workers) == []
    finally:
        _cleanup(workers)


def test_ctrl_c_stops_the_workers_and_exits_cleanly(mini_pack_dir, tmp_path):
    out = tmp_path / "out"
    p, workers = _start(out, mini_pack_dir)
    try:
        os.killpg(p.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
        assert p.wait(timeout=60) != 0
        assert "Traceback" not in (tmp_path / "stderr.txt").read_text()
        assert _wait_gone(workers) == []
        done = len(list((out / "images").glob("cs*.csv")))
        assert 0 < done < 5000
    finally:
        _cleanup(workers)
