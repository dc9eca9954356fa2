"""Google's archives: pinned digests verified before unpacking, against a real HTTP server on 127.0.0.1
serving small local archives (the release table is pointed at them with $CARTOONSET_RELEASES; the
real pinned digests stay in cartoonset/data/releases.toml)."""
from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
from pathlib import Path

import pytest

from cartoonset import CartoonSet
from cartoonset.download import DownloadError, download_release, releases, safe_extract
from cartoonset.pipeline import render


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``routes[path] = (status, content type, body)`` with Range support; ``mode`` makes the
    archive route misbehave: ``cut`` (the first answer stops at a third), ``bogus206`` (cut, then
    the resume is answered 206 with the body from byte 0 under a lying Content-Range)."""

    routes: dict[str, tuple[int, str, bytes]] = {}
    mode = ""
    log: list[tuple[str, str | None]] = []

    def do_GET(self):  # noqa: N802
        cls = type(self)
        rng = self.headers.get("Range")
        cls.log.append((self.path, rng))
        if self.path not in cls.routes:
            self.send_error(404)
            return
        status, kind, body = cls.routes[self.path]
        start = int(rng.split("=")[1].split("-")[0]) if rng and status == 200 else 0
        first = sum(1 for p, _ in cls.log if p == self.path) == 1
        if start:
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            part = body if cls.mode == "bogus206" else body[start:]
        else:
            self.send_response(status)
            part = body
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(part)))
        self.end_headers()
        if cls.mode in ("cut", "bogus206") and first:
            self.wfile.write(part[: len(part) // 3])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(part)

    def log_message(self, *a):
        pass


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    Handler.routes, Handler.mode, Handler.log = {}, "", []
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


@pytest.fixture(scope="module")
def archives(mini_pack, tmp_path_factory):
    """A small render packed as Google packs its two releases (top folder, flat or 0..9)."""
    src = tmp_path_factory.mktemp("src")
    render(n=20, out=src / "r", seed=2, size=48, workers=1, pack=mini_pack, show_progress=False)
    pairs = sorted((src / "r" / "images").glob("cs*"))
    out = {}
    for release, top in (("10k", "cartoonset10k"), ("100k", "cartoonset100k")):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tf:
            for k, p in enumerate(pairs):
                sub = f"{top}/{(k // 2) % 10}/" if release == "100k" else f"{top}/"
                tf.add(p, arcname=sub + p.name)
        out[release] = buf.getvalue()
    return out


def point_table(monkeypatch, tmp_path: Path, base: str, archives: dict[str, bytes], images: int = 20,
                digests: dict[str, str] | None = None) -> None:
    lines = []
    for release, data in archives.items():
        digest = (digests or {}).get(release) or hashlib.sha256(data).hexdigest()
        lines += [f"[{release}]", f'url = "{base}/cartoonset{release}.tgz"', f'folder = "cartoonset{release}"',
                  f"images = {images}", f'sha256 = "{digest}"', ""]
    table = tmp_path / "releases.toml"
    table.write_text("\n".join(lines))
    monkeypatch.setenv("CARTOONSET_RELEASES", str(table))


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_the_bundled_table_pins_both_releases():
    table = releases()
    assert table["10k"]["sha256"] == "902145ad5096af10ca9ee200b648e2a60e8b6b83dd2f4dc5356817988be8ff43"
    assert table["100k"]["sha256"] == "541dffe1016b10e8177dd534188fa729c8ed9111734498c405d55e47aae1a2a6"
    assert table["100k"]["bytes"] == 4766442036 and table["100k"]["images"] == 100000


def test_good_archive_resumes_verifies_and_unpacks(server, archives, monkeypatch, tmp_path):
    Handler.routes = {"/cartoonset10k.tgz": (200, "application/x-gzip", archives["10k"])}
    Handler.mode = "cut"
    point_table(monkeypatch, tmp_path, server, {"10k": archives["10k"]})
    ds = CartoonSet(tmp_path / "data", split="all", download=True)
    assert len(ds) == 20 and ds.index.layout == "flat"
    assert [r for _, r in Handler.log] == [None, f"bytes={len(archives['10k']) // 3}-"]  # resumed
    assert leftovers(tmp_path / "data") == ["cartoonset10k", "cartoonset10k.tgz"]


def test_100k_is_fetched_even_when_10k_is_there(server, archives, monkeypatch, tmp_path):
    Handler.routes = {f"/cartoonset{r}.tgz": (200, "application/x-gzip", a) for r, a in archives.items()}
    point_table(monkeypatch, tmp_path, server, archives)
    root = tmp_path / "data"
    assert CartoonSet(root, split="all", download=True).index.layout == "flat"
    big = CartoonSet(root, split="all", download=True, release="100k")
    assert big.index.layout == "sharded" and len(big) == 20
    assert CartoonSet(root, split="all", release="10k").index.layout == "flat"  # both releases, by name


def test_html_page_is_refused_and_deleted(server, archives, monkeypatch, tmp_path):
    page = b"<!DOCTYPE html><html><body>Sign in to continue</body></html>"
    Handler.routes = {"/cartoonset10k.tgz": (200, "text/html; charset=utf-8", page)}
    point_table(monkeypatch, tmp_path, server, {"10k": archives["10k"]})
    with pytest.raises(DownloadError, match="HTML page") as e:
        download_release(tmp_path / "data", "10k", show_progress=False)
    assert "\n" not in str(e.value)
    assert leftovers(tmp_path / "data") == []
    # served as an archive type, it is still caught before unpacking
    Handler.routes = {"/cartoonset10k.tgz": (200, "application/octet-stream", page)}
    with pytest.raises(DownloadError, match="HTML/XML page, not an archive"):
        download_release(tmp_path / "data", "10k", show_progress=False)
    assert leftovers(tmp_path / "data") == []


def test_corrupt_archive_is_deleted_after_one_fresh_retry(server, archives, monkeypatch, tmp_path):
    data = bytearray(archives["10k"])
    data[len(data) // 2] ^= 0xFF
    Handler.routes = {"/cartoonset10k.tgz": (200, "application/x-gzip", bytes(data))}
    point_table(monkeypatch, tmp_path, server, {"10k": archives["10k"]})
    with pytest.raises(DownloadError, match="does not match the pinned .*deleted it"):
        download_release(tmp_path / "data", "10k", show_progress=False)
    assert [r for _, r in Handler.log] == [None, None]  # downloaded twice, the second from zero
    assert leftovers(tmp_path / "data") == []  # nothing recorded, nothing kept
    # later, against a good server, the same call succeeds
    Handler.routes, Handler.log = {"/cartoonset10k.tgz": (200, "application/x-gzip", archives["10k"])}, []
    assert len(CartoonSet(tmp_path / "data", split="all", download=True)) == 20


def test_bogus_206_on_resume_restarts_from_zero(server, archives, monkeypatch, tmp_path):
    Handler.routes = {"/cartoonset10k.tgz": (200, "application/x-gzip", archives["10k"])}
    Handler.mode = "bogus206"
    point_table(monkeypatch, tmp_path, server, {"10k": archives["10k"]})
    ds = CartoonSet(tmp_path / "data", split="all", download=True)
    assert len(ds) == 20
    ranges = [r for _, r in Handler.log]
    assert ranges[0] is None and ranges[1] is not None and None in ranges[2:]  # resumed, refused, restarted
    archive = tmp_path / "data" / "cartoonset10k.tgz"
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == hashlib.sha256(archives["10k"]).hexdigest()


def test_wrong_image_count_is_refused(server, archives, monkeypatch, tmp_path):
    Handler.routes = {"/cartoonset10k.tgz": (200, "application/x-gzip", archives["10k"])}
    point_table(monkeypatch, tmp_path, server, {"10k": archives["10k"]}, images=10000)
    with pytest.raises(DownloadError, match="holds 20 images, the release has 10000"):
        download_release(tmp_path / "data", "10k", show_progress=False)
    assert "cartoonset10k" not in leftovers(tmp_path / "data")


@pytest.mark.parametrize("name, kind", [("../evil.txt", tarfile.REGTYPE), ("/abs.txt", tarfile.REGTYPE),
                                        ("link", tarfile.SYMTYPE), ("inner", tarfile.LNKTYPE),
                                        ("fifo", tarfile.FIFOTYPE)])
def test_unsafe_archive_members_rejected(tmp_path, name, kind):
    archive = tmp_path / "a.tgz"
    with tarfile.open(archive, "w:gz") as tf:
        ti = tarfile.TarInfo(name)
        ti.type = kind
        if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
            ti.linkname = "/etc/passwd"
            tf.addfile(ti)
        elif kind == tarfile.FIFOTYPE:
            tf.addfile(ti)
        else:
            ti.size = 3
            tf.addfile(ti, io.BytesIO(b"abc"))
    with pytest.raises(DownloadError):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "evil.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["a.tgz"]


def test_mirror_is_used_when_the_primary_address_fails(server, archives, monkeypatch, tmp_path):
    Handler.routes = {"/mirror/cartoonset10k.tgz": (200, "application/x-gzip", archives["10k"])}
    table = tmp_path / "releases.toml"
    table.write_text(f'[10k]\nurl = "{server}/gone/cartoonset10k.tgz"\nmirror = "{server}/mirror/cartoonset10k.tgz"\n'
                     f'folder = "cartoonset10k"\nimages = 20\nsha256 = "{hashlib.sha256(archives["10k"]).hexdigest()}"\n')
    monkeypatch.setenv("CARTOONSET_RELEASES", str(table))
    assert len(CartoonSet(tmp_path / "data", split="all", download=True)) == 20
    assert [p for p, _ in Handler.log] == ["/gone/cartoonset10k.tgz", "/mirror/cartoonset10k.tgz"]


def test_failed_download_is_one_dataset_error_and_leaves_nothing(server, monkeypatch, tmp_path):
    """Issue 38.8: offline, ``CartoonSet(root, download=True)`` raised a DownloadError chained to the
    "not there" error, offered to resume from a .part file that did not exist, and left ``root``."""
    from cartoonset.common.vision import DatasetError

    point_table(monkeypatch, tmp_path, server, {"10k": b"never served"})  # every address answers 404
    root = tmp_path / "data" / "google"
    with pytest.raises(DatasetError) as e:
        CartoonSet(root, download=True)
    assert e.value.__cause__ is None and e.value.__suppress_context__  # raise ... from None: one traceback
    assert ".part" not in str(e.value) and "nothing was kept" in str(e.value)
    assert not (tmp_path / "data").exists()  # neither root nor its parent stays behind
