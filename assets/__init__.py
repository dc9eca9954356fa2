"""The artwork packs shipped with the toolkit (installed as ``cartoonset.assets``)."""
