"""``facealign fetch``: download the photos of VGG-Face lists, defensively and resumably.

Requests go through httpx (asynchronous, one event loop): each attempt has one deadline of
``timeout`` seconds for the whole request (connect, status line, headers and body together, so a
server that trickles any of them cannot hold it longer), a body-size cap, a bounded number of
redirects (http and https only, each target checked like the first URL) and retries with
exponential backoff for transient failures (timeouts, 5xx, 429, dropped connections, truncated
bodies). Malformed URLs (control characters, an unparsable host, ``user:password@``) are ``bad_url``
for good and never sent anywhere. Bodies stream to a temp file in the output folder (memory does
not grow with body size); an image is checked from its header and a reduced decode in one thread
(memory does not grow with concurrency either). Identical bodies are stored once and a host's
placeholder image is dropped (:mod:`facealign.dedupe`).

Files are named ``<identity>/<id>.<ext>`` from the list alone (nothing from the URL reaches the
file system); ``fetch.jsonl`` in the output folder holds one row per list line. A restarted fetch
sweeps the temp files of a killed one, skips every line with a final outcome and retries only the
transient failures. Results are committed as they arrive, so one slow host never holds up others.
"""
from __future__ import annotations

import asyncio
import hashlib
import math
import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Iterable, Sequence
from urllib.parse import urljoin, urlsplit

import httpx

from cartoonset.common.atomic import remove_stale_temps, temp_path_for
from cartoonset.common.errors import InputError
from cartoonset.common.progress import progress
from cartoonset.common.locks import hold_folder
from cartoonset.common.records import RecordLog
from cartoonset.common.seeding import stable_hash
from cartoonset.common.version import __version__

from . import vggface
from .decode import probe_image
from .dedupe import HashBook
from .sources import FETCH_LOG
from .status import JobSummary, Rejected
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
    "bad_url": "a malformed URL (control character, bad host or port, user:password@): never requested",
    "not_image": "an HTML page or other non-image content, or bytes that do not decode",
    "too_large": "a body over max_bytes, or an image over max_pixels or MAX_SIDE",
    "bad_line": "a malformed list line",
}
TRANSIENT = {"server_error", "timeout", "connection_error", "truncated"}
IMAGE_TYPES_ALSO = {"application/octet-stream", "binary/octet-stream", "application/binary", ""}
REDIRECTS = (301, 302, 303, 307, 308)
CHECK_THREADS = 1  #: images checked at once, whatever the concurrency (bounds memory)


@dataclass(frozen=True)
class FetchOptions:
    concurrency: int = 16  #: downloads in flight
    per_host: int = 4  #: downloads in flight per host
    timeout: float = 10.0  #: seconds for one whole request: connect, headers and body
    retries: int = 3  #: extra attempts for a transient failure
    backoff: float = 1.0  #: first retry delay in seconds, doubled each time (with hash-seeded jitter)
    max_bytes: int = 20 * 2 ** 20
    max_pixels: int = 50_000_000
    placeholder_min: int = 3  #: distinct URLs (from at least two identities) that make a placeholder
    max_redirects: int = 5

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.per_host < 1 or self.retries < 0 or self.max_redirects < 0:
            raise InputError("concurrency and per_host must be at least 1; retries and max_redirects not negative")
        # nan passes every comparison and inf never elapses: nan retried every URL forever, inf backoff hung
        if not (math.isfinite(self.timeout) and self.timeout > 0):
            raise InputError(f"timeout must be a positive, finite number of seconds, got {self.timeout}")
        if not (math.isfinite(self.backoff) and self.backoff >= 0):
            raise InputError(f"backoff must be a finite number of seconds, 0 or more, got {self.backoff}")
        if self.max_bytes < 1 or self.placeholder_min < 2:
            raise InputError("max_bytes must be positive and placeholder_min at least 2")


@dataclass
class Download:
    status: str
    reason: str = ""
    body: Path | None = None  #: temp file holding the body (ok only); committed or deleted
    size: int = 0
    sha256: str = ""
    content_type: str = ""
    format: str = ""
    attempts: int = 1

    def discard(self) -> None:
        if self.body is not None:
            self.body.unlink(missing_ok=True)
            self.body = None


