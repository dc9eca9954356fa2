"""The render pipeline: schema -> sample -> filter -> compose -> write, in Google's format.

``render(n, out)`` writes ``metadata.json`` and ``index.csv`` (every cartoon's attributes and
landmarks) into ``out``, and ``csX.png`` (RGBA, transparent background, white under the
transparency so an alpha-dropping reader sees the cartoon on white) and ``csX.csv`` per kept cartoon
into ``out/images`` (``--layout flat``, CartoonSet10k's) or ``out/images/0..9`` (``nested``,
CartoonSet100k's); see :mod:`cartoonset.layout`. It is resumable (a cartoon whose PNG and CSV both
exist is done; both are written atomically, CSV last; ``metadata.json`` says ``complete`` at the
end) and shardable (every shard computes the same kept list and renders its own part).
"""
from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from PIL import Image

from . import compose
from . import layout as lay
from .common.errors import ToolkitError
from .common.version import __version__
from .common.atomic import Publisher, remove_stale_temps, write_json
from .common.errors import InputError
from .common.lifecycle import die_with_parent, stop_on_signals, stop_processes, usable_cores
from .common.locks import hold_folder
from .common.records import write_csv
from .pack import LANDMARKS, Pack, load_pack
from .common.png import encode_png
from .common.progress import progress
from .sampler import Selection, config_id, select
from .common.shards import Shard

FORMAT = lay.FORMAT
RENDERERS = ("fast", "reference")
#: the largest image side a render takes (one canvas is side² x 4 bytes, several per worker)
MAX_SIZE = 4096
# Cartoons sharing these attributes share their most expensive pieces: ordering work by them keeps
# each worker's raster cache hot and small.
LOCALITY = ("hair", "hair_color", "face_shape", "chin_length", "face_color", "facial_hair", "glasses",
            "glasses_color")


class RenderError(ToolkitError, RuntimeError):
    """A render cannot start or finish (incompatible output folder, a worker failed)."""


@dataclass
class RenderReport:
    out: Path
    n: int
    seed: int
    size: int
    rendered: int
    already_done: int
    candidates: int
    rejected: dict[str, int]
    seconds: float
    shard: str = "0/1"
    complete: bool = True
    cache_hits: int = 0
    cache_misses: int = 0
    cluster: dict = field(default_factory=dict)  # a Dask run's task statistics (tasks, lost workers, ...)

    @property
    def rate(self) -> float:
        return self.rendered / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        done = (f"{self.rendered} rendered now, {self.already_done} already there; "
                f"{self.seconds:.1f}s, {self.rate:.1f} images/s" if self.rendered
                else f"nothing to do: {self.already_done} already there")
        lines = [f"{self.n} cartoons in {self.out} (seed {self.seed}, {self.size}px, shard {self.shard}): {done}",
                 f"candidates examined: {self.candidates}; rejected:"]
        lines += [f"  {name}: {count}" for name, count in self.rejected.items()]
        if not self.complete:
            lines.append("(other shards still missing: index.csv lists every cartoon; the folder is complete when all shards finish)")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------- one image

def csv_text(names: Sequence[str], counts: Mapping[str, int], values: Sequence[int]) -> str:
    """A csX.csv as Google ships it: one ``"attribute", value, variants`` line per attribute."""
    return "".join(f'"{n}", {int(v)}, {counts[n]}\n' for n, v in zip(names, values))


def white_under_alpha(rgba: np.ndarray) -> np.ndarray:
    """Fully transparent pixels get white colour channels, in place (alpha stays exact): readers that
    drop alpha (``[..., :3]``, ``convert("RGB")``, OpenCV) then show the cartoon on white, not black."""
    import cv2

    rgba = np.ascontiguousarray(rgba)
    clear = cv2.compare(rgba[..., 3], 0, cv2.CMP_EQ)  # OR-ing 255 into only those pixels sets white
    cv2.bitwise_or(rgba, (255, 255, 255, 0), dst=rgba, mask=clear)
    return rgba


