"""``--scheduler``: render and align on a Dask LocalCluster (2 worker processes, loopback only) give
the single-machine bytes; a worker killed mid-job and a client killed mid-job, then rerun, finish
the same set with no duplicates or temp files. Without Dask the flag says how to install it, and
the default path never imports Dask."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from cartoonset.common.atomic import is_temp
from cartoonset.pipeline import RenderError, render
from test_facealign_photos import bad_photos, write_tree
from test_facealign_run import _variants, manifest_lines

BIN = Path(sys.executable).parent
ENV = {**os.environ, "CARTOONSET_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1", "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "3s"}
VOLATILE = ("time", "timings_ms")  # differ between any two runs, even on one machine


def digest(folder: Path) -> dict[str, str]:
    """The job's outputs by content (not its manifests or the lock it held on the folder)."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.startswith("manifest")
            and not p.name.endswith(".lock")}


def temps(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if is_temp(p)]


def rows_without_times(out: Path) -> dict[str, dict]:
    return {r["id"]: {k: v for k, v in r.items() if k not in VOLATILE} for r in manifest_lines(out)}


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed", reason="the cluster extra is part of the dev install")
    from cartoonset.common.cluster import local_cluster

    with local_cluster(2, dashboard=False) as cluster, distributed.Client(cluster) as c:
        yield c


def kill_a_worker_when(client, ready, timeout: float = 120.0, snapshot=lambda: None) -> dict:
    """Start a thread that SIGKILLs one worker process once ``ready()``; returns what it did (and
    ``snapshot()`` just after the kill)."""
    pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    done: dict = {"pid": victim, "killed": False}

    def watch():
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not ready():
            time.sleep(0.01)
        os.kill(victim, signal.SIGKILL)
        done["killed"], done["snapshot"] = True, snapshot()

    done["thread"] = threading.Thread(target=watch, daemon=True)
    done["thread"].start()
    return done


def wait_for_workers(client, n: int = 2) -> None:
    client.wait_for_workers(n, timeout=60)


# ---------------------------------------------------------------------------------------- render

