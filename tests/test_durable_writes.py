"""Writes that publish data by a rename are durable: the file is fsynced before the rename, the folder after.

``os.fsync`` is wrapped with a recorder that still calls the real one (the code under test is ours,
the system call is the kernel's), and every call is checked against the files on disk at that moment.
"""
import os
import stat
from pathlib import Path

import pytest

from cartoonset.common import atomic


@pytest.fixture
def fsyncs(monkeypatch):
    """Every fsync as (what the fd is: 'dir' or the file's name, whether ``watch`` existed then)."""
    calls, real = [], os.fsync
    watch: dict[str, Path] = {}

    def recording(fd):
        kind = "dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else os.readlink(f"/proc/self/fd/{fd}")
        calls.append((kind, {k: p.exists() for k, p in watch.items()}))
        return real(fd)

    monkeypatch.setattr(os, "fsync", recording)
    return calls, watch


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs Linux /proc")
def test_write_bytes_fsyncs_the_data_before_the_rename_and_the_folder_after(tmp_path, fsyncs):
    calls, watch = fsyncs
    target = tmp_path / "cs1.png"
    watch["target"] = target
    atomic.write_bytes(target, b"\x89PNG data")
    assert target.read_bytes() == b"\x89PNG data"
    assert len(calls) == 2
    (first, seen_first), (second, seen_second) = calls
    assert atomic.TEMP_MARK in Path(first).name and not seen_first["target"]  # the temp file, before the rename
    assert second == "dir" and seen_second["target"]                           # the folder, after it


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs Linux /proc")
def test_publisher_publishes_in_order_and_durably(tmp_path, fsyncs):
    calls, _ = fsyncs
    with atomic.Publisher() as pub:
        for k in range(20):
            pub.write_bytes(tmp_path / f"cs{k}.png", b"png %d" % k)
            pub.write_text(tmp_path / f"cs{k}.csv", f"csv {k}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"cs{k}.png" for k in range(20)] +
                                                                 [f"cs{k}.csv" for k in range(20)])
    assert (tmp_path / "cs7.csv").read_text() == "csv 7"
    files = [c for c, _ in calls if c != "dir"]
    assert len(files) == 40 and all(atomic.TEMP_MARK in Path(f).name for f in files)
    assert any(c == "dir" for c, _ in calls)


def test_publisher_reports_a_failed_publish(tmp_path):
    (tmp_path / "cs1.png").mkdir()  # the final name is taken by a folder: the rename must fail
    pub = atomic.Publisher()
    pub.write_bytes(tmp_path / "cs1.png", b"x")
    with pytest.raises(OSError):
        pub.flush()
    assert not [p for p in tmp_path.iterdir() if atomic.is_temp(p)]  # its temp file is not left behind


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs Linux /proc")
def test_render_fsyncs_every_png_and_csv(mini_pack, tmp_path, fsyncs):
    from cartoonset.pipeline import render

    calls, _ = fsyncs
    render(n=5, out=tmp_path / "out", seed=0, size=64, workers=1, pack=mini_pack, show_progress=False)
    synced = {Path(c).name.split(atomic.TEMP_MARK)[0].lstrip(".") for c, _ in calls if c != "dir"}
    published = {p.name for p in (tmp_path / "out" / "images").glob("cs*")}
    assert len(published) == 10 and published <= synced
