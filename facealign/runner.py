"""``facealign run``: every input through the pipeline, in parallel, sharded and resumable.

Resuming: each finished input appends one row to the shard's JSON-lines manifest (the main
process is its only writer) after its crops were renamed into place, so a killed run restarted
with the same arguments skips what has a row and redoes the rest; a crop from an interrupted item
is simply rewritten under the same name. Inputs recorded as missing or unavailable are tried again
once their photo exists (after a later ``facealign fetch``).
"""
from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cartoonset.common.version import __version__
from cartoonset.common.atomic import OUTPUT_FAILURES, OutputFailure
from cartoonset.common.lifecycle import die_with_parent, quiet_resource_tracker, stop_on_signals
from cartoonset.common.locks import hold_folder
from cartoonset.common.errors import InputError
from cartoonset.common.records import RecordLog
from cartoonset.common.progress import progress
from cartoonset.common.shards import Shard

from .backend import BackendSpec, FaceModels
from .outputs import (check_settings, manifest_row, read_manifest, remove_stale_temps, write_crops,
                      write_manifest_csv)
from .photo import align_image
from .identities import (CLUSTER, SOURCES as IDENTITY_SOURCES, IdentityFile, check_cluster_available, cluster_faces,
                         parse_identities)
from .settings import Settings
from .sources import Item, inside, read_inputs
from .status import OK, JobSummary


@dataclass
class RunSummary(JobSummary):
    """``run``'s summary over the items of this shard; ``done`` were aligned now."""

    stage_seconds: dict[str, float] = field(default_factory=dict)  #: summed over this call's items
    identity_sources: dict[str, int] = field(default_factory=dict)  #: how the identities were decided
    notes: list[str] = field(default_factory=list)  #: one line each, for the person at the command line

    def footer(self) -> str:
        if not self.done:
            return self.nothing_to_do()
        rate = self.done / self.seconds if self.seconds > 0 else 0.0
        return (f"processed now {self.done} in {self.seconds:.1f} s ({rate:.1f} images/s); "
                f"already done {self.resumed}; filtered out {self.filtered}")


def run(inputs: Sequence[str | os.PathLike], out: str | os.PathLike, *, settings: Settings | None = None,
        workers: int = 1, shard: Shard | str | None = None, images: str | os.PathLike | None = None,
        curated_only: bool = False, frontal_only: bool = False, backend: BackendSpec | None = None,
        identities: str | os.PathLike | IdentityFile | None = None,
        show_progress: bool | None = None, scheduler=None, task_size: int | None = None) -> RunSummary:
    """Align every photo of ``inputs`` into ``out`` (see :mod:`facealign.outputs` for the layout).

    Parallel with ``workers`` processes (each keeps its own models), restricted to ``shard``
    ("K/N"), and resumable: call it again with the same arguments after an interruption.
    ``identities``: an identity file, or ``"cluster"`` (see :mod:`facealign.identities`); rows of
    an earlier run whose identity this changes are rewritten without re-aligning.
    ``scheduler`` ("local[:N]", a Dask scheduler address or file, or a ``distributed.Client``)
    runs the photos as tasks of ``task_size`` inputs on a Dask cluster instead.
    """
    t0 = time.perf_counter()
    settings = settings or Settings()
    backend = backend or BackendSpec(min_confidence=settings.min_confidence)
    shard = shard if isinstance(shard, Shard) else Shard.parse(shard)
    if workers < 1:
        raise InputError(f"workers must be at least 1, got {workers}")
    if task_size is not None and task_size < 1:
        raise InputError(f"task_size must be at least 1, got {task_size}")
    if scheduler is not None:
        from cartoonset.common.cluster import check_scheduler

        scheduler = check_scheduler(scheduler)  # say how to install Dask before any work
    if backend.name == "tasks" and settings.background != "none" and not backend.models.get("segmenter"):
        raise InputError("the tasks backend removes backgrounds only with --segmenter-model (or use --background none)")
    out = Path(out)
    named = identities if isinstance(identities, IdentityFile) else parse_identities(identities)
    if named == CLUSTER:
        check_cluster_available()  # before hours of alignment, not after
    listing = read_inputs(inputs, images=images, curated_only=curated_only, frontal_only=frontal_only,
                          identities=named if isinstance(named, IdentityFile) else None)
    out.mkdir(parents=True, exist_ok=True)
    with hold_folder(out, "facealign-run" + shard.suffix, "facealign run",
                     "or align into another --out (the shards of one run may share it: --shard K/N)"):
        return _run_locked(out, settings, backend, shard, workers, listing, named, show_progress, scheduler,
                           task_size, t0)


