"""``facealign fetch`` against a real HTTP server on 127.0.0.1: good images, 404, 500, a flaky 503,
slow and trickling answers, truncated bodies, redirect loops, HTML, fake images, oversized bodies,
duplicates and a placeholder served for many URLs; then resume, and ``facealign run`` on the result."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from facealign.downloader import FetchOptions, fetch
from facealign.runner import run
from test_facealign_photos import astronaut, grace, jpeg_bytes, png_bytes

MAX_BYTES = 400_000


def _bodies() -> dict[str, bytes]:
    g = grace()
    return {  # six different photos
        "grace1": jpeg_bytes(g),
        "grace2": jpeg_bytes(g.resize((430, 504)), quality=85),
        "grace3": jpeg_bytes(g, quality=70),
        "grace4": jpeg_bytes(g.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
        "grace5": jpeg_bytes(g.resize((460, 540))),
        "astro": jpeg_bytes(astronaut()),
        "placeholder": png_bytes(Image.new("RGB", (120, 90), (200, 200, 200))),
        "huge": b"\xff" * (MAX_BYTES * 3),
        "bomb": huge_dimension_png(),
    }


def huge_dimension_png(side: int = 7000) -> bytes:
    """A valid side x side RGB PNG of a few hundred KB (zeros compress well): a decompression bomb."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    z, row, parts = zlib.compressobj(9), b"\x00" * (1 + 3 * side), []
    for _ in range(side):
        parts.append(z.compress(row))
    parts.append(z.flush())
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


