"""``facealign fetch``: download the photos of VGG-Face lists, defensively and resumably.

Every request has a timeout (per socket operation, and three times that for the whole body), a
body-size cap, a bounded number of redirects (http and https only) and retries with exponential
backoff for transient failures (timeouts, 5xx, 429, dropped connections, truncated bodies). A body
must be an image by its content type and decode as one. Identical bodies are stored once
(``duplicate`` rows point at the kept copy); bytes served for many different URLs across several
identities are a host's "image not available" placeholder and are dropped everywhere.

Files are named ``<identity>/<id>.<ext>`` from the list alone (nothing from the URL reaches the
file system); ``fetch.jsonl`` in the output folder holds one row per list line. A restarted fetch
skips every line with a final outcome and retries only the transient failures. Results are
committed in list order, so which copy of a duplicate is kept does not depend on timing.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urlsplit

from cartoonset.common.version import __version__
from cartoonset.common.atomic import write_bytes
from cartoonset.common.records import RecordLog
from cartoonset.common.progress import progress
from cartoonset.common.seeding import stable_hash

from . import vggface
from .decode import decode_image
from .sources import FETCH_LOG
from .status import Rejected
from .vggface import VggEntry

#: outcome -> meaning; TRANSIENT ones are retried (within a run, then by a restarted run)
FETCH_STATUSES = {
    "ok": "downloaded and decoded",
    "duplicate": "the same bytes as another line (kept once)",
    "placeholder": "a host's stand-in image, served for many different URLs",
    "http_error": "a client error such as 404 or 403",
    "server_error": "a 5xx, 408 or 429 answer after every retry",
    "timeout": "no complete answer in time after every retry",
    "connection_error": "connection refused, reset or the name does not resolve, after every retry",
    "truncated": "the body ended before its declared length after every retry",
    "redirect_loop": "too many redirects, a loop, or a redirect to a non-HTTP URL",
    "not_image": "an HTML page or other non-image content, or bytes that do not decode",
    "too_large": "a body over max_bytes or an image over max_pixels",
    "bad_line": "a malformed list line",
}
TRANSIENT = {"server_error", "timeout", "connection_error", "truncated"}
IMAGE_TYPES_ALSO = {"application/octet-stream", "binary/octet-stream", "application/binary", ""}
EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp", "BMP": "bmp",
              "TIFF": "tif"}


@dataclass(frozen=True)
class FetchOptions:
    concurrency: int = 16  #: downloads in flight
    per_host: int = 4  #: downloads in flight per host
    timeout: float = 10.0  #: seconds per socket operation; the whole body gets three times this
    retries: int = 3  #: extra attempts for a transient failure
    backoff: float = 1.0  #: first retry delay in seconds, doubled each time (with hash-seeded jitter)
    max_bytes: int = 20 * 2 ** 20
    max_pixels: int = 50_000_000
    placeholder_min: int = 3  #: distinct URLs (from at least two identities) that make a placeholder
    max_redirects: int = 5

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.per_host < 1 or self.retries < 0 or self.max_redirects < 0:
            raise ValueError("concurrency and per_host must be at least 1; retries and max_redirects not negative")
        if self.timeout <= 0 or self.backoff < 0 or self.max_bytes < 1 or self.placeholder_min < 2:
            raise ValueError("timeout and max_bytes must be positive, backoff not negative, placeholder_min at least 2")


@dataclass
class Download:
    status: str
    reason: str = ""
    data: bytes = b""
    content_type: str = ""
    format: str = ""
    attempts: int = 1


@dataclass
class FetchSummary:
    out: Path
    counts: dict[str, int]
    downloaded: int  #: lines requested by this call
    resumed: int  #: lines skipped because an earlier run finished them
    filtered: int
    seconds: float
    bytes: int = 0

    def table(self) -> str:
        total = max(1, sum(self.counts.values()))
        lines = [f"{'status':<20}{'count':>9}{'share':>9}", "-" * 38]
        for status in FETCH_STATUSES:
            n = self.counts.get(status, 0)
            if n:
                lines.append(f"{status:<20}{n:>9}{100.0 * n / total:>8.1f}%")
        lines.append("-" * 38)
        lines.append(f"{'total':<20}{sum(self.counts.values()):>9}")
        lines.append(f"requested now {self.downloaded} ({self.bytes / 2 ** 20:.1f} MiB) in {self.seconds:.1f} s; "
                     f"already done {self.resumed}; filtered out {self.filtered}")
        return "\n".join(lines)


def fetch(lists: Sequence[str | os.PathLike], out: str | os.PathLike, *, options: FetchOptions | None = None,
          curated_only: bool = False, frontal_only: bool = False, show_progress: bool | None = None) -> FetchSummary:
    """Download the photos of the VGG-Face ``lists`` (files or folders of ``*.txt``) into ``out``."""
    t0 = time.perf_counter()
    opts = options or FetchOptions()
    out = Path(out)
    entries: list[VggEntry] = []
    for path in vggface.list_files(lists):
        entries += vggface.read_list(path)
    entries, filtered = vggface.select(entries, curated_only, frontal_only)
    entries = list({e.key: e for e in entries}.values())  # a line listed twice is fetched once
    out.mkdir(parents=True, exist_ok=True)
    with RecordLog(out / FETCH_LOG, key="key") as log:
        book = _HashBook(out, log, opts)
        todo = [e for e in entries if _needs_download(log.get(e.key))]
        bar = progress(total=len(todo), desc="fetch", unit="img", disable=None if show_progress is None else not show_progress)
        nbytes = 0
        try:
            for entry, result in _download_all(todo, opts):
                nbytes += len(result.data)
                book.commit(entry, result)
                bar.update(1)
        finally:
            bar.close()
        keys = {e.key for e in entries}
        counts = Counter(r["status"] for r in log.records() if r["key"] in keys)
    return FetchSummary(out, dict(counts), len(todo), len(entries) - len(todo), filtered,
                        time.perf_counter() - t0, nbytes)


def _needs_download(row: dict | None) -> bool:
    return row is None or row.get("status") in TRANSIENT


def _download_all(entries: list[VggEntry], opts: FetchOptions):
    """(entry, Download) pairs in list order, with up to ``concurrency`` requests in flight."""
    opener = _opener(opts)
    hosts: dict[str, threading.Semaphore] = {}
    lock = threading.Lock()

    def task(e: VggEntry) -> Download:
        if e.error:
            return Download("bad_line", f"{e.source}: {e.error}", attempts=0)
        host = (urlsplit(e.url).hostname or "").lower()
        with lock:
            sem = hosts.setdefault(host, threading.Semaphore(opts.per_host))
        return download(e.url, opts, opener, sem)

    with ThreadPoolExecutor(max_workers=opts.concurrency, thread_name_prefix="fetch") as pool:
        window: deque = deque()
        for e in entries:
            window.append((e, pool.submit(task, e)))
            if len(window) >= 2 * opts.concurrency:  # bounded look-ahead: memory stays bounded
                entry, fut = window.popleft()
                yield entry, fut.result()
        while window:
            entry, fut = window.popleft()
            yield entry, fut.result()


def download(url: str, opts: FetchOptions, opener: urllib.request.OpenerDirector | None = None,
             host_slot: threading.Semaphore | None = None) -> Download:
    """GET one image with retries; never raises for network or content problems."""
    opener = opener or _opener(opts)
    result = Download("connection_error")
    for attempt in range(opts.retries + 1):
        if host_slot is not None:
            with host_slot:
                result = _attempt(url, opts, opener)
        else:
            result = _attempt(url, opts, opener)
        result.attempts = attempt + 1
        if result.status not in TRANSIENT or attempt == opts.retries:
            break
        # Deterministic jitter (from the URL and attempt) spreads retries without a random draw.
        jitter = 1.0 + 0.5 * (stable_hash(f"{url}\x1f{attempt}") % 1000) / 1000.0
        time.sleep(opts.backoff * (2 ** attempt) * jitter)
    return result


def _attempt(url: str, opts: FetchOptions, opener: urllib.request.OpenerDirector) -> Download:
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        return Download("bad_line", f"not an http(s) URL: {url[:80]}")
    request = urllib.request.Request(url, headers={"User-Agent": f"facealign/{__version__}",
                                                   "Accept": "image/*;q=1.0, */*;q=0.1"})
    deadline = time.monotonic() + 3 * opts.timeout
    try:
        with opener.open(request, timeout=opts.timeout) as resp:
            ctype = (resp.headers.get_content_type() if resp.headers.get("Content-Type") else "").lower()
            if not (ctype.startswith("image/") or ctype in IMAGE_TYPES_ALSO):
                return Download("not_image", f"served {ctype}, not an image", content_type=ctype)
            declared = _int(resp.headers.get("Content-Length"))
            if declared is not None and declared > opts.max_bytes:
                return Download("too_large", f"declares {declared:,} bytes, over max_bytes {opts.max_bytes:,}",
                                content_type=ctype)
            chunks, total = [], 0
            while True:
                chunk = resp.read1(1 << 16)  # whatever has arrived: the deadline is checked often
                if not chunk:
                    break
                total += len(chunk)
                if total > opts.max_bytes:
                    return Download("too_large", f"body exceeds max_bytes {opts.max_bytes:,}", content_type=ctype)
                if time.monotonic() > deadline:
                    return Download("timeout", f"body not complete after {3 * opts.timeout:g} s", content_type=ctype)
                chunks.append(chunk)
            if declared is not None and total < declared:
                return Download("truncated", f"got {total:,} of {declared:,} bytes", content_type=ctype)
    except urllib.error.HTTPError as exc:
        return _http_error(exc)
    except http.client.IncompleteRead as exc:
        return Download("truncated", f"connection closed mid-body ({len(exc.partial):,} bytes received)")
    except (socket.timeout, TimeoutError):
        return Download("timeout", f"no answer within {opts.timeout:g} s")
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, (socket.timeout, TimeoutError)):
            return Download("timeout", f"no answer within {opts.timeout:g} s")
        return Download("connection_error", str(exc.reason)[:160])
    except (http.client.HTTPException, OSError, ValueError) as exc:
        return Download("connection_error", f"{type(exc).__name__}: {str(exc)[:160]}")
    data = b"".join(chunks)
    try:
        decoded = decode_image(data, max_pixels=opts.max_pixels)
    except Rejected as rej:
        status = "too_large" if rej.status == "too_large" else "not_image"
        return Download(status, f"body does not decode as an image: {rej.reason}", content_type=ctype)
    return Download("ok", "", data, ctype, decoded.format)


def _http_error(exc: urllib.error.HTTPError) -> Download:
    code = exc.code
    exc.close()
    if code in (301, 302, 303, 307, 308):
        return Download("redirect_loop", f"HTTP {code}: {exc.reason}")
    if code >= 500 or code in (408, 429):
        return Download("server_error", f"HTTP {code} {exc.reason}")
    return Download("http_error", f"HTTP {code} {exc.reason}")


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follow at most ``max_redirections`` redirects, only to http(s) URLs."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise urllib.error.HTTPError(newurl, code, "redirect to a non-HTTP URL", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener(opts: FetchOptions) -> urllib.request.OpenerDirector:
    handler = _Redirects()
    handler.max_redirections = opts.max_redirects
    handler.max_repeats = min(handler.max_repeats, max(1, opts.max_redirects))
    return urllib.request.build_opener(handler)


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


@dataclass
class _Group:
    """Lines whose bodies share one content hash."""

    keys: list[str] = field(default_factory=list)
    urls: set[str] = field(default_factory=set)
    identities: set[str] = field(default_factory=set)
    kept: str | None = None  #: the key whose file holds the bytes


class _HashBook:
    """De-duplication and placeholder detection by content hash, rebuilt from the log on resume."""

    def __init__(self, out: Path, log: RecordLog, opts: FetchOptions):
        self.out, self.log, self.opts = out, log, opts
        self.groups: dict[str, _Group] = {}
        self.placeholders: set[str] = set()
        for row in log.records():
            digest = row.get("sha256")
            if not digest:
                continue
            g = self.groups.setdefault(digest, _Group())
            g.keys.append(row["key"])
            g.urls.add(row.get("url", ""))
            g.identities.add(row.get("identity", ""))
            if row["status"] == "ok":
                g.kept = row["key"]
            if row["status"] == "placeholder":
                self.placeholders.add(digest)
        for digest in list(self.placeholders):
            self._drop(digest)  # finishes a run killed while dropping a placeholder

    def commit(self, e: VggEntry, d: Download) -> None:
        row: dict[str, Any] = {"key": e.key, "identity": e.identity, "id": e.id, "url": e.url, "box": e.box,
                               "pose": e.pose, "detection_score": e.detection_score, "curation": e.curation,
                               "list": e.source, "status": d.status, "reason": d.reason,
                               "content_type": d.content_type, "attempts": d.attempts}
        if e.error:
            row["error"] = e.error
        if d.status != "ok":
            self.log.append(row)
            return
        digest = hashlib.sha256(d.data).hexdigest()
        row.update(sha256=digest, bytes=len(d.data))
        g = self.groups.setdefault(digest, _Group())
        g.keys.append(e.key)
        g.urls.add(e.url)
        g.identities.add(e.identity)
        if digest in self.placeholders or (len(g.urls) >= self.opts.placeholder_min and len(g.identities) >= 2):
            row.update(status="placeholder", reason=f"identical bytes served for {len(g.urls)} different URLs")
            self.log.append(row)
            if digest not in self.placeholders:
                self.placeholders.add(digest)
                self._drop(digest)
            return
        if g.kept is not None and g.kept != e.key:
            row.update(status="duplicate", reason=f"the same bytes as {g.kept}", duplicate_of=g.kept)
            self.log.append(row)
            return
        path = Path(vggface.safe_name(e.identity)) / f"{vggface.safe_name(e.id)}.{EXTENSIONS.get(d.format, 'img')}"
        write_bytes(self.out / path, d.data)
        row["path"] = path.as_posix()
        g.kept = e.key
        self.log.append(row)

    def _drop(self, digest: str) -> None:
        """Turn every line with these bytes into a placeholder row and delete the kept file."""
        g = self.groups[digest]
        for key in g.keys:
            row = self.log.get(key)
            if row is None:
                continue
            if row.get("path"):  # delete first: a kill in between leaves a row to redo, not a file
                (self.out / row["path"]).unlink(missing_ok=True)
            if row.get("status") != "placeholder":
                self.log.append({**row, "status": "placeholder", "path": None, "duplicate_of": None,
                                 "reason": f"identical bytes served for {len(g.urls)} different URLs"})
        g.kept = None