def _run_locked(out: Path, settings: Settings, backend: BackendSpec, shard: Shard, workers: int, listing,
                named, show_progress, scheduler, task_size, t0: float) -> RunSummary:
    """``run``'s work, with ``out`` held."""
    check_settings(out, settings.to_dict(), {"version": __version__, "backend": backend.name})
    remove_stale_temps(out)

    items = shard.select(listing.items)
    done = read_manifest(out)
    todo = [it for it in items if it.id not in done or _now_available(done[it.id], it)]
    stages: Counter = Counter()
    with RecordLog(out / f"manifest{shard.suffix}.jsonl", key="id") as log:
        _rename(log, items, done)
        bar = progress(total=len(todo), desc="facealign", unit="img", disable=_quiet(show_progress))
        try:
            rows = (_cluster_rows(todo, out, settings, backend, scheduler, task_size, show_progress)
                    if scheduler is not None and todo else _rows(todo, out, settings, backend, workers))
            for row in rows:
                stages.update(row.get("timings_ms", {}))
                log.append(row)
                bar.update(1)
        finally:
            bar.close()
        if named == CLUSTER:
            _cluster(log, out, items, show_progress)
    rows = read_manifest(out)
    write_manifest_csv(out, rows.values())
    mine = [rows[it.id] for it in items if it.id in rows]
    counts = Counter(r["status"] for r in mine)
    sources = Counter(r.get("identity_source", "") for r in mine)
    return RunSummary(out, dict(counts), len(todo), len(items) - len(todo), listing.filtered,
                      time.perf_counter() - t0, {k: v / 1000.0 for k, v in stages.items()}, dict(sources),
                      _notes(sources, named) if counts.get(OK) else [])  # nothing aligned: no note on identities


def _rename(log: RecordLog, items: list[Item], done: dict[str, dict]) -> None:
    """Give rows of an earlier run the identity this run decides (an identity file added later);
    a weaker way of deciding (a folder name) never overrides a stronger one (a file, clusters)."""
    rank = {s: i for i, s in enumerate(IDENTITY_SOURCES)}
    for it in items:
        row = done.get(it.id)
        if row is None or rank[it.identity_source] > rank.get(row.get("identity_source"), len(rank)):
            continue
        if (row.get("identity"), row.get("identity_source")) != (it.identity, it.identity_source):
            log.append({**row, "identity": it.identity, "identity_source": it.identity_source,
                        "time": round(time.time(), 3)})


#: dlib embeddings of the crops by content, kept so a rerun of --identities cluster embeds only new faces
EMBEDDINGS_FILE = "identities-dlib.npz"


def _cluster(log: RecordLog, out: Path, items: list[Item], show_progress: bool | None) -> None:
    """``--identities cluster``: group this shard's aligned faces by face embedding."""
    from PIL import Image

    rows = read_manifest(out)
    ok = {it.id: rows[it.id] for it in items if rows.get(it.id, {}).get("status") == "ok"}
    crops = {}
    for key, row in ok.items():
        outputs = row.get("outputs") or {}
        path = inside(out, outputs.get(max(outputs, key=int))) if outputs else None
        if path is not None and path.is_file():
            with Image.open(path) as im:
                crops[key] = np.asarray(im.convert("RGB"))
    for key, who in cluster_faces(crops, cache=out / EMBEDDINGS_FILE, show_progress=show_progress).items():
        row = ok[key]
        if (row.get("identity"), row.get("identity_source")) != (who, CLUSTER):
            log.append({**row, "identity": who, "identity_source": CLUSTER, "time": round(time.time(), 3)})


def _notes(sources: Counter, named) -> list[str]:
    flat = sources.get("photo", 0)
    if flat and named is None:
        return [f"note: {flat} photo(s) sit straight in a flat folder and count as one person each; if some "
                f"show the same person, give --identities FILE or --identities cluster (docs/data.md)"]
    if flat and named is not None and named != CLUSTER:
        return [f"note: {flat} photo(s) are not in {named.path.name} and count as one person each"]
    return []


def _now_available(row: dict, item: Item) -> bool:
    """A photo recorded as missing or unavailable that has since been downloaded is done again."""
    return row.get("status") in ("missing", "unavailable") and item.status is None


def _quiet(show: bool | None) -> bool | None:
    return None if show is None else not show


