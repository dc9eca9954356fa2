"""Running a job's tasks on a Dask cluster: the executor behind ``--scheduler ADDRESS|local[:N]``.

A pipeline (a render, an alignment run) cuts its work into tasks itself, each a deterministic slice
of the job, and hands them here with the task function its local workers run. This module only
ships them to Dask, keeps one piece of per-worker state (a loaded pack and its raster cache, a face
model) alive between tasks, and yields the results back in completion order with a progress bar.
The client stays the only writer of the job's shared records (index, manifest), as on one machine.

Workers write to the job's output folder themselves, so every worker must see it under the same
path: a shared (network) filesystem is required. Dask is optional
(``pip install '.[cluster]'`` in the checkout) and imported only here, only when a scheduler is used.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import pickle
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from .errors import ToolkitError, install_hint
from .progress import progress
from .lifecycle import usable_cores

INSTALL_HINT = install_hint("cluster")
LOCAL = "local"
RETRIES = 2  #: reruns of a task that raised (a flaky shared filesystem); lost workers are Dask's own retries


class ClusterError(ToolkitError, RuntimeError):
    """The cluster cannot run the job (Dask missing, scheduler unreachable, a task lost for good)."""


def require_distributed():
    """The ``distributed`` module, or one sentence saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise ClusterError(f"--scheduler needs Dask distributed, which is not installed: {INSTALL_HINT}") from None
    return distributed


def check_scheduler(scheduler: Any) -> Any:
    """``scheduler`` validated before any work: Dask importable, a spec string parsed."""
    require_distributed()
    return SchedulerSpec.parse(scheduler) if isinstance(scheduler, str) else scheduler


@dataclass(frozen=True)
class SchedulerSpec:
    """Where the tasks go: a LocalCluster of ``workers`` processes, a scheduler address, or the
    scheduler file a ``dask scheduler --scheduler-file`` (e.g. in a Slurm job) wrote."""

    kind: str  #: "local", "address" or "file"
    target: str = ""
    workers: int | None = None

    @classmethod
    def parse(cls, text: str) -> "SchedulerSpec":
        text = str(text).strip()
        if text == LOCAL or text.startswith(LOCAL + ":"):
            n = text[len(LOCAL) + 1:]
            if n and (not n.isdigit() or int(n) < 1):
                raise ClusterError(f"--scheduler {text}: expected local or local:N with N >= 1 worker processes")
            return cls(LOCAL, workers=int(n) if n else None)
        if text.endswith(".json"):
            if not Path(text).is_file():
                raise ClusterError(f"--scheduler {text}: no such scheduler file")
            return cls("file", text)
        if not text:
            raise ClusterError("--scheduler is empty; give ADDRESS (tcp://host:8786), local[:N] or a scheduler file")
        return cls("address", text)


@contextlib.contextmanager
def connect(scheduler: Any, say: Callable[[str], None] | None = None) -> Iterator[Any]:
    """A Dask client for ``scheduler`` (a spec string or an existing ``distributed.Client``).

    ``local[:N]`` starts a LocalCluster of N single-threaded worker processes on the loopback
    interface (N defaults to the number of cores) and stops it on exit.
    """
    distributed = require_distributed()
    if isinstance(scheduler, distributed.Client):
        yield scheduler
        return
    spec = scheduler if isinstance(scheduler, SchedulerSpec) else SchedulerSpec.parse(scheduler)
    with contextlib.ExitStack() as stack:
        try:
            if spec.kind == LOCAL:
                cluster = stack.enter_context(local_cluster(spec.workers))
                client = stack.enter_context(distributed.Client(cluster))
            elif spec.kind == "file":
                client = stack.enter_context(distributed.Client(scheduler_file=spec.target))
            else:
                client = stack.enter_context(distributed.Client(spec.target))
        except OSError as e:
            raise ClusterError(f"cannot reach the Dask scheduler {spec.target or 'local'}: {e}") from None
        if say is not None:
            link = dashboard_link(client)
            bokeh = importlib.util.find_spec("bokeh") is not None
            n = len(client.scheduler_info(n_workers=-1)["workers"])
            say(f"dask: {n} worker{'' if n == 1 else 's'}; "
                + (f"dashboard {link}" if link else "the scheduler serves no dashboard"
                   + ("" if bokeh else " (pip install bokeh)")))
        yield client


# Dask's housekeeping, measured on 2 busy cores: the workers' statistical profiler (a stack sample
# every 10 ms) and the scheduler's 20 ms ticks cost ~10% of a core with nothing to do, and more per
# image while rendering; these settings bring that to ~1.5%. For workers you start yourself, set
# DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False (see docs/scale-out.md).
LOCAL_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.scheduler.work-stealing-interval": "1s",
}


