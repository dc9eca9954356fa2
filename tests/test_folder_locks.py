"""One job per output folder (issue 39.3): a second render, alignment, fetch, training or benchmark of a folder
another live process holds is refused with one line before it writes anything, and a holder killed
with SIGKILL leaves nothing that blocks the next run. The holder is a real second process."""
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from PIL import Image

from cartoonset.cli import main as cartoonset_main
from cartoonset.common.locks import FolderInUse, hold_folder
from facealign.cli import main as facealign_main
from xgan.cli import main as xgan_main


def _holder(folder: Path, job: str) -> subprocess.Popen:
    """A second process holding ``folder`` for ``job`` until killed."""
    proc = subprocess.Popen([sys.executable, "-c", "import sys, time\n"
                             "from cartoonset.common.locks import hold_folder\n"
                             f"with hold_folder({str(folder)!r}, {job!r}, 'a test'):\n"
                             "    print('held', flush=True); time.sleep(600)"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def _cli(tool: str, *args: str) -> Result:
    """The command run in this process (the holder is the other one)."""
    main = {"cartoonset": cartoonset_main, "facealign": facealign_main, "xgan": xgan_main}[tool]
    return CliRunner().invoke(main, list(args), prog_name=tool)


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


CASES = {  # the job each command holds its --out for, and its arguments (OUT and IN are filled in)
    "render": ("cartoonset", "cartoonset render", ["render", "--n", "3", "--size", "64", "--workers", "1", "--out", "OUT"]),
    "facealign-run": ("facealign", "facealign run", ["run", "IN", "--out", "OUT"]),
    "facealign-fetch": ("facealign", "facealign fetch", ["fetch", "IN/list.txt", "--out", "OUT"]),
    "xgan-train": ("xgan", "xgan train", ["train", "--preset", "cpu-small", "--cartoons", "IN", "--faces", "IN",
                                          "--steps", "1", "--out", "OUT"]),
    "benchmark": ("xgan", "xgan benchmark", ["benchmark", "--cartoons", "IN", "--quick", "--device", "cpu",
                                             "--tracks", "synthetic", "--out", "OUT"]),
}


@pytest.mark.parametrize("job", list(CASES))
def test_a_second_job_on_a_held_folder_is_refused_before_writing_and_a_killed_holder_frees_it(tmp_path, job):
    tool, command, args = CASES[job]
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    Image.new("RGB", (32, 32), (200, 120, 90)).save(inputs / "photo.png")
    (inputs / "list.txt").write_text("1 http://127.0.0.1:9/a.jpg 0 0 10 10 1.0 1.0 1\n")
    out.mkdir()
    args = [str(out) if a == "OUT" else a.replace("IN", str(inputs)) for a in args]
    holder = _holder(out, job)
    try:
        res = _cli(tool, *args)
        assert res.exit_code == 1, res.output
        lines = [line for line in res.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("Error: ") and f"in use by another `{command}`" in lines[0], \
            res.output
        assert _files(out) == [f".{job}.lock"]  # nothing written beside the lock
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with hold_folder(out, job, command):  # free again: nobody removed a stale file
        pass


def test_shards_of_one_render_share_a_folder_and_a_finished_render_matches(tmp_path):
    """``render --shard 1/2`` runs beside a live ``--shard 0/2`` of the same folder; after the
    holder of shard 0 is killed, that shard renders too and the folder equals an unsharded render."""
    out, whole = tmp_path / "sharded", tmp_path / "whole"
    out.mkdir()
    base = ["render", "--n", "4", "--size", "64", "--workers", "1", "--seed", "3"]
    holder = _holder(out, "render.shard-0-of-2")
    try:
        res = _cli("cartoonset", *base, "--out", str(out), "--shard", "1/2")
        assert res.exit_code == 0, res.output
        refused = _cli("cartoonset", *base, "--out", str(out), "--shard", "0/2")
        assert refused.exit_code == 1 and "in use by another `cartoonset render`" in refused.output
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert _cli("cartoonset", *base, "--out", str(out), "--shard", "0/2").exit_code == 0
    assert _cli("cartoonset", *base, "--out", str(whole)).exit_code == 0
    pngs = _files(whole / "images")
    assert len([n for n in pngs if n.endswith(".png")]) == 4 and _files(out / "images") == pngs
    assert all((out / "images" / n).read_bytes() == (whole / "images" / n).read_bytes() for n in pngs)


def test_one_process_may_nest_holds_and_another_cannot_take_them(tmp_path):
    with hold_folder(tmp_path, "xgan-train", "xgan train"):
        with hold_folder(tmp_path, "xgan-train", "xgan train"):  # the CLI, then the trainer
            pass
        probe = subprocess.run([sys.executable, "-c", "from cartoonset.common.locks import hold_folder\n"
                                f"with hold_folder({str(tmp_path)!r}, 'xgan-train', 'xgan train'): pass"],
                               capture_output=True, text=True)
        assert probe.returncode == 1 and "FolderInUse" in probe.stderr  # still held after the inner one ended
    with hold_folder(tmp_path, "xgan-train", "xgan train"):
        pass
    with pytest.raises(ValueError, match="lock's job name"):
        with hold_folder(tmp_path, "../escape", "x"):
            pass
    assert issubclass(FolderInUse, RuntimeError)
