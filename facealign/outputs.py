"""Write: crops as PNG files (atomically) and the manifest row of each input.

Layout of an output folder::

    facealign.json            settings the crops were made with (a resumed run must match them)
    manifest.jsonl            one JSON row per input (manifest.shard-K-of-N.jsonl per shard)
    manifest.csv              all rows, flattened, rewritten at the end of every run
    64/<identity>/<name>.png  the small crops
    256/<identity>/<name>.png the large crops
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from cartoonset.common.atomic import remove_stale_temps as _remove_stale_temps
from cartoonset.common.atomic import write_bytes
from cartoonset.common.png import encode_png
from cartoonset.common.records import read_jsonl, write_csv

from .sources import Item, as_text
from .status import OK, STATUSES

SETTINGS_FILE = "facealign.json"
MANIFEST_GLOB = "manifest*.jsonl"
CSV_FIELDS = ("id", "identity", "status", "reason", "source", "outputs", "box", "box_hint",
              "identity_source", "landmarks_photo", "landmarks_aligned", "landmarks_model", "transform",
              "quality", "image_size", "decode_scale", "meta", "time")
#: manifest fields under their former names (rows of older runs are read under the new ones)
RENAMED_FIELDS = {"landmarks_source": "landmarks_photo", "landmark_model": "landmarks_model"}


def crop_path(out: Path, size: int, name: str) -> Path:
    return out / str(size) / f"{name}.png"


def write_crops(out: Path, name: str, crops: dict[int, np.ndarray]) -> dict[str, str]:
    """Save every crop atomically; returns ``{side: path relative to out}``."""
    written = {}
    for size in sorted(crops):
        path = crop_path(out, size, name)
        write_bytes(path, encode_png(crops[size]))
        written[str(size)] = path.relative_to(out).as_posix()
    return written


def manifest_row(item: Item, fields: dict[str, Any], outputs: dict[str, str] | None = None) -> dict[str, Any]:
    """One manifest row: who the input is, what happened to it, and where its crops are."""
    row = {"id": item.id, "identity": item.identity, "identity_source": item.identity_source,
           "source": item.source, "box_hint": item.box,
           "outputs": outputs or {}, "time": round(time.time(), 3)}
    row.update(fields)
    if isinstance(row.get("reason"), str):  # a message may quote the file's own name, bytes and all
        row["reason"] = as_text(row["reason"])
    if item.meta:
        row["meta"] = item.meta
    return row


def manifest_logs(out: Path) -> list[Path]:
    return sorted(p for p in Path(out).glob(MANIFEST_GLOB) if p.is_file())


def read_manifest(out: Path) -> dict[str, dict]:
    """Every row of every manifest log in ``out`` by id; of repeated ids the newest row wins."""
    rows: dict[str, dict] = {}
    for log in manifest_logs(out):
        for row in read_jsonl(log, skip_torn=True):
            if not well_formed(row):
                continue  # like a torn line: the photo is done again
            for old, new in RENAMED_FIELDS.items():
                if old in row:
                    row.setdefault(new, row.pop(old))
            key = str(row["id"])
            old = rows.get(key)
            if old is None or row.get("time", 0.0) >= old.get("time", 0.0):
                rows[key] = row
    return rows


def well_formed(row: Any) -> bool:
    """Whether a manifest line is a row this module wrote: an object with a string id, a known status,
    a numeric time, string identity fields and, for an aligned photo, its crops. Any other line (edited
    or damaged) is skipped, as a torn one is, so its photo is aligned again rather than trusted."""
    if not (isinstance(row, dict) and isinstance(row.get("id"), str) and row["id"]
            and isinstance(row.get("status"), str) and row["status"] in STATUSES):
        return False
    time_ = row.get("time", 0.0)
    if isinstance(time_, bool) or not isinstance(time_, (int, float)):
        return False
    if not all(isinstance(row.get(k, ""), str) for k in ("identity", "identity_source", "reason")):
        return False
    outputs = row.get("outputs", {})
    if not isinstance(outputs, dict) or (row["status"] == OK and not outputs):
        return False
    return all(isinstance(k, str) and k.isdigit() and isinstance(v, str) for k, v in outputs.items())


def write_manifest_csv(out: Path, rows: Iterable[dict]) -> Path:
    return write_csv(Path(out) / "manifest.csv", sorted(rows, key=lambda r: r["id"]), CSV_FIELDS)


def check_settings(out: Path, settings: dict[str, Any], extra: dict[str, Any]) -> None:
    """Record the settings of a new output folder; refuse to add to one made with other settings."""
    from cartoonset.common.atomic import write_json

    path = Path(out) / SETTINGS_FILE
    if path.is_file():
        try:
            saved = json.loads(path.read_text(encoding="utf-8")).get("settings", {})
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            saved = None
        if not isinstance(saved, dict):
            raise ValueError(f"{path} is corrupt; remove it or use a new --out folder")
        changed = sorted(k for k in set(saved) | set(settings) if saved.get(k) != settings.get(k))
        if changed:
            raise ValueError(f"{out} holds crops made with other settings ({', '.join(changed)}); "
                             f"use a new --out folder or the same settings")
        return
    write_json(path, {"tool": "facealign", **extra, "settings": settings})


def remove_stale_temps(out: Path, min_age: float = 2.0, max_age: float = 600.0) -> int:
    """Delete the temp files a killed run left anywhere under ``out`` (see
    :func:`cartoonset.common.atomic.remove_stale_temps`); a shard running beside this one keeps its own."""
    return _remove_stale_temps(out, recursive=True, min_age=min_age, max_age=max_age)
