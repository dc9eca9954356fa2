"""Pack loading: every malformed pack and unsafe SVG is rejected with a precise message."""
import re
import shutil

import pytest

from cartoonset.pack import PackError, bundled_packs, load_pack
from cartoonset.svg import UnsafeSVGError, parse_artwork


@pytest.fixture
def pack_copy(mini_pack_dir, tmp_path):
    dst = tmp_path / "pack"
    shutil.copytree(mini_pack_dir, dst)
    return dst


def edit(path, old, new, count=1):
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, count))


def test_mini_pack_loads(mini_pack):
    assert mini_pack.name == "mini"
    assert len(mini_pack.attributes) == 18
    assert len(mini_pack.artworks) > 250


def test_missing_svg(pack_copy):
    (pack_copy / "glasses/glasses_03.svg").unlink()
    with pytest.raises(PackError, match=r"glasses_03\.svg: missing SVG"):
        load_pack(pack_copy)


def test_variant_count_mismatch(pack_copy):
    edit(pack_copy / "pack.toml", 'hair = {group = "artwork", variants = 111}', 'hair = {group = "artwork", variants = 110}')
    with pytest.raises(PackError, match=r"pack\.toml: \[attributes\.hair\]\.variants: 110 does not match the release's 111"):
        load_pack(pack_copy)


def test_palette_count_mismatch(pack_copy):
    text = (pack_copy / "pack.toml").read_text()
    line = next(l for l in text.splitlines() if l.startswith("eye_color = ["))
    edit(pack_copy / "pack.toml", line, line.rsplit(",", 1)[0] + "]")
    with pytest.raises(PackError, match=r"\[palettes\]\.eye_color: 4 colours, the attribute has 5 variants"):
        load_pack(pack_copy)


def test_extra_palette_colours_must_be_filtered(pack_copy):
    """Colours past the release's count exist only before filtering: a filter must remove them."""
    edit(pack_copy / "pack.toml", "when = {hair_color = [10, 11]}", "when = {hair_color = [10]}")
    with pytest.raises(PackError, match=r"\[palettes\]\.hair_color: colours \[10, 11\] lie past the release's 10 "
                                        r"variants; add a filter with when = \{hair_color = \[10, 11\]\}"):
        load_pack(pack_copy)


def test_extra_palette_colours_are_sampled_unfiltered(mini_pack):
    assert mini_pack.counts["hair_color"] == 10 and mini_pack.sample_counts["hair_color"] == 12
    assert len(mini_pack.weights["hair_color"]) == 12


def test_unknown_colour_slot(pack_copy):
    edit(pack_copy / "mouth/mouth.svg", 'fill="#9c3b3b"', 'fill="{{lipstick}}"')
    with pytest.raises(PackError, match=r"mouth\.svg: unknown colour slot '\{\{lipstick\}\}'"):
        load_pack(pack_copy)


def test_layer_not_in_z_order(pack_copy):
    edit(pack_copy / "pack.toml", 'layer = "glasses"', 'layer = "hats"')
    with pytest.raises(PackError, match=r"\[\[parts\]\] 'glasses'\.layer: 'hats' is not in the Z-order"):
        load_pack(pack_copy)


def test_layers_are_the_packs_data(pack_copy, mini_pack):
    """The Z-order is whatever [[layers]] declares: glasses moved to the back are drawn first."""
    assert mini_pack.layers == ("hair_back", "face", "hair_front", "eyes", "eyebrows", "mouth", "facial_hair",
                                "glasses")
    edit(pack_copy / "pack.toml", '[[layers]]\nname = "glasses"\n', "")
    edit(pack_copy / "pack.toml", '[[layers]]\nname = "hair_back"\n', '[[layers]]\nname = "glasses"\n\n[[layers]]\nname = "hair_back"\n')
    pack = load_pack(pack_copy)
    assert pack.layers[0] == "glasses"
    assert [p.layer for p in pack.parts_in_order()][0] == "glasses"