class _Handler(BaseHTTPRequestHandler):
    bodies: dict[str, bytes] = {}
    hits: Counter = Counter()
    authorization: list[str] = []  #: Authorization headers received (must stay empty)
    lock = threading.Lock()

    def log_message(self, *args) -> None:  # keep the test output clean
        pass

    def _send(self, code: int, body: bytes, ctype: str = "image/jpeg", length: int | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: C901 - one branch per behaviour, read top to bottom
        path = self.path
        with self.lock:
            self.hits[path] += 1
            n = self.hits[path]
        b = self.bodies
        if self.headers.get("Authorization"):
            self.authorization.append(self.headers["Authorization"])
        try:
            if "passwd" in path:
                self._send(200, b["grace3"])
            elif path.startswith("/img/"):
                self._send(200, b[path.split("/")[2].split(".")[0]])
            elif path == "/octet":
                self._send(200, b["grace4"], "application/octet-stream")
            elif path.startswith("/placeholder/"):
                self._send(200, b["placeholder"], "image/png")
            elif path == "/missing":
                self._send(404, b"not here", "text/plain")
            elif path == "/boom":
                self._send(500, b"oops", "text/plain")
            elif path == "/flaky":
                self._send(503, b"busy", "text/plain") if n == 1 else self._send(200, b["grace2"])
            elif path == "/slow":
                time.sleep(2.0)
                self._send(200, b["grace1"])
            elif path == "/trickle":
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(b["grace1"])))
                self.end_headers()
                for i in range(0, len(b["grace1"]), 2000):
                    self.wfile.write(b["grace1"][i:i + 2000])
                    self.wfile.flush()
                    time.sleep(0.1)
            elif path == "/truncated":
                body = b["grace1"]
                self._send(200, body[: len(body) // 2], length=len(body))
            elif path == "/loop":
                self.send_response(302)
                self.send_header("Location", "/loop")
                self.end_headers()
            elif path in ("/ping", "/pong"):
                self.send_response(301)
                self.send_header("Location", "/pong" if path == "/ping" else "/ping")
                self.end_headers()
            elif path == "/to-ftp":
                self.send_response(302)
                self.send_header("Location", "ftp://127.0.0.1/x.jpg")
                self.end_headers()
            elif path == "/trickle-status":  # the status line itself, a byte at a time
                for c in b"HTTP/1.1 200 OK\r\n":
                    self.wfile.write(bytes([c]))
                    self.wfile.flush()
                    time.sleep(0.15)
                self.wfile.write(f"Content-Type: image/jpeg\r\nContent-Length: {len(b['grace1'])}\r\n\r\n".encode())
                self.wfile.write(b["grace1"])
                self.close_connection = True
            elif path == "/trickle-headers":
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                for c in f"Content-Type: image/jpeg\r\nContent-Length: {len(b['grace1'])}\r\n\r\n".encode():
                    self.wfile.write(bytes([c]))
                    self.wfile.flush()
                    time.sleep(0.05)
                self.wfile.write(b["grace1"])
                self.close_connection = True
            elif path == "/stall":
                time.sleep(3.0)
                self._send(200, b["grace1"])
            elif path in ("/bad-location", "/to-userinfo"):
                self.send_response(302)
                port = self.server.server_address[1]
                self.send_header("Location", "http://[::1" if path == "/bad-location"
                                 else f"http://user:secret@127.0.0.1:{port}/img/grace3.jpg")
                self.end_headers()
            elif path.startswith("/bomb/"):
                self._send(200, b["bomb"], "image/png")
            elif path == "/html":
                self._send(200, b"<!DOCTYPE html><html><body>Image not found</body></html>", "text/html; charset=utf-8")
            elif path == "/fake.jpg":
                self._send(200, b"GIF89a but not really an image at all" * 10, "image/jpeg")
            elif path == "/huge":
                self._send(200, b["huge"])
            elif path == "/huge-stream":  # no Content-Length: the body runs until the connection closes
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.end_headers()
                for i in range(0, len(b["huge"]), 65536):
                    self.wfile.write(b["huge"][i:i + 65536])
            else:
                self._send(404, b"no route", "text/plain")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout, size limit): expected


@pytest.fixture(scope="module")
def server():
    saved = {k: os.environ.get(k) for k in ("no_proxy", "NO_PROXY")}
    os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1,localhost"  # never via a proxy
    _Handler.bodies = _bodies()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.handle_error = lambda request, address: None
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _lists(tmp: Path, base: str) -> Path:
    grace_box, astro_box = "150 110 380 340", "160 55 290 185"
    alice = [
        ("1", "/img/grace1.jpg"), ("2", "/missing"), ("3", "/boom"), ("4", "/flaky"), ("5", "/slow"),
        ("6", "/trickle"), ("7", "/truncated"), ("8", "/loop"), ("9", "/ping"), ("10", "/to-ftp"),
        ("11", "/html"), ("12", "/fake.jpg"), ("13", "/huge"), ("14", "/huge-stream"),
        ("15", "/placeholder/1"), ("16", "/placeholder/2"), ("17", "/img/../../../etc/passwd.jpg"),
    ]
    bob = [("1", "/img/astro.jpg"), ("2", "/img/grace1.jpg?copy"), ("3", "/placeholder/3"),
           ("4", "/placeholder/4"), ("5", "/octet")]
    root = tmp / "lists"
    root.mkdir()
    for name, rows in (("Alice_Example", alice), ("Bob_Example", bob)):
        text = "".join(f"{i} {base}{p} {astro_box if 'astro' in p else grace_box} 3.00 4.2 1\n" for i, p in rows)
        (root / f"{name}.txt").write_text(text)
    (root / "Zoë Kravitz.txt").write_text(f"0001 {base}/img/grace5.jpg {grace_box} 3.00 4.2 1\nbroken line\n")
    return root


OPTS = FetchOptions(concurrency=8, per_host=8, timeout=0.5, retries=1, backoff=0.01, max_bytes=MAX_BYTES,
                    placeholder_min=3)


@pytest.fixture(scope="module")
def fetched(server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fetch")
    lists = _lists(tmp, server)
    out = tmp / "images"
    _Handler.hits.clear()
    summary = fetch([lists], out, options=OPTS, show_progress=False)
    return lists, out, summary, Counter(_Handler.hits)


def _rows(out: Path) -> dict[str, dict]:
    rows = {}
    for line in (out / "fetch.jsonl").read_text().splitlines():
        r = json.loads(line)
        rows[r["key"]] = r  # the last row of a key wins, as in RecordLog
    return rows


def test_every_line_gets_the_right_outcome(fetched):
    _, out, summary, _ = fetched
    status = {k: r["status"] for k, r in _rows(out).items()}
    expect = {
        "Alice_Example/1": "ok", "Alice_Example/2": "http_error", "Alice_Example/3": "server_error",
        "Alice_Example/4": "ok", "Alice_Example/5": "timeout", "Alice_Example/6": "timeout",
        "Alice_Example/7": "truncated", "Alice_Example/8": "redirect_loop", "Alice_Example/9": "redirect_loop",
        "Alice_Example/10": "redirect_loop", "Alice_Example/11": "not_image", "Alice_Example/12": "not_image",
        "Alice_Example/13": "too_large", "Alice_Example/14": "too_large",
        "Alice_Example/15": "placeholder", "Alice_Example/16": "placeholder", "Alice_Example/17": "ok",
        "Bob_Example/1": "ok", "Bob_Example/2": "duplicate", "Bob_Example/3": "placeholder",
        "Bob_Example/4": "placeholder", "Bob_Example/5": "ok",
        "Zoë Kravitz/0001": "ok", "Zoë Kravitz/broken": "bad_line",
    }
    assert status == expect
    assert sum(summary.counts.values()) == len(expect) and summary.counts["ok"] == 6
    rows = _rows(out)
    assert rows["Alice_Example/4"]["attempts"] == 2  # the 503 was retried
    assert rows["Bob_Example/2"]["duplicate_of"] == "Alice_Example/1"
    assert "404" in rows["Alice_Example/2"]["reason"] and "text/html" in rows["Alice_Example/11"]["reason"]
    assert "non-HTTP" in rows["Alice_Example/10"]["reason"]
    assert "placeholder" in summary.table()


def test_file_names_come_from_identity_and_id_only(fetched):
    _, out, _, _ = fetched
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    ok = sorted(r["path"] for r in _rows(out).values() if r["status"] == "ok")
    assert files == sorted(ok + [".facealign-fetch.lock", "fetch.jsonl"])  # and the job's lock on the folder
    assert "Alice_Example/17.jpg" in ok and "Bob_Example/5.jpg" in ok
    zoe = [p for p in ok if p.startswith("Zo")]
    assert len(zoe) == 1 and zoe[0].endswith("/0001.jpg") and zoe[0].isascii() and " " not in zoe[0]
    for p in ok:
        with Image.open(out / p) as im:
            im.load()


def test_retries_and_resume(fetched, server):
    lists, out, _, hits = fetched
    assert hits["/boom"] == 2 and hits["/flaky"] == 2 and hits["/missing"] == 1  # retries=1
    assert hits["/loop"] == 1 and hits["/ping"] == hits["/pong"] == 1  # a loop is seen, not followed
    _Handler.hits.clear()
    again = fetch([lists], out, options=OPTS, show_progress=False)
    retried = set(_Handler.hits)
    # only the transient failures are asked for again; nothing that was downloaded or refused for good
    assert retried == {"/boom", "/slow", "/trickle", "/truncated"}
    assert again.done == 4 and again.resumed == len(_rows(out)) - 4


def test_placeholder_needs_many_urls_from_several_identities(server, tmp_path):
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "Solo.txt").write_text("".join(f"{i} {server}/placeholder/s{i} 1 1 50 50 3 4 1\n" for i in range(4)))
    summary = fetch([lists], tmp_path / "out", options=OPTS, show_progress=False)
    assert summary.counts == {"ok": 1, "duplicate": 3}  # one identity: only duplicates, kept once


def test_run_on_the_fetch_folder(fetched, tmp_path):
    _, out, _, _ = fetched
    summary = run([out], tmp_path / "aligned", show_progress=False)
    rows = {}
    for line in (tmp_path / "aligned" / "manifest.jsonl").read_text().splitlines():
        r = json.loads(line)
        rows[r["id"]] = r
    assert len(rows) == 24 and summary.total == 24
    ok = {k for k, r in rows.items() if r["status"] == "ok"}
    assert ok == {"Alice_Example/1", "Alice_Example/4", "Alice_Example/17", "Bob_Example/1", "Bob_Example/5",
                  "Zoë Kravitz/0001"}, {k: rows[k]["reason"] for k in rows if k not in ok}
    assert rows["Alice_Example/1"]["box_hint"] == [150, 110, 380, 340]
    assert rows["Bob_Example/2"]["status"] == "duplicate"
    assert rows["Alice_Example/2"]["status"] == "unavailable" and "404" in rows["Alice_Example/2"]["reason"]
    assert rows["Alice_Example/15"]["status"] == "unavailable" and "placeholder" in rows["Alice_Example/15"]["reason"]
    assert rows["Zoë Kravitz/broken"]["status"] == "unreadable"
    curated = run([out], tmp_path / "curated", frontal_only=True, show_progress=False)
    assert curated.total == 24 and curated.filtered == 0


def test_options_are_validated():
    with pytest.raises(ValueError):
        FetchOptions(concurrency=0)
    with pytest.raises(ValueError):
        FetchOptions(placeholder_min=1)


@pytest.mark.parametrize("option, value", [("--timeout", "nan"), ("--timeout", "inf"), ("--timeout", "-1"),
                                           ("--backoff", "inf"), ("--backoff", "nan"), ("--backoff", "-0.5")])
def test_timeouts_that_never_end_are_a_usage_error_at_once(server, tmp_path, option, value):
    """Issue 39: --timeout nan retried every URL forever and --backoff inf hung; both are refused
    before anything is fetched (the library's FetchOptions refuses them too)."""
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "Carol_Example.txt").write_text(f"1 {server}/img/grace1.jpg 150 110 380 340 3 4 1\n")
    cmd = [str(Path(sys.executable).parent / "facealign"), "fetch", str(lists), "--out", str(tmp_path / "out"),
           "--retries", "1", option, value]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "CARTOONSET_NO_PROGRESS": "1"})
    assert proc.returncode == 2 and f"Invalid value for '{option}'" in proc.stderr, proc.stderr[-1500:]
    assert "finite" in proc.stderr and not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match=option[2:]):
        FetchOptions(**{option[2:]: float(value)})


