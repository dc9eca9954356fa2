"""Fetch and unpack Google's CartoonSet archives: resumable, verified against pinned digests, extracted
safely and atomically.

The release table (``data/releases.toml``, or the file named by ``$CARTOONSET_RELEASES``) pins each
archive's SHA-256. A download resumes from a ``.part`` file with an HTTP Range request; an answer
that is not the archive (an HTML sign-in page, a ``206`` whose range is not the one asked for) is
refused on the spot. The finished archive is verified before anything is unpacked: on a mismatch
it is deleted and downloaded once more from byte zero (a resume may have spliced bad bytes), and a
second mismatch is an error; no unverified file is ever kept under the archive's name. Extraction
goes through :mod:`tarfile`'s ``data`` filter (no absolute paths, ``..``, devices or links out of
the target) and additionally takes only regular files and folders, lands under a temp name that is
renamed into place when complete, and checks the image count against the table.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import time
import urllib.error
import urllib.request
import zlib
from importlib import resources
from pathlib import Path

from .common.atomic import remove_stale_temps, temp_path_for
from .common.errors import ToolkitError
from .common.progress import progress
from .common.tomlio import loads as toml_loads

CHUNK = 1 << 20
ENV = "CARTOONSET_RELEASES"
_ARCHIVE_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ")  # gzip, bzip2, xz; a plain tar is checked by tarfile


class DownloadError(ToolkitError, RuntimeError):
    """A download or extraction failed; nothing half-done or unverified is left under the final name."""


def releases(path: str | os.PathLike | None = None) -> dict[str, dict]:
    """The release table: ``path``, else ``$CARTOONSET_RELEASES``, else the bundled one."""
    path = path or os.environ.get(ENV)
    if path:
        text = Path(path).read_text("utf-8")
    else:
        text = resources.files("cartoonset").joinpath("data/releases.toml").read_text("utf-8")
    return toml_loads(text)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


class _NotTheArchive(DownloadError):
    """The server answered with something that is not the file (permanent: do not retry)."""


def _content_range_start(value: str | None) -> int | None:
    """The first byte of a ``Content-Range: bytes START-END/TOTAL`` header, None when malformed."""
    if not value or not value.startswith("bytes "):
        return None
    try:
        return int(value[6:].split("-", 1)[0])
    except ValueError:
        return None


def fetch(url: str, dest: Path, timeout: float = 60.0, retries: int = 4, backoff: float = 1.0,
          show_progress: bool = True, resume: bool = True) -> Path:
    """Download ``url`` to ``dest``, resuming ``dest.part`` across retries and restarts (unless
    ``resume=False``, which starts from zero); a failure keeps ``dest.part`` only when it holds bytes."""
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not resume:
        part.unlink(missing_ok=True)
    last_error: Exception | None = None
    for attempt in range(retries + 1):
        have = part.stat().st_size if part.exists() else 0
        req = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                kind = resp.headers.get("Content-Type", "")
                if kind.split(";")[0].strip().lower() in ("text/html", "application/xhtml+xml"):
                    raise _NotTheArchive(f"{url}: the server sent an HTML page (a sign-in or error page?), "
                                         "not the archive")
                if have and resp.status == 206 and _content_range_start(resp.headers.get("Content-Range")) != have:
                    # A bogus partial answer: appending it would splice the wrong bytes. Start over.
                    part.unlink(missing_ok=True)
                    raise DownloadError(f"{url}: the server answered the resume with the wrong range "
                                        f"({resp.headers.get('Content-Range')!r}); restarting from zero")
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
        except _NotTheArchive:
            part.unlink(missing_ok=True)
            raise
        except urllib.error.HTTPError as e:
            if e.code == 416 and have:  # the part file is already complete (verified by the caller)
                os.replace(part, dest)
                return dest
            last_error = e
            if 400 <= e.code < 500 and e.code not in (408, 429):
                break
        except (urllib.error.URLError, OSError, DownloadError) as e:
            last_error = e
        if attempt < retries:
            time.sleep(backoff * 2 ** attempt)
    if part.exists() and not part.stat().st_size:
        part.unlink()  # an empty part file resumes nothing
    raise DownloadError(f"{url}: download failed after {attempt + 1} attempts ({last_error})")


def _resume_hint(archive: Path) -> str:
    """What a rerun does after a failed download: resume from the bytes kept, or start again."""
    part = archive.with_name(archive.name + ".part")
    kept = part.stat().st_size if part.exists() else 0
    if kept:
        return f"rerun to resume from {part} ({kept} bytes kept)"
    return "nothing was kept; rerun when the address can be reached (this needs the network)"


def verify(archive: Path, sha256: str, size: int | None = None) -> str | None:
    """Why ``archive`` is not the pinned archive, or None when its SHA-256 (and size) match."""
    if size is not None and archive.stat().st_size != size:
        return f"it has {archive.stat().st_size} bytes, the release has {size}"
    with open(archive, "rb") as fh:
        head = fh.read(512)
    if head.lstrip()[:1] == b"<":
        return "it is an HTML/XML page, not an archive"
    if not head.startswith(_ARCHIVE_MAGIC) and head[257:262] != b"ustar":
        return "it is not a tar archive"
    digest = sha256_file(archive)
    if digest != sha256.lower():
        return f"its SHA-256 {digest} does not match the pinned {sha256.lower()}"
    return None


def _member_filter(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo:
    if member.name.startswith(("/", "\\")):  # the data filter would strip it; a release never has one
        raise tarfile.FilterError(f"member {member.name!r} has an absolute path")
    member = tarfile.data_filter(member, path)  # no absolute paths, no '..', no links out, no devices
    if not (member.isfile() or member.isdir()):
        raise tarfile.FilterError(f"member {member.name!r} is a link or special file")
    return member


def safe_extract(archive: Path, target: Path, images: int | None = None) -> Path:
    """Extract a .tar/.tgz into ``target`` atomically, through tarfile's ``data`` filter, taking
    regular files and folders only; with ``images``, check that many ``cs*.png`` arrived."""
    if target.exists():
        return target
    if not hasattr(tarfile, "data_filter"):  # pragma: no cover - Python < 3.10.12
        raise DownloadError("safe extraction needs Python >= 3.10.12 (tarfile extraction filters)")
    work = temp_path_for(target)
    work.mkdir(parents=True)
    try:
        with tarfile.open(archive, "r:*") as tf:
            tf.extractall(work, filter=_member_filter)
        entries = list(work.iterdir())
        top = entries[0] if len(entries) == 1 and entries[0].is_dir() else work  # the archive's own top folder
        if images is not None:
            found = sum(1 for _ in top.rglob("cs*.png"))
            if found != images:
                raise DownloadError(f"{archive}: holds {found} images, the release has {images}; "
                                    "delete the archive and download again")
        if top is work:
            os.replace(work, target)
        else:
            os.replace(top, target)
            work.rmdir()
    except tarfile.FilterError as e:
        shutil.rmtree(work, ignore_errors=True)
        raise DownloadError(f"{archive}: refusing to extract ({e})") from None
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        shutil.rmtree(work, ignore_errors=True)
        raise DownloadError(f"{archive}: not a readable tar archive ({e})") from None
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target


def download_release(root: str | os.PathLike, release: str = "10k", url: str | None = None,
                     sha256: str | None = None, timeout: float = 60.0, retries: int = 4,
                     show_progress: bool = True) -> Path:
    """Download, verify and unpack Google's CartoonSet ``release`` ("10k" or "100k") under ``root``.

    Returns the unpacked folder (``root/cartoonset10k`` ...), which :class:`CartoonSet` finds when
    given ``root``. ``url`` replaces the table's address (and its mirror); ``sha256`` its digest.
    """
    table = releases()
    if release not in table:
        raise ValueError(f"release must be one of {', '.join(table)}; got {release!r}")
    info = table[release]
    expected = sha256 or info.get("sha256") or ""
    if len(expected) != 64:
        raise DownloadError(f"release {release}: no pinned SHA-256 in the release table; pass sha256=")
    root = Path(root)
    target = root / info["folder"]
    if target.is_dir():
        return target
    made = _missing_folders(root)
    root.mkdir(parents=True, exist_ok=True)
    try:
        return _fetch_verify_unpack(root, target, info, release, url, expected, timeout, retries, show_progress)
    except BaseException:
        _remove_if_empty(made)  # a failed download leaves no empty folder behind
        raise


def _missing_folders(path: Path) -> list[Path]:
    """``path`` and those of its parents that do not exist yet, deepest first."""
    missing = []
    for p in (path, *path.parents):
        if p.exists():
            break
        missing.append(p)
    return missing


def _remove_if_empty(folders: list[Path]) -> None:
    for p in folders:  # deepest first: a parent empties once its child goes
        try:
            p.rmdir()
        except OSError:
            return  # not empty (a .part to resume from) or already gone


def _fetch_verify_unpack(root: Path, target: Path, info: dict, release: str, url: str | None, expected: str,
                         timeout: float, retries: int, show_progress: bool) -> Path:
    remove_stale_temps(root)
    archive = root / f"{info['folder']}.tgz"
    urls = [url] if url else [u for u in (info.get("url"), info.get("mirror")) if u]
    problem = verify(archive, expected, info.get("bytes")) if archive.exists() else "absent"
    for restart in (False, True):  # a failed check deletes the file and starts from zero once
        if problem is None:
            break
        archive.unlink(missing_ok=True)
        errors = []
        for u in urls:
            try:
                fetch(u, archive, timeout=timeout, retries=retries, show_progress=show_progress,
                      resume=not restart)
                break
            except DownloadError as e:
                errors.append(str(e))
        else:
            raise DownloadError(f"{' / '.join(errors)}; {_resume_hint(archive)}")
        problem = verify(archive, expected, info.get("bytes"))
    if problem is not None:
        archive.unlink(missing_ok=True)
        raise DownloadError(f"{archive.name} from {urls[0]}: {problem}; deleted it (downloaded twice, "
                            "from zero the second time). Check the address, or the network's proxy")
    return safe_extract(archive, target, info.get("images"))
