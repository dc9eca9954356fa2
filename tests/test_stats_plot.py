"""``cartoonset stats``' histograms: integer ticks, named by the pack's variant names."""
import numpy as np

from cartoonset.pipeline import render
from cartoonset.stats import dataset_stats


def _axes(fig):
    return {ax.get_title().split(" (")[0]: ax for ax in fig.axes}


def test_ticks_are_variant_indices_named_by_the_bundled_pack(tmp_path):
    render(n=3, out=tmp_path / "cs", seed=0, size=32, workers=1, pack="default", show_progress=False)
    st = dataset_stats(tmp_path / "cs")
    axes = _axes(st.figure())
    lashes = axes["eye_lashes"]                      # two variants: no -0.5 / 0.25 ticks
    assert list(lashes.get_xticks()) == [0, 1]
    assert [t.get_text() for t in lashes.get_xticklabels()] == st.variant_names["eye_lashes"]
    assert [t.get_text() for t in axes["hair_color"].get_xticklabels()][8] == "ash brown"
    hair = axes["hair"]                               # 111 variants: integer ticks, no names
    ticks = [t for t in hair.get_xticks() if -0.6 <= t <= 110.6]
    assert ticks and all(float(t).is_integer() for t in ticks)
    assert (tmp_path / "cs" / "stats.png").exists() is False
    assert st.plot(tmp_path / "stats.png").stat().st_size > 0


def test_ticks_are_integers_without_names(mini_pack, tmp_path):
    render(n=3, out=tmp_path / "cs", seed=0, size=32, workers=1, pack=mini_pack, show_progress=False)
    st = dataset_stats(tmp_path / "cs")
    assert st.variant_names == {}                     # not a bundled pack: nothing to name them by
    for name, ax in _axes(st.figure()).items():
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), (name, ticks)
        assert np.isclose(min(ticks), 0)