def png_bytes(premul_bgra: np.ndarray) -> bytes:
    return encode_png(white_under_alpha(compose.to_rgba(premul_bgra)))


def render_one(attrs: Mapping[str, int], pack: Pack | str | None = None, size: int = 500,
               renderer: str = "reference") -> Image.Image:
    """One cartoon as a PIL RGBA image (for notebooks and previews)."""
    pack = pack if isinstance(pack, Pack) else load_pack(pack)
    if renderer == "reference":
        return compose.to_image(compose.render_reference(pack, attrs, size))
    return compose.to_image(compose.FastRenderer(pack, size).render(attrs))


def is_done(out: Path, stem: str) -> bool:
    """Whether the cartoon at ``stem`` (relative to ``out``, :func:`cartoonset.layout.image_stem`) is written."""
    return (out / f"{stem}.csv").is_file() and (out / f"{stem}.png").is_file()


# ----------------------------------------------------------------------------------------- workers

def _work(pack_root: str, size: int, renderer: str, out: str, cache_bytes: int, tasks, results,
          counts: Mapping[str, int] | None = None, parent_pid: int | None = None,
          max_artwork_bytes: int | None = None) -> None:
    """A worker: render the chunks it pulls from ``tasks`` until it gets None. An item is the
    cartoon's path stem relative to ``out`` and its attribute values; ``counts`` are the variant
    counts its CSV states (the release's by default). As a child process (``parent_pid`` given) it
    exits as soon as its parent is gone, however the parent died; it loads the pack under the
    caller's artwork size cap."""
    if parent_pid is not None:
        die_with_parent(parent_pid)
    try:
        pack = load_pack(pack_root, max_artwork_bytes)
        counts = dict(counts or pack.counts)
        fast = compose.FastRenderer(pack, size, cache_bytes) if renderer == "fast" else None
        outp = Path(out)
        with Publisher() as publish:  # fsyncs overlap with rendering; all are durable before "stats"
            for chunk in iter(tasks.get, None):
                results.put(("done", write_chunk(pack, fast, size, outp, chunk, counts, publish)))
        results.put(("stats", (fast.hits, fast.misses) if fast else (0, 0)))
    except BaseException as e:  # report, don't hang the parent; an OSError as itself (its path and reason)
        results.put(("error", e if isinstance(e, OSError) else f"{type(e).__name__}: {e}"))


def write_chunk(pack: Pack, fast: compose.FastRenderer | None, size: int, out: Path, chunk,
                counts: Mapping[str, int] | None = None, publish: Publisher | None = None) -> int:
    """Render and write one work unit of ``(stem, values)`` items, ``stem`` relative to ``out``:
    what every executor runs (the worker processes here, a Dask worker in
    :mod:`cartoonset.common.cluster`). ``counts`` are the variant counts the CSVs state (the
    release's by default); writes go through ``publish`` (one is opened for the chunk if none)."""
    if publish is None:
        with Publisher() as publish:
            return write_chunk(pack, fast, size, out, chunk, counts, publish)
    names, counts = pack.attribute_names, dict(counts or pack.counts)
    for rel, values in chunk:
        attrs = dict(zip(names, values))
        img = fast.render(attrs) if fast else compose.render_reference(pack, attrs, size)
        stem = out / rel
        publish.write_bytes(stem.parent / (stem.name + ".png"), png_bytes(img))
        publish.write_text(stem.parent / (stem.name + ".csv"), csv_text(names, counts, values))
    return len(chunk)