def test_fetch_command_line(server, tmp_path):
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "Carol_Example.txt").write_text(f"1 {server}/img/grace1.jpg 150 110 380 340 3 4 1\n"
                                            f"2 {server}/missing 150 110 380 340 3 4 1\n"
                                            f"3 {server}/img/astro.jpg 160 55 290 185 1 4 1\n")
    cmd = [str(Path(sys.executable).parent / "facealign"), "fetch", str(lists), "--out", str(tmp_path / "out"),
           "--timeout", "2", "--retries", "0", "--frontal-only"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "CARTOONSET_NO_PROGRESS": "1"})
    assert proc.returncode == 0, proc.stderr[-1500:]
    assert "http_error" in proc.stdout and "filtered out 1" in proc.stdout
    assert (tmp_path / "out" / "Carol_Example" / "1.jpg").is_file()
    bad = subprocess.run(cmd[:5] + ["--concurrency", "0"], capture_output=True, text=True)
    assert bad.returncode == 2 and "concurrency" in bad.stderr  # a usage error


def _fetch_rows_in_order(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "fetch.jsonl").read_text().splitlines() if line.strip()]


def test_timeout_bounds_the_whole_request_and_a_stall_holds_up_nothing(server, tmp_path):
    """A trickled status line or header block is a timeout (before: every byte arrived within the
    per-read timeout, so it was waited out and stored); good lines listed after a stalled one are
    committed before it gives up (before: results were committed in list order)."""
    lists = tmp_path / "lists"
    lists.mkdir()
    rows = [("1", "/stall"), ("2", "/trickle-status"), ("3", "/trickle-headers")] + \
        [(str(i), f"/img/grace1.jpg?n={i}") for i in range(4, 10)]
    (lists / "Dan_Example.txt").write_text("".join(f"{i} {server}{p} 150 110 380 340 3 4 1\n" for i, p in rows))
    opts = FetchOptions(concurrency=8, per_host=8, timeout=0.5, retries=0, backoff=0.01, max_bytes=MAX_BYTES)
    fetch([lists], tmp_path / "out", options=opts, show_progress=False)
    order = [r["key"] for r in _fetch_rows_in_order(tmp_path / "out")]
    status = {r["key"]: r["status"] for r in _fetch_rows_in_order(tmp_path / "out")}
    assert status["Dan_Example/2"] == status["Dan_Example/3"] == status["Dan_Example/1"] == "timeout"
    assert order.index("Dan_Example/4") < order.index("Dan_Example/1")  # not held up by the stall


