"""Colour order of a benchmark's translations on a synthetic track: Spearman rho between the palette
luminance of the true attribute and that of the ruler's reading of the translation (skin: face_color,
hair: hair_color) over the held-out test sources the table scores. A negative rho is an inverted order.
The benchmark scores it itself (`skin_rho`, `hair_rho`) since period six; this reads it off runs
scored before that. Seed 1's model.pt (or the newest checkpoint of an unfinished run); SEED=k for another.

    python research/study/colour_order.py BENCH CARTOONS TRACK METHOD...
"""
import os
import sys
from pathlib import Path
import numpy as np
from xgan.benchmark import classifier as ruler_mod
from xgan.benchmark.evaluate import COLOUR_ATTRS, colour_order
from xgan.benchmark.classifier import predict
from xgan.benchmark.harness import load_track, scored_part, CURVE_COUNT
from xgan.trainer import load_model
from xgan.translate import translate_images

bench, cartoons, tr = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
track = load_track(tr, cartoons, None, bench / "data" / tr, lambda m: None)
part, _ = scored_part(track, CURVE_COUNT, 1000)
ruler, _ = ruler_mod.load(bench / "ruler.pt")
col = {n: j for j, n in enumerate(part.names)}
src = np.asarray(part.test.images["face"])
truth = part.paired_attrs[:len(src)]
for m in sys.argv[4:]:
    d = bench / "runs" / tr / m / f"seed{os.environ.get('SEED', '1')}"
    path = d / "model.pt" if (d / "model.pt").is_file() else sorted((d / "checkpoints").glob("step-*.pt"))[-1]
    model, _ = load_model(path, "cpu")
    pred = predict(ruler, translate_images(model, src, "face", "cpu"), device="cpu")[0]
    rho = {k: f() for k, f in colour_order(pred, part).items()}
    for key, attr in COLOUR_ATTRS:
        acc = float((truth[:, col[attr]] == pred[:, col[attr]]).mean())
        print(f"{tr} {m} ({path.name}) {attr}: rho {rho[key]:+.3f}, accuracy {acc:.3f}, n {len(truth)}")
