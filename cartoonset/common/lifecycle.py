"""Worker processes that never outlive their parent, and a parent that stops them on a signal.

A batch job's workers are plain child processes; if only the parent is killed (``kill -9``, an OOM
killer, a scheduler's SIGTERM) nothing else tells them to stop, and they linger for minutes blocked
on a queue nobody feeds. :func:`die_with_parent` (called first thing in a worker) makes the kernel
kill the worker when its parent dies (``PR_SET_PDEATHSIG`` on Linux) and, on every platform, starts a
watchdog thread that exits as soon as the parent process is gone. :func:`stop_on_signals` turns
SIGTERM in the parent into an exception, so the job's ``finally`` stops its workers, and then
re-delivers the signal, so the process still ends the way its sender asked. :func:`usable_cores`
is how many workers (or threads) a job should start by default.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from typing import Iterable, Iterator

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WATCH_INTERVAL = 0.5  # seconds between the watchdog's looks at the parent pid


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity (``taskset``, a scheduler's cpuset), not
    the machine's count, so two jobs pinned to one core each do not start two threads apiece."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity call on this platform
        return max(1, os.cpu_count() or 1)


class Terminated(BaseException):
    """SIGTERM arrived while :func:`stop_on_signals` was active (a BaseException, like KeyboardInterrupt)."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


def die_with_parent(parent_pid: int) -> None:
    """Make this (worker) process exit when the process ``parent_pid`` is gone.

    Ctrl-C reaches the whole process group: the worker ignores SIGINT and lets the parent stop it.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the death signal was armed
        os._exit(1)
    threading.Thread(target=_watch, args=(parent_pid,), name="parent-watchdog", daemon=True).start()


def _watch(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(WATCH_INTERVAL)
    os._exit(1)


#: the resource tracker's shutdown warning, which a parent killed outright always triggers
_TRACKER_WARNING = "ignore::UserWarning:multiprocessing.resource_tracker"


def quiet_resource_tracker() -> None:
    """Start multiprocessing's resource tracker (if it is not running) without its leak warning.

    Workers started by ``spawn`` share semaphores that the tracker unlinks when the parent dies
    without doing so itself (SIGKILL, or SIGTERM re-delivered by :func:`stop_on_signals`); it then
    warns "leaked semaphore objects" on the job's stderr. Nothing is leaked (it just cleaned them up),
    so that one warning is filtered in the tracker's process; its other output is untouched.
    """
    from multiprocessing import resource_tracker

    previous = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = ",".join(w for w in (previous, _TRACKER_WARNING) if w)
    try:
        resource_tracker.ensure_running()  # the tracker inherits the filter; later children do not
    finally:
        if previous is None:
            del os.environ["PYTHONWARNINGS"]
        else:
            os.environ["PYTHONWARNINGS"] = previous


def stop_processes(procs: Iterable, grace: float = 2.0) -> None:
    """Terminate the processes still running, wait up to ``grace`` seconds, then kill the rest."""
    procs = [p for p in procs if p.pid is not None]
    for p in procs:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + grace
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join(1.0)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Inside the block SIGTERM raises :class:`Terminated` (so ``finally`` clauses stop workers); on
    the way out the previous handler is restored and the signal re-delivered to this process.

    Outside the main thread (where handlers cannot be set), or where SIGTERM is ignored, it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous == signal.SIG_IGN:
        yield
        return

    def handler(signum, frame):
        raise Terminated(signum)

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    except Terminated as e:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
        os.kill(os.getpid(), e.signum)  # default handler: the process ends here, killed by SIGTERM
        raise
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