def _chunks(items: list, names: Sequence[str], workers: int, limit: int | None = None) -> list[list]:
    """Work units for the workers to pull: the items sorted by :data:`LOCALITY`, one chunk per
    hairstyle (the most expensive pieces), so a hairstyle is rasterised by one worker only; chunks
    stay small enough (at most ``limit`` items) to balance the load."""
    cols = [names.index(a) for a in LOCALITY if a in names]
    items = sorted(items, key=lambda it: tuple(it[1][c] for c in cols))
    limit = limit or max(16, len(items) // (8 * max(workers, 1)))
    chunks: list[list] = []
    for it in items:
        if not chunks or it[1][cols[0]] != chunks[-1][0][1][cols[0]] or len(chunks[-1]) >= limit:
            chunks.append([])
        chunks[-1].append(it)
    return chunks


def _run_workers(pack: Pack, size: int, renderer: str, out: Path, items: list, workers: int,
                 cache_bytes: int, show_progress: bool, counts: Mapping[str, int] | None = None) -> tuple[int, int]:
    bar = progress(total=len(items), desc="render", unit="img", disable=None if show_progress else True)
    chunks = _chunks(items, pack.attribute_names, workers)
    try:
        if workers <= 1:
            q = _ListQueue(bar, chunks)
            _work(str(pack.root), size, renderer, str(out), cache_bytes, q, q, counts,
                  max_artwork_bytes=pack.max_artwork_bytes)
            q.raise_errors()
            return q.hits, q.misses
        with stop_on_signals():
            return _pool(pack, size, renderer, out, chunks, workers, cache_bytes, bar, counts)
    finally:
        bar.close()


def _pool(pack: Pack, size: int, renderer: str, out: Path, chunks: list, workers: int, cache_bytes: int,
          bar, counts: Mapping[str, int] | None = None) -> tuple[int, int]:
    """Run the chunks on worker processes; whatever ends this (done, a failed worker, SIGTERM,
    Ctrl-C), no worker is left running."""
    ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    tasks, results = ctx.Queue(), ctx.Queue()
    for c in chunks:
        tasks.put(c)
    for _ in range(workers):
        tasks.put(None)
    args = (str(pack.root), size, renderer, str(out), cache_bytes, tasks, results, counts)
    kwargs = {"parent_pid": os.getpid(), "max_artwork_bytes": pack.max_artwork_bytes}
    procs = [ctx.Process(target=_work, args=args, kwargs=kwargs, daemon=True) for _ in range(workers)]
    try:
        for p in procs:
            p.start()
        finished, hits, misses = 0, 0, 0
        while finished < len(procs):
            try:
                kind, val = results.get(timeout=1.0)
            except Exception:
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead:
                    raise RenderError(f"a render worker died (exit code {dead[0].exitcode}); "
                                      "rerun the same command to resume")
                continue
            if kind == "done":
                bar.update(val)
            elif kind == "stats":
                hits, misses = hits + val[0], misses + val[1]
                finished += 1
            elif isinstance(val, OSError):
                raise val  # writing the output failed (a full disk): one line with the path, from the CLI
            else:
                raise RenderError(f"render worker failed: {val}")
        for p in procs:
            p.join()
        return hits, misses
    finally:
        stop_processes(procs)
        for q in (tasks, results):  # unread items must not hold up the interpreter's exit
            q.cancel_join_thread()
            q.close()


class _ListQueue:
    """Both queues of the worker protocol, in process (workers=1)."""

    def __init__(self, bar, chunks: list):
        self.bar, self.error, self.hits, self.misses = bar, None, 0, 0
        self.chunks = list(chunks) + [None]

    def get(self):
        return self.chunks.pop(0)

    def put(self, msg):
        kind, val = msg
        if kind == "done":
            self.bar.update(val)
        elif kind == "stats":
            self.hits, self.misses = val
        else:
            self.error = val

    def raise_errors(self):
        if isinstance(self.error, OSError):
            raise self.error  # writing the output failed: one line with the path, from the CLI
        if self.error:
            raise RenderError(f"render failed: {self.error}")


# ------------------------------------------------------------------------------------ on a cluster

def default_task_size(size: int) -> int:
    """Cartoons per cluster task: a few seconds of one worker (about 150 images/s at 500 px)."""
    return int(min(5000, max(32, 500 * (500 / size) ** 2)))


def _run_cluster(pack: Pack, size: int, renderer: str, out: Path, items: list, scheduler, task_size: int | None,
                 cache_bytes: int, show_progress: bool, report: dict,
                 counts: Mapping[str, int] | None = None) -> tuple[int, int]:
    """The same chunks through the same :func:`write_chunk`, as tasks of a Dask cluster."""
    from .common.cluster import ClusterError, TaskStats, connect, run_tasks

    chunks = _chunks(items, pack.attribute_names, 1, limit=task_size or default_task_size(size))
    stats, hits, misses = TaskStats(), 0, 0
    args = (_pack_ref(pack), pack.version, size, renderer, cache_bytes, str(out.resolve()),
            dict(counts or pack.counts), pack.max_artwork_bytes)
    try:
        with connect(scheduler, _stderr if show_progress else None) as client:
            for _, (h, m) in run_tasks(client, _cluster_task, chunks, setup=_cluster_worker, setup_args=args,
                                       weights=[len(c) for c in chunks], desc="render", unit="img",
                                       show_progress=None if show_progress else False, stats=stats):
                hits, misses = hits + h, misses + m
    except ClusterError as e:
        raise RenderError(str(e)) from None
    except Exception as e:  # raised by a task, after its retries
        raise RenderError(f"a render task failed: {type(e).__name__}: {e}") from None
    if stats.lost_workers:
        remove_stale_temps(out, recursive=True)  # what a lost worker was writing (in the image folders)
    report.update(stats.as_dict())
    return hits, misses


def _pack_ref(pack: Pack) -> str:
    """How a worker finds the pack: a bundled pack by name (its install path may differ per host)."""
    from .pack import bundled_pack_path

    try:
        if bundled_pack_path(pack.name).resolve() == Path(pack.root).resolve():
            return pack.name
    except Exception:  # not a bundled pack name
        pass
    return str(Path(pack.root).resolve())


def _cluster_worker(pack_ref: str, version: str, size: int, renderer: str, cache_bytes: int, out: str,
                    counts: Mapping[str, int], max_artwork_bytes: int | None = None):
    """A Dask worker's state for a render: the pack and its raster cache, kept between tasks."""
    pack = load_pack(pack_ref, max_artwork_bytes)
    if pack.version != version:
        raise RenderError(f"a worker has pack {pack.name} {pack.version}, the client {version}; "
                          "install the same toolkit and packs on every worker")
    fast = compose.FastRenderer(pack, size, cache_bytes) if renderer == "fast" else None
    return pack, fast, size, Path(out), counts


def _cluster_task(state, chunk) -> tuple[int, int]:
    pack, fast, size, out, counts = state
    before = (fast.hits, fast.misses) if fast else (0, 0)
    write_chunk(pack, fast, size, out, chunk, counts)
    return (fast.hits - before[0], fast.misses - before[1]) if fast else (0, 0)


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------- metadata

def _run_key(pack: Pack, seed: int, size: int, filter: bool, layout: str = "flat") -> dict:
    return {"pack": pack.name, "pack_version": pack.version, "seed": seed, "size": size, "filter": filter,
            "layout": layout}


def _check_folder(out: Path, key: dict, n: int) -> None:
    meta_path = out / lay.METADATA
    if not meta_path.exists():
        if any(out.glob("cs*.csv")) or any(out.glob(f"{lay.IMAGES}/**/cs*.csv")):
            raise RenderError(f"{out} already holds cartoons from another render (no metadata.json); "
                              "use an empty --out folder")
        return
    import json

    try:
        meta = json.loads(meta_path.read_text("utf-8"))
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError):
        raise RenderError(f"{meta_path} is unreadable; use an empty --out folder") from None
    if meta.get("format") != FORMAT:
        raise RenderError(f"{out} holds a render in another format ({meta.get('format')!r}, this toolkit "
                          f"writes {FORMAT!r}); use another --out folder")
    old = {k: meta.get(k) for k in key}
    if old != key:
        diff = ", ".join(f"{k} {old[k]!r} vs {key[k]!r}" for k in key if old[k] != key[k])
        raise RenderError(f"{out} holds a different render ({diff}); use another --out folder")
    if meta.get("n", 0) > n:
        raise RenderError(f"{out} holds {meta['n']} cartoons of this render; --n {n} would leave "
                          f"{meta['n'] - n} unindexed. Use --n {meta['n']} or another --out folder")