def test_malformed_urls_are_bad_url_for_good_and_credentials_are_never_sent(server, tmp_path):
    port = server.rsplit(":", 1)[1]
    lists = tmp_path / "lists"
    lists.mkdir()
    urls = [f"{server}/img/grace1.jpg\x01x", f"http://user:secret@127.0.0.1:{port}/img/grace2.jpg?auth",
            f"{server}/bad-location", f"{server}/to-userinfo", "http://127.0.0.1:99999/img/grace1.jpg"]
    (lists / "Eve_Example.txt").write_text("".join(f"{i} {u} 150 110 380 340 3 4 1\n" for i, u in enumerate(urls)))
    _Handler.authorization.clear()
    _Handler.hits.clear()
    opts = FetchOptions(concurrency=4, per_host=4, timeout=1.0, retries=2, backoff=0.01, max_bytes=MAX_BYTES)
    first = fetch([lists], tmp_path / "out", options=opts, show_progress=False)
    assert first.counts == {"bad_url": len(urls)}, _fetch_rows_in_order(tmp_path / "out")
    rows = {r["key"]: r for r in _fetch_rows_in_order(tmp_path / "out")}
    assert "credentials" in rows["Eve_Example/1"]["reason"] and "secret" not in json.dumps(rows["Eve_Example/3"])
    assert rows["Eve_Example/2"]["attempts"] == 1  # not retried
    assert _Handler.authorization == [] and _Handler.hits["/img/grace2.jpg?auth"] == 0
    assert _Handler.hits["/img/grace3.jpg"] == 0  # the redirect to a user:password URL was not followed
    again = fetch([lists], tmp_path / "out", options=opts, show_progress=False)
    assert again.done == 0 and again.resumed == len(urls)  # permanent: never asked for again