@dataclass
class FetchSummary(JobSummary):
    """``fetch``'s summary over the list's lines; ``done`` were requested now."""

    bytes: int = 0
    statuses: ClassVar[Iterable[str]] = FETCH_STATUSES

    def footer(self) -> str:
        return (f"requested now {self.done} ({self.bytes / 2 ** 20:.1f} MiB) in {self.seconds:.1f} s; "
                f"already done {self.resumed}; filtered out {self.filtered}")


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
    with hold_folder(out, "facealign-fetch", "facealign fetch", "or fetch into another --out"), \
            RecordLog(out / FETCH_LOG, key="key") as log:
        remove_stale_temps(out, recursive=True, min_age=2.0, max_age=600.0)  # bodies of a killed fetch
        book = HashBook(out, log, opts.placeholder_min, {e.key: i for i, e in enumerate(entries)})
        todo = [e for e in entries if _needs_download(log.get(e.key))]
        bar = progress(total=len(todo), desc="fetch", unit="img", disable=None if show_progress is None else not show_progress)
        nbytes = 0

        def commit(entry: VggEntry, result: Download) -> None:
            nonlocal nbytes
            nbytes += result.size
            try:
                book.commit(entry, result)
            finally:
                result.discard()
            bar.update(1)

        try:
            asyncio.run(_download_all(todo, opts, out, commit))
        finally:
            bar.close()
        keys = {e.key for e in entries}
        counts = Counter(r["status"] for r in log.records() if r["key"] in keys)
    return FetchSummary(out, dict(counts), len(todo), len(entries) - len(todo), filtered,
                        time.perf_counter() - t0, nbytes)


def _needs_download(row: dict | None) -> bool:
    return row is None or row.get("status") in TRANSIENT


async def _download_all(entries: list[VggEntry], opts: FetchOptions, out: Path, commit) -> None:
    """Download ``entries`` with up to ``concurrency`` requests in flight (``per_host`` per host),
    calling ``commit(entry, result)`` as each finishes."""
    slots = asyncio.Semaphore(opts.concurrency)
    hosts: dict[str, asyncio.Semaphore] = {}
    window = asyncio.Semaphore(max(256, 16 * opts.concurrency))  # tasks alive at once (memory)
    checker = ThreadPoolExecutor(CHECK_THREADS, thread_name_prefix="fetch-check")

    async def one(e: VggEntry) -> None:
        try:
            if e.error:
                result = Download("bad_line", f"{e.source}: {e.error}", attempts=0)
            else:
                host = hosts.setdefault((_host(e.url)), asyncio.Semaphore(opts.per_host))
                result = await _download(client, e, opts, out, host, slots, checker)
            commit(e, result)
        finally:
            window.release()

    try:
        async with httpx.AsyncClient(headers={"User-Agent": f"facealign/{__version__}",
                                              "Accept": "image/*;q=1.0, */*;q=0.1"},
                                     timeout=httpx.Timeout(opts.timeout), follow_redirects=False,
                                     limits=httpx.Limits(max_connections=opts.concurrency)) as client:
            tasks = set()
            for e in entries:
                await window.acquire()
                task = asyncio.create_task(one(e))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            while tasks:
                await asyncio.gather(*list(tasks))
    finally:
        checker.shutdown(wait=True)


async def _download(client: httpx.AsyncClient, e: VggEntry, opts: FetchOptions, out: Path,
                    host: asyncio.Semaphore, slots: asyncio.Semaphore, checker) -> Download:
    """GET one image with retries; never raises for network or content problems."""
    result = Download("connection_error")
    for attempt in range(opts.retries + 1):
        async with host, slots:  # the host's slot first: a busy host does not hold a global one
            body = temp_path_for(out / f"{vggface.safe_name(e.identity)}-{vggface.safe_name(e.id)}")
            try:
                result = await asyncio.wait_for(_attempt(client, e.url, opts, body), opts.timeout)
            except asyncio.TimeoutError:
                result = Download("timeout", f"no complete answer within {opts.timeout:g} s")
            if result.status != "ok":
                body.unlink(missing_ok=True)
        if result.status == "ok":
            result = await _check(result, body, opts, checker)
        result.attempts = attempt + 1
        if result.status not in TRANSIENT or attempt == opts.retries:
            break
        # Deterministic jitter (from the URL and attempt) spreads retries without a random draw.
        jitter = 1.0 + 0.5 * (stable_hash(f"{e.url}\x1f{attempt}") % 1000) / 1000.0
        await asyncio.sleep(opts.backoff * (2 ** attempt) * jitter)
    return result