def test_bundled_packs_declare_the_mission_layers():
    for name in bundled_packs():
        assert load_pack(name).layers == ("hair_back", "face", "hair_front", "eyes", "eyebrows", "mouth",
                                          "facial_hair", "glasses")


def test_old_layers_list_is_refused_with_a_pointer(pack_copy):
    edit(pack_copy / "pack.toml", "canvas = 500\n", 'canvas = 500\nlayers = ["face"]\n')
    with pytest.raises(PackError, match=r"\[pack\]\.layers: layers are declared as \[\[layers\]\] tables"):
        load_pack(pack_copy)


def test_duplicate_layer(pack_copy):
    edit(pack_copy / "pack.toml", 'name = "glasses"\n', 'name = "face"\n')
    with pytest.raises(PackError, match=r"\[\[layers\]\] #7\.name: layer 'face' is declared twice"):
        load_pack(pack_copy)


DEEP = "[" * 3000 + "]" * 3000

# (text in the mini pack's pack.toml, its malformed replacement, what the one-line error must say)
MALFORMED = [
    ("placements = [{at = [197, 212]}, {at = [303, 212], mirror = true}]", "placements = [3]",
     r"\[\[parts\]\] 'eyebrows'\.placements\[0\]: expected a table, got an integer"),
    ("placements = [{at = [197, 212]}, {at = [303, 212], mirror = true}]", "placements = [{at = [250]}]",
     r"'eyebrows'\.placements\[0\]\.at: expected \[x, y\], got \[250\]"),
    ("placements = [{at = [197, 212]}", "placements = [{at = [197, \"212\"]}",
     r"'eyebrows'\.placements\[0\]\.at\[1\]: expected a number, got a string"),
    ("placements = [{at = [197, 212]}", "placements = [{at = [197, [[[[[212]]]]]]}",
     r"'eyebrows'\.placements\[0\]\.at\[1\]: expected a number, got an array"),
    ("{at = [303, 212], mirror = true}", "{at = [303, 212], mirror = \"yes\"}",
     r"'eyebrows'\.placements\[1\]\.mirror: expected true or false, got a string"),
    ('iris = {attribute = "eye_color"}', 'iris = "eye_color"', r"\[slots\.iris\]: expected a table, got a string"),
    ('mix = ["#000000", 0.2]', 'mix = ["#000000", "0.2"]', r"\[slots\.skin_shadow\]\.mix\[1\]: expected a number"),
    ('mix = ["#000000", 0.2]', 'mix = ["#000000", 2]', r"\[slots\.skin_shadow\]\.mix\[1\]: 2 is out of range 0\.\.1"),
    ("when = {hair_color = [10, 11]}", "when = [10, 11]",
     r"\[\[filters\]\] 'unusual hair colour'\.when: expected a table, got an array"),
    ("max_distance = 60", 'max_distance = "60"', r"'glasses colour close to skin tone'\.similar\.max_distance: expected a number"),
    ("canvas = 500", 'canvas = "500"', r"\[pack\]\.canvas: expected a number, got a string"),
    ("canvas = 500", "canvas = -500", r"\[pack\]\.canvas: -500 is out of range 1\.\.100000"),
    ("rotate = [-8, 0, 8]", 'rotate = ["-8", 0, 8]', r"\[transforms\.eye_slant\]\.rotate\[0\]: expected a number"),
    ("scale_y = [0.7,", "scale_y = [-0.7,", r"\[transforms\.eyebrow_thickness\]\.scale_y\[0\]: -0\.7 must be positive"),
    ("translate = [[0, 6],", "translate = [[0, \"6\"],", r"\.translate\[0\]\[1\]: expected a number"),
    ('facial_hair = {"14" = 5.0}', 'facial_hair = {"14" = "5"}', r"\[weights\]\.facial_hair\.14: expected a number"),
    ('facial_hair = {"14" = 5.0}', 'facial_hair = "many"', r"\[weights\]\.facial_hair: expected a list or a table"),
    ("glasses_{glasses:02d}.svg", "glasses_{glasses:>200000000}.svg",
     r"'glasses'\.file: template .* format spec '\{glasses:>200000000\}' is not allowed"),
    ("glasses_{glasses:02d}.svg", "glasses_{glasses!r}.svg", r"'glasses'\.file: template .* format spec"),
    ("glasses_{glasses:02d}.svg", "glasses_{glasses.real}.svg", r"'glasses'\.file: template .* uses \{glasses\.real\}"),
    ("glasses_{glasses:02d}.svg", "glasses_{glasses:02d.svg", r"'glasses'\.file: template .* is malformed"),
    ('keys = ["glasses"]', 'keys = "glasses"', r"'glasses'\.keys: expected an array of attribute names, got a string"),
    ("empty = [{glasses = 11}]", 'empty = [{glasses = "11"}]', r"'glasses'\.empty\[0\]\.glasses: expected an integer"),
    ("empty = [{glasses = 11}]", "empty = [{glasses = 12}]", r"'glasses'\.empty\[0\]\.glasses: 12 is out of range 0\.\.11"),
    ("empty = [{glasses = 11}]", "empti = [{glasses = 11}]", r"\[\[parts\]\] 'glasses': unknown field 'empti'"),
    ('hair = {group = "artwork", variants = 111}', "hair = 111", r"\[attributes\.hair\]: expected a table, got an integer"),
    ("landmarks = {nose_tip = [250, 306]}", 'landmarks = {nose_tip = [250, "306"]}',
     r"'nose'\.landmarks\.nose_tip\[1\]: expected a number"),
    ("landmarks = {nose_tip = [250, 306]}", "landmarks = [250, 306]", r"'nose'\.landmarks: expected a table of name = \[x, y\]"),
    ("[slots]", "[slotz]\n[slots]", r"top level: unknown field 'slotz'"),
    ('name = "mini"', f'name = "mini"\ndeep = {DEEP}', r"pack\.toml: not valid TOML \(arrays or tables nested too deeply\)"),
    ("[[filters]]\nname", "[[filters]]\nname = 3\n[[filters]]\nname", r"\[\[filters\]\] #0\.name: expected a string"),
]


