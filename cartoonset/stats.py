"""``cartoonset stats``: how often each variant occurs in a folder, and what the filters removed."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .common.atomic import save_figure
from .index import load_index, read_metadata
from .schema import release_schema


@dataclass
class DatasetStats:
    root: Path
    n: int
    counts: dict[str, np.ndarray]                 # attribute -> occurrences per variant
    rejected: dict[str, int] = field(default_factory=dict)
    candidates: int | None = None
    variant_names: dict[str, list[str]] = field(default_factory=dict)  # from the pack, where it names them
    layout: str = "flat"

    def table(self) -> str:
        lines = [f"{self.n} cartoons in {self.root}", f"{'attribute':22s} {'variants':>8s}  min / mean / max count"]
        for a in release_schema():
            c = self.counts[a.name]
            lines.append(f"{a.name:22s} {len(c):8d}  {c.min():d} / {c.mean():.1f} / {c.max():d}"
                         + ("   (unused variants: " + ", ".join(map(str, np.flatnonzero(c == 0))) + ")" if (c == 0).any() else ""))
        if self.rejected:
            lines.append(f"realism filters ({self.candidates} candidates examined):")
            lines += [f"  {k}: {v}" for k, v in self.rejected.items()]
        return "\n".join(lines)

    def default_plot_path(self) -> Path | None:
        """``stats.png`` beside our render's ``metadata.json`` (never inside an image folder, and
        never in a folder the toolkit did not write: Google's releases get none)."""
        return self.root / "stats.png" if self.layout.startswith("render") else None

    def figure(self):
        """The histograms as a matplotlib figure: one bar per variant, ticks on the variant indices,
        labelled with the pack's variant names where it has them (up to 20 variants)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        schema = release_schema()
        fig, axes = plt.subplots(6, 3, figsize=(15, 18))
        for ax, a in zip(axes.flat, schema):
            n = len(self.counts[a.name])  # more than the schema's where the filter was off (extra colours)
            ax.bar(np.arange(n), self.counts[a.name], color="#4c72b0", width=0.85)
            ax.set_title(f"{a.name} ({a.group})", fontsize=10)
            names = self.variant_names.get(a.name)
            if names and len(names) == n and n <= 20:
                ax.set_xticks(np.arange(n), names, rotation=60, ha="right", rotation_mode="anchor")
            else:
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
                ax.set_xlim(-0.6, n - 0.4)
            ax.tick_params(labelsize=7)
        fig.suptitle(f"{self.root.name}: {self.n} cartoons", fontsize=14)
        fig.tight_layout(rect=(0, 0, 1, 0.98))
        return fig

    def plot(self, path: str | os.PathLike) -> Path:
        return save_figure(self.figure(), path, dpi=80)


def dataset_stats(root: str | os.PathLike) -> DatasetStats:
    idx = load_index(root)
    counts = {a.name: np.bincount(idx.attrs[:, j], minlength=idx.counts[a.name]) for j, a in enumerate(release_schema())}
    st = DatasetStats(idx.root, len(idx), counts, layout=idx.layout)
    m = read_metadata(idx.root) if idx.layout.startswith("render") else None
    if m:
        st.rejected, st.candidates = m.get("rejected", {}), m.get("candidates")
        st.variant_names = _variant_names(m)
    return st


def _variant_names(meta: dict) -> dict[str, list[str]]:
    """Variant names from the bundled pack the folder was rendered with (same version), else none."""
    from .pack import bundled_packs, load_pack

    name = meta.get("pack")
    if not isinstance(name, str) or name not in bundled_packs():
        return {}
    pack = load_pack(name)
    if pack.version != meta.get("pack_version"):
        return {}
    return {a.name: [pack.variant_name(a.name, i) for i in range(a.variants)] for a in pack.attributes
            if a.name in pack.names or a.name in pack.palettes}
