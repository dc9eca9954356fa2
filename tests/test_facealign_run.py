"""``facealign run`` and ``facealign preview`` end to end: good and bad photos, VGG-Face lists,
parallel workers, shards, resuming after a kill, and the contact sheet."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cartoonset.common.atomic import is_temp
from cartoonset.common.template import FACE_TEMPLATE
from facealign.backend import SolutionsBackend
from facealign.landmarks import from_mesh
from facealign.runner import run
from test_facealign_photos import bad_photos, good_photos, grace, jpeg_bytes, write_tree

BIN = Path(sys.executable).parent
ENV = {**os.environ, "CARTOONSET_NO_PROGRESS": "1"}


def facealign(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(BIN / "facealign"), *map(str, args)], capture_output=True, text=True, env=ENV)
    if check and proc.returncode != 0:
        raise AssertionError(f"facealign {' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return proc


def manifest_lines(out: Path) -> list[dict]:
    rows = []
    for log in sorted(out.glob("manifest*.jsonl")):
        rows += [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return rows


def final_files(out: Path) -> list[Path]:
    return [p for p in out.rglob("*.png") if not is_temp(p)]


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    write_tree(root, good_photos())
    write_tree(root, {k: v[0] for k, v in bad_photos().items()})
    return root


@pytest.fixture(scope="module")
def cli_run(photos, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("aligned") / "out"
    return out, facealign("run", photos, "--out", out, "--workers", "2")


def test_run_records_every_input_and_exits_0(photos, cli_run):
    out, proc = cli_run
    assert "ok" in proc.stdout and "total" in proc.stdout  # the summary table
    rows = {r["id"]: r for r in manifest_lines(out)}
    assert len(rows) == len(manifest_lines(out)) == len(good_photos()) + len(bad_photos())
    for name in good_photos():
        assert rows[name]["status"] == "ok", (name, rows[name]["reason"])
        assert rows[name]["identity"] == name.split("/")[0]
    for name, (_, allowed) in bad_photos().items():
        assert rows[name]["status"] in allowed and rows[name]["reason"], (name, rows[name])
    csv_lines = (out / "manifest.csv").read_text().splitlines()
    assert len(csv_lines) == len(rows) + 1 and csv_lines[0].startswith("id,identity,status,reason")
    settings = json.loads((out / "facealign.json").read_text())
    assert settings["settings"]["size"] == 64 and settings["settings"]["large"] == 256


def test_written_crops_put_eyes_and_mouth_on_the_template(cli_run):
    out, _ = cli_run
    backend = SolutionsBackend()
    try:
        for row in manifest_lines(out):
            if row["status"] != "ok":
                continue
            small = np.asarray(Image.open(out / row["outputs"]["64"]))
            large = np.asarray(Image.open(out / row["outputs"]["256"]).convert("RGB"))
            assert small.shape == (64, 64, 3) and large.shape == (256, 256, 3)
            found = from_mesh(backend.landmarks(large)[0]).triple()
            err = np.abs(found / 4 - FACE_TEMPLATE * 64).max()
            assert err < 1.0, f"{row['id']}: {err:.2f} px off the template at 64x64"
    finally:
        backend.close()
    assert not [p for p in out.rglob(".*") if is_temp(p)]


def test_rerun_is_a_no_op_and_other_settings_are_refused(photos, cli_run):
    out, _ = cli_run
    before = len(manifest_lines(out))
    env = {k: v for k, v in ENV.items() if k != "CARTOONSET_NO_PROGRESS"}  # bars on, as a user has them
    again = subprocess.run([str(BIN / "facealign"), "run", str(photos), "--out", str(out)], capture_output=True,
                           text=True, env=env)
    assert again.returncode == 0 and len(manifest_lines(out)) == before, again.stderr
    # Issue 38.12: a rerun drew two empty bars and "0.0 images/s"
    total = len(good_photos()) + len(bad_photos())
    assert f"nothing to do: {total} already there" in again.stdout and "images/s" not in again.stdout
    assert "facealign:" not in again.stderr and "0img" not in again.stderr, again.stderr
    clash = facealign("run", photos, "--out", out, "--size", "32", check=False)
    assert clash.returncode != 0 and "other settings (size)" in clash.stderr
    missing = facealign("run", photos / "nope", "--out", out, check=False)
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_preview_sheet(cli_run, tmp_path):
    out, _ = cli_run
    facealign("preview", out, "--out", tmp_path / "sheet.png", "--columns", "6")
    sheet = Image.open(tmp_path / "sheet.png")
    assert sheet.width == 6 * (96 + 6) + 6 and sheet.height > 2 * 96
    bad = facealign("preview", tmp_path, "--out", tmp_path / "x.png", check=False)
    assert bad.returncode == 1 and "not a facealign output folder" in bad.stderr


def _variants(n: int) -> dict[str, bytes]:
    """``n`` distinct real photos: Grace Hopper at several sizes and slight turns, one per person."""
    g = grace()
    out = {}
    for i in range(n):
        img = g.rotate((i % 7) - 3, Image.Resampling.BICUBIC, expand=False, fillcolor=(120, 120, 120))
        side = 420 + 40 * (i % 6)
        out[f"person{i:02d}/photo{i:02d}.jpg"] = jpeg_bytes(img.resize((side, round(side * 600 / 512))))
    return out


def test_resume_after_a_kill_finishes_the_same_set(tmp_path):
    photos = write_tree(tmp_path / "photos", _variants(24))
    out = tmp_path / "out"
    cmd = [str(BIN / "facealign"), "run", str(photos), "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    log = out / "manifest.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if log.exists() and log.read_bytes().count(b"\n") >= 3:
            break
        time.sleep(0.005)
    killed = proc.poll() is None
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert killed, "the run finished before it could be killed"
    partial = len(manifest_lines(out))
    assert 3 <= partial < 24
    facealign("run", photos, "--out", out)
    rows = manifest_lines(out)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == 24  # every photo exactly once
    assert all(r["status"] == "ok" for r in rows)
    named = {out / p for r in rows for p in r["outputs"].values()}
    files = set(final_files(out))
    assert files == named  # no orphan and no missing crop
    for p in files:  # nothing half-written under a final name
        with Image.open(p) as im:
            im.load()


def test_shards_union_is_the_whole_run(tmp_path):
    photos = write_tree(tmp_path / "photos", {**_variants(6), **{k: v[0] for k, v in list(bad_photos().items())[-3:]}})
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    ref = run([photos], whole, show_progress=False)
    a = run([photos], parts, shard="0/2", show_progress=False)
    b = run([photos], parts, shard="1/2", workers=2, show_progress=False)
    assert a.total + b.total == ref.total == 9 and a.total and b.total
    logs = sorted(p.name for p in parts.glob("manifest*.jsonl"))
    assert logs == ["manifest.shard-0-of-2.jsonl", "manifest.shard-1-of-2.jsonl"]
    got = {r["id"]: r["status"] for r in manifest_lines(parts)}
    want = {r["id"]: r["status"] for r in manifest_lines(whole)}
    assert got == want and len(manifest_lines(parts)) == 9
    assert sorted(p.relative_to(parts) for p in final_files(parts)) == \
        sorted(p.relative_to(whole) for p in final_files(whole))
    assert len((parts / "manifest.csv").read_text().splitlines()) == 10
    with pytest.raises(ValueError, match="K/N"):
        run([photos], parts, shard="2")


def test_vgg_face_lists_with_box_hints_and_filters(tmp_path):
    """A fetch-style folder of photos and VGG-Face lists: boxes pick the face, filters drop lines,
    lines never downloaded and malformed lines get rows of their own."""
    g = np.asarray(grace())
    two = np.hstack([g, g])  # ambiguous without a box; the box picks the right-hand copy
    images = write_tree(tmp_path / "images", {
        "Grace_Hopper/1.jpg": jpeg_bytes(Image.fromarray(two)),
        "Grace_Hopper/2.jpg": jpeg_bytes(grace()),
        "Grace_Hopper/3.jpg": jpeg_bytes(grace()),
    })
    lines = [
        "1 http://example.invalid/a.jpg 662 120 878 340 3.00 4.5 1",  # right-hand copy
        "2 http://example.invalid/b.jpg 150 110 380 340 3.00 4.1 1",
        "3 http://example.invalid/c.jpg 150 110 380 340 1.00 4.0 1",  # profile pose: --frontal-only drops it
        "4 http://example.invalid/d.jpg 150 110 380 340 3.00 4.0 0",  # not curated: dropped
        "5 http://example.invalid/e.jpg 150 110 380 340 3.00 4.0 1",  # never downloaded
        "6 http://example.invalid/f.jpg 150 oops 380 340 3.00 4.0 1",  # malformed
    ]
    lst = tmp_path / "lists" / "Grace_Hopper.txt"
    lst.parent.mkdir()
    lst.write_text("\n".join(lines) + "\n")
    no_images = facealign("run", lst, "--out", tmp_path / "x", check=False)
    assert no_images.returncode == 1 and "--images" in no_images.stderr
    summary = run([lst], tmp_path / "out", images=images, curated_only=True, frontal_only=True,
                  show_progress=False)
    assert summary.filtered == 2
    rows = {r["id"]: r for r in manifest_lines(tmp_path / "out")}
    assert set(rows) == {"Grace_Hopper/1", "Grace_Hopper/2", "Grace_Hopper/5", "Grace_Hopper/6"}
    assert rows["Grace_Hopper/1"]["status"] == "ok" and rows["Grace_Hopper/1"]["landmarks_photo"]["eye_left"][0] > 512
    assert rows["Grace_Hopper/1"]["box_hint"] == [662, 120, 878, 340]
    assert rows["Grace_Hopper/1"]["meta"]["pose"] == 3.0
    assert rows["Grace_Hopper/1"]["outputs"]["64"] == "64/Grace_Hopper/1.png"
    assert rows["Grace_Hopper/2"]["status"] == "ok"
    assert rows["Grace_Hopper/5"]["status"] == "missing" and "fetch" in rows["Grace_Hopper/5"]["reason"]
    assert rows["Grace_Hopper/6"]["status"] == "unreadable" and "Grace_Hopper.txt:6" in rows["Grace_Hopper/6"]["reason"]
    # photo 5 arrives later (a second fetch): the next run aligns it and leaves the rest alone
    (images / "Grace_Hopper" / "5.jpg").write_bytes(jpeg_bytes(grace()))
    later = run([lst], tmp_path / "out", images=images, curated_only=True, frontal_only=True, show_progress=False)
    assert later.done == 1 and later.counts == {"ok": 3, "unreadable": 1}


def test_stale_temps_of_a_dead_run_are_cleared(tmp_path):
    photos = write_tree(tmp_path / "photos", _variants(1))
    out = tmp_path / "out"
    run([photos], out, show_progress=False)
    stale = out / "64" / "person00" / ".photo00_jpg.png.tmp-999999999-deadbeef"
    stale.write_bytes(b"half a png")
    fresh = out / "64" / "person00" / f".photo00_jpg.png.tmp-{os.getpid()}-cafecafe"
    fresh.write_bytes(b"a live writer's temp")
    old = time.time() - 30
    os.utime(stale, (old, old))
    run([photos], out, show_progress=False)
    assert not stale.exists() and fresh.exists()  # a live process's temp is never touched


def test_a_panorama_wider_than_the_models_accept_is_too_large_and_the_run_goes_on(tmp_path):
    """Issue 39: a side of 32767 px or more made OpenCV's remap, inside the face models, abort the
    process (rc 134, no manifest row, so every rerun aborted again). It is now refused from the
    header like a decompression bomb, with a reason naming the side and the limit."""
    from facealign.decode import MAX_SIDE

    photos = write_tree(tmp_path / "photos", {"person00/photo00.jpg": jpeg_bytes(grace())})
    (photos / "pano").mkdir()
    Image.new("RGB", (33000, 700)).save(photos / "pano" / "panorama.jpg")  # uniform: ~100 KB on disk
    out = tmp_path / "out"
    proc = facealign("run", photos, "--out", out)
    rows = {r["id"]: r for r in manifest_lines(out)}
    assert set(rows) == {"person00/photo00.jpg", "pano/panorama.jpg"}, proc.stdout
    assert rows["person00/photo00.jpg"]["status"] == "ok"
    pano = rows["pano/panorama.jpg"]
    assert pano["status"] == "too_large" and "width of 33,000" in pano["reason"] and f"{MAX_SIDE:,}" in pano["reason"]
    assert "too_large" in proc.stdout
    assert facealign("run", photos, "--out", out).returncode == 0  # a rerun skips both


def test_a_file_name_that_is_not_utf8_gets_its_row_and_the_run_goes_on(tmp_path):
    """Issue 39 (7): one file name with bytes that are not UTF-8 refused the whole run without naming
    the file ('surrogates not allowed'). Each such photo is processed and recorded under its name with
    the odd bytes as \\xNN (its crops too), a message quoting the name is still a row, manifest.csv is
    written, and a rerun finds every photo done."""
    photos = tmp_path / "photos"
    photos.mkdir()
    tiny = jpeg_bytes(Image.new("RGB", (48, 48), (180, 120, 90)))
    (photos / "plain.jpg").write_bytes(tiny)
    with open(os.path.join(os.fsencode(photos), b"caf\xe9.jpg"), "wb") as fh:
        fh.write(tiny)
    with open(os.path.join(os.fsencode(photos), b"broken\xff.jpg"), "wb") as fh:
        fh.write(b"not an image")
    out = tmp_path / "out"
    proc = facealign("run", photos, "--out", out, "--workers", "1", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr  # nothing aligned
    rows = {r["id"]: r for r in manifest_lines(out)}
    assert set(rows) == {"plain.jpg", "caf\\xe9.jpg", "broken\\xff.jpg"}, rows
    assert rows["caf\\xe9.jpg"]["status"] == rows["plain.jpg"]["status"] == "no_face"
    assert rows["broken\\xff.jpg"]["status"] == "unreadable" and "broken\\xff.jpg" in rows["broken\\xff.jpg"]["reason"]
    assert "caf\\xe9.jpg" in (out / "manifest.csv").read_text(encoding="utf-8")
    again = facealign("run", photos, "--out", out, "--workers", "1", check=False)
    assert "nothing to do: 3 already there" in again.stdout, again.stdout


def test_malformed_manifest_rows_are_skipped_and_their_photos_redone(tmp_path):
    """Issue 39 (8): manifest lines that are no row of ours ([1,2,3], no id, id null, a string time)
    ended the rerun in a traceback, and a row with only an id was trusted, so its photo was never
    aligned. Such lines are skipped like torn ones and the photo is done again; a facealign.json
    whose settings are not an object is one line naming it."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for k in "abc":
        (photos / f"{k}.jpg").write_bytes(jpeg_bytes(Image.new("RGB", (48, 48), (180, 120, 90))))
    out = tmp_path / "out"
    facealign("run", photos, "--out", out, "--workers", "1", check=False)  # exit 1: no face in them
    log = out / "manifest.jsonl"
    kept = [line for line in log.read_text().splitlines() if '"id":"b.jpg"' not in line]
    bad = ['[1,2,3]', '{"status":"ok"}', '{"id":null,"status":"ok"}', '{"id":"a.jpg","status":"no_face","time":"x"}',
           '{"id":"b.jpg"}']
    log.write_text("\n".join(kept + bad) + "\n")
    proc = facealign("run", photos, "--out", out, "--workers", "1", check=False)
    assert "Traceback" not in proc.stderr and "processed now 1" in proc.stdout, proc.stdout + proc.stderr
    rows = [json.loads(line) for line in log.read_text().splitlines()[len(kept) + len(bad):]]
    assert [(r["id"], r["status"]) for r in rows] == [("b.jpg", "no_face")]
    (out / "facealign.json").write_text('{"settings": [1]}')
    proc = facealign("run", photos, "--out", out, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip() == f"Error: {out / 'facealign.json'} is corrupt; remove it or use a new --out folder"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_signal_to_a_parallel_run_stops_it_quietly(tmp_path, sig):
    """Issue 39 (12): SIGTERM or SIGKILL to `facealign run --workers 2` printed some 70 lines of
    BrokenPipeError tracebacks from its workers and a leaked-semaphore warning. The run ends by the
    signal, its workers go with it, its finished rows stay, and stderr stays empty."""
    from test_render_signals import _children, _cleanup, _wait_gone

    photos = write_tree(tmp_path / "photos", _variants(40))
    out, err = tmp_path / "out", tmp_path / "stderr.txt"
    with err.open("wb") as fh:
        proc = subprocess.Popen([str(BIN / "facealign"), "run", str(photos), "--out", str(out), "--workers", "2"],
                                stdout=subprocess.DEVNULL, stderr=fh, env=ENV, start_new_session=True)
    log, workers = out / "manifest.jsonl", []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        workers = _children(proc.pid)  # the two workers and multiprocessing's resource tracker
        if len(workers) >= 3 and log.exists() and log.read_bytes().count(b"\n") >= 2:
            break
        time.sleep(0.02)
    try:
        assert proc.poll() is None, "the run finished before it could be stopped"
        os.kill(proc.pid, sig)  # the main process only, as a scheduler or the OOM killer would
        assert proc.wait(timeout=60) == -sig
        assert _wait_gone(workers) == []
        time.sleep(0.5)  # anything a dying worker or the tracker would still print
        assert err.read_text() == "", err.read_text()[-3000:]
    finally:
        _cleanup(workers)
    assert 2 <= len(manifest_lines(out)) < 40  # what was done is kept: a rerun goes on from there


def test_nothing_aligned_is_a_failure_with_the_reasons_counted(tmp_path):
    """Issue 38.10: a folder where nothing aligns exited 0 with the "one photo, one person" note on
    identities. The rule shared with ``xgan translate``: nothing produced, exit 1, the reasons counted."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for k in "ab":
        (photos / f"{k}.jpg").write_bytes(jpeg_bytes(Image.new("RGB", (48, 48), (180, 120, 90))))
    (photos / "c.jpg").write_bytes(b"not an image")
    proc = facealign("run", photos, "--out", tmp_path / "out", "--workers", "1", check=False)
    assert proc.returncode == 1 and "total" in proc.stdout, proc.stderr  # the summary, then the error
    assert proc.stderr.strip().splitlines() == [
        f"Error: 0 of 3 inputs aligned (no_face 2, unreadable 1); `facealign preview {tmp_path / 'out'} "
        "--out rejects.png` shows each with its reason"]  # and no note on who is who
