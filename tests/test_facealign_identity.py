"""Who is in each photo (``--identities FILE|cluster``), a quiet stderr, inputs recognised by their
format, wrapped sheet captions, and manifests of older runs: real photos, the real CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cartoonset.common.sheets import contact_sheet, wrap_text
from cartoonset.common.splits import split_of
from facealign.dataset import AlignedFaces
from facealign.identities import IdentityFile
from facealign.outputs import read_manifest
from facealign.runner import run
from facealign.sources import read_inputs
from test_facealign_photos import astronaut, grace, jpeg_bytes

BIN = Path(sys.executable).parent
ENV = {**os.environ, "CARTOONSET_NO_PROGRESS": "1"}


def facealign(*args) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "facealign"), *map(str, args)], capture_output=True, text=True, env=ENV)


def _stems() -> list[str]:
    """Five file stems of which some hash into the test split and some into train: photos of one
    person under these names straddle the split unless their identity is known."""
    names = [f"img{i:03d}" for i in range(60)]
    test = [n for n in names if split_of(n) == "test"][:2]
    return test + [n for n in names if split_of(n) == "train"][:3]


@pytest.fixture(scope="module")
def flat(tmp_path_factory) -> Path:
    """Five photos of Grace Hopper and two of the astronaut, straight in one folder."""
    root = tmp_path_factory.mktemp("flat")
    g = grace()
    for k, stem in enumerate(_stems()):
        im = g.rotate(3 * k - 6, Image.Resampling.BICUBIC, fillcolor=(120, 120, 120)).resize((480 + 24 * k, 560 + 28 * k))
        (root / f"{stem}.jpg").write_bytes(jpeg_bytes(im))
    a = astronaut()
    (root / "astro1.jpg").write_bytes(jpeg_bytes(a))
    (root / "astro2.jpg").write_bytes(jpeg_bytes(a.rotate(5, Image.Resampling.BICUBIC).resize((560, 560))))
    return root


@pytest.fixture(scope="module")
def aligned(flat, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("aligned") / "out"
    return out, facealign("run", flat, "--out", out, "--workers", "2")


def test_a_flat_folder_says_so_in_one_line_and_stderr_is_otherwise_quiet(aligned):
    out, proc = aligned
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "7 photo(s)" in lines[0] and "--identities" in lines[0], proc.stderr
    rows = read_manifest(out)
    assert {r["identity_source"] for r in rows.values()} == {"photo"} and len({r["identity"] for r in rows.values()}) == 7
    assert {split_of(r["identity"]) for r in rows.values()} == {"train", "test"}  # the straddle being fixed


def test_an_identity_file_keeps_one_person_in_one_split(aligned, flat, tmp_path):
    out, _ = aligned
    ids = tmp_path / "identity_CelebA.txt"  # CelebA's format: image_name identity
    ids.write_text("".join(f"{s}.jpg 2880\n" for s in _stems()) + "astro1.jpg 17\nastro2.jpg 17\nnot_here.jpg 5\n")
    proc = facealign("run", flat, "--out", out, "--identities", ids)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr  # nothing to say, nothing re-aligned
    assert "nothing to do: " in proc.stdout
    rows = read_manifest(out)
    assert all(r["status"] == "ok" for r in rows.values()), {k: r["reason"] for k, r in rows.items()}
    assert {k: (r["identity"], r["identity_source"]) for k, r in rows.items()} == {
        **{f"{s}.jpg": ("2880", "file") for s in _stems()}, "astro1.jpg": ("17", "file"), "astro2.jpg": ("17", "file")}
    splits = {name: {r[1] for r in AlignedFaces(out, split=name, target_type="id")} for name in ("train", "test")}
    grace_ids = {f"{s}.jpg" for s in _stems()}
    assert grace_ids <= splits[split_of("2880")] and not grace_ids & splits["test" if split_of("2880") == "train" else "train"]
    csv = (out / "manifest.csv").read_text().splitlines()
    assert "identity_source" in csv[0].split(",")


def test_identities_by_face_clusters(aligned, flat):
    out, _ = aligned
    summary = run([flat], out, identities="cluster", show_progress=False)
    rows = read_manifest(out)
    assert summary.done == 0 and {r["identity_source"] for r in rows.values()} == {"cluster"}
    people = {r["identity"] for k, r in rows.items() if not k.startswith("astro")}
    astro = {r["identity"] for k, r in rows.items() if k.startswith("astro")}
    assert people == {f"cluster:{min(_stems())}.jpg"} and astro == {"cluster:astro1.jpg"}, rows
    with np.load(out / "identities-dlib.npz") as cache:  # a rerun embeds only new faces
        assert cache["vectors"].shape == (7, 128)


def test_identity_files_csv_and_their_errors(tmp_path):
    csv = tmp_path / "ids.csv"
    csv.write_text("file,identity\nalice/1.jpg,A\n2.jpg,B\n")
    ids = IdentityFile(csv)
    assert ids.lookup("alice/1.jpg") == "A" and ids.lookup("x/2.jpg") == "B" and ids.lookup("3.jpg") is None
    (tmp_path / "bad.csv").write_text("name,person\na.jpg,A\n")
    with pytest.raises(ValueError, match="'file' and 'identity'"):
        IdentityFile(tmp_path / "bad.csv")
    (tmp_path / "twice.txt").write_text("a.jpg 1\na.jpg 2\n")
    with pytest.raises(ValueError, match="twice.txt:2: 'a.jpg' is given two identities"):
        IdentityFile(tmp_path / "twice.txt")


def test_verbose_shows_the_native_logging(flat, tmp_path):
    proc = facealign("run", flat / "astro1.jpg", "--out", tmp_path / "out", "--verbose")
    assert proc.returncode == 0 and any(line.startswith(("W0000", "I0000", "INFO:")) for line in proc.stderr.splitlines())


def test_quiet_native_logs_drops_chatter_and_keeps_errors():
    script = ("import os, sys\nfrom facealign import quiet_native_logs\nwith quiet_native_logs():\n"
              "    os.write(2, b'W0000 00:00:1.2 1 calc.cc:1] chatter\\nINFO: Created delegate\\nE0000 00:00:1.3 1 x.cc:2] real error\\n')\n"
              "    print('python warning', file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=ENV)
    assert proc.returncode == 0 and proc.stderr.splitlines() == ["E0000 00:00:1.3 1 x.cc:2] real error", "python warning"]


def test_text_files_are_lists_only_by_their_format(tmp_path, flat):
    readme = Path(__file__).parents[1] / "README.md"
    proc = facealign("run", readme, "--out", tmp_path / "a")
    assert proc.returncode == 1 and "not an image, a VGG-Face list nor a list of image paths" in proc.stderr
    assert not (tmp_path / "a" / "manifest.jsonl").exists()
    (tmp_path / "empty").mkdir()
    proc = facealign("run", tmp_path / "empty", "--out", tmp_path / "b")
    assert proc.returncode == 1 and "holds no images" in proc.stderr
    listing = tmp_path / "photos.txt"
    listing.write_text(f"# my photos\n{flat / 'astro1.jpg'}\nhttps://example.org/p/face.jpg?x=1\n")
    items = read_inputs([listing]).items
    assert [it.status for it in items] == [None, "missing"]


def test_captions_wrap_instead_of_being_cut():
    from PIL import ImageDraw

    from cartoonset.common.sheets import font

    draw, f = ImageDraw.Draw(Image.new("RGB", (1, 1))), font(11)
    lines = wrap_text(draw, "multiple_faces_ambiguous", f, 60)
    assert len(lines) > 1 and "".join(lines) == "multiple_faces_ambiguous"
    assert all(draw.textlength(line, font=f) <= 60 for line in lines)
    tiles = [Image.new("RGB", (64, 64), (200, 0, 0))] * 2
    one = contact_sheet(tiles, ["a", "b"], cols=2, tile=64)
    two = contact_sheet(tiles, ["a", "multiple_faces_ambiguous photo.jpg"], cols=2, tile=64)
    assert two.height > one.height  # room for the wrapped lines
    # a title wider than the sheet wraps onto more lines rather than running off its right edge
    short = np.asarray(contact_sheet(tiles, cols=2, tile=64, title="eyes"))
    long = np.asarray(contact_sheet(tiles, cols=2, tile=64, title="default: eye_angle x eye_lid (columns: eye_angle)"))
    assert long.shape[0] > short.shape[0] and long.shape[1] == short.shape[1]
    dark = (long[:long.shape[0] - short.shape[0] + 20].min(axis=2) < 128)
    rows = np.flatnonzero(dark.any(axis=1))
    assert rows.max() - rows.min() > 2 * 12  # text on at least two title lines
    assert not dark[:, -3:].any()  # and none of it cut at the right edge


def test_manifests_of_older_runs_read_under_the_new_field_names(tmp_path):
    old = {"id": "a.jpg", "identity": "a", "status": "ok", "landmarks_source": {"eye_left": [1, 2]},
           "landmark_model": "mesh", "time": 1.0, "outputs": {"64": "64/a/a_jpg.png"}}  # as older runs wrote it
    (tmp_path / "manifest.jsonl").write_text(json.dumps(old) + "\n" + '{"id": "torn')
    row = read_manifest(tmp_path)["a.jpg"]
    assert row["landmarks_photo"] == {"eye_left": [1, 2]} and row["landmarks_model"] == "mesh"
    assert "landmarks_source" not in row and "landmark_model" not in row


def test_an_identity_csv_with_a_huge_field_is_one_line(tmp_path):
    """Issue 39 (11): an identity CSV with a field over 128 KiB ended `facealign run` in a _csv.Error
    traceback; it is one line naming the file and its line."""
    import subprocess
    import sys

    ids = tmp_path / "ids.csv"
    ids.write_text("file,identity\na.jpg,A\nb.jpg," + "B" * (200 << 10) + "\n")
    photo = tmp_path / "a.jpg"
    Image.new("RGB", (32, 32)).save(photo)
    env = {**os.environ, "CARTOONSET_NO_PROGRESS": "1"}
    proc = subprocess.run([str(Path(sys.executable).parent / "facealign"), "run", str(photo), "--identities", str(ids),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.stderr.strip() == (f"Error: {ids}:3: not a CSV row (field larger than field limit (131072))"), proc.stderr