def _rows(todo: list[Item], out: Path, settings: Settings, spec: BackendSpec, workers: int):
    """Manifest rows for ``todo``: items already decided first, the rest through the pipeline."""
    pending = [it for it in todo if it.status is None]
    for it in todo:
        if it.status is not None:
            yield manifest_row(it, {"status": it.status, "reason": it.reason})
    if not pending:
        return
    if workers == 1 or len(pending) == 1:
        backend = spec.create()
        try:
            for it in pending:
                yield process_item(it, backend, settings, out)
        finally:
            backend.close()
        return
    ctx = mp.get_context("spawn")  # fresh interpreters: no model or thread state crosses a fork
    quiet_resource_tracker()
    # SIGTERM ends the pool (its workers stopped by the with) and then this process; a worker dies with
    # its parent, however the parent died, instead of writing tracebacks into a closed pipe
    with stop_on_signals(), ctx.Pool(min(workers, len(pending)), initializer=_init_worker,
                                      initargs=(spec, settings, str(out), os.getpid())) as pool:
        yield from pool.imap_unordered(_work, pending, chunksize=1)


TASK_SIZE = 64  #: inputs per cluster task: a few seconds of one worker (about 25 photos/s)


def _cluster_rows(todo: list[Item], out: Path, settings: Settings, spec: BackendSpec, scheduler,
                  task_size: int | None, show_progress: bool | None):
    """Manifest rows for ``todo`` from a Dask cluster: consecutive runs of ``task_size`` inputs per
    task, each through :func:`process_item` on a worker that keeps its models between tasks."""
    from cartoonset.common.cluster import TaskStats, connect, run_tasks

    for it in todo:
        if it.status is not None:
            yield manifest_row(it, {"status": it.status, "reason": it.reason})
    # workers may run elsewhere: they get absolute paths (the shared filesystem's)
    pending = [replace(it, path=str(Path(it.path).resolve())) for it in todo if it.status is None]
    if not pending:
        return
    size = task_size or TASK_SIZE
    tasks = [pending[i:i + size] for i in range(0, len(pending), size)]
    stats = TaskStats()
    say = None if show_progress is False else (lambda m: print(m, file=sys.stderr, flush=True))
    with connect(scheduler, say) as client:
        for _, rows in run_tasks(client, _cluster_task, tasks, setup=_cluster_worker,
                                 setup_args=(spec, settings, str(out.resolve())), show_progress=False, stats=stats):
            yield from rows
    if stats.lost_workers:
        remove_stale_temps(out, min_age=0.0)  # what a lost worker was writing; this job's writers are done


def _cluster_worker(spec: BackendSpec, settings: Settings, out: str):
    _init_worker(spec, settings, out)
    return dict(_WORKER)


def _cluster_task(state: dict, items: list[Item]) -> list[dict[str, Any]]:
    return [process_item(it, state["backend"], state["settings"], state["out"]) for it in items]


def process_item(item: Item, backend: FaceModels, settings: Settings, out: Path) -> dict[str, Any]:
    """Align one item and write its crops; a failure of the photo becomes the row's status, never an
    exception. A failure to write the output (a full disk, a read-only or failing one) is the job's,
    not the photo's: it is raised, ends the job with one line, and the rerun redoes the photo."""
    try:
        result = align_image(item.path, item.box, settings=settings, backend=backend)
        outputs = None
        if result.ok:
            t = time.perf_counter()
            try:
                outputs = write_crops(out, item.name, result.crops)
            except OSError as exc:
                if exc.errno in OUTPUT_FAILURES:
                    raise OutputFailure(exc.errno, exc.strerror, exc.filename) from None
                raise
            result.timings["write"] = time.perf_counter() - t
        row = manifest_row(item, result.record(), outputs)
        row["timings_ms"] = {k: round(v * 1000.0, 2) for k, v in result.timings.items()}
        return row
    except OutputFailure:
        raise
    except Exception as exc:  # one broken photo must not end a million-photo run
        where = traceback.extract_tb(exc.__traceback__)[-1]
        reason = f"{type(exc).__name__}: {exc} (at {Path(where.filename).name}:{where.lineno})"
        return manifest_row(item, {"status": "error", "reason": reason})


_WORKER: dict[str, Any] = {}


def _init_worker(spec: BackendSpec, settings: Settings, out: str, parent_pid: int | None = None) -> None:
    import cv2

    if parent_pid is not None:
        die_with_parent(parent_pid)

    cv2.setNumThreads(1)  # one process per core already
    _WORKER.update(backend=spec.create(), settings=settings, out=Path(out))


def _work(item: Item) -> dict[str, Any]:
    return process_item(item, _WORKER["backend"], _WORKER["settings"], _WORKER["out"])