def test_huge_dimension_pngs_are_checked_without_decoding_them(server, tmp_path):
    """Eight 7000x7000 PNGs (150 KB each) in flight at once: memory stays flat (before: each was
    decoded in full, ~150 MB apiece, 1.2 GB here), and a tighter pixel cap refuses them unread."""
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "Fay_Example.txt").write_text("".join(f"{i} {server}/bomb/{i}.png 1 1 50 50 3 4 1\n" for i in range(8)))
    # the peak of this process's own memory (VmHWM; ru_maxrss would include the forking parent's)
    script = ("import re, sys; from facealign.downloader import FetchOptions, fetch; "
              "s = fetch([sys.argv[1]], sys.argv[2], options=FetchOptions(concurrency=8, per_host=8, timeout=20, "
              "retries=0, max_pixels=int(sys.argv[3])), show_progress=False); "
              "peak = re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1); "
              "print(dict(s.counts), int(peak) // 1024)")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]), "OMP_NUM_THREADS": "1"}
    for cap, counts in ((50_000_000, {"ok": 1, "duplicate": 7}), (10_000_000, {"too_large": 8})):
        proc = subprocess.run([sys.executable, "-c", script, str(lists), str(tmp_path / f"out{cap}"), str(cap)],
                              capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr[-1500:]
        found, peak_mb = proc.stdout.rsplit(" ", 1)
        # the counts as a dict: which download is the "ok" one and which the duplicates depends on timing
        assert ast.literal_eval(found) == counts and int(peak_mb) < 250, proc.stdout  # measured: 2320 MB before, 59 MB after


def test_stale_temp_files_are_swept_and_log_paths_stay_inside(server, fetched, tmp_path):
    """A killed fetch's temp body is removed by the next fetch; a ``fetch.jsonl`` row naming a file
    outside its folder (absolute, or with ``..``) is refused by ``facealign run``, not read."""
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "Gus_Example.txt").write_text(f"1 {server}/img/grace1.jpg 150 110 380 340 3 4 1\n")
    stale = tmp_path / "out" / "Gus_Example" / ".1.tmp-999999-0badc0de"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half a body")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    fetch([lists], tmp_path / "out", options=OPTS, show_progress=False)
    assert not stale.exists()

    _, images, _, _ = fetched
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(_Handler.bodies["grace1"])
    doctored = tmp_path / "doctored"
    doctored.mkdir()
    rows = [{"key": f"Hal/{i}", "identity": "Hal", "id": str(i), "url": "http://x/y.jpg", "status": "ok", "path": p}
            for i, p in enumerate([str(outside), "../outside.jpg", "Hal/../../outside.jpg"])]
    (doctored / "fetch.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = run([doctored], tmp_path / "aligned", show_progress=False)
    assert summary.counts == {"unreadable": 3}
    manifest = [json.loads(line) for line in (tmp_path / "aligned" / "manifest.jsonl").read_text().splitlines()]
    assert all("outside" in r["reason"] for r in manifest)