def index_rows(pack: Pack, sel: Selection, size: int, layout: str = "flat") -> list[dict]:
    rows = []
    for k in range(len(sel)):
        values = sel.attrs[k]
        attrs = dict(zip(sel.names, (int(v) for v in values)))
        cid = config_id(values, sel.names)
        row = {"file": f"{lay.image_stem(cid, k, layout)}.png", "id": cid, "candidate": int(sel.indices[k]), **attrs}
        for name, (x, y) in compose.landmarks(pack, attrs, size).items():
            row[f"{name}_x"], row[f"{name}_y"] = round(x, 3), round(y, 3)
        rows.append(row)
    return rows


index_fields = lay.index_columns  # the one definition of index.csv's columns, shared with the reader


def _metadata(pack: Pack, sel: Selection, key: dict, n: int, complete: bool, renderer: str) -> dict:
    counts = sel.counts or pack.counts
    return {"format": FORMAT, "toolkit_version": __version__, **key, "n": n, "images": lay.IMAGES,
            "pack_description": pack.description, "renderer": renderer,
            "candidates": sel.candidates, "rejected": sel.rejected, "complete": complete,
            "schema": [{"name": a.name, "group": a.group, "variants": counts[a.name]} for a in pack.attributes],
            "landmarks": {"names": list(LANDMARKS),
                          "convention": "pixels of the image, continuous, (0, 0) at the top-left corner"}}


