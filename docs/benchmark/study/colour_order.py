"""Colour order of a benchmark's translations on a synthetic track: Spearman rho between the palette
luminance of the true attribute and that of the ruler's reading of the translation (skin: face_color,
hair: hair_color) over the held-out test sources the table scores. A negative rho is an inverted order.
Seed 1's model.pt (or the newest checkpoint of an unfinished run).

    python docs/benchmark/study/colour_order.py BENCH CARTOONS TRACK METHOD...
"""
import sys
from pathlib import Path
import numpy as np
from cartoonset.pack import load_pack
from xgan.benchmark import classifier as ruler_mod
from xgan.benchmark.evaluate import palette_luminance
from xgan.benchmark.classifier import predict
from xgan.benchmark.harness import load_track, scored_part, CURVE_COUNT
from xgan.benchmark.metrics import spearman
from xgan.trainer import load_model
from xgan.translate import translate_images

bench, cartoons, tr = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
track = load_track(tr, cartoons, None, bench / "data" / tr, lambda m: None)
part, _ = scored_part(track, CURVE_COUNT, 1000)
ruler, _ = ruler_mod.load(bench / "ruler.pt")
pal = palette_luminance(load_pack("default"))
col = {n: j for j, n in enumerate(part.names)}
src = np.asarray(part.test.images["face"])
truth = part.paired_attrs[:len(src)]
for m in sys.argv[4:]:
    d = bench / "runs" / tr / m / "seed1"
    path = d / "model.pt" if (d / "model.pt").is_file() else sorted((d / "checkpoints").glob("step-*.pt"))[-1]
    model, _ = load_model(path, "cpu")
    pred = predict(ruler, translate_images(model, src, "face", "cpu"), device="cpu")[0]
    for attr in ("face_color", "hair_color"):
        t, p = pal[attr][truth[:, col[attr]]], pal[attr][pred[:, col[attr]]]
        acc = float((truth[:, col[attr]] == pred[:, col[attr]]).mean())
        print(f"{tr} {m} ({path.name}) {attr}: rho {spearman(t, p):+.3f}, accuracy {acc:.3f}, n {len(t)}")