@pytest.mark.parametrize("old, new, message", MALFORMED, ids=[m[1][:30] for m in MALFORMED])
def test_malformed_manifest_gives_one_clear_line(pack_copy, old, new, message):
    edit(pack_copy / "pack.toml", old, new)
    with pytest.raises(PackError) as info:
        load_pack(pack_copy)
    text = str(info.value)
    assert "\n" not in text and len(text) < 400, text
    assert text.startswith(str(pack_copy / "pack.toml") + ": "), text
    assert re.search(message, text), text


def _big_svg(path, size):
    """A valid nose artwork of about ``size`` bytes (mostly a comment, cheap to draw)."""
    body = '<path d="M 250 270 L 240 306 L 260 306 Z" fill="{{skin}}"/>'
    pad = "x" * max(0, size - 200)
    path.write_text(f'<svg xmlns="http://www.w3.org/2000/svg"><!-- {pad} -->{body}</svg>\n')


def test_oversized_artwork_is_refused_before_it_is_read(pack_copy, monkeypatch):
    from cartoonset.pack import DEFAULT_MAX_ARTWORK_BYTES, MAX_ARTWORK_ENV

    monkeypatch.delenv(MAX_ARTWORK_ENV, raising=False)
    _big_svg(pack_copy / "nose/nose.svg", DEFAULT_MAX_ARTWORK_BYTES + 1000)
    with pytest.raises(PackError, match=r"nose\.svg: \d+ bytes, over the artwork size cap of 1048576 bytes"):
        load_pack(pack_copy)
    assert "nose/nose.svg" in load_pack(pack_copy, max_artwork_bytes=4 << 20).artworks
    monkeypatch.setenv(MAX_ARTWORK_ENV, str(4 << 20))
    assert load_pack(pack_copy).max_artwork_bytes == 4 << 20
    monkeypatch.setenv(MAX_ARTWORK_ENV, "2000")  # a smaller cap refuses what the default allows
    with pytest.raises(PackError, match=r"over the artwork size cap of 2000 bytes"):
        load_pack(pack_copy)
    monkeypatch.setenv(MAX_ARTWORK_ENV, "lots")
    with pytest.raises(PackError, match=r"CARTOONSET_MAX_ARTWORK_BYTES: 'lots' is not a positive number"):
        load_pack(pack_copy)