@pytest.fixture(scope="module")
def single(mini_pack_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("single") / "out"
    render(n=60, out=out, seed=5, size=160, workers=1, pack=mini_pack_dir, renderer="reference", show_progress=False)
    return out


RUN = dict(n=60, seed=5, size=160, renderer="reference", show_progress=False)


@pytest.mark.cluster
@pytest.mark.slow
def test_render_on_a_cluster_is_the_single_machine_bytes(client, single, mini_pack_dir, tmp_path):
    a = render(out=tmp_path / "a", pack=mini_pack_dir, scheduler=client, task_size=1, **RUN)
    b = render(out=tmp_path / "b", pack=mini_pack_dir, scheduler=client.scheduler.address, task_size=11, **RUN)
    want = digest(single)
    assert len(want) == 2 * 60 + 2  # csX.png + csX.csv each, index.csv, metadata.json
    assert digest(tmp_path / "a") == digest(tmp_path / "b") == want  # any task split: the same kept set, bytes
    assert a.rendered == 60 and a.cluster["tasks"] == 60 > b.cluster["tasks"]
    # a shard on the cluster, the other on this machine: their union is the whole render
    render(out=tmp_path / "c", pack=mini_pack_dir, scheduler=client, shard="0/2", **RUN)
    r = render(out=tmp_path / "c", pack=mini_pack_dir, shard="1/2", workers=1, **RUN)
    assert r.complete and digest(tmp_path / "c") == want


@pytest.mark.cluster
@pytest.mark.slow
def test_render_survives_a_killed_worker(client, single, mini_pack_dir, tmp_path):
    out = tmp_path / "out"
    killer = kill_a_worker_when(client, lambda: len(list((out / "images").glob("cs*.csv"))) >= 8)
    report = render(out=out, pack=mini_pack_dir, scheduler=client, task_size=2, **RUN)
    killer["thread"].join()
    assert killer["killed"] and report.cluster["lost_workers"] == 1  # killed mid-job, not after
    assert digest(out) == digest(single)  # every cartoon once, the same bytes
    assert not temps(out)
    wait_for_workers(client)


@pytest.mark.cluster
@pytest.mark.slow
def test_render_killed_client_then_rerun(client, single, mini_pack_dir, tmp_path):
    import psutil

    out = tmp_path / "out"
    args = [str(BIN / "cartoonset"), "render", "--n", "60", "--seed", "5", "--size", "160", "--renderer",
            "reference", "--pack", str(mini_pack_dir), "--out", str(out), "--task-size", "2"]
    proc = subprocess.Popen(args + ["--scheduler", "local:2"], env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and len(list((out / "images").glob("cs*.csv"))) < 8:
        time.sleep(0.01)
    workers = psutil.Process(proc.pid).children(recursive=True)
    proc.kill()
    proc.wait()
    done = len(list((out / "images").glob("cs*.csv")))
    assert 0 < done < 60, proc.stderr.read().decode()[-2000:]
    gone, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive  # the local cluster's workers die with their client
    rerun = subprocess.run(args + ["--scheduler", client.scheduler.address], env=ENV, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "already there" in rerun.stdout and "dashboard" in rerun.stderr
    assert digest(out) == digest(single)
    assert not temps(out)


# ----------------------------------------------------------------------------------------- align

@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cluster-photos")
    return write_tree(root, {**_variants(8), **{k: v[0] for k, v in list(bad_photos().items())[-2:]}})


@pytest.mark.cluster
@pytest.mark.slow
def test_align_on_a_cluster_is_the_single_machine_output(client, photos, tmp_path):
    from facealign.runner import run

    one = run([photos], tmp_path / "one", workers=1, show_progress=False)
    dask = run([photos], tmp_path / "dask", scheduler=client, task_size=3, show_progress=False)
    assert dask.counts == one.counts and dask.done == 10 and one.counts.get("ok", 0) == 8
    assert digest(tmp_path / "dask") == digest(tmp_path / "one")  # every crop, byte for byte
    assert rows_without_times(tmp_path / "dask") == rows_without_times(tmp_path / "one")
    assert len(manifest_lines(tmp_path / "dask")) == 10


def check_finished_set(out: Path, n: int) -> None:
    rows = manifest_lines(out)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == n  # every photo exactly once
    named = {out / p for r in rows for p in r["outputs"].values()}
    assert {p for p in out.rglob("*.png") if not is_temp(p)} == named
    assert not temps(out)
    for p in named:
        with Image.open(p) as im:
            im.load()


@pytest.mark.cluster
@pytest.mark.slow
def test_align_survives_a_killed_worker(client, photos, tmp_path):
    from facealign.runner import run

    out = tmp_path / "out"
    killer = kill_a_worker_when(client, lambda: len(list(out.rglob("*.png"))) >= 4,
                                snapshot=lambda: len(manifest_lines(out)))
    summary = run([photos], out, scheduler=client, task_size=1, show_progress=False)
    killer["thread"].join()
    assert killer["killed"] and killer["snapshot"] < 10 and summary.total == 10  # killed mid-job
    check_finished_set(out, 10)
    wait_for_workers(client)


@pytest.mark.cluster
@pytest.mark.slow
def test_align_killed_client_then_rerun(client, photos, tmp_path):
    out = tmp_path / "out"
    args = [str(BIN / "facealign"), "run", str(photos), "--out", str(out), "--task-size", "1"]
    # this time the cluster outlives its client: the rerun joins it while the dead client's tasks drain
    proc = subprocess.Popen(args + ["--scheduler", client.scheduler.address], env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    log = out / "manifest.jsonl"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        if log.exists() and log.read_bytes().count(b"\n") >= 4:
            break
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    partial = len(manifest_lines(out))
    assert 4 <= partial < 10, proc.stderr.read().decode()[-2000:]
    rerun = subprocess.run(args + ["--scheduler", client.scheduler.address], env=ENV, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    check_finished_set(out, 10)
    assert f"already done {partial}" in rerun.stdout


# ------------------------------------------------------------------------------- without a cluster

def test_without_dask_the_flag_says_how_to_install_it(mini_pack_dir, tmp_path):
    blocker = tmp_path / "no-dask"
    for name in ("distributed", "dask"):
        (blocker / name).mkdir(parents=True)
        (blocker / name / "__init__.py").write_text(f"raise ImportError('No module named {name}')\n")
    env = {**ENV, "PYTHONPATH": os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", ""), str(Path.cwd())])}
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "cartoonset.cli", "render", "--n", "4", "--out", str(out),
                        "--pack", str(mini_pack_dir), "--scheduler", "local:2"], env=env, capture_output=True, text=True)
    # Issue 38.9: the toolkit is not on an index; the hint installs the extra from the checkout
    assert r.returncode == 1 and "pip install '.[cluster]' in the toolkit's checkout" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not out.exists()  # one line, nothing written
    photos = write_tree(tmp_path / "photos", _variants(1))
    r = subprocess.run([sys.executable, "-m", "facealign.cli", "run", str(photos), "--out", str(out),
                        "--scheduler", "tcp://127.0.0.1:1"], env=env, capture_output=True, text=True)
    assert r.returncode != 0 and "pip install '.[cluster]'" in r.stderr and not out.exists()


def test_the_default_path_does_not_import_dask(mini_pack_dir, tmp_path):
    code = ("import sys; from cartoonset.pipeline import render; import facealign.runner, facealign.cli, cartoonset.cli;"
            f"render(n=3, out={str(tmp_path / 'o')!r}, size=32, workers=1, pack={str(mini_pack_dir)!r}, show_progress=False);"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    r = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_bad_scheduler_specs_are_one_clear_line(mini_pack_dir, tmp_path):
    pytest.importorskip("distributed", reason="the cluster extra is part of the dev install")
    for spec in ("local:0", "local:two", "", "missing-scheduler.json"):
        with pytest.raises(RenderError, match="--scheduler"):
            render(n=2, out=tmp_path / "o", pack=mini_pack_dir, scheduler=spec, show_progress=False)
    with pytest.raises(ValueError, match="task_size"):
        render(n=2, out=tmp_path / "o", pack=mini_pack_dir, scheduler="local:1", task_size=0, show_progress=False)
    assert not (tmp_path / "o").exists()
    r = subprocess.run([str(BIN / "cartoonset"), "render", "--n", "2", "--out", str(tmp_path / "o"), "--pack",
                        str(mini_pack_dir), "--scheduler", "tcp://127.0.0.1:9"], env=ENV, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 1 and "cannot reach the Dask scheduler" in r.stderr


def test_docs_install_extras_from_the_checkout():
    """Issue 38.9: ``pip install 'cartoonset-xgan[cluster]'`` fails (no such distribution on an index)."""
    root = Path(__file__).resolve().parents[1]
    for doc in (root / "README.md", root / "docs" / "scale-out.md"):
        text = doc.read_text("utf-8")
        assert "cartoonset-xgan[" not in text and "pip install '.[cluster]'" in text, doc