async def _attempt(client: httpx.AsyncClient, url: str, opts: FetchOptions, body: Path) -> Download:
    """One request (following redirects) whose body streams into the file ``body``."""
    bad = url_problem(url)
    if bad:
        return Download("bad_url", bad)
    seen = {url}
    try:
        for _ in range(opts.max_redirects + 1):
            async with client.stream("GET", url) as resp:
                if resp.status_code in REDIRECTS:
                    target, problem = _redirect_target(url, resp.headers.get("Location"))
                    if problem:
                        return problem
                    if target in seen:
                        return Download("redirect_loop", f"HTTP {resp.status_code}: redirect loop back to {target[:80]}")
                    seen.add(target)
                    url = target
                    continue
                return await _receive(resp, opts, body)
        return Download("redirect_loop", f"more than {opts.max_redirects} redirects")
    except httpx.TimeoutException:
        return Download("timeout", f"no complete answer within {opts.timeout:g} s")
    except (httpx.InvalidURL, httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
        return Download("bad_url", f"{type(exc).__name__}: {str(exc)[:160]}")
    except httpx.RemoteProtocolError as exc:
        if "location header" in str(exc).lower():  # httpx parses a redirect's target itself
            return Download("bad_url", f"redirect to a malformed URL ({str(exc)[:120]})")
        if "incomplete" in str(exc) or "body" in str(exc):
            return Download("truncated", f"connection closed mid-body ({str(exc)[:120]})")
        return Download("connection_error", f"{type(exc).__name__}: {str(exc)[:160]}")
    except (httpx.HTTPError, OSError, ValueError) as exc:
        return Download("connection_error", f"{type(exc).__name__}: {str(exc)[:160] or 'no answer'}")


def _redirect_target(url: str, location: str | None) -> tuple[str, Download | None]:
    if not location:
        return "", Download("redirect_loop", "a redirect without a Location header")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in location):
        return "", Download("bad_url", f"redirect to a URL with a control character: {location[:80]!r}")
    try:
        target = urljoin(url, location)
        scheme = urlsplit(target).scheme.lower()
    except ValueError as exc:
        return "", Download("bad_url", f"redirect to a malformed URL {location[:80]!r} ({exc})")
    if scheme not in ("http", "https"):
        return "", Download("redirect_loop", f"redirect to a non-HTTP URL: {location[:80]}")
    bad = url_problem(target)
    return target, (Download("bad_url", f"redirect to {bad}") if bad else None)


async def _receive(resp: httpx.Response, opts: FetchOptions, body: Path) -> Download:
    code = resp.status_code
    if code >= 400:
        status = "server_error" if code >= 500 or code in (408, 429) else "http_error"
        return Download(status, f"HTTP {code} {resp.reason_phrase}")
    if code != 200:
        return Download("http_error", f"HTTP {code} {resp.reason_phrase}: not an image answer")
    ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if not (ctype.startswith("image/") or ctype in IMAGE_TYPES_ALSO):
        return Download("not_image", f"served {ctype}, not an image", content_type=ctype)
    declared = _int(resp.headers.get("Content-Length"))
    if declared is not None and declared > opts.max_bytes:
        return Download("too_large", f"declares {declared:,} bytes, over max_bytes {opts.max_bytes:,}",
                        content_type=ctype)
    digest, total = hashlib.sha256(), 0
    with open(body, "wb") as fh:
        async for chunk in resp.aiter_bytes(1 << 16):
            total += len(chunk)
            if total > opts.max_bytes:
                return Download("too_large", f"body exceeds max_bytes {opts.max_bytes:,}", content_type=ctype)
            digest.update(chunk)
            fh.write(chunk)
    if declared is not None and total < declared:
        return Download("truncated", f"got {total:,} of {declared:,} bytes", content_type=ctype)
    if total == 0:
        return Download("not_image", "an empty body", content_type=ctype)
    return Download("ok", "", body, total, digest.hexdigest(), ctype)


async def _check(result: Download, body: Path, opts: FetchOptions, checker) -> Download:
    """Whether the body is an image: its header, pixel count and a reduced decode, in the checker
    thread (at most :data:`CHECK_THREADS` images in memory at once)."""
    try:
        result.format, _ = await asyncio.get_running_loop().run_in_executor(
            checker, probe_image, body, opts.max_pixels)
    except Rejected as rej:
        body.unlink(missing_ok=True)
        status = "too_large" if rej.status == "too_large" else "not_image"
        return Download(status, f"body does not decode as an image: {rej.reason}", content_type=result.content_type)
    return result


def url_problem(url: str) -> str:
    """Why ``url`` must never be requested ("" when it may): a control character or space, a
    scheme other than http(s), no or a malformed host or port, or credentials (``user:pass@``)."""
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        return f"a URL with a control character or space: {url[:80]!r}"
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a malformed port
        host = parts.hostname
    except ValueError as exc:
        return f"a malformed URL {url[:80]!r} ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        return f"not an http(s) URL: {url[:80]!r}"
    if "@" in parts.netloc:
        return "a URL with user:password@ credentials (never sent)"
    if not host or (port is not None and not 0 < port < 65536):
        return f"a URL without a valid host: {url[:80]!r}"
    try:
        httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        return f"a malformed URL {url[:80]!r} ({exc})"
    return ""


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