# ---------------------------------------------------------------------------------------- pipeline

def render(n: int = 9000, out: str | os.PathLike = "data/cartoonset", seed: int = 0, size: int = 500,
           workers: int | None = None, shard: str | Shard | None = None, pack: Pack | str | None = None,
           renderer: str = "fast", filter: bool = True, show_progress: bool = True,
           cache_bytes: int = 1 << 30, layout: str = "flat", scheduler=None,
           task_size: int | None = None) -> RenderReport:
    """Render the first ``n`` kept cartoons of ``seed`` into ``out`` (resuming what is there);
    ``layout`` is ``"flat"`` (CartoonSet10k's) or ``"nested"`` (CartoonSet100k's folders 0..9).

    ``scheduler`` ("local[:N]", a Dask scheduler address or file, or a ``distributed.Client``) runs
    the work as tasks of ``task_size`` cartoons on a Dask cluster; the output is the same bytes.
    """
    lay.check_layout(layout)
    pack = pack if isinstance(pack, Pack) else load_pack(pack)
    sel = select(pack, seed, n, filter=filter)
    return write_selection(pack, sel, out, _run_key(pack, seed, size, filter, layout), size=size, workers=workers,
                           shard=shard, renderer=renderer, show_progress=show_progress, cache_bytes=cache_bytes,
                           scheduler=scheduler, task_size=task_size)


def render_configs(configs: np.ndarray | Sequence[Sequence[int]], out: str | os.PathLike,
                   pack: Pack | str | None = None, size: int = 500, workers: int | None = None,
                   renderer: str = "fast", show_progress: bool = True) -> RenderReport:
    """Render given attribute vectors (rows in the release's order), e.g. the same cartoons in a
    second style of the pack. The folder has the usual format; ``metadata.json`` has no seed."""
    pack = pack if isinstance(pack, Pack) else load_pack(pack)
    attrs = np.asarray(configs, dtype=np.int64).reshape(-1, len(pack.attributes))
    counts = np.array([a.variants for a in pack.attributes])
    if (attrs < 0).any() or (attrs >= counts).any():
        raise ValueError("a configuration has a variant index out of range")
    if len({r.tobytes() for r in attrs}) != len(attrs):
        raise ValueError("configurations must be distinct (each becomes one csX file)")
    digest = hashlib.blake2b(attrs.tobytes(), digest_size=8).hexdigest()
    sel = Selection(seed=-1, indices=np.arange(len(attrs)), attrs=attrs, names=pack.attribute_names,
                    rejected={}, candidates=len(attrs))
    key = {"pack": pack.name, "pack_version": pack.version, "seed": None, "size": size, "filter": False,
           "layout": "flat", "configs": digest}
    return write_selection(pack, sel, out, key, size=size, workers=workers, renderer=renderer,
                           show_progress=show_progress)


