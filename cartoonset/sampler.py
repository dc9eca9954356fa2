"""Sampling attribute configurations and applying the pack's realism filters.

Candidate ``i`` of a run is drawn from the counter-based stream ``uniforms(seed, i)``: one uniform
per attribute, in the release's attribute order, each mapped through that attribute's weights. So
candidate ``i`` depends only on ``(seed, i)``, and changing one attribute's weights never reshuffles
the others. The kept cartoons are the first ``n`` candidates that pass the filters and are not
duplicates of an earlier kept configuration; ``--n 9000`` is therefore a prefix of ``--n 100000``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from .pack import Pack, hex_rgb
from .common.errors import InputError
from .common.seeding import uniforms

CHUNK = 4096
#: the most cartoons one run selects (100 times CartoonSet100k): the selection and the index are held
#: in memory, a few hundred bytes a cartoon, so a larger ``n`` only ends in a MemoryError
MAX_CARTOONS = 10_000_000
DUPLICATE = "duplicate configuration"


@dataclass
class Selection:
    """The kept configurations of a run and how many candidates each rule rejected."""

    seed: int
    indices: np.ndarray            # candidate index of each kept cartoon
    attrs: np.ndarray              # (n, 18) variant indices in the release's order
    names: tuple[str, ...]
    rejected: dict[str, int] = field(default_factory=dict)
    candidates: int = 0
    counts: dict[str, int] | None = None  # the variant counts the csX.csv files state (None: the release's)

    def __len__(self) -> int:
        return len(self.indices)

    def row(self, k: int) -> dict[str, int]:
        return dict(zip(self.names, (int(v) for v in self.attrs[k])))


def draw(pack: Pack, seed: int, indices: Sequence[int] | np.ndarray) -> np.ndarray:
    """Candidate configurations for ``indices``: an int array (len, 18) in the release's order."""
    u = uniforms(seed, np.asarray(indices, dtype=np.int64), len(pack.attributes), stream="attributes")
    out = np.empty(u.shape, dtype=np.int64)
    drawn = pack.sample_counts
    for j, a in enumerate(pack.attributes):
        cdf = np.cumsum(pack.weights[a.name])
        cdf = cdf / cdf[-1]
        out[:, j] = np.minimum(np.searchsorted(cdf, u[:, j], side="right"), drawn[a.name] - 1)
    return out


def sample(pack: Pack, seed: int, index: int) -> dict[str, int]:
    """Candidate ``index`` of the stream for ``seed``, as ``{attribute: variant}`` (before filters)."""
    return dict(zip(pack.attribute_names, (int(v) for v in draw(pack, seed, [index])[0])))


def rule_masks(pack: Pack, attrs: np.ndarray) -> dict[str, np.ndarray]:
    """For each named rule, a boolean mask of the rows it rejects."""
    col = {n: j for j, n in enumerate(pack.attribute_names)}
    masks = {}
    for r in pack.filters:
        m = np.ones(len(attrs), dtype=bool)
        for a, vals in r.when.items():
            m &= np.isin(attrs[:, col[a]], list(vals))
        for a, vals in r.unless.items():
            m &= ~np.isin(attrs[:, col[a]], list(vals))
        if r.similar is not None:
            a, b, dmax = r.similar
            pa = np.array([hex_rgb(c.rgb) for c in pack.palettes[a]], dtype=float)
            pb = np.array([hex_rgb(c.rgb) for c in pack.palettes[b]], dtype=float)
            dist = np.linalg.norm(pa[attrs[:, col[a]]] - pb[attrs[:, col[b]]], axis=1)
            m &= dist < dmax
        masks[r.name] = m
    return masks


def rejected_by(pack: Pack, attrs: Mapping[str, int]) -> list[str]:
    """Names of the rules that reject one configuration (empty: it is kept)."""
    row = np.array([[attrs[n] for n in pack.attribute_names]])
    return [name for name, m in rule_masks(pack, row).items() if m[0]]


def config_id(values: Sequence[int], names: Sequence[str]) -> str:
    """The X of ``csX.png``: a decimal 64-bit hash of the attribute configuration."""
    text = ";".join(f"{n}={int(v)}" for n, v in zip(names, values))
    return str(int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big"))


def select(pack: Pack, seed: int, n: int, filter: bool = True) -> Selection:
    """The first ``n`` kept configurations of the stream for ``seed``."""
    if not 0 <= n <= MAX_CARTOONS:
        raise InputError(f"n must be >= 0, got {n}" if n < 0 else f"n must be at most {MAX_CARTOONS:,}, got {n:,}")
    names = pack.attribute_names
    rule_names = [r.name for r in pack.filters] if filter else []
    counts = {name: 0 for name in rule_names}
    counts[DUPLICATE] = 0
    kept_idx: list[int] = []
    kept_rows: list[np.ndarray] = []
    seen: set[bytes] = set()
    examined = 0
    while len(kept_idx) < n:
        idx = np.arange(examined, examined + CHUNK, dtype=np.int64)
        rows = draw(pack, seed, idx)
        reason = np.full(len(rows), -1)
        if filter:
            for j, m in enumerate(rule_masks(pack, rows).values()):
                reason[(reason == -1) & m] = j  # counted under the first matching rule
        for k in range(len(rows)):
            if len(kept_idx) >= n:
                break
            examined += 1
            if reason[k] >= 0:
                counts[rule_names[reason[k]]] += 1
                continue
            key = rows[k].tobytes()
            if key in seen:
                counts[DUPLICATE] += 1
                continue
            seen.add(key)
            kept_idx.append(int(idx[k]))
            kept_rows.append(rows[k])
    attrs = np.array(kept_rows, dtype=np.int64).reshape(len(kept_rows), len(names))
    # Filtered, every value lies in the release's range; unfiltered, the CSVs state the sampled
    # counts (a palette's extra colours appear past the release's indices).
    return Selection(seed=seed, indices=np.array(kept_idx, dtype=np.int64), attrs=attrs, names=names,
                     rejected=counts, candidates=examined, counts=pack.counts if filter else pack.sample_counts)
