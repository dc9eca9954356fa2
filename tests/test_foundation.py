"""The shared building blocks: atomic writes, seeded streams, record logs, shards, the face template,
the cores a job may use."""
import os
import subprocess
import sys

import numpy as np
import pytest

from cartoonset.common import atomic, seeding, template
from cartoonset.common.records import RecordLog, read_csv, write_csv
from cartoonset.common.shards import Shard
from cartoonset.common.splits import read_split_file, split_of, write_split_file


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "a.txt"
    atomic.write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_stale_temps_removed_but_not_live_ones(tmp_path):
    dead = tmp_path / f".x.png{atomic.TEMP_MARK}999999999-abcd"
    live = tmp_path / f".y.png{atomic.TEMP_MARK}{os.getppid()}-abcd"
    dead.write_text("x")
    live.write_text("y")
    assert atomic.remove_stale_temps(tmp_path) == 1
    assert live.exists() and not dead.exists()


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this platform")
def test_usable_cores_follow_the_process_affinity_not_the_machine():
    """A job pinned to one core (taskset, a cpuset) must size its workers and threads for one core."""
    code = "from cartoonset.common.lifecycle import usable_cores; print(usable_cores())"
    one = sorted(os.sched_getaffinity(0))[:1]
    pinned = subprocess.run([sys.executable, "-c", f"import os; os.sched_setaffinity(0, {set(one)}); {code}"],
                            capture_output=True, text=True, check=True)
    free = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(pinned.stdout) == 1
    assert int(free.stdout) == len(os.sched_getaffinity(0))


def test_uniforms_are_counter_based():
    a = seeding.uniforms(7, np.arange(100), 18)
    b = seeding.uniforms(7, np.arange(50, 60), 18)
    assert np.array_equal(a[50:60], b)
    assert not np.array_equal(a, seeding.uniforms(8, np.arange(100), 18))
    assert 0 <= a.min() and a.max() < 1
    assert abs(seeding.uniforms(1, np.arange(20000), 4).mean() - 0.5) < 0.01


def test_named_streams_are_independent_and_reproducible():
    assert seeding.rng(3, "split").random() == seeding.rng(3, "split").random()
    assert seeding.rng(3, "split").random() != seeding.rng(3, "shuffle").random()
    assert seeding.derive_seed(1, "a") == seeding.derive_seed(1, "a") < 2 ** 63


def test_record_log_recovers_from_torn_line(tmp_path):
    path = tmp_path / "log.jsonl"
    with RecordLog(path) as log:
        log.append({"id": "a", "v": 1})
        log.append({"id": "b", "v": 2})
    with open(path, "a") as fh:
        fh.write('{"id": "c", "v"')  # killed mid-write
    with RecordLog(path) as log:
        assert "a" in log and "b" in log and "c" not in log
        log.append({"id": "c", "v": 3})
    with RecordLog(path) as log:
        assert [r["v"] for r in log.records()] == [1, 2, 3]


def test_csv_roundtrip(tmp_path):
    write_csv(tmp_path / "t.csv", [{"a": 1, "b": [1, 2]}], ["a", "b"])
    assert read_csv(tmp_path / "t.csv") == [{"a": "1", "b": "[1, 2]"}]


def test_shard_parse_and_partition():
    s = Shard.parse("1/3")
    assert [i for i in range(9) if s.owns(i)] == [1, 4, 7]
    parts = [Shard.parse(f"{k}/3").select(list(range(10))) for k in range(3)]
    assert sorted(sum(parts, [])) == list(range(10))
    for bad in ("3/3", "x", "1/0", "-1/2"):
        with pytest.raises(ValueError):
            Shard.parse(bad)


def test_similarity_transform_recovers_known_transform():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (5, 2))
    th, s, t = 0.3, 1.7, np.array([5.0, -3.0])
    r = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    dst = src @ (s * r).T + t
    m = template.similarity_transform(src, dst)
    assert np.allclose(template.apply_transform(m, src), dst)


def test_warp_puts_points_on_the_template():
    img = np.zeros((400, 400, 4), np.uint8)
    pts = np.array([[150.0, 180.0], [250.0, 170.0], [205.0, 270.0]])
    for x, y in pts:
        img[int(y) - 6:int(y) + 6, int(x) - 6:int(x) + 6] = 255
    m = template.alignment_matrix(pts, 64)
    out = template.warp(img, m, 64)
    target = template.apply_transform(m, pts)
    for x, y in target:
        patch = out[int(y) - 1:int(y) + 2, int(x) - 1:int(x) + 2, 3]
        assert patch.max() > 100


def test_splits_are_stable_and_roughly_80_20(tmp_path):
    ids = [f"id{i}" for i in range(5000)]
    test = [i for i in ids if split_of(i) == "test"]
    assert 0.17 < len(test) / len(ids) < 0.23
    assert split_of("id42") == split_of("id42")
    write_split_file(tmp_path / "s.tsv", {i: split_of(i) for i in ids[:10]})
    assert read_split_file(tmp_path / "s.tsv") == {i: split_of(i) for i in ids[:10]}
