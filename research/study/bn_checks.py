"""The study's batch-norm checks (docs/research/study.md): score checkpoints as saved, after
re-estimating running statistics on real training batches only (every batch norm's, the encoders'
alone, the decoders' alone), and with each test batch normalised by its own statistics (training-mode
BN), on the study's track, ruler and test subset. If the translations stay broken under all of them,
the damage is in the weights, not in the statistics used at test time. Run it on the commit that
trained the checkpoints (66b030c for the benchmark's, d7fe134 for the revision-1 `ramped` one):

    python research/study/bn_checks.py --cartoons data/cartoonset --work results/study/data/synthetic \
        --ruler results/study/ruler.pt CHECKPOINT...
"""
import argparse
import copy
from pathlib import Path

import numpy as np
import torch

from xgan.benchmark import classifier
from xgan.benchmark.evaluate import TrainingEvaluator
from xgan.benchmark.harness import synthetic_track
from xgan.data import to_model_input
from xgan.networks import DOMAINS
from xgan.trainer import load_model

ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("--cartoons", type=Path, required=True)
ap.add_argument("--work", type=Path, required=True)
ap.add_argument("--ruler", type=Path, required=True)
ap.add_argument("checkpoints", nargs="+")
args = ap.parse_args()
torch.set_num_threads(1)
track = synthetic_track(args.cartoons, args.work, say=lambda m: None)
ruler, _ = classifier.load(args.ruler)
ev = TrainingEvaluator(track, ruler, 256)
cpu = torch.device("cpu")


def reestimated(model, part: str):
    """A copy whose running statistics (``all``, the encoders' ``enc`` or the decoders' ``dec``) are
    the cumulative average over 50 real training batches, each decoded by both decoders as revision 1's
    step decoded them; the others stay as saved."""
    model = copy.deepcopy(model).eval()
    ae = model.generator.autoencoder
    parts = {"all": [model], "enc": [*ae.enc_private.values(), ae.enc_shared],
             "dec": [ae.dec_shared, *ae.dec_private.values()]}[part]
    for module in parts:
        for m in module.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.reset_running_stats()
                m.momentum = None
                m.train()
    r = np.random.default_rng(0)
    with torch.no_grad():
        for _ in range(50):
            b = [to_model_input(np.asarray(track.train.images[d])[np.sort(r.choice(len(track.train.images[d]), 32,
                                                                                    replace=False))], cpu) for d in DOMAINS]
            ae.decode(ae.encode(b, DOMAINS), DOMAINS)
    return model.eval()


for ck in args.checkpoints:
    model, _ = load_model(ck)
    own = copy.deepcopy(model).train()
    own.eval = lambda m=own: m  # evaluate() asks for eval mode: keep training-mode BN
    rows = {"as saved": ev(model), "all re-estimated": ev(reestimated(model, "all")),
            "encoders re-estimated": ev(reestimated(model, "enc")),
            "decoders re-estimated": ev(reestimated(model, "dec")), "batch statistics": ev(own)}
    print(ck)
    for name, s in rows.items():
        print(f"  {name:22s} attr_acc {s['attr_acc']:.3f}  fd {s['fd']:.0f}  l1 {s['l1']:.1f}  hf_share {s['hf_share']:.2f}  "
              f"sem_dist {s['sem_dist']:.3f}")
