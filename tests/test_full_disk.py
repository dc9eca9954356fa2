"""A full disk (issue 39.2) is the job's failure, never the items': the job ends with one line naming
the file and the reason, records nothing as broken and leaves no torn record; once there is room, the
rerun finishes byte-identical to a run that never failed. Real tmpfs mounts, filled with a ballast file."""
import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from cartoonset.cli import main as cartoonset_main
from cartoonset.common.atomic import OutputFailure
from facealign.cli import main as facealign_main


class SmallDisk:
    """A tmpfs at ``path``; ``fill(leave)`` takes all but about ``leave`` bytes of it with a ballast
    file, ``unfill()`` gives them back."""

    def __init__(self, path: Path):
        self.path, self.ballast = path, path / "ballast"

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def fill(self, leave: int) -> None:
        st = os.statvfs(self.path)
        self.ballast.write_bytes(b"\0" * max(0, st.f_bavail * st.f_frsize - leave))

    def unfill(self) -> None:
        self.ballast.unlink()


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs of its own (root only: skipped elsewhere)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield SmallDisk(mnt)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


def _one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), output
    return lines[0]


def test_render_on_a_full_disk_names_the_file_and_a_rerun_with_room_matches(small_disk, tmp_path):
    args = ["render", "--n", "24", "--size", "64", "--workers", "1", "--seed", "2"]
    assert CliRunner().invoke(cartoonset_main, args + ["--out", str(tmp_path / "ref")]).exit_code == 0
    out = small_disk / "cartoons"
    small_disk.fill(24 * 1024)
    res = CliRunner().invoke(cartoonset_main, args + ["--out", str(out)])
    assert res.exit_code == 1
    line = _one_error_line(res.output)
    assert f"{out}" in line and line.endswith("No space left on device") and ".tmp-" not in line, line
    small_disk.unfill()
    res = CliRunner().invoke(cartoonset_main, args + ["--out", str(out)])
    assert res.exit_code == 0, res.output
    assert _tree(out) == _tree(tmp_path / "ref")


def test_alignment_on_a_full_disk_records_no_photo_as_failed_and_a_rerun_with_room_matches(small_disk, tmp_path):
    from test_facealign_run import _variants
    from test_facealign_photos import write_tree

    photos = write_tree(tmp_path / "photos", _variants(6))
    ref = tmp_path / "ref"
    assert CliRunner().invoke(facealign_main, ["run", str(photos), "--out", str(ref)]).exit_code == 0
    full = _tree(ref)
    crops = sum(len(v) for k, v in full.items() if k.endswith(".png"))
    out = small_disk / "faces"
    small_disk.fill(crops // 3)  # room for about two of the six photos
    res = CliRunner().invoke(facealign_main, ["run", str(photos), "--out", str(out)])
    assert res.exit_code == 1
    line = _one_error_line(res.output)
    assert str(out) in line and line.endswith("No space left on device"), line
    manifest = (out / "manifest.jsonl").read_bytes() if (out / "manifest.jsonl").exists() else b""
    rows = [r for r in manifest.split(b"\n") if r]
    assert manifest == b"" or manifest.endswith(b"\n")  # no torn line
    assert len(rows) < 6 and not any(b'"status":"error"' in r for r in rows)  # no photo blamed
    small_disk.unfill()
    res = CliRunner().invoke(facealign_main, ["run", str(photos), "--out", str(out)])
    assert res.exit_code == 0, res.output
    got = _tree(out)
    assert {k: v for k, v in got.items() if k.endswith(".png")} == {k: v for k, v in full.items() if k.endswith(".png")}
    strip = lambda rows: sorted((r["id"], r["status"], json.dumps(r["outputs"], sort_keys=True))  # noqa: E731
                                for r in rows)
    read = lambda folder: [json.loads(x) for x in (folder / "manifest.jsonl").read_text().splitlines()]  # noqa: E731
    assert strip(read(out)) == strip(read(ref))


def test_training_on_a_full_disk_stops_with_the_file_and_resumes_to_the_same_weights(small_disk, tmp_path):
    import torch

    from cartoonset.common.cli import describe
    from test_xgan_train import run, tiny

    config = tiny("train.steps=9")
    run(tmp_path / "ref", config)
    size = sum(p.stat().st_size for p in (tmp_path / "ref").rglob("*") if p.is_file())
    out = small_disk / "run"
    small_disk.fill(size // 2)
    with pytest.raises(OSError) as caught:
        run(out, config)
    err = caught.value
    assert err.strerror == "No space left on device" and str(out) in str(err.filename), err
    line = describe(err)  # what the CLI prints after "Error: "
    assert line.startswith(str(out)) and line.endswith(": No space left on device") and ".tmp-" not in line, line
    small_disk.unfill()
    run(out, config, resume=True)
    a = torch.load(out / "model.pt", weights_only=True)["networks"]
    b = torch.load(tmp_path / "ref" / "model.pt", weights_only=True)["networks"]
    assert a.keys() == b.keys()
    for net in a:
        for k in a[net]:
            assert torch.equal(a[net][k], b[net][k]), f"{net}.{k}"
    steps = lambda folder: [r.split(",")[0] for r in (folder / "log.csv").read_text().splitlines()]  # noqa: E731
    assert steps(out) == steps(tmp_path / "ref")  # one row per logged step: none torn, none twice


def test_an_output_failure_is_an_oserror_that_keeps_its_kind_across_processes():
    import pickle

    e = OutputFailure(28, "No space left on device", "/x/y.png")
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is OutputFailure and back.errno == 28 and back.filename == "/x/y.png"
