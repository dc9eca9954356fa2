"""Fetch and unpack Google's CartoonSet archives: resumable, verified, extracted atomically.

The download resumes from a ``.part`` file with an HTTP Range request; the archive is checked
against a SHA-256 (the release table's, the caller's, or the one recorded at the first download);
extraction refuses links, devices and member names that would leave the target folder, and lands
under a temp name that is renamed into place only when complete.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import time
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path, PurePosixPath

from .common.tomlio import loads as toml_loads
from .common.atomic import temp_path_for, write_text
from .common.progress import progress

CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A download or extraction failed; nothing half-done is left under the final name."""


def releases() -> dict[str, dict]:
    return toml_loads(resources.files("cartoonset").joinpath("data/releases.toml").read_text("utf-8"))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def fetch(url: str, dest: Path, timeout: float = 60.0, retries: int = 4, backoff: float = 1.0,
          show_progress: bool = True) -> Path:
    """Download ``url`` to ``dest``, resuming ``dest.part`` across retries and restarts."""
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    last_error: Exception | None = None
    for attempt in range(retries + 1):
        have = part.stat().st_size if part.exists() else 0
        req = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                if have and resp.status != 206:
                    have = 0  # the server ignored the range: start over
                total = resp.headers.get("Content-Length")
                total = int(total) + have if total is not None else None
                mode = "ab" if have else "wb"
                with open(part, mode) as fh, progress(total=total, initial=have, desc=dest.name, unit="B",
                                                     unit_scale=True, disable=None if show_progress else True) as bar:
                    for block in iter(lambda: resp.read(CHUNK), b""):
                        fh.write(block)
                        bar.update(len(block))
                if total is not None and part.stat().st_size < total:
                    raise DownloadError(f"{url}: connection closed after {part.stat().st_size} of {total} bytes")
            os.replace(part, dest)
            return dest
        except urllib.error.HTTPError as e:
            if e.code == 416 and have:  # the part file is already complete
                os.replace(part, dest)
                return dest
            last_error = e
            if 400 <= e.code < 500 and e.code not in (408, 429):
                break
        except (urllib.error.URLError, OSError, DownloadError) as e:
            last_error = e
        if attempt < retries:
            time.sleep(backoff * 2 ** attempt)
    raise DownloadError(f"{url}: download failed after {retries + 1} attempts ({last_error}); "
                        f"rerun to resume from {part}")


def safe_extract(archive: Path, target: Path) -> Path:
    """Extract a .tar/.tgz into ``target`` atomically; reject unsafe members."""
    if target.exists():
        return target
    work = temp_path_for(target)
    work.mkdir(parents=True)
    try:
        with tarfile.open(archive, "r:*") as tf:
            for m in tf:
                name = PurePosixPath(m.name)
                if name.is_absolute() or ".." in name.parts or m.name.startswith(("/", "\\")):
                    raise DownloadError(f"{archive}: member {m.name!r} would be written outside the target")
                if not (m.isfile() or m.isdir()):
                    raise DownloadError(f"{archive}: member {m.name!r} is a link or device; refusing to extract")
                dest = work.joinpath(*name.parts)
                if m.isdir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                src = tf.extractfile(m)
                with open(dest, "wb") as fh:
                    shutil.copyfileobj(src, fh, CHUNK)
        entries = list(work.iterdir())
        if len(entries) == 1 and entries[0].is_dir():  # the archive's own top folder
            os.replace(entries[0], target)
            work.rmdir()
        else:
            os.replace(work, target)
    except (tarfile.TarError, EOFError, OSError) as e:
        shutil.rmtree(work, ignore_errors=True)
        raise DownloadError(f"{archive}: not a readable tar archive ({e})") from None
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target


def download_release(root: str | os.PathLike, release: str = "10k", url: str | None = None,
                     sha256: str | None = None, timeout: float = 60.0, retries: int = 4,
                     show_progress: bool = True) -> Path:
    """Download and unpack Google's CartoonSet ``release`` ("10k" or "100k") under ``root``.

    Returns the unpacked folder (``root/cartoonset10k`` ...), which :class:`CartoonSet` finds when
    given ``root``.
    """
    table = releases()
    if release not in table:
        raise ValueError(f"release must be one of {', '.join(table)}; got {release!r}")
    info = table[release]
    root = Path(root)
    target = root / info["folder"]
    if target.is_dir():
        return target
    archive = root / f"{info['folder']}.tgz"
    recorded = archive.with_name(archive.name + ".sha256")
    expected = sha256 or info.get("sha256") or (recorded.read_text().split()[0] if recorded.exists() else "")
    if not archive.exists():
        fetch(url or info["url"], archive, timeout=timeout, retries=retries, show_progress=show_progress)
    digest = sha256_file(archive)
    if expected and digest != expected.lower():
        bad = archive.with_name(archive.name + ".corrupt")
        os.replace(archive, bad)
        raise DownloadError(f"{archive}: SHA-256 {digest} does not match the expected {expected}; "
                            f"moved it to {bad.name}, rerun to download again")
    if not expected:
        write_text(recorded, f"{digest}  {archive.name}\n")
    return safe_extract(archive, target)
