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


def test_wrong_layer_order(pack_copy):
    edit(pack_copy / "pack.toml", '"hair_back", "face"', '"face", "hair_back"')
    with pytest.raises(PackError, match=r"\[pack\]\.layers: must be exactly"):
        load_pack(pack_copy)


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
    assert {"default", "shaded"} <= set(bundled_packs())
    assert load_pack("shaded").name != load_pack("default").name
    with pytest.raises(PackError, match=r"nope: not a pack folder, nor a bundled pack \(default, shaded"):
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