def local_cluster(workers: int | None = None, dashboard: bool = True):
    """A LocalCluster of ``workers`` single-threaded worker processes (default: one per core),
    listening on 127.0.0.1 only, with :data:`LOCAL_CONFIG`."""
    import dask

    distributed = require_distributed()
    with dask.config.set(LOCAL_CONFIG):  # read when the scheduler starts and handed to the workers
        return distributed.LocalCluster(n_workers=workers or usable_cores(), threads_per_worker=1,
                                        processes=True, host="127.0.0.1",
                                        dashboard_address="127.0.0.1:0" if dashboard else None,
                                        silence_logs=logging.ERROR)


def dashboard_link(client: Any) -> str | None:
    """The dashboard's URL, or None when the scheduler serves none (bokeh missing)."""
    if "dashboard" not in client.scheduler_info(n_workers=0).get("services", {}):
        return None
    return client.dashboard_link


# ------------------------------------------------------------------------------------ worker side

_local = threading.local()


def _run(token: str, setup: Callable, setup_args: tuple, fn: Callable, task: Any) -> tuple[float, Any]:
    """On a worker: ``fn(state, task)``, with this thread's state for ``token`` (built on first use
    and kept for the job's later tasks: a pack's raster cache, a face model)."""
    if getattr(_local, "token", None) != token:
        _local.state, _local.token = None, None  # drop another job's state before building this one
        _local.state, _local.token = setup(*setup_args), token
    t = time.perf_counter()
    result = fn(_local.state, task)
    return time.perf_counter() - t, result


# ------------------------------------------------------------------------------------ client side

@dataclass
class TaskStats:
    """What a cluster run cost: for the report and bench/scale.py's per-task overhead."""

    tasks: int = 0
    task_seconds: float = 0.0  #: summed over tasks, measured on the workers
    seconds: float = 0.0  #: wall time from the first submission to the last result
    workers: int = 0
    lost_workers: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"tasks": self.tasks, "task_seconds": round(self.task_seconds, 3), "seconds": round(self.seconds, 3),
                "workers": self.workers, "lost_workers": len(self.lost_workers)}


def run_tasks(client: Any, fn: Callable, tasks: Sequence[Any], *, setup: Callable, setup_args: tuple = (),
              weights: Sequence[int] | None = None, desc: str = "tasks", unit: str = "it",
              show_progress: bool | None = None, stats: TaskStats | None = None,
              retries: int = RETRIES) -> Iterator[tuple[int, Any]]:
    """Run ``fn(state, task)`` for every task on the cluster; yield ``(task number, result)`` as each
    finishes. ``setup(*setup_args)`` builds each worker thread's state once. A worker lost mid-task
    has that task rerun elsewhere (Dask's ``allowed-failures``); results reach the caller once each.

    At most a few tasks per worker thread are queued at a time, so a job of millions of inputs
    never sits whole in the scheduler's memory, and a killed client leaves little behind.
    """
    distributed = require_distributed()
    stats = stats if stats is not None else TaskStats()
    weights = list(weights) if weights is not None else [1] * len(tasks)
    token = hashlib.sha256(pickle.dumps((setup, setup_args))).hexdigest()[:16]
    start_workers = set(client.scheduler_info(n_workers=-1)["workers"])
    bar = progress(total=sum(weights), desc=desc, unit=unit,
                   disable=None if show_progress in (None, True) else True)
    queue = iter(range(len(tasks)))
    running = distributed.as_completed()
    live: dict[str, tuple[int, Any]] = {}  # key -> (task number, future)
    t0 = time.perf_counter()
    window, asked = 8, 0.0

    def fill() -> None:
        nonlocal window, asked
        if time.perf_counter() - asked > 1.0:  # workers come and go (adapt, preemption): ask once a second
            threads = client.nthreads()
            stats.workers = max(stats.workers, len(threads))
            window, asked = max(8, 4 * sum(threads.values())), time.perf_counter()
        while len(live) < window:
            i = next(queue, None)
            if i is None:
                return
            fut = client.submit(_run, token, setup, setup_args, fn, tasks[i], pure=False, retries=retries,
                                key=f"{desc}-{i}-{uuid.uuid4().hex[:8]}")
            live[fut.key] = (i, fut)
            running.add(fut)

    try:
        fill()
        for fut in running:
            i, _ = live.pop(fut.key)
            try:
                seconds, result = fut.result()
            except distributed.KilledWorker as e:
                raise ClusterError(f"{desc} task {i} was lost with every worker that ran it ({e}); "
                                   "rerun the same command to resume") from None
            fut.release()
            stats.tasks += 1
            stats.task_seconds += seconds
            bar.update(weights[i])
            fill()
            yield i, result
    finally:
        stats.seconds = time.perf_counter() - t0
        for _, fut in live.values():
            fut.cancel()
        bar.close()
        with contextlib.suppress(Exception):
            stats.lost_workers = sorted(start_workers - set(client.scheduler_info(n_workers=-1)["workers"]))

