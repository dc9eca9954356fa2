"""Going distributed, measured: the same render single-process, with ``--workers 2`` and on a Dask
LocalCluster of 2 single-threaded worker processes, in one run (same seed, same bytes: checked).

    python bench/scale.py [--n 20000] [--size 500] [--pack default] [--workers 2] [--task-size N]

Prints images/s for each, the cluster's overhead against the local multiprocess path, the
scheduler's per-task cost (no-op tasks, and measured on the render itself), and the client's
serial phases per 1000 cartoons (selection, resume scan, index), which docs/scale-out.md uses to
extrapolate to 100 workers. The cluster is started before the clock starts (its start-up is
printed separately): on a real cluster it is already running. The last line holds the figures.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from cartoonset.common.cluster import local_cluster, run_tasks
from cartoonset.pack import load_pack
from cartoonset.pipeline import default_task_size, index_rows, is_done, render
from cartoonset.sampler import config_id, select


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.iterdir()):
        h.update(p.name.encode())
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def _noop_setup() -> None:
    return None


def _noop(state, task) -> int:
    return task


def noop_ms(client, tasks: int = 400) -> float:
    """Wall time per task of no-op tasks: the scheduler's and the network's cost per task."""
    t = time.perf_counter()
    for _ in run_tasks(client, _noop, list(range(tasks)), setup=_noop_setup, desc="noop", show_progress=False):
        pass
    return (time.perf_counter() - t) / tasks * 1000


def cpu_seconds(client=None) -> float:
    """CPU time of this process, its joined children and (given a client) the cluster's workers:
    the figure that stays meaningful when other jobs share the cores."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    if client is not None:
        total += sum(client.run(_worker_cpu).values())
    return total


def _worker_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--size", type=int, default=500)
    ap.add_argument("--pack", default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--task-size", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import distributed

    pack = load_pack(a.pack)
    common = dict(n=a.n, seed=a.seed, size=a.size, pack=pack, show_progress=False)
    rates, cpus, digests = {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        root = Path(tmp)

        def timed(name: str, client=None, **kw):
            c, t = cpu_seconds(client), time.perf_counter()
            rep = render(out=root / name, **common, scheduler=client, **kw)
            wall, cpu = time.perf_counter() - t, cpu_seconds(client) - c
            rates[name], cpus[name] = a.n / wall, cpu / a.n * 1000
            digests[name] = digest(root / name)
            print(f"{name:>10}: {a.n} cartoons in {wall:.1f} s = {rates[name]:.1f} images/s; "
                  f"{cpus[name]:.1f} CPU ms/image; raster cache misses {rep.cache_misses}", flush=True)
            return rep, wall

        timed("single", workers=1)
        timed("workers", workers=a.workers)
        t = time.perf_counter()
        with local_cluster(a.workers, dashboard=False) as cluster, distributed.Client(cluster) as client:
            startup = time.perf_counter() - t
            rep, wall = timed("cluster", client, workers=a.workers, task_size=a.task_size)
            noop = noop_ms(client)
        st = rep.cluster
        # the client's serial phases of the same job, timed alone
        t = time.perf_counter()
        sel = select(pack, a.seed, a.n)
        t_select = time.perf_counter() - t
        t = time.perf_counter()
        ids = [config_id(sel.attrs[k], sel.names) for k in range(len(sel))]
        scan = [is_done(root / "single", cid) for cid in ids]
        t_scan = time.perf_counter() - t
        t = time.perf_counter()
        index_rows(pack, sel, a.size)
        t_index = time.perf_counter() - t
        assert all(scan)

    same = len(set(digests.values())) == 1
    overhead = rates["workers"] / rates["cluster"] - 1
    cpu_overhead = cpus["cluster"] / cpus["workers"] - 1
    busy = st["task_seconds"]
    per_task = (st["seconds"] * a.workers - busy) / st["tasks"] * 1000
    k = 1000 / a.n
    print(f"cluster start-up: {startup:.1f} s (not in the figures); tasks: {st['tasks']} of about "
          f"{a.n / st['tasks']:.0f} cartoons (task size {a.task_size or default_task_size(a.size)}, cut at hairstyles), "
          f"{busy / st['tasks']:.2f} s each on a worker")
    print(f"scheduler cost per task: {noop:.1f} ms (no-op tasks); measured on the render: {per_task:.0f} ms "
          f"(worker time not spent in a task, incl. the job's tail)")
    print(f"client serial phases per 1000 cartoons: selection {t_select * k * 1000:.0f} ms, resume scan "
          f"(ids + 2 stats each) {t_scan * k * 1000:.0f} ms, index.csv rows {t_index * k * 1000:.0f} ms")
    print(f"CPU per image: single {cpus['single']:.1f} ms, --workers {a.workers} {cpus['workers']:.1f} ms, "
          f"cluster {cpus['cluster']:.1f} ms ({100 * cpu_overhead:+.1f}% vs --workers; robust when other jobs share the cores)")
    print(f"outputs identical across the three runs: {'yes' if same else 'NO'}")
    print(f"{a.n} cartoons at {a.size}px: single {rates['single']:.1f}, --workers {a.workers} {rates['workers']:.1f}, "
          f"LocalCluster {a.workers}x1 {rates['cluster']:.1f} images/s; cluster overhead vs --workers "
          f"{a.workers}: {100 * overhead:+.1f}% wall, {100 * cpu_overhead:+.1f}% CPU (target within 10%); "
          f"{noop:.1f} ms/task scheduling")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
