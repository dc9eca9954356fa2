"""The outcome of one input: a status from a fixed vocabulary, with a one-sentence reason.

Every input gets exactly one manifest row; nothing about a bad photo is fatal to a run.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Iterable, Mapping

#: status -> what it means (the order is the order of the summary table)
STATUSES: dict[str, str] = {
    "ok": "aligned crops written",
    "no_face": "no face found (inside the given box, when there is one)",
    "multiple_faces_ambiguous": "several faces of similar size and no box to choose between them",
    "box_mismatch": "faces found, but none where the given box says",
    "cut_off": "the face runs off the photo's edge (eyes or mouth outside it)",
    "too_small": "the face is smaller than min_eye_distance in the original photo",
    "not_frontal": "estimated yaw or roll beyond max_yaw / max_roll",
    "blurry": "the aligned face is less sharp than min_sharpness",
    "unreadable": "not an image, or a corrupt or truncated one",
    "too_large": "more pixels than max_pixels (decompression-bomb guard), or a side over the models' MAX_SIDE",
    "missing": "the file does not exist (or was never downloaded)",
    "unavailable": "the download failed or served a placeholder (see facealign fetch)",
    "duplicate": "the same bytes as another input, which is processed instead",
    "error": "an unexpected failure; the reason holds the exception",
}

OK = "ok"


class Rejected(Exception):
    """An input that cannot be aligned: carries its status and a one-sentence reason."""

    def __init__(self, status: str, reason: str):
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


def status_table(counts: Mapping[str, int], order: Iterable[str], footer: str) -> str:
    """The summary ``facealign run`` and ``fetch`` print: count and share of each status that
    occurred (in ``order``), the total, then one ``footer`` line."""
    width = max(20, *(len(s) + 2 for s in order))
    total = sum(counts.values())
    lines = [f"{'status':<{width}}{'count':>9}{'share':>9}", "-" * (width + 18)]
    lines += [f"{s:<{width}}{counts[s]:>9}{100.0 * counts[s] / max(1, total):>8.1f}%" for s in order if counts.get(s)]
    lines += ["-" * (width + 18), f"{'total':<{width}}{total:>9}", footer]
    return "\n".join(lines)


@dataclass
class JobSummary:
    """What one call of a resumable job (``run``, ``fetch``) did: counts by status over all its
    items (this call's rows and earlier calls'), how many it did now, how many an earlier call had
    finished, how many the list filters dropped, and how long it took."""

    out: Path
    counts: dict[str, int]
    done: int  #: items this call worked on
    resumed: int  #: items skipped because an earlier call finished them
    filtered: int  #: VGG-Face lines dropped by the curated/frontal filters
    seconds: float
    statuses: ClassVar[Iterable[str]] = STATUSES

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def footer(self) -> str:
        if not self.done:
            return self.nothing_to_do()
        return f"done now {self.done} in {self.seconds:.1f} s; already done {self.resumed}; filtered out {self.filtered}"

    def nothing_to_do(self) -> str:
        """The footer of a rerun of a finished job: no rate of nothing."""
        return f"nothing to do: {self.resumed} already there; filtered out {self.filtered}"

    def table(self) -> str:
        return status_table(self.counts, self.statuses, self.footer())