def test_workers_load_the_pack_under_the_callers_cap(pack_copy, tmp_path, monkeypatch):
    from cartoonset.pack import MAX_ARTWORK_ENV
    from cartoonset.pipeline import render

    monkeypatch.delenv(MAX_ARTWORK_ENV, raising=False)
    _big_svg(pack_copy / "nose/nose.svg", 2 << 20)
    pack = load_pack(pack_copy, max_artwork_bytes=4 << 20)
    report = render(n=6, out=tmp_path / "out", seed=0, size=64, workers=2, pack=pack, show_progress=False)
    assert report.rendered == 6 and len(list((tmp_path / "out" / "images").glob("cs*.png"))) == 6


def test_malformed_svg(pack_copy):
    (pack_copy / "nose/nose.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"><path d="M0 0"></svg>')
    with pytest.raises(PackError, match=r"nose\.svg: malformed SVG"):
        load_pack(pack_copy)


def test_malformed_toml(pack_copy):
    (pack_copy / "pack.toml").write_text("[pack\nname=")
    with pytest.raises(PackError, match=r"pack\.toml: not valid TOML"):
        load_pack(pack_copy)


def test_missing_manifest(tmp_path):
    with pytest.raises(PackError, match=r"pack\.toml: missing"):
        load_pack(tmp_path)


def test_unknown_pack_name_lists_the_bundled_packs():
    assert {"default", "portrait", "shaded"} <= set(bundled_packs())
    assert load_pack("shaded").name != load_pack("default").name
    with pytest.raises(PackError, match=r"nope: not a pack folder, nor a bundled pack \(default, portrait, shaded"):
        load_pack("nope")


def test_file_outside_pack(pack_copy):
    edit(pack_copy / "pack.toml", 'file = "mouth/mouth.svg"', 'file = "../../etc/mouth.svg"')
    with pytest.raises(PackError, match=r"lies outside the pack"):
        load_pack(pack_copy)


def test_transform_count_mismatch(pack_copy):
    edit(pack_copy / "pack.toml", "rotate = [-8, 0, 8]", "rotate = [-8, 8]")
    with pytest.raises(PackError, match=r"\[transforms\.eye_slant\]\.rotate: need one value per variant \(3\)"):
        load_pack(pack_copy)


def test_filter_rule_unknown_attribute(pack_copy):
    edit(pack_copy / "pack.toml", "when = {hair_color = [10, 11]}", "when = {hat_color = [10, 11]}")
    with pytest.raises(PackError, match=r"'unusual hair colour'\.when: unknown attribute 'hat_color'"):
        load_pack(pack_copy)


def test_missing_landmark(pack_copy):
    edit(pack_copy / "pack.toml", "landmarks = {nose_tip = [250, 306]}", "")
    with pytest.raises(PackError, match=r"no part declares landmark 'nose_tip'"):
        load_pack(pack_copy)


@pytest.mark.parametrize("body, message", [
    ('<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>',
     "DOCTYPE/ENTITY"),
    ('<svg xmlns="http://www.w3.org/2000/svg"><image href="file:///etc/hosts" width="9" height="9"/></svg>', "<image>"),
    ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><use xlink:href="http://evil/x.svg#a"/></svg>',
     "only local references"),
    ('<svg xmlns="http://www.w3.org/2000/svg"><rect width="9" height="9" fill="url(http://evil/p)"/></svg>',
     "only local url"),
    ('<svg xmlns="http://www.w3.org/2000/svg"><style>@import url(file:///etc/x.css);</style></svg>', "<style>"),
    ('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "<script>"),
    ('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "event attribute"),
    ('<svg xmlns="http://www.w3.org/2000/svg"><foreignObject/></svg>', "<foreignObject>"),
    ('<html/>', "root element must be <svg>"),
])
def test_unsafe_svg_rejected(body, message):
    with pytest.raises(UnsafeSVGError, match=re.escape(message)):
        parse_artwork(body, "x.svg")


def test_unsafe_svg_in_pack_is_named(pack_copy):
    (pack_copy / "nose/nose.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg"><image href="file:///etc/hosts"/></svg>')
    with pytest.raises(PackError, match=r"nose\.svg: <image> is not allowed"):
        load_pack(pack_copy)


def test_ids_are_scoped_per_instance():
    art = parse_artwork('<svg xmlns="http://www.w3.org/2000/svg"><defs><linearGradient id="g"/></defs>'
                        '<rect fill="url(#g)" width="1" height="1"/></svg>', "a.svg")
    a, b = art.fill({}, "p1-"), art.fill({}, "p2-")
    assert 'id="p1-g"' in a and "url(#p1-g)" in a and 'id="p2-g"' in b


def test_editor_metadata_is_dropped():
    art = parse_artwork('<svg xmlns="http://www.w3.org/2000/svg" xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape">'
                        '<metadata>x</metadata><path inkscape:label="hair" d="M0 0L1 1"/></svg>', "a.svg")
    assert "inkscape" not in art.body and "metadata" not in art.body


def _nose(depth: int = 1, inner: str = '<rect width="9" height="9" fill="#000"/>') -> str:
    return ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
            + "<g>" * depth + inner + "</g>" * depth + "</svg>")


def test_deeply_nested_svg_is_a_pack_error_naming_the_file(pack_copy, tmp_path):
    """Issue 39 (11): an SVG of 990 nested <g> (7 KB) ended `cartoonset preview` in a RecursionError
    traceback; it is a pack error, one line naming the file."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    (pack_copy / "nose/nose.svg").write_text(_nose(990))
    env = dict(os.environ, CARTOONSET_NO_PROGRESS="1", OMP_NUM_THREADS="1")
    proc = subprocess.run([str(Path(sys.executable).parent / "cartoonset"), "preview", "--pack", str(pack_copy),
                           "--n", "1", "--out", str(tmp_path / "s.png")], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.stderr.strip() == (f"Error: {pack_copy / 'nose/nose.svg'}: elements nested 992 deep; artwork may "
                                   "nest at most 64"), proc.stderr


def test_svg_use_bomb_and_use_cycle_are_refused_when_the_pack_loads(pack_copy):
    """Issue 39 (also seen): a chain of <use>s that multiplies (an SVG "billion laughs": 10^8 rectangles
    from 80 elements) took minutes to be refused; it and a <use> that draws itself are refused as the
    pack loads, naming the file."""
    defs = '<defs><rect id="l0" width="1" height="1"/>'
    for k in range(1, 9):
        defs += f'<g id="l{k}">' + f'<use xlink:href="#l{k - 1}"/>' * 10 + "</g>"
    (pack_copy / "nose/nose.svg").write_text(_nose(inner=defs + '</defs><use xlink:href="#l8"/>'))
    with pytest.raises(PackError, match=r"nose\.svg: its <use> references draw more than 100,000 elements"):
        load_pack(pack_copy)
    (pack_copy / "nose/nose.svg").write_text(_nose(inner='<g id="a"><rect width="1" height="1"/><use href="#a"/></g>'))
    with pytest.raises(PackError, match=r"nose\.svg: <g id='a'> is drawn inside itself through <use>"):
        load_pack(pack_copy)