def write_selection(pack: Pack, sel: Selection, out: str | os.PathLike, key: dict, size: int = 500,
                    workers: int | None = None, shard: str | Shard | None = None, renderer: str = "fast",
                    show_progress: bool = True, cache_bytes: int = 1 << 30, scheduler=None,
                    task_size: int | None = None) -> RenderReport:
    """Write the metadata and the index, then render the cartoons of ``sel`` (resumable, shardable;
    on worker processes, or on a Dask cluster with ``scheduler``); the metadata says ``complete``
    once every cartoon is there. The layout is ``key["layout"]``."""
    t0 = time.perf_counter()
    if renderer not in RENDERERS:
        raise InputError(f"renderer must be one of {RENDERERS}, got {renderer!r}")
    if not 8 <= size <= MAX_SIZE:
        raise InputError(f"size must be at least 8 px and at most {MAX_SIZE} px, got {size}")
    shard = shard if isinstance(shard, Shard) else Shard.parse(shard)
    workers = max(1, workers if workers is not None else usable_cores())
    if task_size is not None and task_size < 1:
        raise InputError(f"task_size must be at least 1, got {task_size}")
    if scheduler is not None:
        from .common.cluster import ClusterError, check_scheduler

        try:
            scheduler = check_scheduler(scheduler)
        except ClusterError as e:
            raise RenderError(str(e)) from None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    n = len(sel)
    layout = lay.check_layout(key.get("layout", "flat"))
    with hold_folder(out, "render" + shard.suffix, "cartoonset render",
                     "or render into another --out (the shards of one render may share it: --shard K/N)"):
        _check_folder(out, key, n)
        # Not complete until the end (a longer --n over a finished folder included), and the index
        # first: a loader of an unfinished folder knows the whole set and what is missing.
        write_json(out / lay.METADATA, _metadata(pack, sel, key, n, False, renderer))
        write_csv(out / lay.INDEX, index_rows(pack, sel, size, layout), index_fields(sel.names))
        for folder in lay.image_folders(layout):
            (out / folder).mkdir(parents=True, exist_ok=True)
            remove_stale_temps(out / folder)
        remove_stale_temps(out)

        ids = [config_id(sel.attrs[k], sel.names) for k in range(len(sel))]
        stems = [lay.image_stem(cid, k, layout) for k, cid in enumerate(ids)]
        mine = [k for k in range(len(sel)) if shard.owns(k)]
        todo = [(stems[k], [int(v) for v in sel.attrs[k]]) for k in mine if not is_done(out, stems[k])]
        cluster: dict = {}
        if scheduler is not None and todo:
            hits, misses = _run_cluster(pack, size, renderer, out, todo, scheduler, task_size, cache_bytes,
                                        show_progress, cluster, sel.counts)
        else:
            hits, misses = _run_workers(pack, size, renderer, out, todo, min(workers, max(1, len(todo))),
                                        cache_bytes, show_progress, sel.counts)

        complete = all(is_done(out, stem) for stem in stems)
        write_json(out / lay.METADATA, _metadata(pack, sel, key, n, complete, renderer))
        return RenderReport(out=out, n=n, seed=sel.seed, size=size, rendered=len(todo),
                            already_done=len(mine) - len(todo), candidates=sel.candidates,
                            rejected=sel.rejected, seconds=time.perf_counter() - t0, shard=str(shard),
                            complete=complete, cache_hits=hits, cache_misses=misses, cluster=cluster)
